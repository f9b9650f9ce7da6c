package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Concurrent attempts spread over usernames (from one address) or over
// addresses (at one account) get no more password checks than the limit.
func TestThrottleConcurrentSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit ThrottleConfig
		login func(i int) (ip, username string)
	}{
		{"one address, many usernames", ThrottleConfig{PerIP: 10}, func(i int) (string, string) {
			return "192.0.2.90", fmt.Sprintf("user%d", i)
		}},
		{"one account, many addresses", ThrottleConfig{PerAccount: 10}, func(i int) (string, string) {
			return fmt.Sprintf("198.51.100.%d", i), "alice"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.Throttle = tc.limit })
			var checked atomic.Int64
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Go(func() {
					ip, username := tc.login(i)
					req := aliceLogin("x")
					req.Username, req.HTTP = username, from(ip)
					if _, err := env.a.Login(context.Background(), req); errors.Is(err, ErrInvalidCredential) {
						checked.Add(1)
					}
				})
			}
			wg.Wait()
			if n := checked.Load(); n > 10 {
				t.Fatalf("%d of 100 concurrent attempts had a password checked, limit 10", n)
			}
		})
	}
}

// An account's username and its email address are one count: switching
// from one to the other after a lockout gets nothing more.
func TestThrottleUsernameAndEmailShare(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for i := range 6 {
		req := aliceLogin("x")
		if i%2 == 1 {
			req.Username = "ALICE@example.com"
		}
		if _, err := env.login("192.0.2.91", req); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	for _, login := range []string{"alice", "alice@example.com"} {
		req := aliceLogin(alicePassword)
		req.Username = login
		if _, err := env.login("192.0.2.91", req); throttled(err) == nil {
			t.Fatalf("%s after 6 attempts by both names: %v", login, err)
		}
	}
}

// Attempts without a captcha still count against the address: a client
// cannot fill the store with counters of made-up usernames.
func TestThrottleMissingCaptchaCounts(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{PerIP: 20} })
	made := func(name string) LoginRequest {
		return LoginRequest{Scope: scopes.User, Username: name, Password: "x", AskCaptcha: true}
	}
	for i := range 20 {
		if _, err := env.login("192.0.2.92", made(fmt.Sprintf("made-up-%d", i))); !errors.Is(err, ErrCaptchaRequired) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := env.login("192.0.2.92", made("made-up-x")); throttled(err) == nil {
		t.Fatalf("the 21st: %v", err)
	}
}

// Re-authentication (the current password, a 2FA code) is counted like a
// login: a stolen session is not an unlimited oracle.
func TestReauthThrottled(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	const ip = "192.0.2.93"
	p := env.serve(get("SessionID=" + env.session(env.alice))).principal // a password session
	for i := range 6 {
		if _, err := env.a.Reauthenticate(ctx, from(ip), p, "guess", ""); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := env.a.Reauthenticate(ctx, from(ip), p, alicePassword, ""); throttled(err) == nil {
		t.Fatalf("the seventh, right: %v", err)
	}
	// And the account's logins from that address are locked with it.
	if _, err := env.login(ip, aliceLogin(alicePassword)); throttled(err) == nil {
		t.Fatalf("login: %v", err)
	}

	// The same for 2FA codes.
	env.enableTFA(env.root)
	root := env.serve(get("SessionID=" + env.session(env.root))).principal
	for i := range 6 {
		if _, err := env.a.Reauthenticate(ctx, from(ip), root, "", "000000"); !errors.Is(err, ErrTFAWrong) {
			t.Fatalf("code guess %d: %v", i, err)
		}
	}
	if _, err := env.a.Reauthenticate(ctx, from(ip), root, "", "123456"); throttled(err) == nil {
		t.Fatalf("the seventh code: %v", err)
	}
}

// A flush that runs while keys are first used never sees a count without
// a last use (run with -race).
func TestAPIKeyUsageFlushRace(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = env.a.Close(context.Background())
			}
		}
	})
	for id := range int64(2000) {
		env.a.recordUse(id+1000, env.clock.Now(), get(""), netip.Addr{})
	}
	close(stop)
	wg.Wait()
}

// switchable is a store where a test can disable an account.
type switchable struct {
	store.Store
	mu  sync.Mutex
	off map[store.AccountRef]bool
}

func (s *switchable) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	a, err := s.Store.Account(ctx, ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	a.Disabled = a.Disabled || s.off[ref]
	return a, err
}

func (s *switchable) set(ref store.AccountRef, off bool) {
	s.mu.Lock()
	s.off[ref] = off
	s.mu.Unlock()
}

// A session an administrator made to act as a user records who, and ends
// with the administrator's session.
func TestSwitchedSessionEndsWithAdmin(t *testing.T) {
	t.Parallel()
	sw := &switchable{off: map[store.AccountRef]bool{}}
	env := newTestEnv(t, func(c *Config) { sw.Store = c.Store; c.Store = sw })
	ctx := context.Background()
	own := env.session(env.alice)
	rootSID := env.session(env.root)
	admin := env.serve(get("SessionID=" + rootSID)).principal
	switched := func() string {
		t.Helper()
		sid, err := env.a.StartSession(ctx, env.alice, SessionOptions{Method: "switch", SwitchedBy: admin, SwitchPrivilege: "Full"})
		if err != nil {
			t.Fatal(err)
		}
		return sid.Reveal()
	}
	sid := switched()
	res := env.serve(get("SessionID=" + sid))
	p := res.principal
	if res.status != 200 || p.Scope != scopes.User || p.AccountID != env.alice.ID || p.SwitchedBy != env.root.Ref() || p.SwitchPrivilege != "Full" || p.Login != "switch" {
		t.Fatalf("switched session: %d %+v", res.status, p)
	}
	// A switched session is not the user's password login.
	if _, err := env.a.Reauthenticate(ctx, nil, p, "", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a switched session making a sensitive change: %v", err)
	}
	// The administrator is disabled: the switched session stops; the
	// user's own goes on.
	sw.set(env.root.Ref(), true)
	if res := env.serve(get("SessionID=" + sid)); res.status != 401 {
		t.Fatalf("switched session of a disabled admin: %d", res.status)
	}
	if res := env.serve(get("SessionID=" + own)); res.status != 200 {
		t.Fatalf("the user's own session: %d", res.status)
	}
	sw.set(env.root.Ref(), false)
	if res := env.serve(get("SessionID=" + sid)); res.status != 200 {
		t.Fatalf("switched session, the admin enabled again: %d", res.status)
	}
	// The administrator logs out: the switched session ends too.
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), admin); err != nil {
		t.Fatal(err)
	}
	if res := env.serve(get("SessionID=" + sid)); res.status != 401 {
		t.Fatalf("switched session after the admin's logout: %d", res.status)
	}
	// Switching needs the admin's session, not a key.
	key, _ := env.key(env.root)
	byKey := env.serve(get("AdminAPIKey=" + key)).principal
	if _, err := env.a.StartSession(ctx, env.alice, SessionOptions{Method: "switch", SwitchedBy: byKey}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("switch with a key: %v", err)
	}
}

func TestKeyLoginSessionKeepsBinding(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	key, _, err := env.a.CreateAPIKey(context.Background(), env.alice.Ref(), APIKeyOptions{BoundIP: "192.0.2.95"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.login("192.0.2.95", LoginRequest{Scope: scopes.User, APIKey: key.Reveal()})
	if err != nil {
		t.Fatalf("key login from the bound address: %v", err)
	}
	sid := res.SessionID.Reveal()
	for ip, want := range map[string]int{"192.0.2.95": 200, "203.0.113.1": 401} {
		r := get("SessionID=" + sid)
		r.RemoteAddr = ip + ":1"
		if res := env.serve(r); res.status != want {
			t.Errorf("the key login's session from %s: %d, want %d", ip, res.status, want)
		}
	}
	// Revoked, the key takes its sessions with it.
	keys, _ := env.a.APIKeys(context.Background(), env.alice.Ref())
	if err := env.a.RevokeAPIKey(context.Background(), env.alice.Ref(), keys[0].ID); err != nil {
		t.Fatal(err)
	}
	r := get("SessionID=" + sid)
	r.RemoteAddr = "192.0.2.95:1"
	if res := env.serve(r); res.status != 401 {
		t.Errorf("the key login's session after the key was revoked: %d", res.status)
	}
}
