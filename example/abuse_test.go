package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
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

// onApps runs test on the example, its options changed by edit (if not
// nil), on memory and, when the servers answer, on PostgreSQL + Redis: the
// counters, sessions and tokens are the store's.
func onApps(t *testing.T, edit func(*options), test func(t *testing.T, ta *testApp)) {
	t.Helper()
	if edit == nil {
		edit = func(*options) {}
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newTestAppWith(t, edit))
	})
	t.Run("PostgreSQL+Redis", func(t *testing.T) {
		t.Parallel()
		o := sharedDeployment(t) // skips when the servers do not answer
		o.AdminAPIKey = staticKey
		edit(&o)
		clock := clocktest.New()
		o.Now = clock.Now
		ta := instance(t, o)
		ta.clock = clock
		test(t, ta)
	})
}

// onThrottledApps is onApps with the default throttle.
func onThrottledApps(t *testing.T, test func(t *testing.T, ta *testApp)) {
	t.Helper()
	onApps(t, func(o *options) { o.Throttle = authn.ThrottleConfig{} }, test)
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
// The limits of one address stay hard where a captcha can be asked: an
// address that answers every captcha right is still refused (429) after
// its attempts at the account, the right password included, while the
// owner elsewhere signs in.
func TestAddressLimitsStayHardWithCaptcha(t *testing.T) {
	t.Parallel()
	onThrottledApps(t, func(t *testing.T, ta *testApp) {
		const ip = "192.0.2.77"
		login := func(password string) envelope {
			id, answer := ta.solveCaptcha(ip)
			return ta.send(from(ip, urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", password, "CaptchaID", id, "Captcha", answer)))
		}
		for i := range 6 { // the throttle's default PerUserIP
			if e := login("guess"); e.status != 200 || e.Code != command.CodeInvalidCredentials {
				t.Fatalf("attempt %d, captcha answered: HTTP %d, ErrorCode %d %q", i+1, e.status, e.Code, e.Text)
			}
		}
		if e := login(userPassword); e.status != 429 || e.header.Get("Retry-After") == "" {
			t.Fatalf("past the address's limit, the captcha answered and the password right: HTTP %d, ErrorCode %d", e.status, e.Code)
		}
		mustOK(t, ta.userLoginFrom("198.51.100.9", userPassword))
	})
}

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
	onThrottledApps(t, func(t *testing.T, ta *testApp) { // a captcha after 3 failures
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
	})
}

// A switched session ends with the administrator's session that made it:
// logout, a credential change, its lifetime.
func TestSwitchedSessionEndsWithAdminSession(t *testing.T) {
	t.Parallel()
	onApps(t, nil, func(t *testing.T, ta *testApp) {
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
	})
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

// A name of both scopes whose two passwords are the same: c=auth logs in
// the user, as LoginRequest.EitherScope documents, every time; a user who
// copies an administrator's name and password is never answered admin.
func TestWMDNameOfBothScopesOnePassword(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	mustOK(t, ta.send(urlencoded("Command", "User.Update", "SessionID", ta.userSession(), "CurrentPassword", userPassword,
		"EmailAddress", "admin@example.com", "Password", adminPassword)))
	for range 3 {
		a := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin@example.com&pass="+url.QueryEscape(adminPassword), nil))
		if !a.ok() || a.fields["admin"] != false {
			t.Fatalf("c=auth with the password of both: %v", a.fields)
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
	onApps(t, func(o *options) {
		o.Mailer = &mailbox{tokens: map[string]chan string{}}
		o.wrapStore = func(s store.Store) store.Store { return storefault.New(s) }
		// Logins' limits as newTestApp's: the tokens' limit is their own.
		o.Throttle = authn.ThrottleConfig{PerUserIP: 1000, PerIP: 10000, CaptchaAfter: 1000}
	}, func(t *testing.T, ta *testApp) {
		fs := ta.store.(*storefault.Store)
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
	})
}

// accountState is what a sensitive command could change of an account:
// its record (password hash, email address, username, generation), its
// 2FA state (secrets, the last step used, recovery codes) and its keys.
type accountState struct {
	Account store.Account
	TFA     store.TFA
	Keys    []store.APIKey
}

// state reads ref's accountState from the store.
func (ta *testApp) state(ref store.AccountRef) accountState {
	ta.t.Helper()
	ctx := context.Background()
	var s accountState
	var err error
	if s.Account, err = ta.store.Account(ctx, ref); err != nil {
		ta.t.Fatal(err)
	}
	if s.TFA, err = ta.store.TFA(ctx, ref); err != nil && !errors.Is(err, store.ErrNotFound) {
		ta.t.Fatal(err)
	}
	if s.Keys, err = ta.store.APIKeys(ctx, ref); err != nil {
		ta.t.Fatal(err)
	}
	return s
}

// unchanged fails if ref's state is no longer before.
func (ta *testApp) unchanged(ref store.AccountRef, before accountState) {
	ta.t.Helper()
	if after := ta.state(ref); !reflect.DeepEqual(before, after) {
		ta.t.Fatalf("changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// enroll turns 2FA on through the commands of prefix ("User", "Admin")
// for the session sid, and returns the secret and the session the caller
// goes on with. The clock ends past the enabling code's step.
func (ta *testApp) enroll(prefix, sid string) (secret, next string) {
	ta.t.Helper()
	secret = mustOK(ta.t, ta.send(urlencoded("Command", prefix+".TFA.Setup", "SessionID", sid))).str("TFASecret")
	next = mustOK(ta.t, ta.send(urlencoded("Command", prefix+".TFA.Enable", "SessionID", sid, "TFACode", ta.code(secret, 0)))).str("SessionID")
	ta.clock.Advance(30 * time.Second)
	return secret, next
}

// reauthFixture is an account readied for one sensitive command: its
// session, its TOTP secret (pending or on), and its ID.
type reauthFixture struct {
	ta          *testApp
	sid, secret string
	id          string
}

// code is the fixture's TOTP code now.
func (f *reauthFixture) code() string { return f.ta.code(f.secret, 0) }

// reauthCase is a sensitive command: scope and 2FA state it needs, the
// request without proof, and the parameter that proves the password.
type reauthCase struct {
	name  string
	admin bool
	tfa   string // "" off, "pending" set up but not on, "on"
	kv    func(f *reauthFixture) []string
	// want is the answer without proof, past the window: 102, or 3 for
	// the commands that take the password every time, however fresh the
	// login (User.Update's and User.PasswordChange's CurrentPassword,
	// TFA.Disable's Password).
	want  int
	proof string // CurrentPassword, or Password for TFA.Disable
}

// reauthCases are every sensitive command of the example.
func reauthCases() []reauthCase {
	const cp = "CurrentPassword"
	var cases []reauthCase
	for _, admin := range []bool{false, true} {
		p := "User"
		if admin {
			p = "Admin"
		}
		cases = append(cases,
			reauthCase{name: p + ".TFA.Setup", admin: admin, want: command.CodeReauthRequired, proof: cp,
				kv: func(f *reauthFixture) []string { return []string{"Command", p + ".TFA.Setup", "SessionID", f.sid} }},
			reauthCase{name: p + ".TFA.Enable", admin: admin, tfa: "pending", want: command.CodeReauthRequired, proof: cp,
				kv: func(f *reauthFixture) []string {
					return []string{"Command", p + ".TFA.Enable", "SessionID", f.sid, "TFACode", f.code()}
				}},
			reauthCase{name: p + ".TFA.RecoveryCodes.Regenerate", admin: admin, tfa: "on", want: command.CodeReauthRequired, proof: cp,
				kv: func(f *reauthFixture) []string {
					return []string{"Command", p + ".TFA.RecoveryCodes.Regenerate", "SessionID", f.sid, "TFACode", f.code()}
				}},
			reauthCase{name: p + ".TFA.Disable", admin: admin, tfa: "on", want: command.CodeInvalidCredentials, proof: "Password",
				kv: func(f *reauthFixture) []string {
					return []string{"Command", p + ".TFA.Disable", "SessionID", f.sid, "TFACode", f.code()}
				}},
		)
	}
	adminUpdate := func(f *reauthFixture, kv ...string) []string {
		v := map[string]string{"Name": "Administrator", "Username": "admin", "EmailAddress": "admin@example.com"}
		for i := 0; i < len(kv); i += 2 {
			v[kv[i]] = kv[i+1]
		}
		out := []string{"Command", "Admin.Update", "SessionID", f.sid, "AdminID", f.id}
		for _, k := range []string{"Name", "Username", "EmailAddress", "Password"} {
			if val, ok := v[k]; ok {
				out = append(out, k, val)
			}
		}
		return out
	}
	return append(cases,
		reauthCase{name: "User.APIKey.Create", want: command.CodeReauthRequired, proof: cp,
			kv: func(f *reauthFixture) []string { return []string{"Command", "User.APIKey.Create", "SessionID", f.sid} }},
		reauthCase{name: "User.Update password", want: command.CodeInvalidCredentials, proof: cp,
			kv: func(f *reauthFixture) []string {
				return []string{"Command", "User.Update", "SessionID", f.sid, "Password", "the-thief-password"}
			}},
		reauthCase{name: "User.Update email", want: command.CodeInvalidCredentials, proof: cp,
			kv: func(f *reauthFixture) []string {
				return []string{"Command", "User.Update", "SessionID", f.sid, "EmailAddress", "thief@example.com"}
			}},
		reauthCase{name: "User.PasswordChange", want: command.CodeInvalidCredentials, proof: cp,
			kv: func(f *reauthFixture) []string {
				return []string{"Command", "User.PasswordChange", "SessionID", f.sid, "NewPassword", "the-thief-password"}
			}},
		reauthCase{name: "Admin.Update password", admin: true, want: command.CodeReauthRequired, proof: cp,
			kv: func(f *reauthFixture) []string { return adminUpdate(f, "Password", "the-thief-password") }},
		reauthCase{name: "Admin.Update email", admin: true, want: command.CodeReauthRequired, proof: cp,
			kv: func(f *reauthFixture) []string { return adminUpdate(f, "EmailAddress", "thief@example.com") }},
		reauthCase{name: "Admin.Update username", admin: true, want: command.CodeReauthRequired, proof: cp,
			kv: func(f *reauthFixture) []string { return adminUpdate(f, "Username", "thief") }},
	)
}

// reauthWindow is the tests' re-authentication window, as the example's
// default.
const reauthWindow = 10 * time.Minute

// readyReauth starts the example for tc with edit applied (if not nil),
// readies the account (a password login, 2FA as tc needs) and returns it
// with the account's reference and password. The login is still fresh.
func readyReauth(t *testing.T, tc reauthCase, edit func(*options)) (*reauthFixture, store.AccountRef, string) {
	t.Helper()
	ta := newTestAppWith(t, func(o *options) {
		o.ReauthWindow = reauthWindow
		if edit != nil {
			edit(o)
		}
	})
	prefix, ref, password, login := "User", ta.users[0].Ref(), userPassword, ta.userSession
	if tc.admin {
		prefix, ref, password, login = "Admin", ta.admin.Ref(), adminPassword, ta.adminSession
	}
	f := &reauthFixture{ta: ta, sid: login(), id: strconv.FormatInt(ref.ID, 10)}
	switch tc.tfa {
	case "pending":
		f.secret = mustOK(t, ta.send(urlencoded("Command", prefix+".TFA.Setup", "SessionID", f.sid))).str("TFASecret")
	case "on":
		f.secret, f.sid = ta.enroll(prefix, f.sid)
	}
	return f, ref, password
}

// Every sensitive command, from a session whose password login is older
// than the re-authentication window: without proof it is refused (102, or
// 3 where the password is asked every time) and nothing changes; with the
// password it goes through.
func TestReauthenticationPerCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range reauthCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ref, password := readyReauth(t, tc, nil)
			ta := f.ta
			ta.clock.Advance(reauthWindow + time.Second)
			before := ta.state(ref)
			mustFail(t, ta.send(urlencoded(tc.kv(f)...)), 200, tc.want)
			ta.unchanged(ref, before)
			mustOK(t, ta.send(urlencoded(append(tc.kv(f), tc.proof, password)...)))
			if reflect.DeepEqual(before, ta.state(ref)) {
				t.Fatal("the command with its proof changed nothing")
			}
		})
	}
}

// The static admin key beside a session (seed 003 sends both) is proof of
// the administrator for Admin.Update's password and email address, and
// for nothing else: 2FA setup, enabling and new recovery codes still need
// a login within the window or the password (102 otherwise), and
// TFA.Disable its Password (3).
func TestStaticAdminKeyProvesOnlyAdminUpdate(t *testing.T) {
	t.Parallel()
	for _, tc := range reauthCases() {
		if !tc.admin {
			continue
		}
		want := tc.want
		if strings.HasPrefix(tc.name, "Admin.Update") {
			want = 0
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ref, _ := readyReauth(t, tc, nil)
			ta := f.ta
			ta.clock.Advance(reauthWindow + time.Second)
			before := ta.state(ref)
			e := ta.send(urlencoded(append(tc.kv(f), "APIKey", staticKey)...))
			if want == 0 {
				mustOK(t, e)
				if reflect.DeepEqual(before, ta.state(ref)) {
					t.Fatal("the update changed nothing")
				}
				return
			}
			mustFail(t, e, 200, want)
			ta.unchanged(ref, before)
		})
	}
}

// Past the account's limit of failures (from every address), a password
// or 2FA code sent to re-authenticate is refused with 429 and not checked,
// right or wrong, as a login would be where no captcha can be asked: a
// stolen session is no way around the account's limit.
func TestReauthPastAccountLimit(t *testing.T) {
	t.Parallel()
	const perAccount = 5
	byName := map[string]reauthCase{}
	for _, tc := range reauthCases() {
		byName[tc.name] = tc
	}
	for _, tc := range []struct {
		name  string
		cmd   string
		proof []string // nil: the code
		stale bool     // the login older than the window: refused unchecked; else checked
	}{
		{name: "User.TFA.Setup, the right password", cmd: "User.TFA.Setup", proof: []string{"CurrentPassword", userPassword}, stale: true},
		{name: "User.TFA.Setup, a wrong password", cmd: "User.TFA.Setup", proof: []string{"CurrentPassword", "a wrong guess"}, stale: true},
		{name: "User.APIKey.Create, the right password", cmd: "User.APIKey.Create", proof: []string{"CurrentPassword", userPassword}, stale: true},
		{name: "User.PasswordChange, the right password", cmd: "User.PasswordChange", proof: []string{"CurrentPassword", userPassword}},
		{name: "User.TFA.Disable, the right password", cmd: "User.TFA.Disable", proof: []string{"Password", userPassword}},
		{name: "User.TFA.RecoveryCodes.Regenerate, the right code", cmd: "User.TFA.RecoveryCodes.Regenerate"},
		{name: "Admin.Update password, the right password", cmd: "Admin.Update password", proof: []string{"CurrentPassword", adminPassword}, stale: true},
		{name: "Admin.TFA.RecoveryCodes.Regenerate, the right code", cmd: "Admin.TFA.RecoveryCodes.Regenerate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := byName[tc.cmd]
			f, ref, _ := readyReauth(t, rc, func(o *options) {
				o.Throttle = authn.ThrottleConfig{PerAccount: perAccount}
				o.wrapStore = func(s store.Store) store.Store { return storefault.New(s) }
			})
			ta := f.ta
			if tc.stale {
				ta.clock.Advance(reauthWindow + time.Second)
			}
			// The account past its limit: a wrong password from each of
			// more addresses than the limit.
			login, name := "User.Login", "user@example.com"
			if rc.admin {
				login, name = "Admin.Login", "admin"
			}
			for i := range perAccount + 1 {
				ip := "203.0.113." + strconv.Itoa(i+1)
				if e := ta.send(from(ip, urlencoded("Command", login, "Username", name, "Password", "wrong", "DisableCaptcha", "true"))); e.Success {
					t.Fatal("a wrong password logged in")
				}
			}
			before := ta.state(ref)
			fs := ta.store.(*storefault.Store)
			fs.Arm(0, 0)
			e := ta.send(from("198.51.100.9", urlencoded(append(rc.kv(f), tc.proof...)...)))
			calls := fs.Disarm()
			if !tc.stale {
				// A session that signed in with its password within the
				// window (through the captcha: the owner) is still
				// checked, so the owner is not locked out of changing a
				// password or the second factor.
				if !e.Success {
					t.Fatalf("a fresh session refused: HTTP %d, ErrorCode %d %q", e.status, e.Code, e.Text)
				}
				return
			}
			if e.status != 429 || e.Code != 429 || e.header.Get("Retry-After") == "" {
				t.Fatalf("want 429 with Retry-After, got HTTP %d, ErrorCode %d %q", e.status, e.Code, e.Text)
			}
			for _, c := range calls {
				if c == "AccountByLogin" || c == "AdvanceTFAStep" {
					t.Fatalf("refused, yet checked: the store was asked %s (%v)", c, calls)
				}
			}
			ta.unchanged(ref, before)
		})
	}
}

// A stolen session sending guesses as CurrentPassword from many addresses
// gets no more of them checked than the account's limit allows a login.
func TestStolenSessionIsNoPasswordOracle(t *testing.T) {
	t.Parallel()
	const perAccount, perSession = 5, 6 // perSession: the throttle's default PerUserIP
	for _, tc := range []struct {
		name  string
		stale bool // the session's password login older than the window
		most  int  // guesses checked at most
	}{
		// A session that signed in within the window is still checked
		// past the account's limit, a few times for the session: the
		// owner must be able to change a password while someone else
		// hammers the account.
		{name: "a session just signed in", most: perAccount + perSession},
		{name: "an old session", stale: true, most: perAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestAppWith(t, func(o *options) {
				o.Throttle = authn.ThrottleConfig{PerAccount: perAccount}
				o.wrapStore = func(s store.Store) store.Store { return storefault.New(s) }
			})
			sid := ta.userSession()
			if tc.stale {
				ta.clock.Advance(reauthWindow + time.Second)
			}
			ref := ta.users[0].Ref()
			before := ta.state(ref)
			fs := ta.store.(*storefault.Store)
			fs.Arm(0, 0)
			wrong := 0
			for i := range 10 {
				ip := "203.0.113." + strconv.Itoa(i+1)
				for range 6 {
					e := ta.send(from(ip, urlencoded("Command", "User.TFA.Setup", "SessionID", sid, "CurrentPassword", "guess")))
					switch {
					case e.status == 429:
					case e.Code == command.CodeInvalidCredentials:
						wrong++
					default:
						t.Fatalf("a guess answered HTTP %d, ErrorCode %d %q", e.status, e.Code, e.Text)
					}
				}
			}
			checked := 0
			for _, c := range fs.Disarm() {
				if c == "AccountByLogin" {
					checked++
				}
			}
			if checked > tc.most || wrong > tc.most || wrong == 0 {
				t.Fatalf("of 60 guesses from 10 addresses, %d were checked and %d answered wrong; want at most %d", checked, wrong, tc.most)
			}
			ta.unchanged(ref, before)
		})
	}
}
