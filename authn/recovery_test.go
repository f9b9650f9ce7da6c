package authn

import (
	"context"
	"net/http/httptest"
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

func newRecoveryEnv(t *testing.T) (*loginAPI, *mailbox) {
	t.Helper()
	box := &mailbox{}
	l := newLoginAPI(t, func(c *Config) { c.Mailer = box; c.CaptchaPolicy = CaptchaNever })
	return l, box
}

func TestRemindSameAnswer(t *testing.T) {
	t.Parallel()
	l, box := newRecoveryEnv(t)
	known := l.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=alice@example.com")
	unknown := l.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=nobody@example.com")
	// By username, not address: no mail either, same answer.
	byName := l.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=alice")
	if !known.ok || known.body != unknown.body || known.body != byName.body || known.status != unknown.status {
		t.Fatalf("answers differ:\n%s\n%s\n%s", known.body, unknown.body, byName.body)
	}
	drainMail(l.a)
	if got := box.tokens("alice@example.com"); len(got) != 1 || !strings.HasPrefix(got[0], ResetTokenPrefix) {
		t.Fatalf("mails to alice: %v", got)
	}
	box.mu.Lock()
	n := len(box.sent)
	box.mu.Unlock()
	if n != 1 {
		t.Fatalf("mails went to %d addresses", n)
	}
	if a := l.call("192.0.2.1", "Command=User.PasswordRemind"); a.code != CodeMissingResetEmail {
		t.Fatalf("no address: %s", a.body)
	}
	// The store knows the token by its hash: taking it by the hash of the
	// mailed token finds it (and uses it up).
	tok, err := l.mem.TakeToken(context.Background(), hashCredential(box.tokens("alice@example.com")[0]))
	if err != nil || tok.Account != l.alice.Ref() {
		t.Fatalf("token by its hash: %+v, %v", tok, err)
	}
}

func TestResetOnceConcurrently(t *testing.T) {
	t.Parallel()
	l, box := newRecoveryEnv(t)
	other := l.session(l.alice)
	l.call("192.0.2.2", "Command=User.PasswordRemind&EmailAddress=alice@example.com")
	drainMail(l.a)
	token := box.tokens("alice@example.com")[0]
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			r := postForm("Command=User.PasswordReset&Token=" + token + "&NewPassword=a-brand-new-password")
			r.RemoteAddr = "192.0.2.2:1"
			rec := httptest.NewRecorder()
			l.api.ServeHTTP(rec, r)
			if strings.Contains(rec.Body.String(), `"Success":true`) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one token reset %d times", wins.Load())
	}
	// The new password works, the old does not, and sessions ended.
	if a := l.call("192.0.2.3", aliceLogin+"a-brand-new-password"); !a.ok {
		t.Fatalf("new password: %s", a.body)
	}
	if a := l.call("192.0.2.3", aliceLogin+alicePassword); a.code != 3 {
		t.Fatalf("old password: %s", a.body)
	}
	if res := l.serve(get("SessionID=" + other)); res.status != 401 {
		t.Fatalf("a session survived the reset: %d", res.status)
	}
	if !slicesContains(l.events.kinds(), event.PasswordReset) {
		t.Fatal("no password_reset event")
	}
}

func slicesContains(ks []event.Kind, k event.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func TestResetTokenRules(t *testing.T) {
	t.Parallel()
	l, box := newRecoveryEnv(t)
	remind := func() string {
		l.call("192.0.2.4", "Command=User.PasswordRemind&EmailAddress=alice@example.com")
		drainMail(l.a)
		ts := box.tokens("alice@example.com")
		return ts[len(ts)-1]
	}
	reset := func(command, token, pw string) apiAnswer {
		return l.call("192.0.2.5", "Command="+command+"&Token="+token+"&NewPassword="+pw)
	}
	// Expired.
	tok := remind()
	l.clock.Advance(30 * time.Minute)
	if a := reset("User.PasswordReset", tok, "a-brand-new-password"); a.code != CodeInvalidResetToken {
		t.Fatalf("expired: %s", a.body)
	}
	// A user's token at the admin command.
	tok = remind()
	if a := reset("Admin.PasswordReset", tok, "a-brand-new-password"); a.code != CodeInvalidResetToken {
		t.Fatalf("other scope: %s", a.body)
	}
	// A short password does not use the token up.
	tok = remind()
	if a := reset("User.PasswordReset", tok, "short"); a.code != CodePasswordTooShort {
		t.Fatalf("short: %s", a.body)
	}
	if a := reset("User.PasswordReset", tok, "a-brand-new-password"); !a.ok {
		t.Fatalf("after a short try: %s", a.body)
	}
	if a := reset("User.PasswordReset", "kwr_forged", "a-brand-new-password"); a.code != CodeInvalidResetToken {
		t.Fatalf("forged: %s", a.body)
	}
	if a := reset("User.PasswordReset", "", "a-brand-new-password"); a.code != CodeMissingResetToken {
		t.Fatalf("missing: %s", a.body)
	}
}

func TestRecoveryThrottled(t *testing.T) {
	t.Parallel()
	l, _ := newRecoveryEnv(t)
	for i := range remindsPerEmail {
		if a := l.call("192.0.2."+string(rune('1'+i)), "Command=User.PasswordRemind&EmailAddress=alice@example.com"); !a.ok {
			t.Fatalf("remind %d: %s", i, a.body)
		}
	}
	if a := l.call("198.51.100.1", "Command=User.PasswordRemind&EmailAddress=ALICE@example.com"); a.status != 429 {
		t.Fatalf("per address: %s", a.body)
	}
	for range badResetsPerIP {
		l.call("203.0.113.9", "Command=User.PasswordReset&Token=kwr_guess&NewPassword=a-brand-new-password")
	}
	if a := l.call("203.0.113.9", "Command=User.PasswordReset&Token=kwr_guess&NewPassword=a-brand-new-password"); a.status != 429 {
		t.Fatalf("guessing tokens: %s", a.body)
	}
	drainMail(l.a)
}

func TestNoMailerNoRecovery(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil)
	if a := l.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=alice@example.com"); a.status != 404 {
		t.Fatalf("without a Mailer: %s", a.body)
	}
}

func TestUserSwitch(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil)
	own := l.session(l.alice)
	rootSID := l.session(l.root)
	a := l.call("192.0.2.1", "Command=User.Switch&UserID=1&PrivilegeType=Full&SessionID="+rootSID)
	if !a.ok {
		t.Fatalf("switch: %s", a.body)
	}
	sid := a.fields["SessionID"].(string)
	p := l.serve(get("SessionID=" + sid)).principal
	if p.Scope != scopes.User || p.AccountID != l.alice.ID || p.SwitchedBy != l.root.Ref() || p.SwitchPrivilege != "Full" || p.Login != "switch" {
		t.Fatalf("principal %+v", p)
	}
	if res := l.serve(get("SessionID=" + own)); res.status != 200 {
		t.Fatal("the user's own session ended")
	}
	var ev event.Event
	for _, e := range l.events.events {
		if e.Kind == event.UserSwitched {
			ev = e
		}
	}
	if ev.Account != l.alice.Ref() || ev.Actor != l.root.Ref() {
		t.Fatalf("event %+v", ev)
	}
	// A switched session cannot manage keys or 2FA: it is not the user's
	// password login.
	if a := l.call("192.0.2.1", "Command=User.APIKey.Create&SessionID="+sid); a.status != 403 {
		t.Fatalf("switched session making a key: %s", a.body)
	}
	for _, tc := range []struct {
		q    string
		code int
	}{
		{"UserID=999", CodeInvalidUserID},
		{"UserID=abc", CodeInvalidUserID},
		{"UserID=2", CodeInvalidUserID}, // the admin's ID, not a user's
		{"UserID=1&PrivilegeType=Root", CodeInvalidPrivilege},
	} {
		if a := l.call("192.0.2.1", "Command=User.Switch&SessionID="+rootSID+"&"+tc.q); a.code != tc.code {
			t.Errorf("%s: %s", tc.q, a.body)
		}
	}
	if a := l.call("192.0.2.1", "Command=User.Switch&UserID=1&SessionID="+own); a.status != 403 {
		t.Fatalf("a user switching: %s", a.body)
	}
}
