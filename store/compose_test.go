package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// hostTable is a host's own users table: it implements store.Accounts and
// nothing else, so it is read-only to keyward.
type hostTable []store.Account

func (h hostTable) Account(_ context.Context, ref store.AccountRef) (store.Account, error) {
	for _, a := range h {
		if a.Ref() == ref {
			return a, nil
		}
	}
	return store.Account{}, store.ErrNotFound
}

func (h hostTable) AccountByLogin(_ context.Context, scope scopes.Scope, login string) (store.Account, error) {
	login = store.NormalizeLogin(login)
	for _, a := range h {
		if login != "" && a.Scope == scope &&
			(store.NormalizeLogin(a.Username) == login || store.NormalizeLogin(a.Email) == login) {
			return a, nil
		}
	}
	return store.Account{}, store.ErrNotFound
}

// withAccounts returns store.WithAccounts(accounts, rest), failing t on
// an error.
func withAccounts(t *testing.T, accounts store.Accounts, rest store.Store) store.Store {
	t.Helper()
	s, err := store.WithAccounts(accounts, rest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCombineConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		cfg := store.MemoryConfig{Now: now}
		return store.Combine(store.NewMemory(cfg), store.NewMemory(cfg))
	})
}

func TestWithAccountsConformance(t *testing.T) {
	t.Parallel()
	t.Run("ReadOnlyHostTable", func(t *testing.T) {
		t.Parallel()
		// The account writes answer ErrNotSupported, so their cases are
		// skipped; the rest, generations included, run on the Memory.
		storetest.Run(t, func(t *testing.T, now func() time.Time) any {
			return withAccounts(t, hostTable{}, store.NewMemory(store.MemoryConfig{Now: now}))
		})
	})
	t.Run("AccountsKeepingGenerations", func(t *testing.T) {
		t.Parallel()
		// Accounts that keep generations (a Memory, here) take the
		// account writes; 2FA changes raise the rest's generations, and
		// an account's generation is the sum of both.
		storetest.Run(t, func(t *testing.T, now func() time.Time) any {
			cfg := store.MemoryConfig{Now: now}
			return withAccounts(t, store.NewMemory(cfg), store.NewMemory(cfg))
		})
	})
}

func TestWithAccountsTFAChangeRaisesHostAccountsGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ada := store.Account{ID: 7, Scope: scopes.User, Username: "ada", Email: "ada@example.com", PasswordHash: "hash",
		Generation: 41} // not a generation: the table keeps none
	rest, _ := newMemory()
	s := withAccounts(t, hostTable{ada}, rest)

	// generation reads ada's generation both ways, and checks they agree
	// with Generation.
	generation := func(what string) int64 {
		t.Helper()
		a, err := s.Account(ctx, ada.Ref())
		must(t, err)
		byLogin, err := s.AccountByLogin(ctx, scopes.User, "ADA@example.com")
		must(t, err)
		g, err := s.(store.Generations).Generation(ctx, ada.Ref())
		must(t, err)
		if a.Username != "ada" || byLogin.ID != ada.ID || a.Generation != byLogin.Generation || a.Generation != g {
			t.Fatalf("%s: Account %+v, AccountByLogin %+v, Generation %d: want ada, at one generation", what, a, byLogin, g)
		}
		return g
	}
	if g := generation("before any change"); g != 0 {
		t.Fatalf("generation %d before any change, want 0 (the rest's; the table's 41 is not one)", g)
	}

	// 2FA on, new recovery codes, 2FA off: two credential changes.
	on := store.TFA{Account: ada.Ref(), Enabled: true, Secret: []byte("sealed")}
	must(t, s.PutTFA(ctx, on))
	if g := generation("after 2FA was turned on"); g != 1 {
		t.Fatalf("generation %d after 2FA was turned on, want 1: the sessions made before live on", g)
	}
	st, err := s.TFA(ctx, ada.Ref())
	must(t, err)
	st.RecoveryCodes = []store.Hash{hashOf("code")}
	must(t, s.PutTFA(ctx, st))
	if g := generation("after new recovery codes"); g != 1 {
		t.Fatalf("generation %d after new recovery codes, want 1", g)
	}
	st, err = s.TFA(ctx, ada.Ref())
	must(t, err)
	st.Enabled = false
	must(t, s.PutTFA(ctx, st))
	if g := generation("after 2FA was turned off"); g != 2 {
		t.Fatalf("generation %d after 2FA was turned off, want 2", g)
	}

	// The table is read-only: every account write is refused, and none
	// reaches the rest.
	for name, err := range map[string]error{
		"SetPassword":    s.(store.PasswordSetter).SetPassword(ctx, ada.Ref(), "new"),
		"RehashPassword": s.(store.PasswordSetter).RehashPassword(ctx, ada.Ref(), "hash", "new"),
		"UpdateAccount":  s.(store.AccountUpdater).UpdateAccount(ctx, ada),
	} {
		if !errors.Is(err, store.ErrNotSupported) {
			t.Errorf("%s of a host's account: %v, want store.ErrNotSupported", name, err)
		}
	}
	if _, err := s.(store.AccountCreator).CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob"}); !errors.Is(err, store.ErrNotSupported) {
		t.Errorf("CreateAccount: %v, want store.ErrNotSupported", err)
	}
	if _, err := rest.AccountByLogin(ctx, scopes.User, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused CreateAccount reached the rest: %v", err)
	}
}

func TestWithAccountsSumsGenerations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users, _ := newMemory()
	rest, _ := newMemory()
	s := withAccounts(t, users, rest)
	alice, err := s.(store.AccountCreator).CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
	must(t, err)
	if _, err := rest.Account(ctx, alice.Ref()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the account was created in the rest: %v", err)
	}
	must(t, s.(store.PasswordSetter).SetPassword(ctx, alice.Ref(), "new hash")) // the users' generation
	must(t, s.PutTFA(ctx, store.TFA{Account: alice.Ref(), Enabled: true}))      // the rest's
	for what, read := range map[string]func() (store.Account, error){
		"Account":        func() (store.Account, error) { return s.Account(ctx, alice.Ref()) },
		"AccountByLogin": func() (store.Account, error) { return s.AccountByLogin(ctx, scopes.User, "alice") },
	} {
		a, err := read()
		if err != nil || a.Generation != 2 || a.PasswordHash != "new hash" {
			t.Errorf("%s after a password and a 2FA change: %+v, %v; want the new hash at generation 2", what, a, err)
		}
	}
}

func TestWithAccountsNeedsGenerations(t *testing.T) {
	t.Parallel()
	m, _ := newMemory()
	for _, tc := range []struct {
		name   string
		rest   store.Store
		wantOK bool
	}{
		{"a Memory", m, true},
		{"a Combine whose durable part keeps generations", store.Combine(m, m), true},
		{"a WithAccounts over a Memory", withAccounts(t, hostTable{}, m), true},
		// Nowhere to read what a 2FA change raised.
		{"a store without Generations", struct {
			store.Durable
			store.Fast
		}{m, m}, false},
		{"a Combine whose durable part keeps none", store.Combine(struct{ store.Durable }{m}, m), false},
		{"no store", nil, false},
	} {
		_, err := store.WithAccounts(hostTable{}, tc.rest)
		if (err == nil) != tc.wantOK {
			t.Errorf("WithAccounts over %s: error %v, want an error: %v", tc.name, err, !tc.wantOK)
		}
	}
	if _, err := store.WithAccounts(nil, m); err == nil {
		t.Error("WithAccounts without accounts succeeded")
	}
}

func TestCombineWithoutOptionalParts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	durable, _ := newMemory()
	fast, clock := newMemory()
	s := store.Combine(struct{ store.Durable }{durable}, fast)
	if _, err := s.(store.Generations).Generation(ctx, ref(1)); !errors.Is(err, store.ErrNotSupported) {
		t.Errorf("Generation of a Combine whose durable part keeps none: %v, want store.ErrNotSupported", err)
	}
	if err := s.(store.PasswordSetter).SetPassword(ctx, ref(1), "x"); !errors.Is(err, store.ErrNotSupported) {
		t.Errorf("SetPassword: %v, want store.ErrNotSupported", err)
	}

	// Sessions go to the fast part, and only there.
	sess := session("s", ref(1), clock.Now(), clock.Now().Add(time.Hour))
	must(t, s.CreateSession(ctx, sess))
	if _, err := fast.Session(ctx, sess.Hash); err != nil {
		t.Errorf("the session is not in the fast part: %v", err)
	}
	if _, err := durable.Session(ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session is in the durable part: %v", err)
	}
}
