package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Every exported function and method of the package, called with the
// values a host can build itself (a zero Memory, a store combined from nil
// parts, zero records), returns (an error, if it must), and never panics;
// the stores Combine and WithAccounts return are called in turn, with the
// same values.
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	filled, err := store.WithAccounts(hostTable{{Scope: scopes.User, ID: 1, Username: "someone"}}, store.NewMemory(store.MemoryConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	receivers := []any{
		store.NewMemory(store.MemoryConfig{}), &store.Memory{},
		store.Combine(nil, nil), store.Combine(store.NewMemory(store.MemoryConfig{}), nil), store.Combine(nil, &store.Memory{}),
		store.Combine(&store.Memory{}, &store.Memory{}), filled,
		store.Account{}, store.AccountRef{}, &store.AccountRef{},
	}
	funcs := map[string]any{
		"NormalizeLogin": store.NormalizeLogin, "HashOf": store.HashOf, "NewMemory": store.NewMemory,
		"Combine": store.Combine, "WithAccounts": store.WithAccounts,
		"(*AccountRef)(nil).UnmarshalText": (*store.AccountRef)(nil).UnmarshalText,
	}
	t.Logf("%d calls", hostcall.Sweep(t, receivers, funcs, storeValues, useStore(t)))
}

// A zero Memory is an empty store, as NewMemory makes: it counts, keeps
// accounts and sessions.
func TestZeroMemoryWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var m store.Memory
	for want := int64(1); want <= 2; want++ {
		if n, _, err := m.Increment(ctx, "k", time.Minute); n != want || err != nil {
			t.Fatalf("Increment: %d, %v; want %d", n, err, want)
		}
	}
	a, err := m.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "someone"})
	must(t, err)
	if got, err := m.AccountByLogin(ctx, scopes.User, "someone"); err != nil || got.ID != a.ID || got.CreatedAt.IsZero() {
		t.Fatalf("AccountByLogin: %+v, %v; want %+v", got, err, a)
	}
	s := store.Session{Hash: store.HashOf([]byte("x")), Account: a.Ref(), ExpiresAt: time.Now().Add(time.Hour)}
	must(t, m.CreateSession(ctx, s))
	if _, err := m.Session(ctx, s.Hash); err != nil {
		t.Fatal(err)
	}
}

// A store combined from a nil part answers an error to what that part
// would answer, and the other part works.
func TestCombineNilParts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := store.AccountRef{Scope: scopes.User, ID: 1}
	noDurable := store.Combine(nil, store.NewMemory(store.MemoryConfig{}))
	if _, err := noDurable.Account(ctx, ref); err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "durable") {
		t.Errorf("Account with no durable store: %v", err)
	}
	if n, _, err := noDurable.Increment(ctx, "k", time.Minute); n != 1 || err != nil {
		t.Errorf("Increment on the fast store: %d, %v", n, err)
	}
	noFast := store.Combine(store.NewMemory(store.MemoryConfig{}), nil)
	if _, err := noFast.Session(ctx, store.Hash{}); err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "fast") {
		t.Errorf("Session with no fast store: %v", err)
	}
	if _, err := noFast.Account(ctx, ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Account on the durable store: %v; want ErrNotFound", err)
	}
}

// useStore calls the methods of a store a function returned, and stops a
// watch a method started.
func useStore(t *testing.T) func(any) {
	return func(v any) {
		switch v := v.(type) {
		case store.Store:
			hostcall.Sweep(t, []any{v}, nil, storeValues, func(v any) {
				if stop, ok := v.(func()); ok && stop != nil {
					stop()
				}
			})
		case func():
			if v != nil {
				v()
			}
		}
	}
}

// storeValues returns values of typ that a host can build, the first the
// most ordinary.
func storeValues(typ reflect.Type) []reflect.Value {
	var vals []any
	switch typ {
	case reflect.TypeFor[store.Durable](), reflect.TypeFor[store.Fast](), reflect.TypeFor[store.Store](), reflect.TypeFor[store.Accounts]():
		vals = []any{store.NewMemory(store.MemoryConfig{}), &store.Memory{}, hostTable{}, nil}
	case reflect.TypeFor[store.InvalidationWatcher]():
		vals = []any{quietWatcher{}, nil}
	case reflect.TypeFor[store.Account]():
		vals = []any{store.Account{Scope: scopes.User, Username: "someone", Email: "someone@example.com"}, store.Account{}}
	case reflect.TypeFor[store.AccountRef]():
		vals = []any{store.AccountRef{Scope: scopes.User, ID: 1}, store.AccountRef{}}
	case reflect.TypeFor[store.Session]():
		vals = []any{store.Session{Hash: store.HashOf([]byte("x")), Account: store.AccountRef{Scope: scopes.User, ID: 1}, ExpiresAt: time.Now().Add(time.Hour)}, store.Session{}}
	case reflect.TypeFor[[]byte]():
		vals = []any{[]byte("user:1"), []byte(nil), []byte(strings.Repeat("\xff", 300)), []byte("admin:9223372036854775807")}
	}
	if vals == nil {
		return hostcall.Basic(typ)
	}
	var out []reflect.Value
	for _, v := range vals {
		switch {
		case v == nil:
			out = append(out, reflect.Zero(typ))
		case reflect.TypeOf(v).AssignableTo(typ): // hostTable is Accounts only
			out = append(out, reflect.ValueOf(v))
		}
	}
	return out
}

// quietWatcher hears invalidations and does nothing with them.
type quietWatcher struct{}

func (quietWatcher) Listening()                   {}
func (quietWatcher) Deaf()                        {}
func (quietWatcher) Invalidated(store.AccountRef) {}
