package storefault

import (
	"context"
	"errors"
	"sync"

	"github.com/keyward/keyward/internal/storewrap"
	"github.com/keyward/keyward/store"
)

// Mode says when an armed call fails.
type Mode int

const (
	// Before fails the call without making it: nothing is applied.
	Before Mode = iota + 1
	// After makes the call, then fails it: applied, the answer lost.
	After
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "never"
}

// ErrInjected is the failure a call gets.
var ErrInjected = errors.New("storefault: injected failure (connection reset)")

// Store wraps a store: every call goes through, and while armed, calls are
// counted and the chosen one fails. It implements every interface of
// package store (see storewrap). RecordAPIKeyUse and Invalidate are
// neither counted nor failed: they are written in the background, on no
// request's path (an Invalidate's failure changes nothing on the instance
// that sends it, and is retried where it would land in another crash
// point's count; authn's tests fail it on purpose). Safe for concurrent
// use.
type Store struct {
	*storewrap.Store

	mu     sync.Mutex
	armed  bool
	failAt int
	mode   Mode
	calls  []string
}

// New wraps inner.
func New(inner store.Store) *Store {
	s := &Store{}
	s.Store = storewrap.New(inner, s.around)
	return s
}

// Arm starts counting calls from zero; the failAt-th fails as mode says
// (failAt 0: none fails, to count a command's calls).
func (s *Store) Arm(failAt int, mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.failAt, s.mode, s.calls = true, failAt, mode, nil
}

// Disarm stops counting and returns the names of the calls made since Arm,
// in order.
func (s *Store) Disarm() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	return s.calls
}

// step counts a call and returns how it must fail, if it must.
func (s *Store) step(op string) Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return 0
	}
	s.calls = append(s.calls, op)
	if len(s.calls) == s.failAt {
		return s.mode
	}
	return 0
}

// around is the fault point every counted call goes through.
func (s *Store) around(_ context.Context, op string, call func() error) error {
	if op == "RecordAPIKeyUse" || op == "Invalidate" {
		return call()
	}
	m := s.step(op)
	if m == Before {
		return ErrInjected
	}
	err := call()
	if m == After {
		return ErrInjected
	}
	return err
}
