package authn

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/store"
)

// Concurrent attempts spread over usernames (from one address) or over
// addresses (at one account) get no more password checks than the limit.
func TestThrottleConcurrentSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit ThrottleConfig
		form  func(i int) (ip, body string)
	}{
		{"one address, many usernames", ThrottleConfig{PerIP: 10}, func(i int) (string, string) {
			return "192.0.2.90", fmt.Sprintf("Command=User.Login&Username=user%d&Password=x", i)
		}},
		{"one account, many addresses", ThrottleConfig{PerAccount: 10}, func(i int) (string, string) {
			return fmt.Sprintf("198.51.100.%d", i), "Command=User.Login&Username=alice&Password=x"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever; c.Throttle = tc.limit })
			var checked atomic.Int64
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Go(func() {
					ip, body := tc.form(i)
					r := postForm(body)
					r.RemoteAddr = ip + ":1"
					rec := httptest.NewRecorder()
					l.api.ServeHTTP(rec, r)
					if strings.Contains(rec.Body.String(), `"ErrorCode":3`) {
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
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	for i := range 6 {
		login := "alice"
		if i%2 == 1 {
			login = "ALICE@example.com"
		}
		if a := l.call("192.0.2.91", "Command=User.Login&Username="+login+"&Password=x"); a.code != 3 {
			t.Fatalf("attempt %d: %s", i, a.body)
		}
	}
	for _, login := range []string{"alice", "alice@example.com"} {
		if a := l.call("192.0.2.91", "Command=User.Login&Username="+login+"&Password="+alicePassword); a.status != 429 {
			t.Fatalf("%s after 6 attempts by both names: %s", login, a.body)
		}
	}
}

// Attempts without a captcha still count against the address: a client
// cannot fill the store with counters of made-up usernames.
func TestThrottleMissingCaptchaCounts(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.Throttle = ThrottleConfig{PerIP: 20} }) // CaptchaOcteth: a captcha is needed
	for i := range 20 {
		if a := l.call("192.0.2.92", fmt.Sprintf("Command=User.Login&Username=made-up-%d&Password=x", i)); a.code != CodeMissingCaptcha {
			t.Fatalf("attempt %d: %s", i, a.body)
		}
	}
	if a := l.call("192.0.2.92", "Command=User.Login&Username=made-up-x&Password=x"); a.status != 429 {
		t.Fatalf("the 21st: %s", a.body)
	}
}

// Re-authentication (the current password, a 2FA code) is counted like a
// login: a stolen session is not an unlimited oracle.
func TestReauthThrottled(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil)
	sid := l.session(l.alice) // a password session
	for i := range 6 {
		if a := l.call("192.0.2.93", "Command=User.PasswordChange&SessionID="+sid+"&CurrentPassword=guess&NewPassword=a-new-password"); a.code != 3 {
			t.Fatalf("guess %d: %s", i, a.body)
		}
	}
	if a := l.call("192.0.2.93", "Command=User.PasswordChange&SessionID="+sid+"&CurrentPassword="+alicePassword+"&NewPassword=a-new-password"); a.status != 429 {
		t.Fatalf("the seventh, right: %s", a.body)
	}
	// And the account's logins from that address are locked with it.
	if a := l.call("192.0.2.93", aliceLogin+alicePassword); a.status != 429 {
		t.Fatalf("login: %s", a.body)
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
				_ = env.a.FlushAPIKeyUsage(context.Background())
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

func TestSwitchedSessionEndsWithAdmin(t *testing.T) {
	t.Parallel()
	sw := &switchable{off: map[store.AccountRef]bool{}}
	l := newLoginAPI(t, func(c *Config) { sw.Store = c.Store; c.Store = sw })
	rootSID := l.session(l.root)
	a := l.call("192.0.2.94", "Command=User.Switch&UserID=1&SessionID="+rootSID)
	if !a.ok {
		t.Fatalf("switch: %s", a.body)
	}
	sid := a.fields["SessionID"].(string)
	if res := l.serve(get("SessionID=" + sid)); res.status != 200 {
		t.Fatalf("switched session: %d", res.status)
	}
	// The administrator is disabled: the switched session stops.
	sw.mu.Lock()
	sw.off[l.root.Ref()] = true
	sw.mu.Unlock()
	if res := l.serve(get("SessionID=" + sid)); res.status != 401 {
		t.Fatalf("switched session of a disabled admin: %d", res.status)
	}
	sw.mu.Lock()
	sw.off[l.root.Ref()] = false
	sw.mu.Unlock()
	// Switching needs the admin's password session, not a key.
	key, _ := l.key(l.root)
	if a := l.call("192.0.2.94", "Command=User.Switch&UserID=1&AdminAPIKey="+key); a.status != 403 {
		t.Fatalf("switch with a key: %s", a.body)
	}
}

func TestKeyLoginSessionKeepsBinding(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil)
	key, _, err := l.a.CreateAPIKey(context.Background(), l.alice.Ref(), APIKeyOptions{BoundIP: "192.0.2.95"})
	if err != nil {
		t.Fatal(err)
	}
	a := l.call("192.0.2.95", "Command=User.Login&apikey="+key.Reveal())
	if !a.ok {
		t.Fatalf("key login from the bound address: %s", a.body)
	}
	sid := a.fields["SessionID"].(string)
	for ip, want := range map[string]int{"192.0.2.95": 200, "203.0.113.1": 401} {
		r := get("SessionID=" + sid)
		r.RemoteAddr = ip + ":1"
		if res := l.serve(r); res.status != want {
			t.Errorf("the key login's session from %s: %d, want %d", ip, res.status, want)
		}
	}
}
