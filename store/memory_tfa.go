package store

import (
	"context"
	"slices"
	"sync"
)

// The 2FA interfaces [Memory] implements.
var (
	_ TFAStates = (*Memory)(nil)
	_ TFAUses   = (*Memory)(nil)
)

// memoryTFA holds the 2FA states of a [Memory].
type memoryTFA struct {
	mu    sync.Mutex
	byRef map[AccountRef]TFA
}

// cloneTFA copies t's slices, so neither the caller nor the store can
// change the other's.
func cloneTFA(t TFA) TFA {
	t.Secret = slices.Clone(t.Secret)
	t.PendingSecret = slices.Clone(t.PendingSecret)
	t.RecoverySalt = slices.Clone(t.RecoverySalt)
	t.RecoveryCodes = slices.Clone(t.RecoveryCodes)
	return t
}

// TFA returns the account's 2FA state, or [ErrNotFound].
func (m *Memory) TFA(_ context.Context, ref AccountRef) (TFA, error) {
	m.ready()
	s := &m.tfa
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byRef[ref]
	if !ok {
		return TFA{}, ErrNotFound
	}
	return cloneTFA(t), nil
}

// PutTFA stores t if the stored Version (0 for none) is t.Version, with
// the next Version and the greater LastStep, and raises the account's
// generation if Enabled changes; otherwise it is [ErrConflict].
func (m *Memory) PutTFA(_ context.Context, t TFA) error {
	m.ready()
	s := &m.tfa
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byRef[t.Account] // without state: the zero TFA, at Version 0
	if old.Version != t.Version {
		return ErrConflict
	}
	if ok {
		t.LastStep = max(t.LastStep, old.LastStep)
	}
	if t.Enabled != old.Enabled {
		// The lock order is 2FA states, then accounts: readers of the
		// account never see the new state with the old generation.
		m.accounts.mu.Lock()
		m.accounts.raiseLocked(t.Account)
		m.accounts.mu.Unlock()
	}
	t.Version++
	s.byRef[t.Account] = cloneTFA(t)
	return nil
}

// AdvanceTFAStep raises the account's LastStep to step if step is greater.
func (m *Memory) AdvanceTFAStep(_ context.Context, ref AccountRef, step int64) (bool, error) {
	m.ready()
	s := &m.tfa
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byRef[ref]
	if !ok {
		return false, ErrNotFound
	}
	if step <= t.LastStep {
		return false, nil
	}
	t.LastStep = step
	s.byRef[ref] = t
	return true, nil
}
