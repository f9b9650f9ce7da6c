package command

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/internal/secretscan"
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

// Secrets are compared in constant time (crypto/subtle), never with ==,
// bytes.Equal or strings.EqualFold: see package secretscan.
func TestSecretComparisonsAreConstantTime(t *testing.T) {
	t.Parallel()
	secretscan.ConstantTime(t, ".")
}
