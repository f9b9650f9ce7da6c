package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// mailbox is a Mailer that keeps what it sends.
type mailbox struct {
	mu   sync.Mutex
	sent map[string][]string // email → tokens
}

func (m *mailbox) SendPasswordReset(_ context.Context, acct store.Account, token Secret) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent == nil {
		m.sent = map[string][]string{}
	}
	m.sent[acct.Email] = append(m.sent[acct.Email], token.Reveal())
	return nil
}

func (m *mailbox) tokens(email string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sent[email]...)
}

// drainMail waits until every reminder handed to the background is done:
// it takes every slot of the semaphore, then gives them back.
func drainMail(a *Authenticator) {
	for range cap(a.mailing) {
		a.mailing <- struct{}{}
	}
	for range cap(a.mailing) {
		<-a.mailing
	}
}

func newRecoveryEnv(t *testing.T) (*testEnv, *mailbox) {
	t.Helper()
	box := &mailbox{}
	return newTestEnv(t, func(c *Config) { c.Passwords.Mailer = box }), box
}

// remind asks for a reset of the email address of the scope, from ip.
func (e *testEnv) remind(ip string, scope scopes.Scope, email string) error {
	return e.a.RemindPassword(context.Background(), scope, email, from(ip))
}

// reset resets a password of the scope with token, from ip.
func (e *testEnv) reset(ip string, scope scopes.Scope, token, password string) error {
	return e.a.ResetPassword(context.Background(), scope, token, password, from(ip))
}

func TestRemindSameAnswer(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	// A known address, an unknown one, and a username in its place (no
	// mail either): the same answer.
	for _, email := range []string{"alice@example.com", "nobody@example.com", "alice"} {
		if err := env.remind("192.0.2.1", scopes.User, email); err != nil {
			t.Fatalf("%s: %v", email, err)
		}
	}
	drainMail(env.a)
	if got := box.tokens("alice@example.com"); len(got) != 1 || !strings.HasPrefix(got[0], resetTokenPrefix) {
		t.Fatalf("mails to alice: %v", got)
	}
	box.mu.Lock()
	n := len(box.sent)
	box.mu.Unlock()
	if n != 1 {
		t.Fatalf("mails went to %d addresses", n)
	}
	if !slices.Contains(env.events.kinds(), event.PasswordReminded) {
		t.Fatal("no password_reminded event")
	}
	// The store knows the token by its hash: taking it by the hash of the
	// mailed token finds it (and uses it up).
	tok, err := env.mem.TakeToken(context.Background(), hashCredential(box.tokens("alice@example.com")[0]))
	if err != nil || tok.Account != env.alice.Ref() {
		t.Fatalf("token by its hash: %+v, %v", tok, err)
	}
}

func TestResetOnceConcurrently(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	other := env.session(env.alice)
	if err := env.remind("192.0.2.2", scopes.User, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	drainMail(env.a)
	token := box.tokens("alice@example.com")[0]
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if env.reset("192.0.2.2", scopes.User, token, "a-brand-new-password") == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one token reset %d times", wins.Load())
	}
	// The new password works, the old does not, and sessions ended.
	if _, err := env.login("192.0.2.3", aliceLogin("a-brand-new-password")); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := env.login("192.0.2.3", aliceLogin(alicePassword)); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("old password: %v", err)
	}
	if res := env.serve(get("SessionID=" + other)); res.status != 401 {
		t.Fatalf("a session survived the reset: %d", res.status)
	}
	if !slices.Contains(env.events.kinds(), event.PasswordReset) {
		t.Fatal("no password_reset event")
	}
}

func TestResetTokenRules(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	remind := func() string {
		t.Helper()
		if err := env.remind("192.0.2.4", scopes.User, "alice@example.com"); err != nil {
			t.Fatal(err)
		}
		drainMail(env.a)
		ts := box.tokens("alice@example.com")
		return ts[len(ts)-1]
	}
	const ip = "192.0.2.5"
	// Expired.
	tok := remind()
	env.clock.Advance(30 * time.Minute)
	if err := env.reset(ip, scopes.User, tok, "a-brand-new-password"); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("expired: %v", err)
	}
	// A user's token at the admin command.
	tok = remind()
	if err := env.reset(ip, scopes.Admin, tok, "a-brand-new-password"); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("other scope: %v", err)
	}
	// A password that cannot be set does not use the token up.
	tok = remind()
	if err := env.reset(ip, scopes.User, tok, strings.Repeat("x", 2000)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("too long: %v", err)
	}
	if err := env.reset(ip, scopes.User, tok, "a-brand-new-password"); err != nil {
		t.Fatalf("after a password that could not be set: %v", err)
	}
	if err := env.reset(ip, scopes.User, tok, "a-brand-new-password"); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("used: %v", err)
	}
	for _, forged := range []string{"kwr_forged", "", "not-even-a-token", "kwr_" + strings.Repeat("A", 600)} {
		if err := env.reset(ip, scopes.User, forged, "a-brand-new-password"); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("forged %.20q: %v", forged, err)
		}
	}
}

func TestRecoveryThrottled(t *testing.T) {
	t.Parallel()
	env, _ := newRecoveryEnv(t)
	defer drainMail(env.a)
	for i := range remindsPerEmail {
		if err := env.remind("192.0.2."+string(rune('1'+i)), scopes.User, "alice@example.com"); err != nil {
			t.Fatalf("remind %d: %v", i, err)
		}
	}
	// Per email address, however it is spelled, from anywhere.
	if err := env.remind("198.51.100.1", scopes.User, "ALICE@example.com"); throttled(err) == nil || statusOf(err) != 429 {
		t.Fatalf("per email address: %v", err)
	}
	// Per client address, over all email addresses.
	for i := range remindsPerIP {
		if err := env.remind("198.51.100.2", scopes.User, fmt.Sprintf("someone%d@example.com", i)); err != nil {
			t.Fatalf("remind %d from one address: %v", i, err)
		}
	}
	if err := env.remind("198.51.100.2", scopes.User, "someone-else@example.com"); throttled(err) == nil {
		t.Fatalf("per client address: %v", err)
	}
	for range badResetsPerIP {
		_ = env.reset("203.0.113.9", scopes.User, "kwr_guess", "a-brand-new-password")
	}
	if err := env.reset("203.0.113.9", scopes.User, "kwr_guess", "a-brand-new-password"); throttled(err) == nil {
		t.Fatalf("guessing tokens: %v", err)
	}
}

func TestNoMailerNoRecovery(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	if err := env.remind("192.0.2.1", scopes.User, "alice@example.com"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("RemindPassword without a Mailer: %v", err)
	}
	if err := env.reset("192.0.2.1", scopes.User, "kwr_x", "a-brand-new-password"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ResetPassword without a Mailer: %v", err)
	}
}
