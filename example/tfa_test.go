package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
)

// code returns the TOTP code of secret at the test clock's step plus offset.
func (ta *testApp) code(secret string, offset int) string {
	ta.t.Helper()
	step := ta.clock.Now().Unix()/30 + int64(offset)
	c, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		ta.t.Fatal(err)
	}
	return c
}

// enrollUser turns 2FA on for user@example.com through the commands and
// returns the secret, the recovery codes and the session used. The clock
// ends past the enabling code's step.
func (ta *testApp) enrollUser() (secret string, codes []string, sid string) {
	ta.t.Helper()
	sid = ta.userSession()
	setup := mustOK(ta.t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)))
	secret = setup.str("TFASecret")
	if !strings.HasPrefix(setup.str("TFAURL"), "otpauth://totp/keyward:user@example.com?") {
		ta.t.Fatalf("TFAURL %q", setup.str("TFAURL"))
	}
	png, err := base64.StdEncoding.DecodeString(setup.str("QRCode"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		ta.t.Fatalf("QRCode is not a base64 PNG: %v", err)
	}
	enable := mustOK(ta.t, ta.send(urlencoded("Command", "User.TFA.Enable", "SessionID", sid, "TFACode", ta.code(secret, 0))))
	if err := json.Unmarshal(enable.fields["RecoveryCodes"], &codes); err != nil || len(codes) != 10 {
		ta.t.Fatalf("RecoveryCodes %s", enable.fields["RecoveryCodes"])
	}
	sid = enable.str("SessionID") // the session goes on under a new ID
	ta.clock.Advance(30 * time.Second)
	return secret, codes, sid
}

func (ta *testApp) userLogin(kv ...string) envelope {
	ta.t.Helper()
	return ta.send(urlencoded(append([]string{"Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "DisableCaptcha", "true"}, kv...)...))
}

func TestTFALogin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	secret, _, _ := ta.enrollUser()

	// No code: 101. An empty TFACode (seed 000) is no code.
	mustFail(t, ta.userLogin(), 200, 101)
	mustFail(t, ta.userLogin("TFACode", ""), 200, 101)
	// The password is checked first: a wrong one is 3, never 101 or 6.
	wrongPassword := ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "nope"))
	mustFail(t, wrongPassword, 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "nope", "TFACode", ta.code(secret, 0))), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.Login", "Username", "ghost", "Password", "nope")), 200, 3)
	// Wrong code: 6.
	mustFail(t, ta.userLogin("TFACode", "000000"), 200, 6)
	mustFail(t, ta.userLogin("TFACode", "12345"), 200, 6)
	// Right code, in any parameter case: a session that passed 2FA.
	for i, name := range []string{"TFACode", "tfacode", "TfaCode"} {
		ta.clock.Advance(30 * time.Second)
		e := mustOK(t, ta.userLogin(name, ta.code(secret, 0)))
		if i == 0 {
			// The same code again: refused (replay).
			mustFail(t, ta.userLogin(name, ta.code(secret, 0)), 200, 6)
		}
		p := ta.principal(e.str("SessionID"))
		if !p.TFA {
			t.Fatalf("%s: principal without TFA", name)
		}
	}
	// Key logins are their own factor: 2FA does not apply.
	key, _ := ta.userKeyFor(ta.userLoginWithCode(secret))
	mustOK(t, ta.send(urlencoded("Command", "User.Login", "apikey", key)))
}

// userLoginWithCode logs in with the next fresh code and returns the session.
func (ta *testApp) userLoginWithCode(secret string) string {
	ta.t.Helper()
	ta.clock.Advance(30 * time.Second)
	return mustOK(ta.t, ta.userLogin("TFACode", ta.code(secret, 0))).str("SessionID")
}

func (ta *testApp) userKeyFor(sid string) (string, int64) {
	ta.t.Helper()
	e := mustOK(ta.t, ta.send(urlencoded("Command", "User.APIKey.Create", "SessionID", sid)))
	var id int64
	_ = json.Unmarshal(e.fields["APIKeyID"], &id)
	return e.str("APIKey"), id
}

// principal resolves a session ID through keyward's middleware.
func (ta *testApp) principal(sid string) authn.Principal {
	ta.t.Helper()
	var p authn.Principal
	h := ta.auth.Middleware(httpHandlerFunc(func(r *requestT) { p, _ = authn.PrincipalFrom(r.Context()) }))
	h.ServeHTTP(nopWriter{}, urlencoded("SessionID", sid))
	return p
}

func TestTFARecoveryLogin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	_, codes, sid := ta.enrollUser()

	mustFail(t, ta.userLogin("TFARecoveryCode", "AAAA-AAAA-AAAA"), 200, 6)
	e := mustOK(t, ta.userLogin("tfarecoverycode", strings.ToLower(codes[2])))
	if string(e.fields["TFADisabled"]) != "true" {
		t.Fatalf("TFADisabled %s", e.fields["TFADisabled"])
	}
	// 2FA is off now: a plain login works, and the old session has ended.
	mustOK(t, ta.userLogin())
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", e.str("SessionID"))))
}

func TestTFARecoveryCodeConcurrent(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	_, codes, _ := ta.enrollUser()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			rec := ta.sendRaw(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "TFARecoveryCode", codes[0]))
			if strings.Contains(rec, `"Success":true`) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one recovery code sent 30 times at once logged in %d times", wins.Load())
	}
}

func TestTFAConcurrentCode(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	secret, _, _ := ta.enrollUser()
	code := ta.code(secret, 0)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			rec := ta.sendRaw(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword, "TFACode", code))
			if strings.Contains(rec, `"Success":true`) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("two logins with one code: %d succeeded, want exactly 1", wins.Load())
	}
}

// Disable2FA (seed 003) counts only with a valid code; alone it changes
// nothing.
func TestDisable2FAParameter(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	secret, _, _ := ta.enrollUser()
	mustFail(t, ta.userLogin("Disable2FA", "true"), 200, 101)
	mustFail(t, ta.userLogin("Disable2FA", "true", "TFACode", "000000"), 200, 6)
	mustFail(t, ta.userLogin(), 200, 101) // still on
	e := mustOK(t, ta.userLogin("Disable2FA", "true", "TfaCode", ta.code(secret, 0)))
	if string(e.fields["TFADisabled"]) != "true" {
		t.Fatalf("TFADisabled %s", e.fields["TFADisabled"])
	}
	mustOK(t, ta.userLogin())
}

func TestTFACommands(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	other := ta.userSession()
	key, _ := ta.userKeyFor(sid)

	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Enable", "SessionID", sid, "TFACode", "123456")), 200, 2)
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Setup", "APIKey", key)), 403, 403)
	setup := mustOK(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)))
	secret := setup.str("TFASecret")
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Enable", "SessionID", sid, "TFACode", "000000")), 200, 6)
	enabled := mustOK(t, ta.send(urlencoded("Command", "User.TFA.Enable", "SessionID", sid, "TFACode", ta.code(secret, 0))))
	// Turning it on ended the other session; this one goes on under a
	// new ID.
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", other)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	sid = enabled.str("SessionID")
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)))
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)), 200, 1)

	ta.clock.Advance(30 * time.Second)
	regen := mustOK(t, ta.send(urlencoded("Command", "User.TFA.RecoveryCodes.Regenerate", "SessionID", sid, "TFACode", ta.code(secret, 0))))
	var codes []string
	_ = json.Unmarshal(regen.fields["RecoveryCodes"], &codes)
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	ta.clock.Advance(30 * time.Second)
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Disable", "SessionID", sid, "TFACode", ta.code(secret, 0))), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Disable", "SessionID", sid, "Password", "nope", "TFACode", ta.code(secret, 0))), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Disable", "SessionID", sid, "Password", userPassword, "TFACode", "000000")), 200, 6)
	other = ta.userLoginWithCode(secret)
	ta.clock.Advance(30 * time.Second)
	disabled := mustOK(t, ta.send(urlencoded("Command", "User.TFA.Disable", "SessionID", sid, "Password", userPassword, "TFACode", ta.code(secret, 0))))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", other)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	sid = disabled.str("SessionID")
	mustOK(t, ta.userLogin())
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Disable", "SessionID", sid, "Password", userPassword, "TFACode", "123456")), 200, 2)
}

// Admins have the same commands; AdminInfo says whether 2FA is on.
func TestAdminTFA(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.adminSession()
	mustFail(t, ta.send(urlencoded("Command", "User.TFA.Setup", "SessionID", sid)), 403, 403)
	secret := mustOK(t, ta.send(urlencoded("Command", "Admin.TFA.Setup", "SessionID", sid))).str("TFASecret")
	mustOK(t, ta.send(urlencoded("Command", "Admin.TFA.Enable", "SessionID", sid, "TFACode", ta.code(secret, 0))))
	ta.clock.Advance(30 * time.Second)
	login := func(kv ...string) envelope {
		return ta.send(urlencoded(append([]string{"Command", "Admin.Login", "Username", "admin", "Password", adminPassword, "DisableCaptcha", "true"}, kv...)...))
	}
	mustFail(t, login(), 200, 101)
	e := mustOK(t, login("TFACode", ta.code(secret, 0)))
	var info map[string]any
	_ = json.Unmarshal(e.fields["AdminInfo"], &info)
	if info["2FA_Enabled"] != "Yes" {
		t.Fatalf("AdminInfo %v", info)
	}
	// The static admin key is its own factor.
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "adminapikey", staticKey)))
}
