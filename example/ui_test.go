package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
)

// uiClient is a browser as far as the UI can tell: a cookie jar, the
// Sec-Fetch-Site header a browser sends on its own forms, and redirects
// left for the test to follow, so that every Location is seen.
type uiClient struct {
	t   *testing.T
	ta  *testApp
	srv *httptest.Server
	c   *http.Client
	// locations are every redirect's Location, checked by checkLocations.
	locations []string
}

// uiPage is one answer.
type uiPage struct {
	status int
	header http.Header
	body   string
}

// newUIClient serves ta on a real server and returns a browser-like
// client for it; redirects are checked when the test ends.
func newUIClient(t *testing.T, ta *testApp) *uiClient {
	t.Helper()
	srv := httptest.NewServer(ta.h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	u := &uiClient{t: t, ta: ta, srv: srv}
	// The server's own transport: another test's httptest.Server.Close
	// closes http.DefaultTransport's idle connections, and can break a
	// request of ours that was about to reuse one.
	u.c = &http.Client{Transport: srv.Client().Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(u.checkLocations)
	return u
}

// do sends r and records the answer.
func (u *uiClient) do(r *http.Request) uiPage {
	u.t.Helper()
	resp, err := u.c.Do(r)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		u.locations = append(u.locations, loc)
	}
	return uiPage{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// get fetches a page, as a link followed on the site would.
func (u *uiClient) get(path string) uiPage {
	u.t.Helper()
	r, _ := http.NewRequest("GET", u.srv.URL+path, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return u.do(r)
}

// post sends a form as the page's own form would: same origin.
func (u *uiClient) post(path string, kv ...string) uiPage {
	u.t.Helper()
	return u.postWith(http.Header{"Sec-Fetch-Site": {"same-origin"}}, path, kv...)
}

// postWith posts a form with the headers h.
func (u *uiClient) postWith(h http.Header, path string, kv ...string) uiPage {
	u.t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	r, _ := http.NewRequest("POST", u.srv.URL+path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range h {
		r.Header[k] = vs
	}
	return u.do(r)
}

// replay gets the home page with the cookie value given, from outside
// the jar, as an attacker holding an old cookie would.
func (u *uiClient) replay(cookie string) uiPage {
	u.t.Helper()
	r, _ := http.NewRequest("GET", u.srv.URL+"/", nil)
	r.AddCookie(&http.Cookie{Name: "keyward", Value: cookie})
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		u.locations = append(u.locations, loc)
	}
	return uiPage{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// follow gets the page a 303 points to.
func (u *uiClient) follow(p uiPage) uiPage {
	u.t.Helper()
	if p.status != http.StatusSeeOther {
		u.t.Fatalf("want 303, got %d: %s", p.status, p.body)
	}
	return u.get(p.header.Get("Location"))
}

// cookie returns the session cookie the jar holds, or "".
func (u *uiClient) cookie() string {
	su, _ := url.Parse(u.srv.URL)
	for _, c := range u.c.Jar.Cookies(su) {
		if c.Name == "keyward" {
			return c.Value
		}
	}
	return ""
}

// login signs in with the password and returns the answer (a 303 home).
func (u *uiClient) login(username, password string, kv ...string) uiPage {
	u.t.Helper()
	return u.post("/login", append([]string{"username", username, "password", password}, kv...)...)
}

// checkLocations checks that no redirect carried anything but a fixed
// path and a known notice: no session ID, no cookie, no secret.
func (u *uiClient) checkLocations() {
	u.t.Helper()
	paths := map[string]bool{"/": true, "/login": true, "/2fa": true, "/keys": true}
	for _, loc := range u.locations {
		l, err := url.Parse(loc)
		if err != nil || l.Host != "" || !paths[l.Path] {
			u.t.Errorf("redirect to %q", loc)
			continue
		}
		for k, vs := range l.Query() {
			if k != "notice" || len(vs) != 1 || noticeText(vs[0]) == "" {
				u.t.Errorf("redirect to %q carries %s=%v", loc, k, vs)
			}
		}
	}
}

// mustPage fails unless p is an HTML page with the status that contains
// every one of want.
func mustPage(t *testing.T, p uiPage, status int, want ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d: %s", p.status, status, p.body)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q: %s", ct, p.body)
	}
	if !strings.HasPrefix(p.body, "<!doctype html>") {
		t.Fatalf("not a page: %s", p.body)
	}
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			t.Fatalf("page lacks %q: %s", w, p.body)
		}
	}
}

// mustRedirect fails unless p is a 303 to loc.
func mustRedirect(t *testing.T, p uiPage, loc string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != loc {
		t.Fatalf("want 303 to %s, got %d to %q: %s", loc, p.status, p.header.Get("Location"), p.body)
	}
}

// find returns the first group of re in s, failing if there is none.
func find(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in %s", re, s)
	}
	return m[1]
}

// Pages that need a user send anonymous visitors to the login page, and
// the other routes are untouched.
func TestUIAnonymousGoesToLogin(t *testing.T) {
	t.Parallel()
	u := newUIClient(t, newTestApp(t, command.Config{}))
	for _, path := range []string{"/", "/2fa", "/keys"} {
		mustRedirect(t, u.get(path), "/login?notice=sign-in")
	}
	mustRedirect(t, u.post("/lists", "name", "x"), "/login?notice=sign-in")
	mustRedirect(t, u.post("/keys", "label", "x"), "/login?notice=sign-in")
	mustPage(t, u.follow(u.get("/keys")), 200, "Sign in to continue.", `autocomplete="username"`)
	mustPage(t, u.get("/login"), 200, `autocomplete="username"`, `autocomplete="current-password"`, `<label for="password">`)
	mustPage(t, u.get("/admin"), 200, `id="admin" name="admin" value="1" checked`)
	mustPage(t, u.get("/nowhere"), 404, "no such page")
	// The API is still the API.
	e := decode(t, 0, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, []byte(u.post("/api.php", "Command", "Lists.Get").body))
	if e.Success || e.Code != 401 {
		t.Fatalf("API without credential: %+v", e)
	}
}

// A failed login is a page that says why, with no cookie.
func TestUIWrongPassword(t *testing.T) {
	t.Parallel()
	u := newUIClient(t, newTestApp(t, command.Config{}))
	p := u.login("user@example.com", "wrong")
	mustPage(t, p, 200, `id="error">Invalid username or password.`, `value="user@example.com"`)
	if p.header.Get("Set-Cookie") != "" || u.cookie() != "" {
		t.Fatal("a failed login set a cookie")
	}
	if strings.Contains(p.body, "wrong") {
		t.Fatal("the page shows the password typed")
	}
	mustPage(t, u.login("", ""), 200, "Enter your username and your password.")
	mustPage(t, u.login("ghost", "nope", "admin", "1"), 200, "Invalid username or password.", "Administrator sign in")
}

// Every form refuses another origin: the login form itself (login CSRF),
// and the forms that ride on the cookie.
func TestUICrossSiteRefused(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	u := newUIClient(t, ta)
	for name, h := range map[string]http.Header{
		"Sec-Fetch-Site": {"Sec-Fetch-Site": {"cross-site"}},
		// Browsers without Sec-Fetch-Site still send Origin.
		"Origin": {"Origin": {"https://evil.example"}},
		// A browser that sends neither, only the page it came from.
		"Referer": {"Referer": {"https://evil.example/phish.html"}},
	} {
		// Login CSRF: another site must not sign the browser in to the
		// attacker's account.
		p := u.postWith(h, "/login", "username", "user@example.com", "password", userPassword)
		mustPage(t, p, 403, "sent from another site")
		if u.cookie() != "" {
			t.Fatalf("%s: a cross-site login set the cookie", name)
		}
	}
	mustRedirect(t, u.login("user@example.com", userPassword), "/")
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	mustPage(t, u.postWith(cross, "/lists", "name", "forged"), 403)
	mustPage(t, u.postWith(cross, "/keys", "label", "forged"), 403)
	mustPage(t, u.postWith(cross, "/logout"), 403)
	if got := ta.lists.of(2); len(got) != 0 {
		t.Fatalf("a forged post made lists: %v", got)
	}
	mustPage(t, u.get("/"), 200, "You have no lists yet.") // still signed in
}

// The login sets keyward's cookie; the pages run on it; logout ends the
// session and drops the cookie; a stale cookie leads to the login page.
func TestUISessionCookie(t *testing.T) {
	t.Parallel()
	u := newUIClient(t, newTestApp(t, command.Config{}))
	p := u.login("user@example.com", userPassword)
	mustRedirect(t, p, "/")
	c := p.header.Get("Set-Cookie")
	for _, attr := range []string{"keyward=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(c, attr) {
			t.Fatalf("Set-Cookie %q lacks %s", c, attr)
		}
	}
	cookie := u.cookie()
	home := u.get("/")
	mustPage(t, home, 200, `id="p-username">user@example.com<`, `id="p-scope">user<`, `id="p-method">password, this page by the cookie<`, `id="p-tfa">no<`)
	if strings.Contains(home.body, cookie) {
		t.Fatal("the page shows the cookie")
	}
	mustRedirect(t, u.get("/login"), "/") // signed in already
	// Signing in again (a stale tab) replaces the session: the old cookie
	// is worth nothing after.
	mustRedirect(t, u.login("user@example.com", userPassword), "/")
	oldCookie := cookie
	if cookie = u.cookie(); cookie == oldCookie {
		t.Fatal("a new login kept the cookie")
	}
	if p := u.replay(oldCookie); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?notice=expired" {
		t.Fatalf("the replaced session's cookie: %d %q", p.status, p.header.Get("Location"))
	}

	// Logout ends the session and drops the cookie.
	out := u.post("/logout")
	mustRedirect(t, out, "/login?notice=signed-out")
	if c := out.header.Get("Set-Cookie"); !strings.Contains(c, "keyward=;") || !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("logout Set-Cookie %q", c)
	}
	if u.cookie() != "" {
		t.Fatal("cookie kept after logout")
	}
	mustPage(t, u.follow(out), 200, "You are signed out.")
	mustRedirect(t, u.get("/"), "/login?notice=sign-in")

	// The old cookie, replayed: the session is gone. A page, not JSON.
	stale := u.replay(cookie)
	mustRedirect(t, stale, "/login?notice=expired")
	if c := stale.header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("stale cookie not expired: %q", c)
	}
	if ct := stale.header.Get("Content-Type"); strings.Contains(ct, "json") {
		t.Fatalf("stale cookie answered %s", ct)
	}
}

// The administrator box signs in to the admin scope.
func TestUIAdmin(t *testing.T) {
	t.Parallel()
	u := newUIClient(t, newTestApp(t, command.Config{}))
	// Without the box it is a user login, and admin is no user.
	mustPage(t, u.login("admin", adminPassword), 200, "Invalid username or password.")
	home := u.follow(u.login("admin", adminPassword, "admin", "1"))
	mustPage(t, home, 200, `id="p-scope">admin<`)
	if strings.Contains(home.body, "Your lists") {
		t.Fatal("an administrator has lists")
	}
	mustPage(t, u.post("/lists", "name", "x"), 403, "Only user accounts")
}

// What users type is escaped in the page.
func TestUIListsEscaped(t *testing.T) {
	t.Parallel()
	u := newUIClient(t, newTestApp(t, command.Config{}))
	u.login("user@example.com", userPassword)
	p := u.post("/lists", "name", `<script>alert("x")</script>`)
	mustRedirect(t, p, "/?notice=list-created")
	home := u.follow(p)
	mustPage(t, home, 200, "List created.", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	if strings.Contains(home.body, "<script>") {
		t.Fatal("a list name is not escaped")
	}
	mustPage(t, u.post("/lists", "name", "  "), 200, "Enter a name for the list.")
}

// Enrollment, a login with a code, and a recovery code, through the
// pages.
func TestUITwoFactor(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	u := newUIClient(t, ta)
	u.login("user@example.com", userPassword)
	mustPage(t, u.get("/2fa"), 200, `id="tfa-off"`)

	setup := u.post("/2fa/setup")
	mustPage(t, setup, 200, `src="data:image/png;base64,iVBOR`)
	secret := find(t, setup.body, `id="tfa-secret">([A-Z2-7]+)<`)
	mustPage(t, u.post("/2fa/enable", "code", "000000"), 200, "That code is not right")
	enabled := u.post("/2fa/enable", "code", ta.code(secret, 0))
	mustPage(t, enabled, 200, "shown only once")
	codes := regexp.MustCompile(`<li><code>([A-Z0-9-]+)</code></li>`).FindAllStringSubmatch(enabled.body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes: %s", len(codes), enabled.body)
	}
	ta.clock.Advance(30 * time.Second)
	mustPage(t, u.get("/2fa"), 200, `id="tfa-on"`)
	mustRedirect(t, u.post("/logout"), "/login?notice=signed-out")

	// The password step answers the second step, which carries a sealed
	// token and not the password.
	step := u.login("user@example.com", userPassword)
	mustPage(t, step, 200, `autocomplete="one-time-code"`, `id="signing-in-as">user@example.com<`)
	if strings.Contains(step.body, userPassword) || u.cookie() != "" {
		t.Fatal("the second step shows the password, or signed in already")
	}
	pending := find(t, step.body, `name="pending" value="([^"]+)"`)
	mustPage(t, u.post("/login", "pending", pending), 200, "Enter the code from your authenticator app")
	mustPage(t, u.post("/login", "pending", pending, "tfa_code", "000000"), 200, "That code is wrong")
	mustPage(t, u.post("/login", "pending", pending[:len(pending)-4]+"AAAA", "tfa_code", ta.code(secret, 0)), 200, "Please start again")
	home := u.follow(u.post("/login", "pending", pending, "tfa_code", ta.code(secret, 0)))
	mustPage(t, home, 200, `id="p-tfa">yes<`, `id="tfa-status">on<`)
	ta.clock.Advance(30 * time.Second)

	// A recovery code signs in once and turns 2FA off.
	u.post("/logout")
	pending = find(t, u.login("user@example.com", userPassword).body, `name="pending" value="([^"]+)"`)
	in := u.post("/login", "pending", pending, "recovery_code", codes[0][1])
	mustRedirect(t, in, "/?notice=recovered")
	mustPage(t, u.follow(in), 200, "recovery code, so two-factor authentication is now off", `id="tfa-status">off`)
}

// The pending-login token is sealed, and only opens from its address.
func TestUIPendingBoundToAddress(t *testing.T) {
	t.Parallel()
	ui, err := newUI(newTestApp(t, command.Config{}).app)
	if err != nil {
		t.Fatal(err)
	}
	here, there := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	tok, err := ui.sealPending(authn.LoginRequest{Scope: scopes.User, Username: "u", Password: "p"}, here)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "p\"") || strings.Contains(tok, "\"u\"") {
		t.Fatalf("token in the clear: %s", tok)
	}
	if pl, err := ui.openPending(tok, here); err != nil || pl.Username != "u" || pl.Password != "p" {
		t.Fatalf("open: %+v %v", pl, err)
	}
	if _, err := ui.openPending(tok, there); err == nil {
		t.Fatal("a token opened from another address")
	}
}

// A key made in the page works over the API until it is revoked there.
func TestUIAPIKeys(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	u := newUIClient(t, ta)
	u.login("user@example.com", userPassword)
	mustPage(t, u.get("/keys"), 200, `id="no-keys"`)
	made := u.post("/keys", "label", "cron")
	mustPage(t, made, 200, "shown only once", "cron")
	key := find(t, made.body, `id="new-api-key">(kw_[A-Za-z0-9_-]+)<`)
	id := find(t, made.body, `name="key_id" value="(\d+)"`)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)))
	if list := u.get("/keys"); strings.Contains(list.body, key) {
		t.Fatal("the key list shows the key")
	}
	mustPage(t, u.post("/keys/revoke", "key_id", "999"), 200, "There is no such key.")
	revoked := u.post("/keys/revoke", "key_id", id)
	mustRedirect(t, revoked, "/keys?notice=key-revoked")
	mustPage(t, u.follow(revoked), 200, "API key revoked.", `id="no-keys"`)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)), 401, 401)
}

// After 3 failures the login page shows a captcha, whose image is served
// and whose right answer lets the login through.
func TestUICaptcha(t *testing.T) {
	t.Parallel()
	ta := newTestAppThrottle(t, authn.ThrottleConfig{}) // the defaults: a captcha after 3 failures
	u := newUIClient(t, ta)
	for range 3 {
		p := u.login("user@example.com", "wrong")
		mustPage(t, p, 200, "Invalid username or password.")
		if strings.Contains(p.body, "captcha") {
			t.Fatal("a captcha before 3 failures")
		}
	}
	p := u.login("user@example.com", userPassword)
	mustPage(t, p, 200, "Type the digits in the picture", `<label for="captcha">`, `id="captcha-audio" href="/captcha/`)
	img := find(t, p.body, `id="captcha-image" src="(/captcha/[A-Za-z0-9]+\.png)"`)
	id := find(t, p.body, `name="captcha_id" value="([A-Za-z0-9]+)"`)
	if got := u.get(img); got.status != 200 || got.header.Get("Content-Type") != "image/png" {
		t.Fatalf("captcha image: %d %s", got.status, got.header.Get("Content-Type"))
	}
	// A wrong answer (attempt 5 of the 6 allowed): a new challenge.
	p = u.login("user@example.com", userPassword, "captcha_id", id, "captcha", "x")
	mustPage(t, p, 200, "did not match")
	id = find(t, p.body, `name="captcha_id" value="([A-Za-z0-9]+)"`)
	// The right answer, read from the store as a person reads the picture.
	c, err := ta.mem.Challenge(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for _, d := range c.Digits {
		digits.WriteByte('0' + d)
	}
	mustRedirect(t, u.login("user@example.com", userPassword, "captcha_id", id, "captcha", digits.String()), "/")
}
