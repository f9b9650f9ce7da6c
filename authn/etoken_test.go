package authn

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// bearer builds a request with the Authorization header.
func bearer(token string) *http.Request {
	r := get("")
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func (e *testEnv) etoken(sid string) string {
	e.t.Helper()
	tok, err := e.a.issueEToken(Secret{value: sid})
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Reveal(), etokenPrefix) {
		e.t.Fatalf("etoken %q without prefix", tok.Reveal())
	}
	return tok.Reveal()
}

func TestETokenWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		wait   time.Duration
		status int
	}{
		{0, 200},
		{2 * time.Second, 200}, // the edge of the default validity
		{2*time.Second + time.Millisecond, 401},
		{time.Minute, 401},
	}
	for _, tc := range tests {
		env := newTestEnv(t, nil)
		tok := env.etoken(env.session(env.alice))
		env.clock.Advance(tc.wait)
		res := env.serve(bearer(tok))
		if res.status != tc.status {
			t.Errorf("after %v: %d, want %d", tc.wait, res.status, tc.status)
		}
		if tc.status == 200 && (res.principal.Method != MethodEToken || res.principal.AccountID != env.alice.ID || !res.principal.HasSession()) {
			t.Errorf("after %v: principal %+v", tc.wait, res.principal)
		}
	}
}

func TestETokenSingleUse(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tok := env.etoken(env.session(env.alice))
	if res := env.serve(bearer(tok)); res.status != 200 {
		t.Fatalf("first use: %d", res.status)
	}
	if res := env.serve(bearer(tok)); res.status != 401 {
		t.Fatalf("second use: %d", res.status)
	}
	if !strings.Contains(env.logBuf.String(), "etoken already used") || strings.Contains(env.logBuf.String(), tok[len(etokenPrefix):]) {
		t.Fatal("the log should say the etoken was reused, without the token")
	}

	reuse := newTestEnv(t, func(c *Config) { c.EToken.Reuse = true })
	tok = reuse.etoken(reuse.session(reuse.alice))
	for i := range 3 {
		if res := reuse.serve(bearer(tok)); res.status != 200 {
			t.Fatalf("use %d with reuse allowed: %d", i, res.status)
		}
	}
	reuse.clock.Advance(3 * time.Second)
	if res := reuse.serve(bearer(tok)); res.status != 401 {
		t.Fatalf("reuse after the window: %d", res.status)
	}
}

func TestETokenConcurrentExactlyOnce(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tok := env.etoken(env.session(env.alice))
	h := env.a.Middleware(okHandler())
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, bearer(tok))
			if rec.Code == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("100 concurrent uses of one etoken: %d succeeded, want exactly 1", ok.Load())
	}
}

// Two instances sharing a store accept an etoken once in all.
func TestETokenSharedStore(t *testing.T) {
	t.Parallel()
	pair := keyPair(5)
	one := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{pair} })
	two, err := New(Config{Store: one.mem, Now: one.clock.Now, Keys: []KeyPair{pair}, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tok := one.etoken(one.session(one.alice))
	rec := httptest.NewRecorder()
	two.Middleware(okHandler()).ServeHTTP(rec, bearer(tok))
	if rec.Code != 200 {
		t.Fatalf("the other instance refused a fresh etoken: %d", rec.Code)
	}
	if res := one.serve(bearer(tok)); res.status != 401 {
		t.Fatalf("accepted again on the first instance: %d", res.status)
	}
}

func TestETokenKeyRotation(t *testing.T) {
	t.Parallel()
	oldPair, newPair := keyPair(1), keyPair(10)
	before := newTestEnv(t, func(c *Config) { c.Keys = []KeyPair{oldPair} })
	rotated, err := New(Config{Store: before.mem, Now: before.clock.Now, Keys: []KeyPair{newPair, oldPair}, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	onlyOld := before.a
	sid := before.session(before.alice)
	serve := func(a *Authenticator, tok string) int {
		rec := httptest.NewRecorder()
		a.Middleware(okHandler()).ServeHTTP(rec, bearer(tok))
		return rec.Code
	}
	// The old key decodes after the rotation.
	if code := serve(rotated, before.etoken(sid)); code != 200 {
		t.Fatalf("old-key etoken after rotation: %d", code)
	}
	// The new key encodes: the old key alone cannot read it.
	tok, _ := rotated.issueEToken(Secret{value: sid})
	if code := serve(onlyOld, tok.Reveal()); code != 401 {
		t.Fatalf("new-key etoken with the old key only: %d", code)
	}
	tok, _ = rotated.issueEToken(Secret{value: sid})
	if code := serve(rotated, tok.Reveal()); code != 200 {
		t.Fatalf("new-key etoken: %d", code)
	}
}

func TestETokenRefused(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	good := env.etoken(sid)
	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cookie := env.cookie(sid)
	other := newTestEnv(t, nil) // other keys
	tests := []struct {
		name, token string
	}{
		{"tampered in the middle", flip(good, len(good)/2)},
		{"tampered at the end", flip(good, len(good)-2)},
		{"truncated", good[:len(good)-10]},
		{"prefix only", etokenPrefix},
		{"not base64", etokenPrefix + "!!!!"},
		{"wrong key", other.etoken(other.session(other.alice))},
		// The session cookie's value, under the etoken prefix: the MAC
		// binds the purpose, so one does not pass for the other.
		{"a cookie as an etoken", etokenPrefix + cookie.Value},
		{"too long", etokenPrefix + strings.Repeat("A", 4000)},
		{"a valid securecookie of another payload", etokenPrefix + encodeRaw(t, env.a, []byte("short"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res := env.serve(bearer(tc.token)); res.status != 401 {
				t.Fatalf("status %d, want 401", res.status)
			}
		})
	}
	// The good one still works: nothing above used it up.
	if res := env.serve(bearer(good)); res.status != 200 {
		t.Fatalf("good etoken: %d", res.status)
	}
}

// encodeRaw encodes payload as an etoken would be, to test the payload
// checks behind the MAC.
func encodeRaw(t *testing.T, a *Authenticator, payload []byte) string {
	t.Helper()
	s, err := a.etokenCodecs[0].Encode(etokenName, payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestETokenDiesWithSession(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	tok := env.etoken(sid)
	p := env.serve(get("SessionID=" + sid)).principal
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), p); err != nil {
		t.Fatal(err)
	}
	if res := env.serve(bearer(tok)); res.status != 401 {
		t.Fatalf("etoken of a logged-out session: %d", res.status)
	}
}

func TestETokenFuture(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tok := env.etoken(env.session(env.alice))
	env.clock.Advance(-2 * time.Second) // another instance, behind
	if res := env.serve(bearer(tok)); res.status != 401 {
		t.Fatalf("issued 2 s in the future: %d", res.status)
	}
}

func TestBearerSchemes(t *testing.T) {
	t.Parallel()
	lax := newTestEnv(t, nil)
	strict := newTestEnv(t, func(c *Config) { c.EToken.StrictBearer = true })
	for _, auth := range []string{"Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Bearer", "Token kwe_x"} {
		r := get("")
		r.Header.Set("Authorization", auth)
		if res := lax.serve(r); res.status != 200 || res.reached && res.principal.Authenticated() {
			t.Errorf("%q: not left to the host: %d", auth, res.status)
		}
		r = get("")
		r.Header.Set("Authorization", auth)
		if res := strict.serve(r); res.status != 401 {
			t.Errorf("%q, strict: %d", auth, res.status)
		}
	}
	r := get("")
	r.Header.Add("Authorization", "Bearer kwe_a")
	r.Header.Add("Authorization", "Bearer kwe_b")
	if res := lax.serve(r); res.status != 400 {
		t.Errorf("two Authorization headers: %d", res.status)
	}
}

func TestETokenSetsCookie(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.EToken.SetsCookie = true })
	tok := env.etoken(env.session(env.alice))
	res := env.serve(bearer(tok))
	var c *http.Cookie
	for _, line := range res.header["Set-Cookie"] {
		if cc, err := http.ParseSetCookie(line); err == nil && cc.Name == "__Host-keyward" {
			c = cc
		}
	}
	if res.status != 200 || c == nil {
		t.Fatalf("no cookie set: %d %v", res.status, res.header)
	}
	if res := env.serve(withCookie(get(""), c)); res.status != 200 || res.principal.AccountID != env.alice.ID {
		t.Fatalf("the handed-off cookie: %d", res.status)
	}
	plain := newTestEnv(t, nil)
	if res := plain.serve(bearer(plain.etoken(plain.session(plain.alice)))); len(res.header["Set-Cookie"]) != 0 {
		t.Fatal("cookie set without EToken.SetsCookie")
	}
}

// HandOver gives a new session to its client: an etoken of it, and the
// cookie when asked. A session it cannot hand over is ended.
func TestHandOver(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for _, setCookie := range []bool{true, false} {
		sid := env.session(env.alice)
		rec := httptest.NewRecorder()
		tok, err := env.a.HandOver(rec, get(""), Secret{value: sid}, setCookie)
		if err != nil || !strings.HasPrefix(tok.Reveal(), etokenPrefix) {
			t.Fatalf("HandOver: %q, %v", tok.Reveal(), err)
		}
		if res := env.serve(bearer(tok.Reveal())); res.status != 200 || res.principal.AccountID != env.alice.ID {
			t.Fatalf("the etoken: %d", res.status)
		}
		cookies := rec.Result().Cookies()
		if !setCookie {
			if len(cookies) != 0 {
				t.Fatalf("a cookie set though not asked: %v", cookies)
			}
			continue
		}
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		if res := env.serve(withCookie(get(""), cookies[0])); res.status != 200 || res.principal.AccountID != env.alice.ID {
			t.Fatalf("the cookie: %d", res.status)
		}
	}
	if _, err := env.a.HandOver(httptest.NewRecorder(), get(""), Secret{value: "not a session ID"}, true); err == nil {
		t.Fatal("HandOver of a non-session ID")
	}

	// The cookie cannot be written (the host's cookie store fails): the
	// session is ended, not left for nobody.
	broken := newTestEnv(t, func(c *Config) { c.Cookie.Store = unsavable{} })
	sid := broken.session(broken.alice)
	if _, err := broken.a.HandOver(httptest.NewRecorder(), get(""), Secret{value: sid}, true); err == nil {
		t.Fatal("HandOver with a cookie store that fails")
	}
	if res := broken.serve(get("SessionID=" + sid)); res.status != 401 {
		t.Fatalf("the session that could not be handed over: %d", res.status)
	}
}

// unsavable is a host's gorilla/sessions store that cannot save.
type unsavable struct{ sessions.Store }

func (unsavable) New(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.NewSession(unsavable{}, name), nil
}

func (unsavable) Save(*http.Request, http.ResponseWriter, *sessions.Session) error {
	return errors.New("redis: connection refused")
}
