package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// The trusted 2FA bypass: a host's own front end that did the second
// factor itself vouches for a login with Disable2FA=true and a
// Disable2FAToken made with [TFAConfig].Disable2FASecret, and the login skips
// its 2FA step. Without a secret there is no bypass.

// bypassWindow is how long a window of bound tokens lasts; a token is
// good in its window and the next, so for 5 to 10 minutes.
const bypassWindow = 5 * time.Minute

// bypassLabel starts what a bound token's MAC covers: its purpose and the
// version of its form.
const bypassLabel = "keyward disable2fa v1"

// Disable2FAToken returns the bound Disable2FAToken that
// lets a login of the scope, as login (a username or email address, as
// the login will send it), skip its 2FA step, made at now with secret
// ([TFAConfig].Disable2FASecret): the hex HMAC-SHA256 under secret of
//
//	"keyward disable2fa v1" 0x00 "<scope>.login" 0x00 <login> 0x00 <window>
//
// where <scope> is "user" or "admin", <login> is login trimmed of spaces
// and in lower case, and <window> is the decimal Unix time divided by 300,
// rounded down. A front end in another language computes the same. The
// token works in its window and the next.
func Disable2FAToken(secret []byte, scope scopes.Scope, login string, now time.Time) string {
	return bypassToken(secret, scope, login, now.Unix()/int64(bypassWindow/time.Second))
}

func bypassToken(secret []byte, scope scopes.Scope, login string, window int64) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(bypassLabel))
	mac.Write([]byte{0})
	mac.Write([]byte(strings.ToLower(scope.String()) + ".login"))
	mac.Write([]byte{0})
	mac.Write([]byte(store.NormalizeLogin(login)))
	mac.Write([]byte{0})
	mac.Write([]byte(strconv.FormatInt(window, 10)))
	return hex.EncodeToString(mac.Sum(nil))
}

// validBypass reports whether the login carries a valid Disable2FAToken:
// bound, or Octeth 5.9's static one with StaticBypass (the same for every
// account of a scope and never expiring: whoever holds it skips 2FA for
// everyone until the secret changes). No secret configured, no bypass.
// Compared in constant time, every candidate.
func (a *Authenticator) validBypass(req LoginRequest) bool {
	if len(a.cfg.TFA.Disable2FASecret) == 0 || req.Disable2FAToken == "" || len(req.Disable2FAToken) > 128 {
		return false
	}
	got := []byte(strings.ToLower(req.Disable2FAToken))
	if req.StaticBypass {
		mac := hmac.New(sha256.New, a.cfg.TFA.Disable2FASecret)
		mac.Write([]byte(strings.ToLower(req.Scope.String()) + ".login.disable2fa"))
		return subtle.ConstantTimeCompare(got, []byte(hex.EncodeToString(mac.Sum(nil)))) == 1
	}
	window := a.cfg.Now().Unix() / int64(bypassWindow/time.Second)
	ok := 0
	for _, w := range []int64{window, window - 1} {
		ok |= subtle.ConstantTimeCompare(got, []byte(bypassToken(a.cfg.TFA.Disable2FASecret, req.Scope, req.Username, w)))
	}
	return ok == 1
}
