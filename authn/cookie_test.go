package authn

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/store"
)

func keyPair(b byte) KeyPair {
	return KeyPair{Hash: bytes.Repeat([]byte{b}, 32), Block: bytes.Repeat([]byte{b + 1}, 32)}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plaintext bool
		wantName  string
		secure    bool
	}{
		{"default", false, "__Host-keyward", true},
		{"plaintext development", true, "keyward", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.Cookie.AllowPlaintextHTTP = tc.plaintext })
			c := env.cookie(env.session(env.alice))
			if c.Name != tc.wantName || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie %+v", c)
			}
			if c.MaxAge != int(env.a.cfg.Sessions.Lifetime.Seconds()) {
				t.Fatalf("MaxAge %d", c.MaxAge)
			}
			// The cookie holds the session ID encrypted, not in the clear.
			sid := env.session(env.alice)
			if strings.Contains(env.cookie(sid).Value, sid) {
				t.Fatal("session ID visible in the cookie")
			}
		})
	}
}

func TestCookieKeyRotation(t *testing.T) {
	t.Parallel()
	oldPair, newPair, otherPair := keyPair(1), keyPair(10), keyPair(20)

	before := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{oldPair} })
	sid := before.session(before.alice)
	oldCookie := before.cookie(sid)

	// The same store, now with the new pair first and the old one kept.
	rotated := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{newPair, oldPair}; c.Store = before.mem; c.Now = before.clock.Now })
	if res := rotated.serve(withCookie(get(""), oldCookie)); res.status != 200 || res.principal.AccountID != before.alice.ID {
		t.Fatalf("old-key cookie after rotation: %d", res.status)
	}
	newCookie := rotated.cookie(sid)
	// New cookies are encoded with the first pair: an authenticator that
	// knows only the old pair cannot read them.
	if res := before.serve(withCookie(get(""), newCookie)); res.status != 401 {
		t.Fatalf("new cookie decoded with the old key only: %d", res.status)
	}
	onlyNew := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{newPair}; c.Store = before.mem; c.Now = before.clock.Now })
	if res := onlyNew.serve(withCookie(get(""), newCookie)); res.status != 200 {
		t.Fatalf("new cookie with the new key: %d", res.status)
	}
	// Once the old pair is dropped, its cookies are refused (401, not 500)
	// and expired in the answer.
	res := onlyNew.serve(withCookie(get(""), oldCookie))
	if res.status != 401 {
		t.Fatalf("old cookie after the old key is dropped: %d", res.status)
	}
	if !clearsCookie(res.header, "__Host-keyward") {
		t.Fatalf("bad cookie not cleared: %v", res.header["Set-Cookie"])
	}
	// A cookie from an unrelated key set.
	stranger := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{otherPair} })
	if res := onlyNew.serve(withCookie(get(""), stranger.cookie(stranger.session(stranger.alice)))); res.status != 401 {
		t.Fatalf("foreign cookie: %d", res.status)
	}
}

// The MAC binds the cookie's name: a value minted for another cookie name
// with the same keys is refused.
func TestCookieBoundToName(t *testing.T) {
	t.Parallel()
	pair := keyPair(3)
	a := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{pair}; c.Cookie.Name = "__Host-other" })
	b := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{pair}; c.Store = a.mem; c.Now = a.clock.Now })
	c := a.cookie(a.session(a.alice))
	c.Name = "__Host-keyward"
	if res := b.serve(withCookie(get(""), c)); res.status != 401 {
		t.Fatalf("cookie renamed: %d", res.status)
	}
}

func withCookie(r *http.Request, c *http.Cookie) *http.Request {
	r.AddCookie(c)
	return r
}

func clearsCookie(h http.Header, name string) bool {
	for _, line := range h["Set-Cookie"] {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestClearSessionCookie(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	rec := httptest.NewRecorder()
	env.a.clearSessionCookie(rec, httptest.NewRequest("GET", "/", nil))
	if !clearsCookie(rec.Header(), "__Host-keyward") {
		t.Fatalf("Set-Cookie %v", rec.Header()["Set-Cookie"])
	}
	if err := env.a.setSessionCookie(rec, httptest.NewRequest("GET", "/", nil), Secret{value: "nope"}); err == nil {
		t.Fatal("setSessionCookie took a non-session ID")
	}
}

// A host can keep its own gorilla/sessions store for the cookie.
func TestHostCookieStore(t *testing.T) {
	t.Parallel()
	hostStore := sessions.NewCookieStore(bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32))
	env := newTestEnv(t, func(c *Config) { c.Cookie.Store = hostStore })
	sid := env.session(env.alice)
	rec := httptest.NewRecorder()
	if err := env.a.setSessionCookie(rec, httptest.NewRequest("GET", "/", nil), Secret{value: sid}); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("host store cookie attributes %+v", c)
	}
	if res := env.serve(withCookie(get(""), c)); res.status != 200 || res.principal.Method != MethodCookie {
		t.Fatalf("host store cookie: %d", res.status)
	}
	if res := env.serve(withCookie(get(""), tamper(c))); res.status != 401 {
		t.Fatalf("tampered host store cookie: %d", res.status)
	}
}

func TestCookieValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []string
		want    string
		ok      bool
	}{
		{"none", nil, "", false},
		{"only", []string{"k=v"}, "v", true},
		{"among others", []string{"a=1; k=v; b=2"}, "v", true},
		{"first wins", []string{"k=one; k=two"}, "one", true},
		{"second header", []string{"a=1", "k=v"}, "v", true},
		{"quoted", []string{`k="v"`}, "v", true},
		{"tabs and spaces", []string{"a=1;\t k=v \t"}, "v", true},
		{"empty", []string{"k="}, "", false},
		{"prefix of a name", []string{"kk=v; xk=w"}, "", false},
		{"no equals", []string{"k"}, "", false},
		{"value with equals", []string{"k=a=b"}, "a=b", true},
	}
	for _, tc := range tests {
		h := http.Header{}
		for _, line := range tc.headers {
			h.Add("Cookie", line)
		}
		got, ok := cookieValue(h, "k")
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: cookieValue = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
		// Agree with net/http wherever it finds the cookie.
		r := &http.Request{Header: h}
		if c, err := r.Cookie("k"); err == nil && c.Value != "" && c.Value != got {
			t.Errorf("%s: net/http reads %q, cookieValue %q", tc.name, c.Value, got)
		}
	}
}

func TestCookieCache(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	c := env.cookie(sid)
	if n := env.a.cookies.len(); n != 0 {
		t.Fatalf("cache starts with %d", n)
	}
	for range 3 {
		if res := env.serve(withCookie(get(""), c)); res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
	}
	if n := env.a.cookies.len(); n != 1 {
		t.Fatalf("one cookie used thrice: %d entries", n)
	}
	// A forged cookie is never remembered.
	bad := *c
	tamper(&bad)
	if res := env.serve(withCookie(get(""), &bad)); res.status != 401 {
		t.Fatalf("tampered: %d", res.status)
	}
	if n := env.a.cookies.len(); n != 1 {
		t.Fatalf("tampered cookie cached: %d entries", n)
	}
	// A remembered cookie still needs its session: logout ends it.
	p := env.serve(withCookie(get(""), c)).principal
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), p); err != nil {
		t.Fatal(err)
	}
	if res := env.serve(withCookie(get(""), c)); res.status != 401 {
		t.Fatalf("cached cookie after logout: %d", res.status)
	}
	// Entries age out with the cookie's maximum age.
	key := hashCredential(c.Value)
	if _, ok := env.a.cookies.get(key, env.clock.Now()); !ok {
		t.Fatal("entry missing")
	}
	if _, ok := env.a.cookies.get(key, env.clock.Now().Add(cookieCacheTTL)); ok {
		t.Fatal("entry outlived cookieCacheTTL")
	}
}

func TestCookieCacheBounded(t *testing.T) {
	t.Parallel()
	c := newCookieCache(time.Hour)
	now := time.Unix(0, 0)
	for i := range cookieCacheSize + 100 {
		c.put(store.Hash{byte(i), byte(i >> 8), byte(i >> 16)}, store.Hash{1}, now)
	}
	if n := c.len(); n != cookieCacheSize {
		t.Fatalf("%d entries, want %d", n, cookieCacheSize)
	}
}

// brokenCookieStore is a host's gorilla/sessions store whose backend is
// down.
type brokenCookieStore struct{ sessions.Store }

func (brokenCookieStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return nil, errors.New("redis: connection refused")
}

// A host store that fails is the server's fault: 503, and the cookie is
// kept.
func TestHostCookieStoreDown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Cookie.Store = brokenCookieStore{} })
	res := env.serve(withCookie(get(""), &http.Cookie{Name: "__Host-keyward", Value: "x"}))
	if res.status != 503 || clearsCookie(res.header, "__Host-keyward") {
		t.Fatalf("status %d, cleared %v", res.status, clearsCookie(res.header, "__Host-keyward"))
	}
}
