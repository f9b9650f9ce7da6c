package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/store"
)

// cookieSIDKey is where a host's gorilla/sessions store keeps the session
// ID, when [Config].CookieStore is set.
const cookieSIDKey = "keyward.sid"

var errBadCookie = because(ErrInvalidCredential, "session cookie does not decode")

// newCookieCodecs makes one securecookie codec per key pair. The value is
// the bare session ID (NopEncoder: no gob, no map), encrypted with AES-CTR
// and signed with HMAC-SHA256 over the cookie's name, its time and the
// ciphertext.
func newCookieCodecs(cfg Config) []securecookie.Codec {
	maxAge := int((cfg.SessionLifetime + time.Minute).Seconds())
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
	if _, ok := sessionHash(id.Reveal()); !ok {
		return errors.New("authn: SetSessionCookie: not a session ID")
	}
	raw := []byte(id.Reveal())
	opts := a.cookieOptions(int(a.cfg.SessionLifetime.Seconds()))
	if a.cfg.CookieStore != nil {
		// New reports a cookie it could not decode; a new session it still
		// returns is what we want.
		sess, _ := a.cfg.CookieStore.New(r, a.cfg.CookieName)
		if sess == nil {
			return errors.New("authn: the CookieStore returned no session")
		}
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
		if sess, _ := a.cfg.CookieStore.New(r, a.cfg.CookieName); sess != nil {
			sess.Options = opts
			_ = sess.Save(r, w) // MaxAge < 0: stores only write an expired cookie
			return
		}
	}
	http.SetCookie(w, sessions.NewCookie(a.cfg.CookieName, "", opts))
}

func (a *Authenticator) resolveCookie(ctx context.Context, r *Request) (Principal, error) {
	h, err := a.cookieSessionHash(r)
	if err != nil {
		if errors.Is(err, ErrInvalidCredential) {
			r.clearCookie = true
		}
		return Principal{}, err
	}
	p, err := a.principalForSession(ctx, r, h, MethodCookie)
	if errors.Is(err, ErrInvalidCredential) {
		r.clearCookie = true
	}
	return p, err
}

// cookieSessionHash returns the hash of the session ID the request's cookie
// carries.
func (a *Authenticator) cookieSessionHash(r *Request) (store.Hash, error) {
	if a.cfg.CookieStore != nil {
		sess, err := a.cfg.CookieStore.Get(r.HTTP, a.cfg.CookieName)
		var decodeErr interface{ IsDecode() bool }
		switch {
		case err != nil && errors.As(err, &decodeErr) && decodeErr.IsDecode():
			return store.Hash{}, errBadCookie
		case err != nil:
			// The host's store failed (its disk, its Redis): not the
			// client's fault, and no reason to log the user out.
			return store.Hash{}, storeFailure(err)
		case sess == nil:
			return store.Hash{}, ErrNoCredential
		}
		if sess.IsNew {
			return store.Hash{}, ErrNoCredential
		}
		raw, _ := sess.Values[cookieSIDKey].([]byte)
		return cookieHash(raw)
	}
	value, ok := cookieValue(r.HTTP.Header, a.cfg.CookieName)
	if !ok {
		return store.Hash{}, ErrNoCredential
	}
	if len(value) > maxCookieBytes {
		return store.Hash{}, errBadCookie
	}
	key := hashCredential(value)
	if h, ok := a.cookies.get(key, r.now()); ok {
		return h, nil
	}
	var raw []byte
	if err := securecookie.DecodeMulti(a.cfg.CookieName, value, &raw, a.codecs...); err != nil {
		return store.Hash{}, errBadCookie
	}
	h, err := cookieHash(raw)
	if err != nil {
		return h, err
	}
	a.cookies.put(key, h, r.now())
	return h, nil
}

// maxCookieBytes bounds a session cookie's value; ours are about 170.
const maxCookieBytes = 512

// cookieValue returns the value of the first cookie called name in the
// Cookie headers, as http.Request.Cookie would (surrounding space trimmed,
// one pair of double quotes removed), without allocating the others. An
// empty value is no cookie.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(strings.Trim(pair, " \t"), "=")
			if !ok || n != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, v != ""
		}
	}
	return "", false
}

// cookieHash returns the hash of a session ID decoded from a cookie, or
// refuses a value that is not one.
func cookieHash(raw []byte) (store.Hash, error) {
	if len(raw) != sessionIDLen {
		return store.Hash{}, errBadCookie
	}
	return store.HashOf(raw), nil
}
