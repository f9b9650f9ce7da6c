package command

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// mailbox is a Mailer that keeps what it sends, and says when it has.
type mailbox struct {
	mu   sync.Mutex
	sent map[string][]string // email → tokens
	got  chan struct{}       // one value per mail sent
}

func newMailbox() *mailbox {
	return &mailbox{sent: map[string][]string{}, got: make(chan struct{}, 100)}
}

func (m *mailbox) SendPasswordReset(_ context.Context, acct store.Account, token authn.Secret) error {
	m.mu.Lock()
	m.sent[acct.Email] = append(m.sent[acct.Email], token.Reveal())
	m.mu.Unlock()
	m.got <- struct{}{}
	return nil
}

func (m *mailbox) tokens(email string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sent[email]...)
}

// waitMail waits for the n-th mail to email, which the authenticator
// sends in the background, after the answer, and returns its token.
func (e *testEnv) waitMail(box *mailbox, email string, n int) string {
	e.t.Helper()
	for {
		if ts := box.tokens(email); len(ts) >= n {
			return ts[n-1]
		}
		select {
		case <-box.got:
		case <-time.After(time.Minute): // a hang detector, not a measurement
			e.t.Fatalf("no mail %d to %s", n, email)
		}
	}
}

func newRecoveryEnv(t *testing.T) (*testEnv, *mailbox) {
	t.Helper()
	box := newMailbox()
	env := newTestEnv(t, func(c *authn.Config) { c.Passwords.Mailer = box })
	env.api = New(env.a, Config{CaptchaPolicy: CaptchaNever})
	return env, box
}

func TestRemindSameAnswer(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	known := env.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=alice@example.com")
	unknown := env.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=nobody@example.com")
	// By username, not address: no mail either, same answer.
	byName := env.call("192.0.2.1", "Command=User.PasswordRemind&EmailAddress=alice")
	if !known.ok || known.body != unknown.body || known.body != byName.body || known.status != unknown.status {
		t.Fatalf("answers differ:\n%s\n%s\n%s", known.body, unknown.body, byName.body)
	}
	env.waitMail(box, "alice@example.com", 1)
	if a := env.call("192.0.2.1", "Command=User.PasswordRemind"); a.code != CodeMissingResetEmail || a.status != 200 {
		t.Fatalf("no address: %s", a.body)
	}
	if a := env.call("192.0.2.1", "Command=Admin.PasswordRemind&EmailAddress=root@example.com"); !a.ok {
		t.Fatalf("Admin.PasswordRemind: %s", a.body)
	}
	env.waitMail(box, "root@example.com", 1)
}

func TestResetTokenRules(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	sent := 0
	remind := func() string {
		t.Helper()
		if a := env.call("192.0.2.4", "Command=User.PasswordRemind&EmailAddress=alice@example.com"); !a.ok {
			t.Fatalf("remind: %s", a.body)
		}
		sent++
		return env.waitMail(box, "alice@example.com", sent)
	}
	reset := func(command, token, pw string) apiAnswer {
		return env.call("192.0.2.5", "Command="+command+"&Token="+token+"&NewPassword="+pw)
	}
	// Expired.
	tok := remind()
	env.clock.Advance(30 * time.Minute)
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
	if a := reset("User.PasswordReset", tok, ""); a.code != CodeMissingNewPassword {
		t.Fatalf("no password: %s", a.body)
	}
	if a := reset("User.PasswordReset", tok, "a-brand-new-password"); !a.ok {
		t.Fatalf("after a short try: %s", a.body)
	}
	if a := reset("User.PasswordReset", tok, "a-brand-new-password"); a.code != CodeInvalidResetToken {
		t.Fatalf("used: %s", a.body)
	}
	if a := env.call("192.0.2.6", aliceLogin+"a-brand-new-password"); !a.ok {
		t.Fatalf("the new password: %s", a.body)
	}
	if a := reset("User.PasswordReset", "kwr_forged", "a-brand-new-password"); a.code != CodeInvalidResetToken {
		t.Fatalf("forged: %s", a.body)
	}
	if a := reset("User.PasswordReset", "", "a-brand-new-password"); a.code != CodeMissingResetToken {
		t.Fatalf("missing: %s", a.body)
	}
	if e := env.events.last(event.PasswordReset); e.Account != env.alice.Ref() {
		t.Fatalf("password_reset event %+v", e)
	}
}

func TestRecoveryThrottled(t *testing.T) {
	t.Parallel()
	env, box := newRecoveryEnv(t)
	for i := range 5 {
		if a := env.call("192.0.2."+string(rune('1'+i)), "Command=User.PasswordRemind&EmailAddress=alice@example.com"); !a.ok {
			t.Fatalf("remind %d: %s", i, a.body)
		}
	}
	if a := env.call("198.51.100.1", "Command=User.PasswordRemind&EmailAddress=ALICE@example.com"); a.status != 429 || a.retryAfter == "" {
		t.Fatalf("per address: %s", a.body)
	}
	for range 10 {
		env.call("203.0.113.9", "Command=User.PasswordReset&Token=kwr_guess&NewPassword=a-brand-new-password")
	}
	if a := env.call("203.0.113.9", "Command=User.PasswordReset&Token=kwr_guess&NewPassword=a-brand-new-password"); a.status != 429 {
		t.Fatalf("guessing tokens: %s", a.body)
	}
	env.waitMail(box, "alice@example.com", 5)
}

// Without a Mailer there is no password recovery: its commands are
// unknown.
func TestNoMailerNoRecovery(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for _, form := range []string{
		"Command=User.PasswordRemind&EmailAddress=alice@example.com",
		"Command=Admin.PasswordRemind&EmailAddress=root@example.com",
		"Command=User.PasswordReset&Token=kwr_x&NewPassword=a-brand-new-password",
		"Command=Admin.PasswordReset&Token=kwr_x&NewPassword=a-brand-new-password",
	} {
		if a := env.call("192.0.2.1", form); a.status != 404 || a.code != 404 || a.text != "Unknown command" {
			t.Errorf("without a Mailer, %.30s: %s", form, a.body)
		}
	}
}

func TestUserSwitch(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	own := env.session(env.alice)
	rootSID := env.session(env.root)
	uid := "UserID=" + itoa(env.alice.ID)
	a := env.call("192.0.2.1", "Command=User.Switch&"+uid+"&PrivilegeType=Full&SessionID="+rootSID)
	if !a.ok || a.fields["etoken"] == nil || a.fields["UserInfo"].(map[string]any)["Username"] != "alice" {
		t.Fatalf("switch: %s", a.body)
	}
	if len(a.header["Set-Cookie"]) != 0 {
		t.Fatalf("a switch set the administrator's browser's cookie: %v", a.header["Set-Cookie"])
	}
	sid := a.fields["SessionID"].(string)
	p := env.principal("SessionID=" + sid)
	if p.Scope != scopes.User || p.AccountID != env.alice.ID || p.SwitchedBy != env.root.Ref() || p.SwitchPrivilege != "Full" || p.Login != "switch" {
		t.Fatalf("principal %+v", p)
	}
	if got := env.principal("SessionID=" + env.call("192.0.2.1", "Command=User.Switch&"+uid+"&SessionID="+rootSID).fields["SessionID"].(string)); got.SwitchPrivilege != "Default" {
		t.Fatalf("the default privilege: %+v", got)
	}
	if env.status("192.0.2.1", "SessionID="+own) != 200 {
		t.Fatal("the user's own session ended")
	}
	if ev := env.events.last(event.UserSwitched); ev.Account != env.alice.Ref() || ev.Actor != env.root.Ref() {
		t.Fatalf("event %+v", ev)
	}
	// A switched session cannot manage keys or 2FA: it is not the user's
	// password login.
	if a := env.call("192.0.2.1", "Command=User.APIKey.Create&SessionID="+sid); a.status != 403 {
		t.Fatalf("switched session making a key: %s", a.body)
	}
	for _, tc := range []struct {
		q    string
		code int
	}{
		{"UserID=999", CodeInvalidUserID},
		{"UserID=abc", CodeInvalidUserID},
		{"UserID=0", CodeInvalidUserID},
		{"UserID=" + itoa(env.root.ID), CodeInvalidUserID}, // the admin's ID, not a user's
		{uid + "&PrivilegeType=Root", CodeInvalidPrivilege},
	} {
		if a := env.call("192.0.2.1", "Command=User.Switch&SessionID="+rootSID+"&"+tc.q); a.code != tc.code {
			t.Errorf("%s: %s", tc.q, a.body)
		}
	}
	if a := env.call("192.0.2.1", "Command=User.Switch&"+uid+"&SessionID="+own); a.status != 403 {
		t.Fatalf("a user switching: %s", a.body)
	}
	// Switching needs the admin's password session, not a key.
	for _, key := range []string{env.key(env.root), staticKey} {
		if a := env.call("192.0.2.1", "Command=User.Switch&"+uid+"&AdminAPIKey="+key); a.status != 403 {
			t.Fatalf("switch with a key: %s", a.body)
		}
	}
}
