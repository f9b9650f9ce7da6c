package authn

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzEnv is one authenticator for a whole fuzz run, with one real
// credential of each kind for the corpus.
type fuzzEnv struct {
	*testEnv
	key, sid string
	cookie   *http.Cookie
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	// A log kept in memory would grow with every input: discard it.
	env := newTestEnv(f, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler); c.OnEvent = nil })
	key, _ := env.key(env.alice)
	sid := env.session(env.alice)
	return &fuzzEnv{testEnv: env, key: key, sid: sid, cookie: env.cookie(sid)}
}

// checkStatus fails unless the middleware answered with a status a client
// may get for a credential it made up: never a 5xx, never a panic.
func checkStatus(t *testing.T, h http.Handler, r *http.Request) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	switch rec.Code {
	case 200, 400, 401, 403:
		return rec.Code
	}
	t.Fatalf("status %d for %s %s: %s", rec.Code, r.Method, r.URL, rec.Body)
	return 0
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
}

// fuzzCredential fuzzes one credential parameter or header: anything but
// the real credential must not authenticate.
func fuzzCredential(f *testing.F, build func(e *fuzzEnv, v string) *http.Request, realFn func(e *fuzzEnv) string) {
	e := newFuzzEnv(f)
	realValue := realFn(e)
	real := func(*fuzzEnv) string { return realValue }
	f.Add(real(e))
	f.Add("")
	f.Add("kw_")
	f.Add(strings.Repeat("A", sessionIDLen))
	f.Add(real(e)[:len(real(e))-1] + "\x00")
	f.Add("%ff%fe")
	f.Fuzz(func(t *testing.T, v string) {
		var authenticated bool
		h := e.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, authenticated = PrincipalFrom(r.Context())
		}))
		r := build(e, v)
		checkStatus(t, h, r)
		if authenticated && v != real(e) {
			t.Fatalf("%q authenticated", v)
		}
	})
}

func FuzzAPIKeyParam(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		return httptest.NewRequest("GET", "/api.php?APIKey="+url.QueryEscape(v), nil)
	}, func(e *fuzzEnv) string { return e.key })
}

func FuzzAPIKeyHeader(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		r := httptest.NewRequest("GET", "/api.php", nil)
		r.Header["X-Api-Key"] = []string{v}
		return r
	}, func(e *fuzzEnv) string { return e.key })
}

func FuzzAdminAPIKey(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		return postForm("AdminAPIKey=" + url.QueryEscape(v))
	}, func(e *fuzzEnv) string { return staticKey })
}

func FuzzSessionID(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		return httptest.NewRequest("GET", "/api.php?SessionID="+url.QueryEscape(v), nil)
	}, func(e *fuzzEnv) string { return e.sid })
}

func FuzzCookie(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		r := httptest.NewRequest("GET", "/api.php", nil)
		r.Header["Cookie"] = []string{"__Host-keyward=" + v}
		return r
	}, func(e *fuzzEnv) string { return e.cookie.Value })
}

// FuzzRequest sends arbitrary query strings, content types and bodies
// through the middleware: a 5xx or a panic is a bug.
func FuzzRequest(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("SessionID="+e.sid, "application/x-www-form-urlencoded", "APIKey="+e.key)
	f.Add("", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"SessionID\"\r\n\r\n"+e.sid+"\r\n--XX--\r\n")
	f.Add("a=%zz", "text/plain", "x")
	f.Add("apikey=1&APIKEY=2", "application/x-www-form-urlencoded; charset=utf-8", "a=b;c")
	f.Add("", "multipart/form-data", "")
	h := e.a.Middleware(okHandler())
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		checkStatus(t, h, r)
	})
}

func FuzzBearer(f *testing.F) {
	fuzzCredential(f, func(e *fuzzEnv, v string) *http.Request {
		r := httptest.NewRequest("GET", "/api-sl.php", nil)
		r.Header["Authorization"] = []string{"Bearer " + v}
		return r
	}, func(e *fuzzEnv) string {
		tok, err := e.a.issueEToken(Secret{value: e.sid})
		if err != nil {
			panic(err)
		}
		return tok.Reveal()
	})
}
