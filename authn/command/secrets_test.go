package command

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
)

// Nothing secret reaches the log or the event hook through the commands,
// whatever happens: logins of every kind, refusals, key and 2FA and
// password changes.
func TestNoSecretInLogsOrEvents(t *testing.T) {
	t.Parallel()
	box := newMailbox()
	env := newTestEnv(t, func(c *authn.Config) { c.Passwords.Mailer = box })
	const ip = "192.0.2.1"
	send := func(form string) apiAnswer { return env.call(ip, form) }

	const guess = "hunter2-wrong-guess"
	send("Command=User.Login&DisableCaptcha=true&Username=alice&Password=" + guess)
	send("Command=User.Login&Username=alice&CaptchaID=AAAAAAAAAAAAAAAAAAAA&Captcha=987123&Password=" + guess)
	login := send("Command=User.Login&DisableCaptcha=true&Username=alice&Password=" + alicePassword)
	sid, _ := login.fields["SessionID"].(string)
	etoken, _ := login.fields["etoken"].(string)
	if sid == "" || etoken == "" {
		t.Fatalf("login: %s", login.body)
	}
	made := send("Command=User.APIKey.Create&SessionID=" + sid)
	key, _ := made.fields["APIKey"].(string)
	if key == "" {
		t.Fatalf("key: %s", made.body)
	}
	send("Command=User.Login&apikey=" + key)
	send("Command=User.Login&apikey=" + key + "Z")
	send("Command=User.Current&APIKey=" + key + "x")
	send("Command=User.Current&SessionID=" + sid[:20] + "AAAAAAAAAAAAAAAAAAAAAAA")
	send("Command=Admin.Login&adminapikey=" + staticKey + "x")
	send("Command=User.PasswordChange&SessionID=" + sid + "&CurrentPassword=" + guess + "x&NewPassword=whatever-new")
	tfaSecret, recovery, sid2 := env.enableTFA(env.alice)
	env.clock.Advance(time.Minute)
	code := totpCode(t, tfaSecret, env.clock.Now())
	send("Command=User.Login&DisableCaptcha=true&Username=alice&TFACode=" + code + "&Password=" + alicePassword)
	send("Command=User.Login&DisableCaptcha=true&Username=alice&TFACode=" + code + "&Password=" + alicePassword) // reused
	rec := send("Command=User.Login&DisableCaptcha=true&Username=alice&TFARecoveryCode=" + recovery[0] + "&Password=" + alicePassword)
	sid3, _ := rec.fields["SessionID"].(string)
	if sid3 == "" {
		t.Fatalf("recovery login: %s", rec.body)
	}
	const newPassword = "a new password nobody must read"
	changed := send("Command=User.PasswordChange&SessionID=" + sid3 + "&CurrentPassword=" + alicePassword + "&NewPassword=" + newPassword)
	if !changed.ok {
		t.Fatalf("password change: %s", changed.body)
	}
	send("Command=User.PasswordRemind&EmailAddress=alice@example.com")
	token := env.waitMail(box, "alice@example.com", 1)
	send("Command=User.PasswordReset&Token=" + token + "x&NewPassword=" + newPassword + "2")
	send("Command=User.PasswordReset&Token=" + token + "&NewPassword=" + newPassword + "3")

	logged := env.logBuf.String()
	events := fmt.Sprintf("%+v", env.events.all())
	for _, want := range []string{"login_failed", "recovery_code_used", "request_refused", "password_changed", "password_reset", "key_created"} {
		if !strings.Contains(logged, want) {
			t.Fatalf("%s not logged:\n%s", want, logged)
		}
	}
	secrets := map[string]string{
		"API key":              key,
		"API key body":         strings.TrimPrefix(key, "kw_"),
		"session ID":           sid,
		"session ID after 2FA": sid2,
		"recovery session":     sid3,
		"etoken":               etoken,
		"static admin key":     staticKey,
		"password":             alicePassword,
		"wrong password":       guess,
		"new password":         newPassword,
		"captcha answer":       "987123",
		"2FA code":             code,
		"2FA secret":           tfaSecret,
		"recovery code":        recovery[0],
		"recovery code 2":      strings.ReplaceAll(recovery[0], "-", ""),
		"reset token":          token,
		"password hash":        env.alice.PasswordHash,
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
// bytes.Equal or strings.EqualFold: a test over this package's source, as
// authn's is over its own. Comparisons with a literal ("" or a zero value)
// reveal nothing and are allowed.
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
