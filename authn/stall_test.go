package authn

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storewrap"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// stallFrom is a store that stalls from its n-th call on, as a store
// whose connection stays open and answers nothing: that call and every
// later one wait until their context is done. It records the calls that
// waited, and until when, so a test can tell how many deadlines a request
// waited out without timing anything.
type stallFrom struct {
	n      atomic.Int64 // the first call that stalls; 0: none
	calls  atomic.Int64
	mu     sync.Mutex
	waited []waited
	hung   []string // calls with no deadline, given up on
}

// waited is a call that waited until its deadline.
type waited struct {
	op  string
	due time.Time
}

// waitedOut returns the calls that waited until a deadline no later than
// end: those a request that returned at end waited for. A call due later
// (the background's, on a deadline of its own) did not hold it.
func (s *stallFrom) waitedOut(end time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []string
	for _, w := range s.waited {
		if !w.due.After(end) {
			ops = append(ops, w.op)
		}
	}
	return ops
}

func (s *stallFrom) around(ctx context.Context, op string, call func() error) error {
	i := s.calls.Add(1)
	if n := s.n.Load(); n == 0 || i < n {
		return call()
	}
	if ctx.Err() != nil {
		return ctx.Err() // its deadline is past already: it waits for nothing
	}
	if due, ok := ctx.Deadline(); ok {
		s.mu.Lock()
		s.waited = append(s.waited, waited{op, due})
		s.mu.Unlock()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		s.mu.Lock()
		s.hung = append(s.hung, op)
		s.mu.Unlock()
		return context.DeadlineExceeded
	}
}

// arm stalls the store from the n-th call after now on.
func (s *stallFrom) arm(n int64) {
	s.calls.Store(0)
	s.n.Store(n)
}

// A request waits out one store deadline at most. For each operation and
// each store call n it makes, the store stalls from call n on: the call
// that stalls waits out its deadline, and whatever the operation does after
// it (an invalidation sent, a session tidied away, an attempt taken back)
// must not wait out another, or a stalled store would answer in a multiple
// of the deadline instead of at it.
func TestOneDeadlinePerRequest(t *testing.T) {
	t.Parallel()
	type opEnv struct {
		*testEnv
		p     Principal // alice on a password session made just now
		sid   string
		fresh string // another session of alice's, never used
		key   string
		keyID int64
		totp  string   // alice's TOTP secret, when 2FA is on
		codes []string // and her recovery codes
		reset string   // a password reset token of alice's
	}
	ctx := context.Background()
	tests := []struct {
		name  string
		tfaOn bool // 2FA on before the store is armed
		run   func(e *opEnv) error
	}{
		{name: "login", run: func(e *opEnv) error {
			_, err := e.login("192.0.2.1", aliceLogin(alicePassword))
			return err
		}},
		{name: "login, wrong password", run: func(e *opEnv) error {
			_, err := e.login("192.0.2.1", aliceLogin("wrong"))
			return err
		}},
		{name: "login with a 2FA code", tfaOn: true, run: func(e *opEnv) error {
			req := aliceLogin(alicePassword)
			req.TFACode = totpCode(t, e.totp, e.clock.Now())
			_, err := e.login("192.0.2.1", req)
			return err
		}},
		{name: "login with a recovery code", tfaOn: true, run: func(e *opEnv) error {
			req := aliceLogin(alicePassword)
			req.TFARecoveryCode = e.codes[0]
			_, err := e.login("192.0.2.1", req)
			return err
		}},
		{name: "password reset", run: func(e *opEnv) error {
			return e.a.ResetPassword(ctx, scopes.User, e.reset, "a brand new password", from("192.0.2.1"))
		}},
		{name: "a request with the SessionID", run: func(e *opEnv) error {
			if res := e.serve(get("SessionID=" + e.fresh)); res.status != 200 {
				return errDown
			}
			return nil
		}},
		{name: "a request with the API key", run: func(e *opEnv) error {
			if res := e.serve(get("APIKey=" + e.key)); res.status != 200 {
				return errDown
			}
			return nil
		}},
		{name: "password change", run: func(e *opEnv) error {
			acct, err := e.a.Account(ctx, e.alice.Ref())
			if err != nil {
				return err
			}
			_, err = e.a.UpdateAccount(ctx, e.p, acct, "a brand new password")
			return err
		}},
		{name: "email change", run: func(e *opEnv) error {
			acct, err := e.a.Account(ctx, e.alice.Ref())
			if err != nil {
				return err
			}
			acct.Email = "alice2@example.com"
			_, err = e.a.UpdateAccount(ctx, e.p, acct, "")
			return err
		}},
		{name: "2FA on", run: func(e *opEnv) error {
			enr, err := e.a.SetupTFA(ctx, e.p)
			if err != nil {
				return err
			}
			_, _, err = e.a.EnableTFA(ctx, e.p, totpCode(t, enr.Secret, e.clock.Now()))
			return err
		}},
		{name: "2FA off", tfaOn: true, run: func(e *opEnv) error {
			_, err := e.a.DisableTFA(ctx, e.p)
			return err
		}},
		{name: "recovery codes", tfaOn: true, run: func(e *opEnv) error {
			_, err := e.a.RegenerateRecoveryCodes(ctx, e.p)
			return err
		}},
		{name: "key created", run: func(e *opEnv) error {
			_, _, err := e.a.CreateAPIKey(ctx, e.alice.Ref(), APIKeyOptions{Label: "x"})
			return err
		}},
		{name: "key revoked", run: func(e *opEnv) error {
			return e.a.RevokeAPIKey(ctx, e.alice.Ref(), e.keyID)
		}},
		{name: "logout", run: func(e *opEnv) error {
			return e.a.EndSession(httptest.NewRecorder(), get("SessionID="+e.sid), e.p)
		}},
		{name: "every session ended", run: func(e *opEnv) error {
			_, err := e.a.EndAllSessions(ctx, e.alice.Ref())
			return err
		}},
		{name: "re-authentication", run: func(e *opEnv) error {
			_, err := e.a.Reauthenticate(ctx, from("192.0.2.1"), e.p, alicePassword, "")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stalledOnce bool
			for n := int64(1); ; n++ {
				s := &stallFrom{}
				box := &mailbox{}
				env := newTestEnv(t, func(c *Config) {
					c.Store = storewrap.New(c.Store, s.around)
					c.StoreTimeout = 20 * time.Millisecond // waited out once per stalled run
					c.Passwords.Mailer = box
				})
				e := &opEnv{testEnv: env}
				if tc.tfaOn {
					e.totp, e.codes = env.enableTFA(env.alice)
					env.clock.Advance(time.Minute) // the enrolling code's step is used
				}
				if err := env.remind("192.0.2.9", scopes.User, env.alice.Email); err != nil {
					t.Fatal(err)
				}
				drainMail(env.a)
				e.reset = box.tokens(env.alice.Email)[0]
				e.sid = env.session(env.alice)
				e.p = env.serve(get("SessionID=" + e.sid)).principal
				e.fresh = env.session(env.alice)
				var rec store.APIKey
				e.key, rec = env.key(env.alice)
				e.keyID = rec.ID

				s.arm(n)
				err := tc.run(e)
				end := time.Now()
				made := s.calls.Load()
				waited := s.waitedOut(end)
				s.mu.Lock()
				hung := s.hung
				s.mu.Unlock()
				if len(hung) > 0 {
					t.Fatalf("stalled from call %d: %v made with no deadline", n, hung)
				}
				if len(waited) > 1 {
					t.Errorf("stalled from call %d: the request waited out %d deadlines (%v), not one", n, len(waited), waited)
				}
				if made < n { // the operation made fewer calls: every call has stalled once
					if n == 1 {
						t.Fatal("the operation made no store call")
					}
					if !stalledOnce {
						t.Fatal("no stalled call ever failed the operation")
					}
					t.Logf("%d store calls, each stalled in turn", n-1)
					return
				}
				if err != nil {
					stalledOnce = true
				}
			}
		})
	}
}

// A revocation is made whatever the client does: one whose client left
// mid-way (its context cancelled) still ends the session, the key, or
// every session of the account, on a store that honours cancellation.
func TestRevocationsOutliveTheClient(t *testing.T) {
	t.Parallel()
	honours := func(ctx context.Context, _ string, call func() error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return call()
	}
	env := newTestEnv(t, func(c *Config) { c.Store = storewrap.New(c.Store, honours) })
	gone, cancel := context.WithCancel(context.Background())
	cancel()

	sid := env.session(env.alice)
	p := env.serve(get("SessionID=" + sid)).principal
	if err := env.a.EndSession(httptest.NewRecorder(), get("SessionID="+sid).WithContext(gone), p); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if res := env.serve(get("SessionID=" + sid)); res.status != 401 {
		t.Fatalf("the session after its logout: %d", res.status)
	}

	key, rec := env.key(env.alice)
	if err := env.a.RevokeAPIKey(gone, env.alice.Ref(), rec.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if res := env.serve(get("APIKey=" + key)); res.status != 401 {
		t.Fatalf("the key after its revocation: %d", res.status)
	}

	other := env.session(env.alice)
	if _, err := env.a.EndAllSessions(gone, env.alice.Ref()); err != nil {
		t.Fatalf("every session: %v", err)
	}
	if res := env.serve(get("SessionID=" + other)); res.status != 401 {
		t.Fatalf("a session after every session ended: %d", res.status)
	}
}
