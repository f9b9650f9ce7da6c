package command

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
)

const aliceLogin = "Command=User.Login&Username=alice&DisableCaptcha=true&Password="

// The one table from authn's login refusals to Octeth's codes, in each
// profile and at each login; a general failure passes through.
func TestLoginRefusal(t *testing.T) {
	t.Parallel()
	wrapped := func(kind error) error { return fmt.Errorf("%w: a reason for the log", kind) }
	tests := []struct {
		err        error
		seeds      int // both logins, Seeds
		v5User     int
		v5Admin    int
		seedsText  string
		v5AdminTxt string
	}{
		{authn.ErrMissingUsername, 1, 1, 1, "Missing username", "Missing username"},
		{authn.ErrMissingPassword, 2, 2, 2, "Missing password", "Missing password"},
		{wrapped(authn.ErrInvalidCredential), 3, 3, 3, "Invalid login credentials", "Invalid login credentials"},
		{authn.ErrCaptchaRequired, 4, 4, 4, "Missing captcha", "Missing captcha"},
		{wrapped(authn.ErrCaptchaWrong), 5, 5, 5, "Invalid captcha", "Invalid captcha"},
		{wrapped(authn.ErrTFAWrong), 6, 6, 101, "Invalid 2FA code", "Invalid two-factor authentication code"},
		// The seeds disagree on 101; the newest page is followed: 101 is
		// "required", 6 "invalid". Octeth 5.9 has User.Login answer 6 for
		// both and Admin.Login 101.
		{authn.ErrTFARequired, 101, 6, 101, "2FA required", "Invalid two-factor authentication code"},
	}
	env := newTestEnv(t, nil)
	seeds, v5 := New(env.a, Config{}), New(env.a, Config{Profile: OctethV5})
	for _, tc := range tests {
		for _, c := range []struct {
			api   *API
			scope scopes.Scope
			code  int
			text  string
		}{
			{seeds, scopes.User, tc.seeds, tc.seedsText},
			{seeds, scopes.Admin, tc.seeds, tc.seedsText},
			{v5, scopes.User, tc.v5User, ""},
			{v5, scopes.Admin, tc.v5Admin, tc.v5AdminTxt},
		} {
			var ce *Error
			if !errors.As(c.api.loginRefusal(c.scope, tc.err), &ce) || ce.Code != c.code || (c.text != "" && ce.Text != c.text) {
				t.Errorf("%v at %v, profile %v: %+v, want %d %q", tc.err, c.scope, c.api.cfg.Profile, ce, c.code, c.text)
			}
		}
	}
	// General failures are not the login's to number.
	for _, err := range []error{&authn.ThrottledError{RetryAfter: time.Minute}, authn.ErrStoreUnavailable, authn.ErrBadRequest, errDown} {
		if got := seeds.loginRefusal(scopes.User, err); got != err {
			t.Errorf("%v became %v", err, got)
		}
	}
}

// A login answers its session, an etoken and the account; it sets the
// session cookie; it never answers a secret of the account.
func TestLoginAnswers(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	a := env.call("192.0.2.1", aliceLogin+alicePassword)
	if !a.ok || a.status != 200 || a.code != 0 || a.text != "" {
		t.Fatalf("User.Login: %s", a.body)
	}
	sid, _ := a.fields["SessionID"].(string)
	etoken, _ := a.fields["etoken"].(string)
	if env.status("192.0.2.1", "SessionID="+sid) != 200 || !strings.HasPrefix(etoken, "kwe_") {
		t.Fatalf("SessionID %q, etoken %q", sid, etoken)
	}
	info, _ := a.fields["UserInfo"].(map[string]any)
	want := map[string]any{"UserID": float64(env.alice.ID), "Username": "alice", "EmailAddress": "alice@example.com", "FirstName": "Alice", "LastName": "Liddell"}
	if fmt.Sprint(info) != fmt.Sprint(want) {
		t.Fatalf("UserInfo %v, want %v", info, want)
	}
	var cookie *http.Cookie
	for _, line := range a.header["Set-Cookie"] {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "__Host-keyward" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure {
		t.Fatalf("cookie %+v", cookie)
	}
	if h := a.header; h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", h)
	}
	for _, secret := range []string{alicePassword, env.alice.PasswordHash, "$argon2id$"} {
		if strings.Contains(a.body, secret) {
			t.Fatalf("a secret in the answer: %s", a.body)
		}
	}

	a = env.call("192.0.2.1", "Command=Admin.Login&DisableCaptcha=true&Username=root&Password="+rootPassword)
	info, _ = a.fields["AdminInfo"].(map[string]any)
	want = map[string]any{"AdminID": strconv.FormatInt(env.root.ID, 10), "Name": "Root", "Username": "root", "EmailAddress": "root@example.com", "2FA_Enabled": "No"}
	if !a.ok || fmt.Sprint(info) != fmt.Sprint(want) || a.fields["UserInfo"] != nil {
		t.Fatalf("Admin.Login: %s", a.body)
	}

	// By key: no password, no captcha.
	for _, form := range []string{"Command=User.Login&apikey=" + env.key(env.alice), "Command=Admin.Login&adminapikey=" + staticKey, "Command=Admin.Login&AdminAPIKey=" + env.key(env.root)} {
		if a := env.call("192.0.2.1", form); !a.ok || a.fields["SessionID"] == nil {
			t.Errorf("%.30s: %s", form, a.body)
		}
	}
	// A parameter given twice is a malformed request, not a guess.
	if a := env.call("192.0.2.1", aliceLogin+alicePassword+"&Password=other"); a.status != 400 || a.code != 400 {
		t.Fatalf("Password twice: %s", a.body)
	}
}

// Every refusal of a login, on the wire, in both profiles.
func TestLoginCodes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.enableTFA(env.alice)
	env.enableTFA(env.root)
	v5 := New(env.a, Config{Profile: OctethV5})
	const user = "Command=User.Login&DisableCaptcha=true&Username=alice"
	const admin = "Command=Admin.Login&DisableCaptcha=true&Username=root"
	tests := []struct {
		name      string
		form      string
		seeds, v5 int
	}{
		{"missing username", "Command=User.Login&DisableCaptcha=true&Password=x", 1, 1},
		{"missing password", user, 2, 2},
		{"wrong password", user + "&Password=wrong", 3, 3},
		{"unknown user", "Command=User.Login&DisableCaptcha=true&Username=mallory&Password=x", 3, 3},
		{"wrong key", "Command=User.Login&apikey=kw_wrong", 3, 3},
		{"missing captcha", "Command=User.Login&Username=alice&Password=x", 4, 4},
		{"wrong captcha", "Command=User.Login&Username=alice&Password=x&CaptchaID=AAAAAAAAAAAAAAAAAAAA&Captcha=123456", 5, 5},
		{"user, 2FA required", user + "&Password=" + alicePassword, 101, 6},
		{"user, 2FA wrong", user + "&Password=" + alicePassword + "&TFACode=000000", 6, 6},
		{"user, recovery code wrong", user + "&Password=" + alicePassword + "&TFARecoveryCode=AAAA-BBBB-CCCC", 6, 6},
		{"admin, 2FA required", admin + "&Password=" + rootPassword, 101, 101},
		{"admin, 2FA wrong", admin + "&Password=" + rootPassword + "&TFACode=000000", 6, 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				api   *API
				code  int
				lists bool
			}{{env.api, tc.seeds, false}, {v5, tc.v5, true}} {
				// Each from its own address: the throttle stays out of it.
				env.clock.Advance(time.Hour)
				a := env.callAPI(c.api, "192.0.2.2", tc.form)
				if a.status != 200 || a.ok || a.code != c.code {
					t.Errorf("profile %v: %s, want code %d", c.api.cfg.Profile, a.body, c.code)
				}
				if _, isList := a.fields["ErrorCode"].([]any); isList != c.lists {
					t.Errorf("profile %v: ErrorCode %v", c.api.cfg.Profile, a.fields["ErrorCode"])
				}
			}
		})
	}
}

// A throttled login: 429 with Retry-After, whatever the password, and the
// answer the same whether it is right or not.
func TestThrottledAnswer(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{CaptchaPolicy: CaptchaNever})
	const ip = "192.0.2.10"
	for i := 1; i <= 6; i++ {
		if a := env.callAPI(api, ip, aliceLogin+"wrong"); a.code != 3 {
			t.Fatalf("attempt %d: %s", i, a.body)
		}
	}
	wrong := env.callAPI(api, ip, aliceLogin+"wrong")
	right := env.callAPI(api, ip, aliceLogin+alicePassword)
	for _, a := range []apiAnswer{wrong, right} {
		if a.status != 429 || a.code != 429 || a.retryAfter == "" {
			t.Fatalf("locked: %d %s Retry-After %q", a.status, a.body, a.retryAfter)
		}
	}
	if wrong.body != right.body || wrong.retryAfter != right.retryAfter {
		t.Fatalf("locked answers differ:\n%s\n%s", wrong.body, right.body)
	}
	if wrong.retryAfter != "900" {
		t.Fatalf("Retry-After %q, want the whole 15 minute window", wrong.retryAfter)
	}
	// OctethV5 and AlwaysHTTP200: the same numbers where they differ.
	for _, cfg := range []Config{{Profile: OctethV5, CaptchaPolicy: CaptchaNever}, {AlwaysHTTP200: true, CaptchaPolicy: CaptchaNever}} {
		a := env.callAPI(New(env.a, cfg), ip, aliceLogin+alicePassword)
		want := 429
		if cfg.AlwaysHTTP200 {
			want = 200
		}
		if a.status != want || a.code != 429 || a.retryAfter != "900" {
			t.Errorf("%+v: %d %s Retry-After %q", cfg, a.status, a.body, a.retryAfter)
		}
	}
}

// What each captcha policy asks of a password login (the throttle asks by
// itself on top, in authn).
func TestCaptchaPolicies(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tests := []struct {
		policy         CaptchaPolicy
		disableCaptcha bool
		ask, no        bool
	}{
		{CaptchaOcteth, false, true, false},
		{CaptchaOcteth, true, false, false}, // the throttle still may
		{CaptchaAlways, true, true, false},
		{CaptchaAlways, false, true, false},
		{CaptchaNever, false, false, true},
		{CaptchaNever, true, false, true},
		{CaptchaAfterFailures, false, false, false},
		{CaptchaAfterFailures, true, false, false},
	}
	for _, tc := range tests {
		api := New(env.a, Config{CaptchaPolicy: tc.policy})
		c := &Call{HTTP: postForm("Username=alice&Password=x&DisableCaptcha=" + strconv.FormatBool(tc.disableCaptcha))}
		req, err := api.readLogin(c, scopes.User)
		if err != nil || req.AskCaptcha != tc.ask || req.NoCaptcha != tc.no {
			t.Errorf("policy %d, DisableCaptcha %v: AskCaptcha %v NoCaptcha %v (%v)", tc.policy, tc.disableCaptcha, req.AskCaptcha, req.NoCaptcha, err)
		}
	}
	// And on the wire: CaptchaAfterFailures asks nothing of a first login
	// without DisableCaptcha; CaptchaAlways asks even with it.
	if a := env.callAPI(New(env.a, Config{CaptchaPolicy: CaptchaAfterFailures}), "192.0.2.11", "Command=User.Login&Username=alice&Password="+alicePassword); !a.ok {
		t.Errorf("CaptchaAfterFailures: %s", a.body)
	}
	if a := env.callAPI(New(env.a, Config{CaptchaPolicy: CaptchaAlways}), "192.0.2.12", aliceLogin+alicePassword); a.code != CodeMissingCaptcha {
		t.Errorf("CaptchaAlways: %s", a.body)
	}
}

func TestCaptchaLogin(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil) // CaptchaOcteth
	const ip = "192.0.2.60"
	login := "Command=User.Login&Username=alice&Password="
	// No DisableCaptcha: a captcha is needed. Missing: 4. (Each attempt
	// still counts toward the throttle's limit of 6.)
	for range 2 {
		if a := env.call(ip, login+alicePassword); a.code != CodeMissingCaptcha {
			t.Fatalf("no captcha: %s", a.body)
		}
	}
	// Wrong: 5, before the password is looked at, so a right password
	// with a wrong captcha says nothing about the password.
	id, _ := env.captchaAnswer(ip)
	wrongCaptchaRightPw := env.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha=000000x")
	id, _ = env.captchaAnswer(ip)
	wrongCaptchaWrongPw := env.call(ip, login+"wrong&CaptchaID="+id+"&Captcha=000000x")
	if wrongCaptchaRightPw.code != CodeInvalidCaptcha || wrongCaptchaRightPw.body != wrongCaptchaWrongPw.body {
		t.Fatalf("wrong captcha: %s / %s", wrongCaptchaRightPw.body, wrongCaptchaWrongPw.body)
	}
	// Right: the login goes on. The solved captcha does not work twice.
	id, digits := env.captchaAnswer(ip)
	if a := env.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); !a.ok {
		t.Fatalf("right captcha: %s", a.body)
	}
	if a := env.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); a.code != CodeInvalidCaptcha {
		t.Fatalf("solved captcha reused: %s", a.body)
	}
	// With DisableCaptcha=true, after 3 failures a captcha is needed again.
	const ip2 = "192.0.2.61"
	for range 3 {
		if a := env.call(ip2, aliceLogin+"wrong"); a.code != CodeInvalidCredentials {
			t.Fatalf("%s", a.body)
		}
	}
	if a := env.call(ip2, aliceLogin+alicePassword); a.code != CodeMissingCaptcha {
		t.Fatalf("after 3 failures with DisableCaptcha: %s", a.body)
	}
	id, digits = env.captchaAnswer(ip2)
	if a := env.call(ip2, aliceLogin+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); !a.ok {
		t.Fatalf("with the captcha: %s", a.body)
	}
	// Key logins never need one.
	if a := env.call(ip, "Command=User.Login&apikey="+env.key(env.alice)); !a.ok {
		t.Fatalf("key login: %s", a.body)
	}
}

func TestCaptchaNew(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for i := range 60 {
		if a := env.call("192.0.2.70", "Command=Captcha.New"); !a.ok {
			t.Fatalf("captcha %d: %s", i, a.body)
		}
	}
	if a := env.call("192.0.2.70", "Command=Captcha.New"); a.status != 429 || a.code != 429 || a.retryAfter == "" {
		t.Fatalf("past the limit: %s", a.body)
	}
	// Where the host mounts the images.
	a := env.callAPI(New(env.a, Config{CaptchaURL: "/static/captcha"}), "192.0.2.71", "Command=Captcha.New")
	id, _ := a.fields["CaptchaID"].(string)
	if !a.ok || a.fields["ImageURL"] != "/static/captcha/"+id+".png" || a.fields["AudioURL"] != "/static/captcha/"+id+".wav" {
		t.Fatalf("CaptchaURL: %s", a.body)
	}
	// A host's own captcha service makes its challenges itself.
	other := newTestEnv(t, func(c *authn.Config) { c.Captcha = hostCaptcha{} })
	if a := other.call("192.0.2.72", "Command=Captcha.New"); a.status != 404 || a.code != 404 {
		t.Fatalf("Captcha.New with the host's captcha: %s", a.body)
	}
}

// Re-authentication is counted like a login: a stolen session is not an
// unlimited password oracle.
func TestReauthThrottled(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice) // a password session
	for i := range 6 {
		if a := env.call("192.0.2.93", "Command=User.PasswordChange&SessionID="+sid+"&CurrentPassword=guess&NewPassword=a-new-password"); a.code != CodeInvalidCredentials {
			t.Fatalf("guess %d: %s", i, a.body)
		}
	}
	if a := env.call("192.0.2.93", "Command=User.PasswordChange&SessionID="+sid+"&CurrentPassword="+alicePassword+"&NewPassword=a-new-password"); a.status != 429 {
		t.Fatalf("the seventh, right: %s", a.body)
	}
	// And the account's logins from that address are locked with it.
	if a := env.call("192.0.2.93", aliceLogin+alicePassword); a.status != 429 {
		t.Fatalf("login: %s", a.body)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for _, tc := range []struct{ command, sid string }{{"User.Logout", env.session(env.alice)}, {"Admin.Logout", env.session(env.root)}} {
		if a := env.call("192.0.2.3", "Command="+tc.command+"&SessionID="+tc.sid); !a.ok {
			t.Fatalf("%s: %s", tc.command, a.body)
		}
		if got := env.status("192.0.2.3", "SessionID="+tc.sid); got != 401 {
			t.Fatalf("%s: the session goes on: %d", tc.command, got)
		}
	}
	// A key has no session to end: a malformed request.
	if a := env.call("192.0.2.3", "Command=User.Logout&APIKey="+env.key(env.alice)); a.status != 400 {
		t.Fatalf("logout by key: %s", a.body)
	}
	if a := env.call("192.0.2.3", "Command=User.Logout"); a.status != 401 {
		t.Fatalf("logout without a session: %s", a.body)
	}
}

// A store that fails is a 503, never "invalid credentials": the login
// could not look.
func TestLoginStoreDown(t *testing.T) {
	t.Parallel()
	fs := &failingStore{fail: map[string]bool{}}
	env := newTestEnv(t, func(c *authn.Config) { fs.Store = c.Store; c.Store = fs })
	fs.set("AccountByLogin", true)
	a := env.call("192.0.2.4", aliceLogin+alicePassword)
	if a.status != 503 || a.code != 503 || a.text != "Service unavailable" || strings.Contains(a.body, errDown.Error()) {
		t.Fatalf("login on a failing store: %s", a.body)
	}
	if e := env.events.last(event.StoreFailed); !errors.Is(e.Err, errDown) {
		t.Fatalf("store_failed event %+v", e)
	}
	a = env.callAPI(New(env.a, Config{Profile: OctethV5}), "192.0.2.4", aliceLogin+alicePassword)
	if a.status != 500 || a.code != 100005 || a.fields["Errors"] == nil {
		t.Fatalf("OctethV5: %s", a.body)
	}
	fs.set("AccountByLogin", false)
	if a := env.call("192.0.2.4", aliceLogin+alicePassword); !a.ok {
		t.Fatalf("the store back: %s", a.body)
	}
}

// A right code already used (here the one that just enabled 2FA) is code
// 6, as a wrong one is, with a text that says to wait for the next code;
// a wrong code keeps the plain text. Both dialects, and the re-checks of
// a code in a command, say the same.
func TestTFACodeAlreadyUsed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	secret, _, sid := env.enableTFA(env.alice)
	used := totpCode(t, secret, env.clock.Now())
	wrong := []byte(used)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	login := "Command=User.Login&DisableCaptcha=true&Username=alice&Password=" + alicePassword + "&TFACode="
	tests := []struct {
		name, form string
		text       string
	}{
		{"login, used", login + used, textTFACodeUsed},
		{"login, wrong", login + string(wrong), "Invalid 2FA code"},
		{"disable, used", "Command=User.TFA.Disable&SessionID=" + sid + "&Password=" + alicePassword + "&TFACode=" + used, textTFACodeUsed},
	}
	for _, tc := range tests {
		a := env.call("192.0.2.7", tc.form)
		if a.ok || a.code != CodeInvalidTFA || a.text != tc.text {
			t.Errorf("%s: %d %s; want code %d %q", tc.name, a.status, a.body, CodeInvalidTFA, tc.text)
		}
		if tc.name == "login, used" {
			// Its event's reason is a fixed phrase, as every reason is.
			if e := env.events.last(event.LoginFailed); e.Reason != "2FA code already used" {
				t.Errorf("the event's reason is %q", e.Reason)
			}
		}
	}
	wmd := New(env.a, Config{Dialect: WMD})
	if a := env.callAPI(wmd, "192.0.2.8", "c=auth&user=alice&pass="+alicePassword+"&tfacode="+used); a.fields["error"] != textTFACodeUsed {
		t.Errorf("WMD, used: %s", a.body)
	}
	// The next step's code works.
	env.clock.Advance(30 * time.Second)
	if a := env.call("192.0.2.7", login+totpCode(t, secret, env.clock.Now())); !a.ok {
		t.Fatalf("the next code: %s", a.body)
	}
}
