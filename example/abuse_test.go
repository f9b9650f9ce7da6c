package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/internal/storefault"
	"github.com/keyward/keyward/store"
)

// Attacks on the example: what an attacker with the server's address, or
// with a stolen session, can do to an account that is not theirs.

// from sets the request's client address.
func from(ip string, r *http.Request) *http.Request {
	r.RemoteAddr = ip + ":40000"
	return r
}

// onThrottledApps runs test on the example with the default throttle, on
// memory and, when the servers answer, on PostgreSQL + Redis: the counters
// are the store's.
func onThrottledApps(t *testing.T, test func(t *testing.T, ta *testApp)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newTestAppThrottle(t, authn.ThrottleConfig{}))
	})
	t.Run("PostgreSQL+Redis", func(t *testing.T) {
		t.Parallel()
		o := sharedDeployment(t) // skips when the servers do not answer
		o.Throttle = authn.ThrottleConfig{}
		clock := clocktest.New()
		o.Now = clock.Now
		ta := instance(t, o)
		ta.clock = clock
		test(t, ta)
	})
}

// userLoginFrom is a password login of user@example.com from ip.
func (ta *testApp) userLoginFrom(ip, password string, kv ...string) envelope {
	ta.t.Helper()
	return ta.send(from(ip, urlencoded(append([]string{"Command", "User.Login", "Username", "user@example.com", "Password", password, "DisableCaptcha", "true"}, kv...)...)))
}

// solveCaptcha makes a captcha for ip and answers it, as a person would.
func (ta *testApp) solveCaptcha(ip string) (id, answer string) {
	ta.t.Helper()
	c := mustOK(ta.t, ta.send(from(ip, urlencoded("Command", "Captcha.New"))))
	id = c.str("CaptchaID")
	ch, err := ta.store.(store.Challenges).Challenge(context.Background(), id)
	if err != nil {
		ta.t.Fatal(err)
	}
	for _, d := range ch.Digits {
		answer += strconv.Itoa(int(d))
	}
	return id, answer
}

// One address hammering an account does not lock its owner out: the
// attempts the throttle refuses count nowhere, so the account's own count
// stays at what that one address could try.
func TestLockoutIsNoWeapon(t *testing.T) {
	t.Parallel()
	onThrottledApps(t, func(t *testing.T, ta *testApp) {
		{
			refused := 0
			for range 150 {
				if e := ta.userLoginFrom("192.0.2.66", "guess"); e.status == 429 {
					refused++
				}
			}
			if refused < 140 {
				t.Fatalf("the attacker was refused %d times of 150", refused)
			}
			// The owner, elsewhere, with the right password: in, with no
			// captcha asked.
			mustOK(t, ta.userLoginFrom("198.51.100.7", userPassword))
			// The attacker stays refused.
			if e := ta.userLoginFrom("192.0.2.66", userPassword); e.status != 429 {
				t.Fatalf("the attacker's address after the limit: HTTP %d", e.status)
			}
		}
	})
}

// Failures from many addresses past the account's limit: every address,
// the owner's included, must answer a captcha, even with DisableCaptcha,
// and the owner who does gets in. Nobody gets a 429 for the account alone.
func TestAccountLimitAsksForCaptcha(t *testing.T) {
	t.Parallel()
	onThrottledApps(t, func(t *testing.T, ta *testApp) {
		{
			// 21 addresses, each as far as its own limits let it (3
			// wrong passwords, then 3 without the captcha it is asked
			// for): 126 failures of the account.
			for i := range 21 {
				ip := "203.0.113." + strconv.Itoa(i+1)
				for range 8 {
					ta.userLoginFrom(ip, "guess")
				}
			}
			owner := "198.51.100.8"
			mustFail(t, ta.userLoginFrom(owner, userPassword), 200, 4)
			id, answer := ta.solveCaptcha(owner)
			mustOK(t, ta.userLoginFrom(owner, userPassword, "CaptchaID", id, "Captcha", answer))
		}
	})
}

// A 2FA-required answer (101) is not a failed attempt: it neither counts
// toward the captcha nor resets the failures counted before it.
func TestTFARequiredNeitherCountsNorResets(t *testing.T) {
	t.Parallel()
	ta := newTestAppThrottle(t, authn.ThrottleConfig{}) // a captcha after 3 failures
	ta.enrollUser()
	const ip = "192.0.2.101"
	mustFail(t, ta.userLoginFrom(ip, "wrong"), 200, 3)
	mustFail(t, ta.userLoginFrom(ip, "wrong"), 200, 3)
	for range 10 {
		// Counted, the third would need a captcha (4).
		mustFail(t, ta.userLoginFrom(ip, userPassword), 200, 101)
	}
	mustFail(t, ta.userLoginFrom(ip, "wrong"), 200, 3)
	// Reset, the failures would have started again from none.
	mustFail(t, ta.userLoginFrom(ip, "wrong"), 200, 4)
}

// A switched session ends with the administrator's session that made it:
// logout, a credential change, its lifetime.
func TestSwitchedSessionEndsWithAdminSession(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	userID := strconv.FormatInt(ta.users[0].ID, 10)
	switched := func(admin string) string {
		t.Helper()
		return mustOK(t, ta.send(urlencoded("Command", "User.Switch", "SessionID", admin, "UserID", userID))).str("SessionID")
	}
	works := func(sid string) bool {
		t.Helper()
		e := ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid))
		return e.status == 200 && e.Success
	}

	admin := ta.adminSession()
	sw := switched(admin)
	if !works(sw) {
		t.Fatal("a fresh switched session does not work")
	}
	mustOK(t, ta.send(urlencoded("Command", "Admin.Logout", "SessionID", admin)))
	if works(sw) {
		t.Error("the switched session outlived its administrator's logout")
	}

	admin = ta.adminSession()
	sw = switched(admin)
	mustOK(t, ta.send(urlencoded("Command", "Admin.Update", "SessionID", admin, "AdminID", strconv.FormatInt(ta.admin.ID, 10),
		"Name", "Administrator", "Username", "admin", "EmailAddress", "admin@example.com", "Password", "another-admin-password")))
	if works(sw) {
		t.Error("the switched session outlived its administrator's password change")
	}

	// Used every 20 minutes, the switched session keeps the
	// administrator's alive, but not past that session's lifetime.
	admin = mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", "another-admin-password"))).str("SessionID")
	ta.clock.Advance(20 * time.Minute)
	sw = switched(admin)
	for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
		if !works(sw) {
			t.Fatalf("the switched session ended %v after the administrator's login", elapsed)
		}
		ta.clock.Advance(20 * time.Minute)
	}
	if works(sw) {
		t.Error("the switched session outlived its administrator's session's lifetime")
	}
}

// Sensitive commands need the password proven within the re-authentication
// window: a stolen session, past it, cannot enroll its own authenticator,
// make itself a key, or change the password or email address. It can with
// CurrentPassword, and seed 003's static admin key counts as proof.
func TestReauthentication(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	user := ta.userSession()
	admin := ta.adminSession()
	userKey := mustOK(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", user))).str("APIKey")
	ta.clock.Advance(11 * time.Minute)
	adminID := strconv.FormatInt(ta.admin.ID, 10)
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"User.TFA.Setup", []string{"Command", "User.TFA.Setup", "SessionID", user}},
		{"User.APIKey.Create", []string{"Command", "User.APIKey.Create", "SessionID", user}},
		// A key beside the stale session makes it no fresher.
		{"User.TFA.Setup with a key", []string{"Command", "User.TFA.Setup", "SessionID", user, "APIKey", userKey}},
		{"Admin.TFA.Setup", []string{"Command", "Admin.TFA.Setup", "SessionID", admin}},
		{"Admin.Update email", []string{"Command", "Admin.Update", "SessionID", admin, "AdminID", adminID, "Name", "Administrator", "Username", "admin", "EmailAddress", "thief@example.com"}},
		{"Admin.Update username", []string{"Command", "Admin.Update", "SessionID", admin, "AdminID", adminID, "Name", "Administrator", "Username", "thief", "EmailAddress", "admin@example.com"}},
		{"Admin.Update password", []string{"Command", "Admin.Update", "SessionID", admin, "AdminID", adminID, "Name", "Administrator", "Username", "admin", "EmailAddress", "admin@example.com", "Password", "the-thief-password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, ta.send(urlencoded(tc.kv...)), 200, command.CodeReauthRequired)
			mustFail(t, ta.send(urlencoded(append(tc.kv, "CurrentPassword", "a wrong guess")...)), 200, 3)
		})
	}
	// Nothing changed.
	if on, err := ta.auth.TFAEnabled(context.Background(), ta.admin.Ref()); err != nil || on {
		t.Fatalf("2FA on: %v %v", on, err)
	}
	keys, _ := ta.auth.APIKeys(context.Background(), ta.users[0].Ref())
	if len(keys) != 1 {
		t.Fatalf("%d keys made", len(keys)-1)
	}
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword)))

	// Names alone need no proof.
	mustOK(t, ta.send(urlencoded("Command", "Admin.Update", "SessionID", admin, "AdminID", adminID, "Name", "The Administrator", "Username", "admin", "EmailAddress", "admin@example.com")))
	// With the password, or the static admin key beside the session (seed
	// 003), the change goes through.
	mustOK(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", user, "CurrentPassword", userPassword)))
	mustOK(t, ta.send(urlencoded("Command", "Admin.Update", "SessionID", admin, "APIKey", staticKey, "AdminID", adminID,
		"Name", "Administrator", "Username", "admin", "EmailAddress", "admin2@example.com")))
	// A fresh login is proof for the window.
	fresh := ta.userSession()
	mustOK(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", fresh)))
}

// A user who takes an administrator's email address does not shadow the
// administrator in WMD's c=auth: the name is both, and the password
// decides, the same way every time.
func TestWMDNameOfBothScopes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	mustOK(t, ta.send(urlencoded("Command", "User.Update", "SessionID", ta.userSession(), "CurrentPassword", userPassword, "EmailAddress", "admin@example.com")))
	for range 2 {
		for pass, admin := range map[string]any{adminPassword: true, userPassword: false} {
			a := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin@example.com&pass="+url.QueryEscape(pass), nil))
			if !a.ok() || a.fields["admin"] != admin {
				t.Fatalf("c=auth as admin@example.com, admin %v: %v", admin, a.fields)
			}
		}
		if a := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin@example.com&pass=neither", nil)); a.ok() {
			t.Fatal("a wrong password logged in")
		}
	}
}

// A TOTP secret is sealed at rest with no setting at all: the store holds
// no byte of it that a dump would give away.
func TestTOTPSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	onThrottledApps(t, func(t *testing.T, ta *testApp) {
		ta.t = t
		secret, _, _ := ta.enrollUser()
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(secret, "="))
		if err != nil {
			t.Fatal(err)
		}
		st, err := ta.store.(store.TFAStates).TFA(context.Background(), ta.users[0].Ref())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Secret) == 0 || bytes.Contains(st.Secret, raw) || bytes.Contains(st.Secret, []byte(secret)) {
			t.Fatalf("the stored secret holds the secret: %x", st.Secret)
		}
		// And it still works: a login with a code.
		ta.clock.Advance(30 * time.Second)
		mustOK(t, ta.userLogin("TFACode", ta.code(secret, 0)))
	})
}

// Reset tokens are counted before they are checked, as logins are: of 60
// bad tokens sent at once from one address, at most the limit (10) are
// looked up, and the rest are refused with 429.
func TestResetTokensCountedFirst(t *testing.T) {
	t.Parallel()
	var fs *storefault.Store
	ta := newTestAppWith(t, func(o *options) {
		o.Mailer = &mailbox{tokens: map[string]chan string{}}
		o.wrapStore = func(s store.Store) store.Store { fs = storefault.New(s); return fs }
	})
	fs.Arm(0, 0) // count, fail nothing
	var wg sync.WaitGroup
	var refused atomic.Int32
	for i := range 60 {
		wg.Go(func() {
			token := fmt.Sprintf("kwr_%043d", i)
			e := ta.send(from("192.0.2.60", urlencoded("Command", "User.PasswordReset", "Token", token, "NewPassword", "a-new-password")))
			if e.status == 429 {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	took := 0
	for _, call := range fs.Disarm() {
		if call == "TakeToken" {
			took++
		}
	}
	if took > 10 || refused.Load() < 50 {
		t.Fatalf("%d tokens looked up, %d refused; want at most 10 and at least 50", took, refused.Load())
	}
}
