package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
)

// Every general error and the login codes, in both profiles: one table.
func TestProfiles(t *testing.T) {
	t.Parallel()
	type row struct{ status, code int }
	tests := []struct {
		name       string
		req        func(ta *testApp) []string
		seeds, oct row
	}{
		{"no credential", func(*testApp) []string { return []string{"Command", "Lists.Get"} }, row{401, 401}, row{200, 99998}},
		{"bad session", func(*testApp) []string { return []string{"Command", "Lists.Get", "SessionID", strings.Repeat("A", 43)} }, row{401, 401}, row{200, 99998}},
		{"scope not allowed", func(ta *testApp) []string { return []string{"Command", "Users.Get", "SessionID", ta.userSession()} }, row{403, 403}, row{200, 99999}},
		{"unknown command", func(*testApp) []string { return []string{"Command", "Nope.Nope"} }, row{404, 404}, row{400, 100003}},
		{"malformed", func(*testApp) []string { return []string{"Command", "Lists.Get", "command", "x"} }, row{400, 400}, row{400, 100000}},
		{"missing username", func(*testApp) []string { return []string{"Command", "User.Login", "Password", "x"} }, row{200, 1}, row{200, 1}},
		{"missing password", func(*testApp) []string { return []string{"Command", "User.Login", "Username", "x"} }, row{200, 2}, row{200, 2}},
		{"invalid credentials", func(*testApp) []string {
			return []string{"Command", "Admin.Login", "Username", "admin", "Password", "x"}
		}, row{200, 3}, row{200, 3}},
	}
	for _, profile := range []command.Profile{command.Seeds, command.OctethV5} {
		ta := newTestApp(t, command.Config{Profile: profile})
		for _, tc := range tests {
			want := tc.seeds
			if profile == command.OctethV5 {
				want = tc.oct
			}
			rec := httptest.NewRecorder()
			ta.h.ServeHTTP(rec, urlencoded(tc.req(ta)...))
			var body map[string]json.RawMessage
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			code := string(body["ErrorCode"])
			if profile == command.OctethV5 {
				if code != "["+itoa(int64(want.code))+"]" || !strings.HasPrefix(string(body["ErrorText"]), "[") {
					t.Errorf("octeth5 %s: %s", tc.name, rec.Body)
				}
				hard := want.code >= 100000
				if _, has := body["Errors"]; has != hard {
					t.Errorf("octeth5 %s: Errors present %v: %s", tc.name, has, rec.Body)
				}
			} else if code != itoa(int64(want.code)) {
				t.Errorf("seeds %s: %s", tc.name, rec.Body)
			}
			if rec.Code != want.status {
				t.Errorf("profile %d %s: HTTP %d, want %d", profile, tc.name, rec.Code, want.status)
			}
		}
	}
}

// The Errors list of a hard failure, in OctethV5.
func TestOctethV5Errors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{Profile: command.OctethV5})
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, urlencoded("Command", "Nope.Nope"))
	want := `{"Success":false,"ErrorCode":[100003],"ErrorText":["Unknown command"],"Errors":[{"Code":100003,"Message":"Unknown command"}]}`
	if strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("got  %s\nwant %s", rec.Body, want)
	}
}

// OctethV5: a missing or wrong 2FA code is 101 at Admin.Login, 6 at
// User.Login.
func TestOctethV5TFACodes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{Profile: command.OctethV5})
	ta.enrollUser()
	asid := ta.adminSession()
	secret := mustOK(t, ta.send(urlencoded("Command", "Admin.TFA.Setup", "SessionID", asid))).str("TFASecret")
	mustOK(t, ta.send(urlencoded("Command", "Admin.TFA.Enable", "SessionID", asid, "TFACode", ta.code(secret, 0))))
	ta.clock.Advance(30 * time.Second)
	for _, tc := range []struct {
		command, user, password, tfa string
		code                         int
	}{
		{"Admin.Login", "admin", adminPassword, "", 101},
		{"Admin.Login", "admin", adminPassword, "000000", 101},
		{"User.Login", "user@example.com", userPassword, "", 6},
		{"User.Login", "user@example.com", userPassword, "000000", 6},
	} {
		mustFail(t, ta.send(urlencoded("Command", tc.command, "Username", tc.user, "Password", tc.password, "TFACode", tc.tfa)), 200, tc.code)
	}
}

// ResponseFormat=XML: the same envelope under <response>, for both
// profiles, parsed back with encoding/xml.
func TestXML(t *testing.T) {
	t.Parallel()
	type userInfo struct {
		UserID       int64
		Username     string
		EmailAddress string
	}
	type response struct {
		XMLName   xml.Name `xml:"response"`
		Success   bool
		ErrorCode string
		ErrorText string
		SessionID string
		UserInfo  userInfo
		Lists     struct {
			Items []struct {
				ListID int64
				Name   string
			} `xml:"item"`
		}
		TotalLists int
	}
	for _, profile := range []command.Profile{command.Seeds, command.OctethV5} {
		ta := newTestApp(t, command.Config{Profile: profile})
		rec := httptest.NewRecorder()
		ta.h.ServeHTTP(rec, urlencoded("ResponseFormat", "XML", "Command", "User.Login", "Username", "user@example.com", "Password", userPassword))
		if ct := rec.Header().Get("Content-Type"); ct != "application/xml; charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		var r response
		if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, rec.Body)
		}
		if !r.Success || r.SessionID == "" || r.UserInfo.UserID != 2 || r.UserInfo.EmailAddress != "user@example.com" {
			t.Fatalf("profile %d: %+v", profile, r)
		}
		mustOK(t, ta.send(urlencoded("Command", "List.Create", "SessionID", r.SessionID, "SubscriberListName", "A & <B>")))
		rec = httptest.NewRecorder()
		ta.h.ServeHTTP(rec, urlencoded("ResponseFormat", "XML", "Command", "Lists.Get", "SessionID", r.SessionID))
		var lists response
		if err := xml.Unmarshal(rec.Body.Bytes(), &lists); err != nil {
			t.Fatalf("%v: %s", err, rec.Body)
		}
		if lists.TotalLists != 1 || len(lists.Lists.Items) != 1 || lists.Lists.Items[0].Name != "A & <B>" {
			t.Fatalf("lists: %+v\n%s", lists, rec.Body)
		}
		// A failure, and a name that cannot be an element (2FA_Enabled).
		rec = httptest.NewRecorder()
		ta.h.ServeHTTP(rec, urlencoded("ResponseFormat", "XML", "Command", "Nope.Nope"))
		var fail response
		if err := xml.Unmarshal(rec.Body.Bytes(), &fail); err != nil || fail.Success || !strings.Contains(rec.Body.String(), "Unknown command</") {
			t.Fatalf("failure: %v %s", err, rec.Body)
		}
		rec = httptest.NewRecorder()
		ta.h.ServeHTTP(rec, urlencoded("ResponseFormat", "XML", "Command", "User.Current", "SessionID", r.SessionID))
		if !strings.Contains(rec.Body.String(), `<field name="2FA_Enabled">No</field>`) {
			t.Fatalf("User.Current: %s", rec.Body)
		}
		// Only exactly "XML".
		rec = httptest.NewRecorder()
		ta.h.ServeHTTP(rec, urlencoded("ResponseFormat", "xml", "Command", "Nope.Nope"))
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("ResponseFormat=xml answered %s", rec.Header().Get("Content-Type"))
		}
	}
}

func TestUserCurrent(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	e := mustOK(t, ta.send(urlencoded("Command", "user.current", "SessionID", ta.userSession())))
	var info map[string]any
	_ = json.Unmarshal(e.fields["UserInfo"], &info)
	if info["Username"] != "user@example.com" || info["2FA_Enabled"] != "No" {
		t.Fatalf("%v", info)
	}
	_, _, sid := ta.enrollUser()
	e = mustOK(t, ta.send(urlencoded("Command", "User.Current", "SessionID", sid)))
	_ = json.Unmarshal(e.fields["UserInfo"], &info)
	if info["2FA_Enabled"] != "Yes" {
		t.Fatalf("%v", info)
	}
}

// The trusted 2FA bypass, bound (the seeds profile): a token good for one
// account, one command and 5 to 10 minutes.
func TestDisable2FAToken(t *testing.T) {
	t.Parallel()
	secret := []byte("a host's bypass secret, 32 bytes")
	ta := newTestAppWith(t, func(o *options) { o.Disable2FASecret = secret })
	ta.enrollUser()
	login := func(kv ...string) envelope {
		return ta.send(urlencoded(append([]string{"Command", "User.Login", "Username", "user@example.com", "Password", userPassword}, kv...)...))
	}
	token := func(scope scopes.Scope, who string) string {
		return authn.Disable2FAToken(secret, scope, who, ta.clock.Now())
	}
	static := hmac.New(sha256.New, secret)
	static.Write([]byte("user.login.disable2fa"))
	mustFail(t, login("Disable2FA", "true"), 200, 101)                                                             // absent
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", token(scopes.User, "admin")), 200, 101)             // another account's
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", token(scopes.Admin, "user@example.com")), 200, 101) // another command's
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", strings.Repeat("0", 64)), 200, 101)                 // wrong
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", hex.EncodeToString(static.Sum(nil))), 200, 101)     // Octeth 5.9's static form
	mustFail(t, login("Disable2FAToken", token(scopes.User, "user@example.com")), 200, 101)                        // without Disable2FA
	tok := token(scopes.User, " User@Example.com")                                                                 // the login is compared normalized
	mustOK(t, login("Disable2FA", "true", "Disable2FAToken", tok))
	// Still on for the next login: the bypass skips a step, it turns nothing off.
	mustFail(t, login(), 200, 101)
	// Good in its window and the next; not after.
	ta.clock.Advance(5 * time.Minute)
	mustOK(t, login("Disable2FA", "true", "Disable2FAToken", tok))
	ta.clock.Advance(5 * time.Minute)
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", tok), 200, 101)
	// No secret configured: no bypass.
	plain := newTestApp(t, command.Config{})
	plain.enrollUser()
	mustFail(t, plain.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "Disable2FA", "true", "Disable2FAToken", authn.Disable2FAToken(secret, scopes.User, "user@example.com", plain.clock.Now()))), 200, 101)
}

// Octeth 5.9's trusted 2FA bypass (the octeth5 profile): one static token
// per command.
func TestDisable2FATokenOctethV5(t *testing.T) {
	t.Parallel()
	secret := []byte("a host's bypass secret, 32 bytes")
	token := func(command string) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(command + ".disable2fa"))
		return hex.EncodeToString(m.Sum(nil))
	}
	ta := newTestAppWith(t, func(o *options) { o.Disable2FASecret = secret; o.API.Profile = command.OctethV5 })
	ta.enrollUser()
	login := func(kv ...string) envelope {
		return ta.send(urlencoded(append([]string{"Command", "User.Login", "Username", "user@example.com", "Password", userPassword}, kv...)...))
	}
	// Octeth 5.9's User.Login answers a missing 2FA code with 6.
	mustFail(t, login("Disable2FA", "true"), 200, 6)                                             // absent
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", token("admin.login")), 200, 6)    // another command's
	mustFail(t, login("Disable2FA", "true", "Disable2FAToken", strings.Repeat("0", 64)), 200, 6) // wrong
	mustFail(t, login("Disable2FAToken", token("user.login")), 200, 6)                           // without Disable2FA
	mustOK(t, login("Disable2FA", "true", "Disable2FAToken", token("user.login")))
	mustFail(t, login(), 200, 6)
}
