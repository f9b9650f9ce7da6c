package authn

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/store"
)

// cookieSIDKey is where a host's gorilla/sessions store keeps the session
// ID, when [Config].CookieStore is set.
const cookieSIDKey = "keyward.sid"

var errBadCookie = because(ErrInvalidCredential, "session cookie does not decode")

// newCookieCodecs makes one securecookie codec per key pair. The value is
// the bare 32-byte session ID (NopEncoder: no gob, no map), signed with
// HMAC-SHA256 over the cookie's name, and encrypted with AES-CTR.
func newCookieCodecs(cfg Config) []securecookie.Codec {
	maxAge := int(cfg.SessionLifetime.Seconds()) + 60
	codecs := make([]securecookie.Codec, len(cfg.Keys))
	for i, k := range cfg.Keys {
		codecs[i] = securecookie.New(k.Hash, k.Block).
			SetSerializer(securecookie.NopEncoder{}).
			MaxAge(maxAge).
			MaxLength(512)
	}
	return codecs
}

// cookieOptions are the session cookie's attributes: Path=/, HttpOnly,
// SameSite=Lax, and Secure unless AllowPlaintextHTTP.
func (a *Authenticator) cookieOptions(maxAge int) *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   !a.cfg.AllowPlaintextHTTP,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// SetSessionCookie sets the session cookie for the session ID on w. The
// cookie lives as long as the session's absolute lifetime; the server-side
// session decides whether it is still good.
func (a *Authenticator) SetSessionCookie(w http.ResponseWriter, r *http.Request, id Secret) error {
	raw, err := sessionIDEncoding.DecodeString(id.Reveal())
	if err != nil || len(raw) != 32 {
		return errors.New("authn: SetSessionCookie: not a session ID")
	}
	opts := a.cookieOptions(int(a.cfg.SessionLifetime.Seconds()))
	if a.cfg.CookieStore != nil {
		sess, _ := a.cfg.CookieStore.New(r, a.cfg.CookieName)
		sess.Values[cookieSIDKey] = raw
		sess.Options = opts
		return sess.Save(r, w)
	}
	value, err := a.codecs[0].Encode(a.cfg.CookieName, raw)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(a.cfg.CookieName, value, opts))
	return nil
}

// ClearSessionCookie tells the client to drop the session cookie. It does
// not end the session; [Authenticator.EndSession] does.
func (a *Authenticator) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	opts := a.cookieOptions(-1)
	if a.cfg.CookieStore != nil {
		sess, _ := a.cfg.CookieStore.New(r, a.cfg.CookieName)
		sess.Options = opts
		_ = sess.Save(r, w) // MaxAge < 0: stores only write an expired cookie
		return
	}
	http.SetCookie(w, sessions.NewCookie(a.cfg.CookieName, "", opts))
}

func (a *Authenticator) resolveCookie(ctx context.Context, r *Request) (Principal, error) {
	raw, err := a.cookieSessionID(r)
	if err != nil {
		if errors.Is(err, ErrInvalidCredential) {
			r.clearCookie = true
		}
		return Principal{}, err
	}
	p, err := a.principalForSession(ctx, store.HashOf(raw), MethodCookie)
	if errors.Is(err, ErrInvalidCredential) {
		r.clearCookie = true
	}
	return p, err
}

// cookieSessionID returns the 32-byte session ID the request's cookie
// carries.
func (a *Authenticator) cookieSessionID(r *Request) ([]byte, error) {
	if a.cfg.CookieStore != nil {
		sess, err := a.cfg.CookieStore.Get(r.HTTP, a.cfg.CookieName)
		if err != nil {
			return nil, errBadCookie
		}
		if sess.IsNew {
			return nil, ErrNoCredential
		}
		raw, _ := sess.Values[cookieSIDKey].([]byte)
		return checkSessionIDBytes(raw)
	}
	if len(r.HTTP.Header["Cookie"]) == 0 {
		return nil, ErrNoCredential
	}
	c, err := r.HTTP.Cookie(a.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil, ErrNoCredential
	}
	var raw []byte
	if err := securecookie.DecodeMulti(a.cfg.CookieName, c.Value, &raw, a.codecs...); err != nil {
		return nil, errBadCookie
	}
	return checkSessionIDBytes(raw)
}

// checkSessionIDBytes refuses a decoded cookie value that is not a 32-byte
// session ID.
func checkSessionIDBytes(raw []byte) ([]byte, error) {
	if len(raw) != 32 {
		return nil, errBadCookie
	}
	return raw, nil
}
