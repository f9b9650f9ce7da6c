package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

const (
	adminPassword = "admin-password-for-tests"
	userPassword  = "user-password-for-tests"
	staticKey     = "static-admin-key-for-tests-0123456789"
)

// testKeys are the cookie keys of the tests' apps: a store wrapped for a
// test is not the default one, and needs keys.
var testKeys = []authn.KeyPair{{Hash: bytes.Repeat([]byte{0x33}, 32), Block: bytes.Repeat([]byte{0x44}, 32)}}

// testApp is the example's app with fixed passwords, a fake clock and
// cheap hashing.
type testApp struct {
	*app
	t     testing.TB
	h     http.Handler
	clock *clocktest.Clock
}

func newTestApp(t testing.TB, api command.Config) *testApp {
	t.Helper()
	return newTestAppWith(t, func(o *options) { o.API = api })
}

// newTestAppWith is newTestApp with options edited.
func newTestAppWith(t testing.TB, edit func(*options)) *testApp {
	t.Helper()
	clock := clocktest.New()
	o := options{
		AdminPassword: adminPassword,
		UserPassword:  userPassword,
		AdminAPIKey:   staticKey,
		Logger:        slog.New(slog.DiscardHandler),
		Now:           clock.Now,
		Passwords:     authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Keys:          testKeys,
		// Tests send many logins from one address; the throttle's own
		// tests use its defaults.
		Throttle: authn.ThrottleConfig{PerUserIP: 1000, PerIP: 10000, CaptchaAfter: 1000},
	}
	edit(&o)
	a, err := newApp(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{app: a, t: t, h: a.Handler(), clock: clock}
}

// envelope is a decoded answer.
type envelope struct {
	status  int
	header  http.Header
	Success bool
	Code    int
	Text    string
	fields  map[string]json.RawMessage
}

func (e envelope) str(k string) string {
	var s string
	_ = json.Unmarshal(e.fields[k], &s)
	return s
}

// send serves r and decodes the envelope, failing on anything that is not
// one.
func (ta *testApp) send(r *http.Request) envelope {
	ta.t.Helper()
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, r)
	return decode(ta.t, rec.Code, rec.Header(), rec.Body.Bytes())
}

func decode(t testing.TB, status int, h http.Header, body []byte) envelope {
	t.Helper()
	e := envelope{status: status, header: h}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q; body %s", ct, body)
	}
	if err := json.Unmarshal(body, &e.fields); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	for k, dst := range map[string]any{"Success": &e.Success, "ErrorCode": &e.Code, "ErrorText": &e.Text} {
		raw, ok := e.fields[k]
		if !ok {
			t.Fatalf("envelope without %s: %s", k, body)
		}
		if len(raw) > 0 && raw[0] == '[' { // OctethV5 and ErrorCodeAsList send lists
			raw = raw[1 : len(raw)-1]
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("%s: %v: %s", k, err, body)
		}
	}
	return e
}

// urlencoded builds a POST as curl --data-urlencode and -d do.
func urlencoded(kv ...string) *http.Request {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	r := httptest.NewRequest("POST", "/api.php", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// multipartForm builds a POST as curl -F and --form do.
func multipartForm(kv ...string) *http.Request {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(kv); i += 2 {
		_ = mw.WriteField(kv[i], kv[i+1])
	}
	_ = mw.Close()
	r := httptest.NewRequest("POST", "/api.php", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}

// mustOK fails unless e is a success.
func mustOK(t testing.TB, e envelope) envelope {
	t.Helper()
	if e.status != 200 || !e.Success || e.Code != 0 || e.Text != "" {
		t.Fatalf("want success, got HTTP %d %+v %s", e.status, e, e.fields)
	}
	return e
}

// mustFail fails unless e is a failure with the status and code.
func mustFail(t *testing.T, e envelope, status, code int) {
	t.Helper()
	if e.status != status || e.Success || e.Code != code || e.Text == "" {
		t.Fatalf("want HTTP %d ErrorCode %d, got HTTP %d %+v", status, code, e.status, e)
	}
}

func (ta *testApp) userSession() string {
	ta.t.Helper()
	e := mustOK(ta.t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "DisableCaptcha", "true")))
	return e.str("SessionID")
}

func (ta *testApp) adminSession() string {
	ta.t.Helper()
	e := mustOK(ta.t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "Admin.Login", "Username", "admin", "Password", adminPassword, "DisableCaptcha", "true")))
	return e.str("SessionID")
}

func (ta *testApp) userKey() (key string, id int64) {
	ta.t.Helper()
	e := mustOK(ta.t, ta.send(multipartForm("Command", "User.APIKey.Create", "SessionID", ta.userSession(), "Label", "tests")))
	_ = json.Unmarshal(e.fields["APIKeyID"], &id)
	return e.str("APIKey"), id
}

// Every curl call of seeds 000 to 003 that the command API covers, as
// written, with real credentials in place of the placeholders.
func TestSeedCalls(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})

	// Seed 000: Admin.Login and User.Login, urlencoded, with an empty TFACode.
	admin := mustOK(t, ta.send(urlencoded("ResponseFormat", "JSON", "Command", "Admin.Login", "Username", "admin", "Password", adminPassword, "TFACode", "", "DisableCaptcha", "true")))
	var info map[string]any
	if err := json.Unmarshal(admin.fields["AdminInfo"], &info); err != nil {
		t.Fatal(err)
	}
	if info["AdminID"] != "1" || info["Username"] != "admin" || info["2FA_Enabled"] != "No" || info["Name"] != "Administrator" {
		t.Errorf("AdminInfo %v", info)
	}
	user := mustOK(t, ta.send(urlencoded("ResponseFormat", "JSON", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "TFACode", "", "DisableCaptcha", "true")))
	sid := user.str("SessionID")
	if len(sid) != 43 {
		t.Fatalf("SessionID %q", sid)
	}
	if err := json.Unmarshal(user.fields["UserInfo"], &info); err != nil {
		t.Fatal(err)
	}
	if info["UserID"] != float64(2) || info["Username"] != "user@example.com" || info["EmailAddress"] != "user@example.com" || info["FirstName"] != "Example" || info["LastName"] != "User" {
		t.Errorf("UserInfo %v", info)
	}
	// Seed 000: List.Create with --form and the SessionID.
	list := mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "List.Create", "SessionID", sid, "SubscriberListName", "My Test List")))
	if string(list.fields["ListID"]) != "1" {
		t.Errorf("ListID %s", list.fields["ListID"])
	}

	// Seed 001: API key for List.Create, then the logins and Lists.Get.
	key, _ := ta.userKey()
	mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "List.Create", "APIKey", key, "SubscriberListName", "Newsletter")))
	sid = mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "DisableCaptcha", "true"))).str("SessionID")
	mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "List.Create", "SessionID", sid, "SubscriberListName", "Newsletter")))
	byKey := mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "User.Login", "apikey", key)))
	if byKey.str("SessionID") == "" || byKey.fields["UserInfo"] == nil {
		t.Errorf("User.Login by apikey: %s", byKey.fields)
	}
	mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "Admin.Login", "Username", "admin", "Password", adminPassword, "DisableCaptcha", "true")))
	adminByKey := mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "Admin.Login", "adminapikey", staticKey)))
	if adminByKey.fields["AdminInfo"] == nil {
		t.Error("Admin.Login by adminapikey without AdminInfo")
	}
	for _, cred := range [][2]string{{"APIKey", key}, {"SessionID", sid}} {
		lists := mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "Lists.Get", cred[0], cred[1])))
		if string(lists.fields["TotalLists"]) != "3" {
			t.Errorf("Lists.Get by %s: TotalLists %s", cred[0], lists.fields["TotalLists"])
		}
	}

	// Seed 001 with 2FA on: the code, then a recovery code (which turns 2FA off).
	secret, codes, _ := ta.enrollUser()
	mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "tfacode", ta.code(secret, 0), "DisableCaptcha", "true")))
	mustOK(t, ta.send(multipartForm("ResponseFormat", "JSON", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "tfarecoverycode", codes[0], "DisableCaptcha", "true")))

	// Seed 002: Admin.Login with TFACode, DisableCaptcha and TFARecoveryCode.
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword, "TFACode", "", "DisableCaptcha", "true", "TFARecoveryCode", "")))

	// Seed 003: Admin.Login with -d, no ResponseFormat, no DisableCaptcha.
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword)))
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	key, _ := ta.userKey()
	tests := []struct {
		name string
		req  *http.Request
		code int
	}{
		{"missing username", urlencoded("Command", "User.Login", "Password", userPassword), 1},
		{"empty username", urlencoded("Command", "User.Login", "Username", "", "Password", userPassword), 1},
		{"missing password", urlencoded("Command", "User.Login", "Username", "user@example.com"), 2},
		{"admin missing username", urlencoded("Command", "Admin.Login", "Password", "x"), 1},
		{"admin missing password", urlencoded("Command", "Admin.Login", "Username", "admin"), 2},
		{"wrong password", urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "nope"), 3},
		{"unknown user", urlencoded("Command", "User.Login", "Username", "ghost@example.com", "Password", userPassword), 3},
		{"user at Admin.Login", urlencoded("Command", "Admin.Login", "Username", "user@example.com", "Password", userPassword), 3},
		{"admin at User.Login", urlencoded("Command", "User.Login", "Username", "admin", "Password", adminPassword), 3},
		{"bad apikey", urlencoded("Command", "User.Login", "apikey", "kw_forged"), 3},
		{"bad adminapikey", urlencoded("Command", "Admin.Login", "adminapikey", staticKey+"x"), 3},
		{"user key at Admin.Login", urlencoded("Command", "Admin.Login", "adminapikey", key), 3},
		{"admin key at User.Login", urlencoded("Command", "User.Login", "apikey", staticKey), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ta.send(tc.req)
			mustFail(t, e, 200, tc.code)
			if tc.code == 3 && e.Text != "Invalid login credentials" {
				t.Fatalf("text %q", e.Text)
			}
			if e.fields["SessionID"] != nil || e.header.Get("Set-Cookie") != "" {
				t.Fatal("a failed login answered a session")
			}
		})
	}
}

// Parameter names match whatever case the seeds write them in.
func TestParameterCase(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	for _, names := range [][2]string{{"Username", "Password"}, {"username", "password"}, {"USERNAME", "PASSWORD"}} {
		mustOK(t, ta.send(urlencoded("Command", "User.Login", names[0], "user@example.com", names[1], userPassword)))
	}
	sid := ta.userSession()
	for _, name := range []string{"SessionID", "sessionid", "SESSIONID"} {
		mustOK(t, ta.send(urlencoded("Command", "Lists.Get", name, sid)))
	}
	// Login by email or username, in any case, with spaces around.
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", " ADMIN@example.com ", "Password", adminPassword)))
}

func TestScopesAndGeneralErrors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	userSID, adminSID := ta.userSession(), ta.adminSession()
	key, keyID := ta.userKey()
	revoked, revokedID := ta.userKey()
	mustOK(t, ta.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", userSID, "APIKeyID", itoa(revokedID))))
	loggedOut := ta.userSession()
	mustOK(t, ta.send(urlencoded("Command", "User.Logout", "SessionID", loggedOut)))
	_ = keyID

	tests := []struct {
		name         string
		req          *http.Request
		status, code int
	}{
		{"user session on Users.Get", urlencoded("Command", "Users.Get", "SessionID", userSID), 403, 403},
		{"user key on Users.Get", urlencoded("Command", "Users.Get", "APIKey", key), 403, 403},
		{"admin session on List.Create", urlencoded("Command", "List.Create", "SessionID", adminSID, "SubscriberListName", "x"), 403, 403},
		{"static admin key on Lists.Get", urlencoded("Command", "Lists.Get", "AdminAPIKey", staticKey), 403, 403},
		{"admin on Users.Get", urlencoded("Command", "Users.Get", "SessionID", adminSID), 200, 0},
		{"static admin key on Users.Get", urlencoded("Command", "Users.Get", "AdminAPIKey", staticKey), 200, 0},
		{"no credential", urlencoded("Command", "Lists.Get"), 401, 401},
		{"unknown session", urlencoded("Command", "Lists.Get", "SessionID", strings.Repeat("A", 43)), 401, 401},
		{"garbage session", urlencoded("Command", "Lists.Get", "SessionID", "abc123"), 401, 401},
		{"logged-out session", urlencoded("Command", "Lists.Get", "SessionID", loggedOut), 401, 401},
		{"unknown key", urlencoded("Command", "Lists.Get", "APIKey", "kw_unknown"), 401, 401},
		{"revoked key", urlencoded("Command", "Lists.Get", "APIKey", revoked), 401, 401},
		{"unknown command", urlencoded("Command", "List.Nope", "SessionID", userSID), 404, 404},
		// Names match ignoring case, as Octeth 5.9 matches them.
		{"command in other case", urlencoded("Command", "lists.get", "SessionID", userSID), 200, 0},
		{"missing command", urlencoded("SessionID", userSID), 400, 400},
		{"repeated command", urlencoded("Command", "Lists.Get", "command", "Users.Get", "SessionID", adminSID), 400, 400},
		{"repeated credential", urlencoded("Command", "Lists.Get", "SessionID", userSID, "sessionid", userSID), 400, 400},
		{"two accounts", urlencoded("Command", "Lists.Get", "SessionID", adminSID, "APIKey", key), 400, 400},
		{"List.Create without a name", urlencoded("Command", "List.Create", "SessionID", userSID), 200, 1},
		{"List.Create name too long", urlencoded("Command", "List.Create", "SessionID", userSID, "SubscriberListName", strings.Repeat("n", 201)), 200, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ta.send(tc.req)
			if tc.code == 0 {
				mustOK(t, e)
				return
			}
			mustFail(t, e, tc.status, tc.code)
		})
	}
}

func itoa(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)))
	ta.clock.Advance(31 * time.Minute)
	e := ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid))
	mustFail(t, e, 401, 401)
	if e.Text != "Authentication failure or session expired" {
		t.Fatalf("text %q", e.Text)
	}
	// Octeth clients re-login on 401, and the new session works.
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", ta.userSession())))
}

func TestAPIKeyCommands(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	e := mustOK(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", sid, "Label", "deploy", "ExpiresAt", ta.clock.Now().Add(time.Hour).Format(time.RFC3339))))
	key := e.str("APIKey")
	if !strings.HasPrefix(key, "kw_") || !strings.HasPrefix(key, e.str("Prefix")) {
		t.Fatalf("key %q prefix %q", key, e.str("Prefix"))
	}
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)))

	list := mustOK(t, ta.send(urlencoded("Command", "User.APIKeys.Get", "SessionID", sid)))
	if strings.Contains(string(mustJSON(list.fields)), key) || strings.Contains(string(mustJSON(list.fields)), key[len(e.str("Prefix")):]) {
		t.Fatal("User.APIKeys.Get shows the key")
	}
	var keys []map[string]any
	_ = json.Unmarshal(list.fields["APIKeys"], &keys)
	if len(keys) != 1 || keys[0]["Label"] != "deploy" || keys[0]["ExpiresAt"] == nil || string(list.fields["TotalAPIKeys"]) != "1" {
		t.Fatalf("APIKeys %v", keys)
	}

	// A key cannot manage keys: a leaked key must not mint new ones,
	// neither directly nor through a session made by logging in with it.
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Create", "APIKey", key)), 403, 403)
	keySession := mustOK(t, ta.send(urlencoded("Command", "User.Login", "apikey", key))).str("SessionID")
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", keySession)), 403, 403)
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", keySession)), 403, 403)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", keySession)))

	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", sid, "ExpiresAt", "tomorrow")), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", sid, "ExpiresAt", ta.clock.Now().Add(-time.Hour).Format(time.RFC3339))), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", sid, "Label", strings.Repeat("l", 101))), 200, 4)
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", sid)), 200, 1)
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", sid, "APIKeyID", "x")), 200, 2)
	mustFail(t, ta.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", sid, "APIKeyID", "999")), 200, 2)

	// A session made with a key ends when the key is revoked.
	other, otherID := ta.userKey()
	otherSession := mustOK(t, ta.send(urlencoded("Command", "User.Login", "apikey", other))).str("SessionID")
	mustOK(t, ta.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", sid, "APIKeyID", itoa(otherID))))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", otherSession)), 401, 401)

	// The key expires with the clock, and its key-login session with it.
	ta.clock.Advance(time.Hour)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", keySession)), 401, 401)
}

func mustJSON(v any) []byte { return must(json.Marshal(v)) }

func TestLogout(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	other := ta.userSession()
	mustOK(t, ta.send(urlencoded("Command", "User.Logout", "SessionID", sid)))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", other)))

	asid := ta.adminSession()
	mustFail(t, ta.send(urlencoded("Command", "User.Logout", "SessionID", asid)), 403, 403)
	mustOK(t, ta.send(urlencoded("Command", "Admin.Logout", "SessionID", asid)))
	mustFail(t, ta.send(urlencoded("Command", "Users.Get", "SessionID", asid)), 401, 401)
	// With an API key there is no session to end.
	key, _ := ta.userKey()
	mustFail(t, ta.send(urlencoded("Command", "User.Logout", "APIKey", key)), 400, 400)
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	raw := func(contentType, body string) *http.Request {
		r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"body over 1 MiB", raw("application/x-www-form-urlencoded", "Command=Lists.Get&x="+strings.Repeat("a", 1<<20))},
		{"broken multipart", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"Command\"\r\n\r\nLists.Get")},
		{"multipart without boundary", raw("multipart/form-data", "x")},
		{"invalid UTF-8", raw("application/x-www-form-urlencoded", "Command=List.Create&SessionID="+sid+"&SubscriberListName=%ff%fe")},
		{"bad percent-encoding", raw("application/x-www-form-urlencoded", "Command=Lists.Get&SessionID=%zz")},
		{"parameter over 64 KiB", raw("application/x-www-form-urlencoded", "Command=List.Create&SessionID="+sid+"&SubscriberListName="+strings.Repeat("a", 65<<10))},
		{"repeated Command", raw("application/x-www-form-urlencoded", "Command=Lists.Get&Command=Lists.Get&SessionID="+sid)},
		{"repeated SessionID", raw("application/x-www-form-urlencoded", "Command=Lists.Get&SessionID="+sid+"&SessionID="+sid)},
		{"semicolon separator", raw("application/x-www-form-urlencoded", "Command=Lists.Get;SessionID="+sid)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ta.send(tc.req)
			mustFail(t, e, 400, 400)
			if !strings.HasPrefix(e.Text, "Malformed request") {
				t.Fatalf("text %q", e.Text)
			}
		})
	}
}

// The options: 200 for everything, and ErrorCode as a list (seed 003).
func TestEnvelopeOptions(t *testing.T) {
	t.Parallel()
	old := newTestApp(t, command.Config{AlwaysHTTP200: true})
	rec := httptest.NewRecorder()
	old.h.ServeHTTP(rec, urlencoded("Command", "Lists.Get"))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ErrorCode":401`) {
		t.Fatalf("AlwaysHTTP200: %d %s", rec.Code, rec.Body)
	}

	list := newTestApp(t, command.Config{ErrorCodeAsList: true})
	rec = httptest.NewRecorder()
	list.h.ServeHTTP(rec, urlencoded("Command", "Admin.Login", "Username", "admin", "Password", "wrong"))
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), `{"Success":false,"ErrorCode":[3],"ErrorText":"Invalid login credentials"}`) {
		t.Fatalf("ErrorCodeAsList: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	list.h.ServeHTTP(rec, urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword))
	if !strings.Contains(rec.Body.String(), `"ErrorCode":[0]`) {
		t.Fatalf("ErrorCodeAsList on success: %s", rec.Body)
	}
}

// The cookie path in a real server with a cookie jar: the login sets the
// cookie, later calls need no SessionID, logout drops it, and a cross-site
// POST riding on the cookie is refused.
func TestCookieFlow(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	srv := httptest.NewServer(ta.h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: srv.Client().Transport, Jar: jar} // see newUIClient
	post := func(header http.Header, kv ...string) envelope {
		t.Helper()
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		req, _ := http.NewRequest("POST", srv.URL+"/api", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return decode(t, resp.StatusCode, resp.Header, body)
	}
	login := post(nil, "Command", "User.Login", "Username", "user@example.com", "Password", userPassword)
	mustOK(t, login)
	c := login.header.Get("Set-Cookie")
	for _, attr := range []string{"keyward=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(c, attr) {
			t.Fatalf("Set-Cookie %q lacks %s", c, attr)
		}
	}
	if strings.Contains(c, login.str("SessionID")) {
		t.Fatal("cookie carries the session ID in the clear")
	}
	mustOK(t, post(nil, "Command", "List.Create", "SubscriberListName", "by cookie"))

	// A browser on another site posting with the victim's cookie.
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	mustFail(t, post(crossSite, "Command", "List.Create", "SubscriberListName", "forged"), 403, 403)
	lists := mustOK(t, post(nil, "Command", "Lists.Get"))
	if string(lists.fields["TotalLists"]) != "1" {
		t.Fatalf("the forged request created a list: %s", lists.fields["TotalLists"])
	}
	// Login CSRF: another site cannot sign the browser in either.
	mustFail(t, post(crossSite, "Command", "User.Login", "Username", "user@example.com", "Password", userPassword), 403, 403)
	// Commands change state whatever the method: a cross-site GET (a link,
	// an <img>) riding on the cookie is refused too, login included.
	getCmd := func(header http.Header, query string) envelope {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api.php?"+query, nil)
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return decode(t, resp.StatusCode, resp.Header, body)
	}
	crossNav := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	mustFail(t, getCmd(crossNav, "Command=List.Create&SubscriberListName=forged"), 403, 403)
	mustFail(t, getCmd(crossNav, "Command=User.Logout"), 403, 403)
	mustFail(t, getCmd(crossNav, "Command=User.Login&Username=user@example.com&Password="+userPassword), 403, 403)
	mustOK(t, getCmd(http.Header{"Sec-Fetch-Site": {"same-origin"}}, "Command=Lists.Get"))

	mustOK(t, post(nil, "Command", "User.Logout"))
	mustFail(t, post(nil, "Command", "Lists.Get"), 401, 401)
	if u, _ := url.Parse(srv.URL); len(jar.Cookies(u)) != 0 {
		t.Fatalf("cookie kept after logout: %v", jar.Cookies(u))
	}
}

// A tampered or stale cookie is refused, and expired in the same answer so
// the browser's next login is clean.
func TestStaleCookie(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	r := urlencoded("Command", "Lists.Get")
	r.AddCookie(&http.Cookie{Name: "keyward", Value: "tampered"})
	e := ta.send(r)
	mustFail(t, e, 401, 401)
	if !strings.Contains(e.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("stale cookie not cleared: %q", e.header.Get("Set-Cookie"))
	}
	// A login with a stale cookie still works: logins read no credential.
	r = urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword)
	r.AddCookie(&http.Cookie{Name: "keyward", Value: "tampered"})
	mustOK(t, ta.send(r))
}

// Logins at once (as many as the throttle lets one username try from one
// address at a time): each gets its own session.
func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			ta.h.ServeHTTP(rec, urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword))
			var body struct{ SessionID string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			mu.Lock()
			seen[body.SessionID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 6 || seen[""] {
		t.Fatalf("%d distinct sessions from 6 logins", len(seen))
	}
}

// The server starts, answers, and stops cleanly when its context ends.
func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := map[string]string{"KEYWARD_USER_PASSWORD": userPassword}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	out := bufio.NewReader(pr)
	first, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the banner: %v", err)
	}
	start := strings.Index(first, "http://")
	end := strings.Index(first, "/api.php")
	if start < 0 || end < start {
		t.Fatalf("no address in %q", first)
	}
	addr := first[start:end]
	_, _ = out.ReadString('\n') // the WMD line
	_, _ = out.ReadString('\n') // the browser line
	second, _ := out.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, out) }() // let run write the rest

	resp, err := http.PostForm(addr+"/api.php", url.Values{"Command": {"User.Login"}, "Username": {"user@example.com"}, "Password": {userPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !strings.Contains(second, "password of admin:") {
		t.Errorf("random admin password not printed: %q", second)
	}
	if strings.Contains(first+second, userPassword) {
		t.Error("a password from the environment was printed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// sendRaw serves r and returns the body, for goroutines that must not
// call t.Fatal.
func (ta *testApp) sendRaw(r *http.Request) string {
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, r)
	return rec.Body.String()
}

type requestT = http.Request

// httpHandlerFunc adapts a function of the request to http.Handler.
func httpHandlerFunc(f func(r *requestT)) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { f(r) })
}

// nopWriter is a ResponseWriter that discards everything.
type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// newTestAppThrottle is newTestApp with the given throttle settings.
func newTestAppThrottle(t *testing.T, th authn.ThrottleConfig) *testApp {
	t.Helper()
	clock := clocktest.New()
	a, err := newApp(context.Background(), options{
		AdminPassword: adminPassword,
		UserPassword:  userPassword,
		AdminAPIKey:   staticKey,
		Logger:        slog.New(slog.DiscardHandler),
		Now:           clock.Now,
		Passwords:     authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Keys:          testKeys,
		Throttle:      th,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{app: a, t: t, h: a.Handler(), clock: clock}
}

// The store deadline comes from -store-timeout or KEYWARD_STORE_TIMEOUT; a
// value that is not a positive duration stops the example with a message.
// (Valid values: TestRunStoreTimeoutApplied, TestRunReauthWindowApplied
// and TestStoreTimeoutAndReauthWindowDefaults.)
func TestRunStoreTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"env not a duration", nil, "soon", "KEYWARD_STORE_TIMEOUT"},
		{"flag not a duration", []string{"-store-timeout", "2"}, "", "store-timeout"},
		{"negative", []string{"-store-timeout", "-1s"}, "", "negative StoreTimeout"},
		{"reauth window not a duration", []string{"-reauth-window", "ten"}, "", "reauth-window"},
		{"reauth window negative", []string{"-reauth-window", "-1m"}, "", "negative Reauth.Window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KEYWARD_STORE_TIMEOUT": tc.env}
			err := run(t.Context(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// -genkeys prints a KEYWARD_KEYS value that the example takes; a store
// that outlives the process without one stops the example with a message
// saying what to set; -h documents it.
func TestRunKeys(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), []string{"-genkeys"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	keys, err := parseKeys(strings.TrimSpace(out.String()))
	if err != nil || len(keys) != 1 || len(keys[0].Hash) != 32 || len(keys[0].Block) != 32 {
		t.Fatalf("-genkeys printed %q: %v", out.String(), err)
	}
	err = run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + t.TempDir() + "/k.db"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "KEYWARD_KEYS") || !strings.Contains(err.Error(), "-genkeys") {
		t.Fatalf("-db without KEYWARD_KEYS: %v", err)
	}
	var help strings.Builder
	if err := run(t.Context(), []string{"-h"}, func(string) string { return "" }, io.Discard, &help); err != nil || !strings.Contains(help.String(), "KEYWARD_KEYS") {
		t.Fatalf("-h: %v\n%s", err, help.String())
	}
}

// -totp prints the secret's code of now, as an authenticator app shows it.
func TestRunTOTP(t *testing.T) {
	t.Parallel()
	const secret = "JBSWY3DPEHPK3PXP"
	var out strings.Builder
	before := time.Now()
	if err := run(t.Context(), []string{"-totp", secret}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	got := strings.TrimSpace(out.String())
	// The code of the step the run was in: the step of before, or of
	// after if it turned meanwhile.
	ok := false
	for _, at := range []time.Time{before, after} {
		want, err := pqtotp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		ok = ok || got == want
	}
	if !ok || len(got) != 6 {
		t.Fatalf("-totp printed %q", got)
	}
	if err := run(t.Context(), []string{"-totp", "not base32!"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("-totp took a secret that is not base32")
	}
}

// runServing starts run with args (and -addr on a free loopback port) and
// the environment env, and returns the address it serves on; or, when run
// stops before it serves, run's error. A server started stops when the
// test ends.
func runServing(t *testing.T, args []string, env map[string]string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	out := bufio.NewReader(pr)
	first, err := out.ReadString('\n')
	if err != nil { // run stopped before its banner
		cancel()
		return "", <-done
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // let run write the rest
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	start, end := strings.Index(first, "http://"), strings.Index(first, "/api.php")
	if start < 0 || end < start {
		t.Fatalf("no address in %q", first)
	}
	return first[start:end], nil
}

// post sends the command's parameters to the example at addr and decodes
// the answer.
func post(t *testing.T, addr string, kv ...string) envelope {
	t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	resp, err := http.PostForm(addr+"/api.php", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp.StatusCode, resp.Header, body)
}

// A valid -store-timeout or KEYWARD_STORE_TIMEOUT reaches the
// authenticator's StoreTimeout. A nanosecond, from either, has passed
// before any store call is made: the seeding, made through the
// authenticator on an SQLite file (which authn bounds; the memory store
// it does not), fails on that deadline, which only StoreTimeout sets. A
// minute, from either, serves.
func TestRunStoreTimeoutApplied(t *testing.T) {
	t.Parallel()
	keys, err := newKeysValue()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		env        string
		wantExpiry bool // every store call out of time: run fails seeding
	}{
		{"a nanosecond from the flag", []string{"-store-timeout", "1ns"}, "", true},
		{"a nanosecond from the environment", nil, "1ns", true},
		{"a minute from the flag", []string{"-store-timeout", "1m"}, "", false},
		{"a minute from the environment", nil, "1m", false},
		{"the flag over the environment", []string{"-store-timeout", "1m"}, "1ns", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-db", "sqlite:" + filepath.Join(t.TempDir(), "k.db")}, tc.args...)
			env := map[string]string{"KEYWARD_KEYS": keys, "KEYWARD_STORE_TIMEOUT": tc.env, "KEYWARD_USER_PASSWORD": userPassword}
			addr, err := runServing(t, args, env)
			switch {
			case tc.wantExpiry && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("run: %v, want the seeding to fail on the store deadline", err)
			case tc.wantExpiry:
				t.Logf("run: %v", err)
				return
			case err != nil:
				t.Fatalf("run: %v", err)
			}
			mustOK(t, post(t, addr, "Command", "User.Login", "Username", "user@example.com", "Password", userPassword))
		})
	}
}

// A valid -reauth-window or KEYWARD_REAUTH_WINDOW reaches the
// authenticator's Reauth.Window: a nanosecond, from either, has passed
// by the time a fresh login's next request comes, which must prove the
// password again to set up 2FA; given neither, the default (10 minutes)
// lets it.
func TestRunReauthWindowApplied(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		env        string
		wantReauth bool
	}{
		{"a nanosecond from the flag", []string{"-reauth-window", "1ns"}, "", true},
		{"a nanosecond from the environment", nil, "1ns", true},
		{"an hour from the environment", nil, "1h", false},
		{"neither", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KEYWARD_REAUTH_WINDOW": tc.env, "KEYWARD_USER_PASSWORD": userPassword}
			addr, err := runServing(t, tc.args, env)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			login := mustOK(t, post(t, addr, "Command", "User.Login", "Username", "user@example.com", "Password", userPassword))
			got := post(t, addr, "Command", "User.TFA.Setup", "SessionID", login.str("SessionID"))
			if reauth := got.Code == command.CodeReauthRequired; reauth != tc.wantReauth || reauth == got.Success {
				t.Fatalf("User.TFA.Setup right after the login: HTTP %d, Success %v, ErrorCode %d; want re-authentication required: %v",
					got.status, got.Success, got.Code, tc.wantReauth)
			}
		})
	}
}

// deadlineRecorder records, while on, the deadline of the calls a login
// makes to the store it wraps (the zero time for a call without one).
type deadlineRecorder struct {
	store.Store
	on        atomic.Bool
	mu        sync.Mutex
	deadlines []time.Time
}

func (d *deadlineRecorder) note(ctx context.Context) {
	if !d.on.Load() {
		return
	}
	dl, _ := ctx.Deadline()
	d.mu.Lock()
	d.deadlines = append(d.deadlines, dl)
	d.mu.Unlock()
}

func (d *deadlineRecorder) take() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deadlines
}

func (d *deadlineRecorder) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	d.note(ctx)
	return d.Store.AccountByLogin(ctx, scope, login)
}

func (d *deadlineRecorder) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	d.note(ctx)
	return d.Store.Increment(ctx, key, window)
}

func (d *deadlineRecorder) CreateSession(ctx context.Context, s store.Session) error {
	d.note(ctx)
	return d.Store.CreateSession(ctx, s)
}

// Given neither flag nor variable, run leaves both durations zero in its
// options (its flags default to zero: -h shows no default of the flag
// package's for them, and names keyward's), and the authenticator newApp
// builds takes keyward's defaults: every store call of a login has a
// deadline exactly 2 seconds after a moment within the login, and a
// login may set up 2FA until it is 10 minutes old.
func TestStoreTimeoutAndReauthWindowDefaults(t *testing.T) {
	t.Parallel()
	var help strings.Builder
	if err := run(t.Context(), []string{"-h"}, func(string) string { return "" }, io.Discard, &help); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ flag, doc string }{{"-store-timeout", "default 2s)"}, {"-reauth-window", "default 10m)"}} {
		_, usage, ok := strings.Cut(help.String(), "\n  "+f.flag+" ")
		usage, _, _ = strings.Cut(usage, "\n  -")
		if !ok || !strings.Contains(usage, f.doc) || strings.Contains(usage, "(default ") {
			t.Errorf("-h on %s: %q; want keyward's %q named, and no default of the flag's own", f.flag, usage, f.doc)
		}
	}

	var probe *deadlineRecorder
	ta := newTestAppWith(t, func(o *options) {
		o.wrapStore = func(s store.Store) store.Store {
			probe = &deadlineRecorder{Store: s}
			// The optional parts the seeding and logins use, kept.
			return struct {
				*deadlineRecorder
				store.AccountCreator
				store.PasswordSetter
				store.AccountUpdater
			}{probe, s.(store.AccountCreator), s.(store.PasswordSetter), s.(store.AccountUpdater)}
		}
	})
	probe.on.Store(true)
	before := time.Now()
	sid := ta.userSession()
	after := time.Now()
	probe.on.Store(false)
	deadlines := probe.take()
	if len(deadlines) == 0 {
		t.Fatal("the login made no store call through the recorder")
	}
	for _, dl := range deadlines {
		if dl.IsZero() {
			t.Fatal("a store call without a deadline")
		}
		if at := dl.Add(-2 * time.Second); at.Before(before) || at.After(after) {
			t.Fatalf("a store call's deadline is %v after the login began, want 2s after a moment within it (the login took %v)", dl.Sub(before), after.Sub(before))
		}
	}

	// The re-authentication window: 10 minutes of the fake clock.
	mustOK(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)))
	sid = ta.userSession()
	ta.clock.Advance(10*time.Minute - time.Nanosecond)
	if got := ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)); !got.Success {
		t.Fatalf("User.TFA.Setup a nanosecond short of 10 minutes after the login: ErrorCode %d %q", got.Code, got.Text)
	}
	sid = ta.userSession()
	ta.clock.Advance(10 * time.Minute)
	if got := ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)); got.Success || got.Code != command.CodeReauthRequired {
		t.Fatalf("User.TFA.Setup 10 minutes after the login: Success %v, ErrorCode %d; want re-authentication required", got.Success, got.Code)
	}
}
