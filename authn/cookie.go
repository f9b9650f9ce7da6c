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
// ID, when [CookieConfig].Store is set.
const cookieSIDKey = "keyward.sid"

var errBadCookie = because(ErrInvalidCredential, "session cookie does not decode")

// newCookieCodecs makes one securecookie codec per key pair. The value is
// the bare session ID (NopEncoder: no gob, no map), encrypted with AES-CTR
// and signed with HMAC-SHA256 over the cookie's name, its time and the
// ciphertext.
func newCookieCodecs(cfg Config) []securecookie.Codec {
	maxAge := int((cfg.Sessions.Lifetime + time.Minute).Seconds())
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
		Secure:   !a.cfg.Cookie.AllowPlaintextHTTP,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// setSessionCookie sets the session cookie for the session ID on w. The
// cookie lives as long as the session's absolute lifetime; the server-side
// session decides whether it is still good.
func (a *Authenticator) setSessionCookie(w http.ResponseWriter, r *http.Request, id Secret) error {
	if _, ok := sessionHash(id.Reveal()); !ok {
		return errors.New("authn: setSessionCookie: not a session ID")
	}
	raw := []byte(id.Reveal())
	opts := a.cookieOptions(int(a.cfg.Sessions.Lifetime.Seconds()))
	if a.cfg.Cookie.Store != nil {
		// New reports a cookie it could not decode; a new session it still
		// returns is what we want.
		sess, _ := a.cfg.Cookie.Store.New(r, a.cfg.Cookie.Name)
		if sess == nil {
			return errors.New("authn: the Cookie.Store returned no session")
		}
		sess.Values[cookieSIDKey] = raw
		sess.Options = opts
		return sess.Save(r, w)
	}
	value, err := a.codecs[0].Encode(a.cfg.Cookie.Name, raw)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(a.cfg.Cookie.Name, value, opts))
	return nil
}

// clearSessionCookie tells the client to drop the session cookie. It does
// not end the session; [Authenticator.EndSession] does.
func (a *Authenticator) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	opts := a.cookieOptions(-1)
	if a.cfg.Cookie.Store != nil {
		if sess, _ := a.cfg.Cookie.Store.New(r, a.cfg.Cookie.Name); sess != nil {
			sess.Options = opts
			_ = sess.Save(r, w) // MaxAge < 0: stores only write an expired cookie
			return
		}
	}
	http.SetCookie(w, sessions.NewCookie(a.cfg.Cookie.Name, "", opts))
}

func (a *Authenticator) resolveCookie(ctx context.Context, r *Request, p *Principal) error {
	h, err := a.cookieSessionHash(r)
	if err != nil {
		// No cookie, the common case, is answered before errors.Is
		// walks its chain.
		if err != errNoCredential && errors.Is(err, ErrInvalidCredential) {
			r.clearCookie = true
		}
		return err
	}
	*p, err = a.principalForSession(ctx, r, h, MethodCookie)
	if errors.Is(err, ErrInvalidCredential) {
		r.clearCookie = true
	}
	return err
}

// cookieSessionHash returns the hash of the session ID the request's cookie
// carries.
func (a *Authenticator) cookieSessionHash(r *Request) (store.Hash, error) {
	if a.cfg.Cookie.Store != nil {
		sess, err := a.cfg.Cookie.Store.Get(r.HTTP, a.cfg.Cookie.Name)
		var decodeErr interface{ IsDecode() bool }
		switch {
		case err != nil && errors.As(err, &decodeErr) && decodeErr.IsDecode():
			return store.Hash{}, errBadCookie
		case err != nil:
			// The host's store failed (its disk, its Redis): not the
			// client's fault, and no reason to log the user out.
			return store.Hash{}, storeFailure(err)
		case sess == nil:
			return store.Hash{}, errNoCredential
		}
		if sess.IsNew {
			return store.Hash{}, errNoCredential
		}
		raw, _ := sess.Values[cookieSIDKey].([]byte)
		return cookieHash(raw)
	}
	value, ok := cookieValue(r.HTTP.Header, a.cfg.Cookie.Name)
	if !ok {
		return store.Hash{}, errNoCredential
	}
	if len(value) > maxCookieBytes {
		return store.Hash{}, errBadCookie
	}
	key := hashCredential(value)
	if h, ok := a.cookies.get(key, r.now()); ok {
		return h, nil
	}
	var raw []byte
	if err := securecookie.DecodeMulti(a.cfg.Cookie.Name, value, &raw, a.codecs...); err != nil {
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
