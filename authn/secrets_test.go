package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/scopes"
)

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	s := Secret{value: "kw_topsecret"}
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("made", "key", s)
	js, _ := json.Marshal(struct{ K Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %+v %#v", s, s, s, s), buf.String(), string(js), fmt.Sprint(struct{ K Secret }{s})} {
		if strings.Contains(out, "topsecret") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "kw_topsecret" || (Secret{}).Reveal() != "" {
		t.Error("Reveal")
	}
}

// Nothing secret reaches the log or the event hook, whatever happens.
func TestNoSecretInLogsOrEvents(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	key, rec := env.key(env.alice)
	sid := env.session(env.alice)
	cookie := env.cookie(sid)
	etoken := env.etoken(sid)

	env.serve(get("APIKey=" + key))
	env.serve(get("APIKey=" + key + "x"))
	env.serve(get("SessionID=" + sid))
	env.serve(get("SessionID=" + sid[:20] + "AAAAAAAAAAAAAAAAAAAAAAA"))
	env.serve(withCookie(get(""), cookie))
	env.serve(withCookie(get(""), tamper(env.cookie(sid))))
	env.serve(bearer(etoken))
	env.serve(bearer(etoken)) // reused
	env.serve(get("AdminAPIKey=" + staticKey + "x"))
	env.serve(get("SessionID=" + sid + "&APIKey=" + key + "&apikey=" + key))
	_, _ = env.a.checkPassword(ctx, scopes.User, "alice", "wrong-"+alicePassword)
	_, _ = env.a.checkPassword(ctx, scopes.User, "alice", alicePassword)
	env.clock.Advance(time.Hour)
	env.serve(get("SessionID=" + sid))
	p := env.serve(get("APIKey=" + key)).principal
	_, _ = env.a.Reauthenticate(ctx, from("192.0.2.1"), p, "a guess at the password", "")
	_ = env.a.RevokeAPIKey(ctx, env.alice.Ref(), rec.ID)

	// Logins: a wrong password, a wrong captcha, a key login and a wrong
	// key, a 2FA code and a recovery code.
	const guess = "hunter2-wrong-guess"
	login := func(req LoginRequest) LoginResult {
		res, _ := env.login("192.0.2.1", req)
		return res
	}
	login(LoginRequest{Scope: scopes.User, Username: "alice", Password: guess})
	login(LoginRequest{Scope: scopes.User, Username: "alice", Password: guess, AskCaptcha: true, CaptchaID: "AAAAAAAAAAAAAAAAAAAA", Captcha: "987123"})
	key2, _ := env.key(env.alice)
	login(LoginRequest{Scope: scopes.User, APIKey: key2})
	login(LoginRequest{Scope: scopes.User, APIKey: key2 + "Z"})
	tfaSecret, recovery := env.enableTFA(env.alice)
	env.clock.Advance(time.Minute)
	code := totpCode(t, tfaSecret, env.clock.Now())
	login(LoginRequest{Scope: scopes.User, Username: "alice", Password: alicePassword, TFACode: code})
	res := login(LoginRequest{Scope: scopes.User, Username: "alice", Password: alicePassword, TFARecoveryCode: recovery[0]})
	if res.SessionID.Reveal() == "" {
		t.Fatal("the recovery code did not log in")
	}
	// A new password.
	const newPassword = "a new password nobody must read"
	p = env.serve(get("SessionID=" + res.SessionID.Reveal())).principal
	acct, _ := env.a.Account(ctx, p.Account())
	if _, err := env.a.UpdateAccount(ctx, p, acct, newPassword); err != nil {
		t.Fatal(err)
	}

	logged := env.logBuf.String()
	env.events.mu.Lock()
	events := fmt.Sprintf("%+v", env.events.events)
	env.events.mu.Unlock()
	for _, want := range []string{"login_failed", "recovery_code_used", "request_refused", "password_changed", "tfa_enabled"} {
		if !strings.Contains(logged, want) {
			t.Fatalf("%s not logged:\n%s", want, logged)
		}
	}
	secrets := map[string]string{
		"API key":          key,
		"API key body":     key[len(apiKeyPrefix):],
		"second API key":   key2,
		"session ID":       sid,
		"cookie":           cookie.Value,
		"etoken":           etoken,
		"etoken body":      etoken[len(etokenPrefix):],
		"static admin key": staticKey,
		"password":         alicePassword,
		"wrong password":   guess,
		"guessed password": "a guess at the password",
		"new password":     newPassword,
		"captcha answer":   "987123",
		"2FA code":         code,
		"2FA secret":       tfaSecret,
		"recovery code":    recovery[0],
		"recovery code 2":  strings.ReplaceAll(recovery[0], "-", ""),
		"password hash":    env.alice.PasswordHash,
		"new session ID":   res.SessionID.Reveal(),
	}
	for what, s := range secrets {
		for where, text := range map[string]string{"log": logged, "events": events} {
			if strings.Contains(text, s) {
				t.Errorf("%s appears in the %s", what, where)
			}
		}
	}
}

// Secrets are compared in constant time (crypto/subtle), never with ==,
// bytes.Equal or strings.EqualFold: see package secretscan.
func TestSecretComparisonsAreConstantTime(t *testing.T) {
	t.Parallel()
	secretscan.ConstantTime(t, ".")
}

// totpCode is secret's TOTP code at t.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := pqtotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}
