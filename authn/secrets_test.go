package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

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

// secretName matches identifiers that hold secrets or their digests.
var secretName = regexp.MustCompile(`(?i)(key|hash|secret|token|mac|password|sid)$`)

// Secrets are compared in constant time (crypto/subtle), never with ==,
// bytes.Equal or strings.EqualFold: a test over this package's source.
// Comparisons with a literal ("" or a zero value) reveal nothing and are
// allowed, as are map lookups by a secret's SHA-256.
func TestSecretComparisonsAreConstantTime(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					return true
				}
				checked++
				if isLiteral(n.X) || isLiteral(n.Y) {
					return true
				}
				if secretName.MatchString(lastName(n.X)) || secretName.MatchString(lastName(n.Y)) {
					t.Errorf("%s: secret compared with %s", fset.Position(n.Pos()), n.Op)
				}
			case *ast.CallExpr:
				fn := lastName(n.Fun)
				if fn != "Equal" && fn != "EqualFold" && fn != "Compare" {
					return true
				}
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && lastName(sel.X) == "subtle" {
					return true
				}
				for _, arg := range n.Args {
					if secretName.MatchString(lastName(arg)) {
						t.Errorf("%s: secret compared with %s", fset.Position(n.Pos()), fn)
					}
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no comparisons found: the test is not looking at the code")
	}
}

// isLiteral reports whether e is a literal, a composite literal or nil.
func isLiteral(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit, *ast.CompositeLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	case *ast.ParenExpr:
		return isLiteral(e.X)
	}
	return false
}

// lastName returns the last identifier of an expression: "Hash" for
// k.Hash, "key" for key, "h" for h[:].
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.SliceExpr:
		return lastName(e.X)
	case *ast.IndexExpr:
		return lastName(e.X)
	case *ast.CallExpr:
		return lastName(e.Fun)
	case *ast.StarExpr:
		return lastName(e.X)
	case *ast.ParenExpr:
		return lastName(e.X)
	}
	return ""
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
