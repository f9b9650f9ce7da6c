package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
)

// wmdAnswer is a decoded WMD answer.
type wmdAnswer struct {
	status int
	header http.Header
	fields map[string]any
}

func (a wmdAnswer) ok() bool { return a.fields["status"] == "ok" && a.fields["error"] == "" }

func decodeWMD(t testing.TB, status int, h http.Header, body []byte) wmdAnswer {
	t.Helper()
	a := wmdAnswer{status: status, header: h}
	if err := json.Unmarshal(body, &a.fields); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if s := a.fields["status"]; s != "ok" && s != "notok" {
		t.Fatalf("status %v: %s", s, body)
	}
	if _, ok := a.fields["error"].(string); !ok {
		t.Fatalf("no error field: %s", body)
	}
	return a
}

// wmd sends a request to a WMD endpoint of the test app.
func (ta *testApp) wmd(r *http.Request) wmdAnswer {
	ta.t.Helper()
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, r)
	return decodeWMD(ta.t, rec.Code, rec.Header(), rec.Body.Bytes())
}

// Seed 004's c=auth, as written: a GET with user and pass in the query.
func TestWMDLoginShapes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})

	fail := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin&pass=xxx", nil))
	if fail.status != 200 || fail.fields["status"] != "notok" || fail.fields["error"] != "Invalid name or password (1/1000)" ||
		fail.fields["user"] != "" || fail.fields["group"] != "" {
		t.Fatalf("failure: %v", fail.fields)
	}
	fail = ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin&pass=yyy", nil))
	if fail.fields["error"] != "Invalid name or password (2/1000)" {
		t.Fatalf("second failure: %v", fail.fields)
	}

	ok := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin&pass="+url.QueryEscape(adminPassword), nil))
	f := ok.fields
	if !ok.ok() || f["user"] != "admin" || f["userid"] != float64(1) || f["admin"] != true || f["fullname"] != "Administrator" ||
		f["displayname"] != "Administrator" || f["group"] != "" {
		t.Fatalf("success: %v", f)
	}
	if _, err := time.Parse("2006-01-02 15:04:05", f["lastsignin"].(string)); err != nil {
		t.Fatalf("lastsignin %v", f["lastsignin"])
	}
	if tok, _ := f["etoken"].(string); !strings.HasPrefix(tok, "kwe_") {
		t.Fatalf("etoken %v", f["etoken"])
	}
	if !strings.Contains(ok.header.Get("Set-Cookie"), "keyward=") {
		t.Fatal("no session cookie")
	}
	// A user logs in as a user, form body and all.
	form := urlencoded("c", "auth", "user", "user@example.com", "pass", userPassword)
	form.URL.Path = "/wmd/api.php"
	user := ta.wmd(form)
	if !user.ok() || user.fields["admin"] != false || user.fields["fullname"] != "Example User" {
		t.Fatalf("user: %v", user.fields)
	}
}

// The attempt count in the error comes from the throttle: with its
// defaults, (n/6), and then 429.
func TestWMDAttemptCount(t *testing.T) {
	t.Parallel()
	ta := newTestAppThrottle(t, authn.ThrottleConfig{})
	for i := 1; i <= 6; i++ {
		a := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin&pass=wrong", nil))
		if want := "Invalid name or password (" + string(rune('0'+i)) + "/6)"; a.fields["error"] != want {
			t.Fatalf("attempt %d: %v, want %q", i, a.fields["error"], want)
		}
	}
	a := ta.wmd(httptest.NewRequest("GET", "/wmd/api.php?c=auth&user=admin&pass="+url.QueryEscape(adminPassword), nil))
	if a.status != 429 || a.fields["status"] != "notok" || a.header.Get("Retry-After") == "" {
		t.Fatalf("locked: %d %v", a.status, a.fields)
	}
}

// The flow seed 004 describes, over a real server: log in on api.php,
// use the cookie there; hand the etoken to a script on api-sl.php; log out.
func TestWMDFlow(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	srv := httptest.NewServer(ta.h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	// Transports of their own: see newUIClient.
	browser := &http.Client{Transport: srv.Client().Transport, Jar: jar}
	script := &http.Client{Transport: &http.Transport{}}
	do := func(c *http.Client, path, auth string) wmdAnswer {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return decodeWMD(t, resp.StatusCode, resp.Header, body)
	}
	login := do(browser, "/wmd/api.php?c=auth&user=user@example.com&pass="+url.QueryEscape(userPassword), "")
	if !login.ok() {
		t.Fatalf("login: %v", login.fields)
	}
	who := do(browser, "/wmd/api.php?c=whoami", "")
	if !who.ok() || who.fields["user"] != "user@example.com" || who.fields["userid"] != float64(2) || who.fields["admin"] != false {
		t.Fatalf("whoami by cookie: %v", who.fields)
	}
	// api-sl.php takes the etoken, not the cookie.
	if a := do(browser, "/wmd/api-sl.php?c=whoami", ""); a.status != 401 {
		t.Fatalf("api-sl.php by cookie: %d %v", a.status, a.fields)
	}
	etoken := login.fields["etoken"].(string)
	if a := do(script, "/wmd/api-sl.php?c=whoami", "Bearer "+etoken); !a.ok() || a.fields["user"] != "user@example.com" {
		t.Fatalf("api-sl.php by etoken: %d %v", a.status, a.fields)
	}
	// Single use.
	if a := do(script, "/wmd/api-sl.php?c=whoami", "Bearer "+etoken); a.status != 401 {
		t.Fatalf("etoken reused: %d", a.status)
	}
	// And api.php does not take it.
	if a := do(script, "/wmd/api.php?c=whoami", "Bearer "+etoken); a.status != 401 {
		t.Fatalf("api.php by etoken: %d", a.status)
	}
	// An etoken issued before logout is refused after it.
	second := do(script, "/wmd/api.php?c=auth&user=user@example.com&pass="+url.QueryEscape(userPassword), "")
	unused := second.fields["etoken"].(string)
	var cookie *http.Cookie
	for _, line := range second.header["Set-Cookie"] {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "keyward" {
			cookie = c
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/wmd/api.php?c=auth&logout=1", nil)
	req.AddCookie(cookie)
	resp, err := script.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := do(script, "/wmd/api-sl.php?c=whoami", "Bearer "+unused); a.status != 401 {
		t.Fatalf("etoken of a logged-out session: %d", a.status)
	}
	// Logout on api-sl.php by etoken.
	third := do(script, "/wmd/api.php?c=auth&user=user@example.com&pass="+url.QueryEscape(userPassword), "")
	if a := do(script, "/wmd/api-sl.php?c=auth&logout=1", "Bearer "+third.fields["etoken"].(string)); !a.ok() {
		t.Fatalf("logout by etoken: %v", a.fields)
	}
	// Logout on api.php by cookie.
	if a := do(browser, "/wmd/api.php?c=auth&logout=1", ""); !a.ok() {
		t.Fatalf("logout: %v", a.fields)
	}
	if a := do(browser, "/wmd/api.php?c=whoami", ""); a.status != 401 {
		t.Fatalf("whoami after logout: %d", a.status)
	}
	if a := do(browser, "/wmd/api.php?c=auth&logout=1", ""); a.status != 401 {
		t.Fatalf("logout without a session: %d", a.status)
	}
}

// Seed 004's URL as written: /api.php takes c= as the WMD SED API does,
// beside Octeth's Command= on the same path.
func TestWMDOnAPIPHP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	login := ta.wmd(httptest.NewRequest("GET", "/api.php?c=auth&user=admin&pass="+url.QueryEscape(adminPassword), nil))
	if !login.ok() || login.fields["user"] != "admin" || login.fields["admin"] != true {
		t.Fatalf("c=auth on /api.php: %d %v", login.status, login.fields)
	}
	var cookie *http.Cookie
	for _, line := range login.header["Set-Cookie"] {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "keyward" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	// The cookie works on /api.php for WMD commands, as seed 004 says.
	who := httptest.NewRequest("GET", "/api.php?c=whoami", nil)
	who.AddCookie(cookie)
	if a := ta.wmd(who); !a.ok() || a.fields["user"] != "admin" {
		t.Fatalf("c=whoami by cookie: %d %v", a.status, a.fields)
	}
	// In a form body too: the body is read once, for the choice and the
	// command both.
	form := urlencoded("c", "auth", "user", "admin", "pass", "wrong")
	if a := ta.wmd(form); a.fields["status"] != "notok" || !strings.HasPrefix(a.fields["error"].(string), "Invalid name or password (") {
		t.Fatalf("c=auth in a body: %d %v", a.status, a.fields)
	}
	// Octeth's commands are where they were.
	if got := ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "DisableCaptcha", "true")); !got.Success {
		t.Fatalf("Command=User.Login on /api.php: %+v", got)
	}
	// With both, Command decides: the path is Octeth's first.
	if got := ta.send(urlencoded("Command", "User.Login", "c", "auth", "Username", "user@example.com", "Password", userPassword, "DisableCaptcha", "true")); !got.Success {
		t.Fatalf("Command and c: %+v", got)
	}
	// Neither: Octeth's missing Command.
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, httptest.NewRequest("GET", "/api.php", nil))
	if !strings.Contains(rec.Body.String(), "Command") {
		t.Fatalf("neither: %d %s", rec.Code, rec.Body)
	}
}
