package netfault

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// StallDeadline is the deadline CallStalled gives a call, and StallHang
// how long past it the call may take to return before the test calls it
// hung: far beyond any busy machine's delay, so that only a call that
// ignores its deadline fails a test, never a slow one.
const (
	StallDeadline = 300 * time.Millisecond
	StallHang     = 30 * time.Second
)

// CallStalled makes call, meant to go through stalled proxies, under a
// deadline of StallDeadline, and returns its error. A call that has not
// returned StallHang past its deadline fails t as hung, once drop has
// closed the proxies' connections: the call returns then, and its store
// can close. Tests assert the error's kind (IsTimeout), never a duration.
func CallStalled(t testing.TB, drop func(), name string, call func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StallDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(StallDeadline + StallHang):
		drop()
		<-done
		t.Fatalf("%s through a stalled proxy hung: no answer %v past its deadline", name, StallHang)
		return nil
	}
}

// IsTimeout reports whether err is, or wraps, a deadline or timeout
// error: the context's own, or the i/o timeout a client sets on its
// connection once the context's deadline is set on it.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}
