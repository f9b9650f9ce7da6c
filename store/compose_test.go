package store_test

import (
	"context"
	"errors"
	"sync"
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

// noChannel is a Memory that, as SQLite, carries no invalidations.
type noChannel struct{ *store.Memory }

func (noChannel) Invalidate(context.Context, store.AccountRef) error { return store.ErrNotSupported }
func (noChannel) WatchInvalidations(store.InvalidationWatcher) (func(), error) {
	return nil, store.ErrNotSupported
}

// brokenChannel is a Memory whose channel fails.
type brokenChannel struct{ *store.Memory }

var errChannel = errors.New("channel down")

func (brokenChannel) Invalidate(context.Context, store.AccountRef) error { return errChannel }
func (brokenChannel) WatchInvalidations(store.InvalidationWatcher) (func(), error) {
	return nil, errChannel
}

// tally counts what a watcher hears.
type tally struct {
	mu                 sync.Mutex
	listening, invalid int
}

func (t *tally) Listening() { t.mu.Lock(); t.listening++; t.mu.Unlock() }
func (t *tally) Deaf()      {}
func (t *tally) Invalidated(store.AccountRef) {
	t.mu.Lock()
	t.invalid++
	t.mu.Unlock()
}

// heard returns how many invalidations t heard.
func (t *tally) heard() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.invalid
}

func TestComposedInvalidationChannel(t *testing.T) {
	t.Parallel()
	// A composed store has one channel: Combine's fast part's, else its
	// durable part's; WithAccounts' rest's; else none (ErrNotSupported
	// from both methods). Invalidate sends on the channel that
	// WatchInvalidations watches, so one instance hears another.
	const a, b = "durable", "fast"
	for _, tc := range []struct {
		name    string
		compose func(t *testing.T, durable, fast *store.Memory) store.Store
		via     string // the part whose channel is used; "" none
		err     error  // what both methods answer instead, if via is ""
	}{
		{"Combine: fast's channel", func(_ *testing.T, d, f *store.Memory) store.Store {
			return store.Combine(d, f)
		}, b, nil},
		{"Combine: durable's when fast has none", func(_ *testing.T, d, f *store.Memory) store.Store {
			return store.Combine(d, struct{ store.Fast }{f})
		}, a, nil},
		{"Combine: durable's when fast answers ErrNotSupported", func(_ *testing.T, d, f *store.Memory) store.Store {
			return store.Combine(d, noChannel{f})
		}, a, nil},
		{"Combine: durable's when fast is a Combine without one", func(_ *testing.T, d, f *store.Memory) store.Store {
			return store.Combine(d, store.Combine(struct{ store.Durable }{f}, noChannel{f}))
		}, a, nil},
		{"Combine: none", func(_ *testing.T, d, f *store.Memory) store.Store {
			return store.Combine(noChannel{d}, struct{ store.Fast }{f})
		}, "", store.ErrNotSupported},
		{"Combine: fast's that fails is not passed over", func(_ *testing.T, d, f *store.Memory) store.Store {
			// Else Invalidate and WatchInvalidations could pick
			// different channels.
			return store.Combine(d, brokenChannel{f})
		}, "", errChannel},
		{"WithAccounts: rest's", func(t *testing.T, d, f *store.Memory) store.Store {
			return withAccounts(t, hostTable{}, f)
		}, b, nil},
		{"WithAccounts: not the accounts' channel", func(t *testing.T, d, f *store.Memory) store.Store {
			return withAccounts(t, d, noChannel{f})
		}, "", store.ErrNotSupported},
		{"WithAccounts over a Combine", func(t *testing.T, d, f *store.Memory) store.Store {
			return withAccounts(t, hostTable{}, store.Combine(d, f))
		}, b, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			durable, _ := newMemory()
			fast, _ := newMemory()
			parts := map[string]*store.Memory{a: durable, b: fast}
			direct := map[string]*tally{a: {}, b: {}} // a watcher on each part
			for name, m := range parts {
				stop, err := m.WatchInvalidations(direct[name])
				must(t, err)
				defer stop()
			}
			s := tc.compose(t, durable, fast).(store.Invalidations)

			w := &tally{}
			stop, err := s.WatchInvalidations(w)
			if tc.via == "" {
				if !errors.Is(err, tc.err) || stop != nil {
					t.Errorf("WatchInvalidations: %v, want %v and no stop", err, tc.err)
				}
				for _, r := range []store.AccountRef{ref(7), {}} { // whatever the ref
					if err := s.Invalidate(ctx, r); !errors.Is(err, tc.err) {
						t.Errorf("Invalidate(%+v): %v, want %v", r, err, tc.err)
					}
				}
				return
			}
			must(t, err)
			defer stop()
			must(t, s.Invalidate(ctx, ref(7)))
			for name, d := range direct {
				want := 0
				if name == tc.via {
					want = 1
				}
				if d.heard() != want {
					t.Errorf("a watcher of the %s part heard %d invalidations, want %d", name, d.heard(), want)
				}
			}
			must(t, parts[tc.via].Invalidate(ctx, ref(8))) // another instance on the part
			if w.heard() != 2 || w.listening != 1 {
				t.Errorf("the composed store's watcher heard %d invalidations after %d Listening, want 2 after 1", w.heard(), w.listening)
			}
		})
	}
}
