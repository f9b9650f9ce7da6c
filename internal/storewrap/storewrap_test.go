package storewrap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// A wrapped store is still a store: it passes the conformance suite, and
// every call goes through the hook.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		return New(store.NewMemory(store.MemoryConfig{Now: now}), func(_ context.Context, _ string, call func() error) error { return call() })
	})
}

func TestAround(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ops []string
	failWith := error(nil)
	s := New(store.NewMemory(store.MemoryConfig{}), func(_ context.Context, op string, call func() error) error {
		ops = append(ops, op)
		if err := call(); err != nil {
			return err
		}
		return failWith
	})
	acct, err := s.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "ada", Email: "ada@example.com"})
	if err != nil || acct.ID == 0 {
		t.Fatalf("CreateAccount: %+v, %v", acct, err)
	}
	if got, err := s.Account(ctx, acct.Ref()); err != nil || got.Username != "ada" {
		t.Fatalf("Account: %+v, %v", got, err)
	}
	// An error the hook adds after the call: the answer is the zero one.
	failWith = errors.New("lost")
	if got, err := s.Account(ctx, acct.Ref()); err != failWith || got.ID != 0 {
		t.Fatalf("Account with its answer lost: %+v, %v", got, err)
	}
	if want := []string{"CreateAccount", "Account", "Account"}; len(ops) != 3 || ops[0] != want[0] || ops[2] != want[2] {
		t.Fatalf("ops %v, want %v", ops, want)
	}
}
