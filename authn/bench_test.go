package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// benchAccounts is how many accounts the benchmark store holds.
const benchAccounts = 10_000

// discardWriter is a ResponseWriter that does nothing, so the benchmarks
// measure the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// benchFixture is an authenticator over a memory store with benchAccounts
// accounts, each with an API key and a session, and one of each credential
// to send.
type benchFixture struct {
	auth              *Authenticator
	handler           http.Handler
	apiKey, sessionID string
	cookie            *http.Cookie
	principalSeen     atomic.Int64
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	ctx := context.Background()
	mem := store.NewMemory(store.MemoryConfig{})
	a, err := New(Config{Store: mem, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler), EToken: ETokenConfig{Validity: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	f := &benchFixture{auth: a}
	for i := range benchAccounts {
		acct, err := mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i)})
		if err != nil {
			b.Fatal(err)
		}
		key, _, err := a.CreateAPIKey(ctx, acct.Ref(), APIKeyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sid, err := a.StartSession(ctx, acct, SessionOptions{Method: "password"})
		if err != nil {
			b.Fatal(err)
		}
		if i == benchAccounts/2 {
			f.apiKey, f.sessionID = key.Reveal(), sid.Reveal()
			rec := httptest.NewRecorder()
			if err := a.setSessionCookie(rec, httptest.NewRequest("GET", "/", nil), sid); err != nil {
				b.Fatal(err)
			}
			f.cookie = rec.Result().Cookies()[0]
		}
	}
	f.handler = a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := PrincipalFrom(r.Context()); ok {
			f.principalSeen.Add(1)
		}
	}))
	return f
}

func BenchmarkMiddleware(b *testing.B) {
	f := newBenchFixture(b)
	requests := []struct {
		name string
		req  func() *http.Request
		auth bool
	}{
		{"APIKey", func() *http.Request { return httptest.NewRequest("GET", "/api.php?APIKey="+f.apiKey, nil) }, true},
		{"APIKeyHeader", func() *http.Request {
			r := httptest.NewRequest("GET", "/api.php", nil)
			r.Header.Set("X-API-Key", f.apiKey)
			return r
		}, true},
		{"SessionID", func() *http.Request { return httptest.NewRequest("GET", "/api.php?SessionID="+f.sessionID, nil) }, true},
		{"Cookie", func() *http.Request {
			r := httptest.NewRequest("GET", "/api.php", nil)
			r.AddCookie(f.cookie)
			return r
		}, true},
		{"Anonymous", func() *http.Request { return httptest.NewRequest("GET", "/api.php", nil) }, false},
	}
	// The same API key request with usage recording off, in the same run,
	// to show what recording costs.
	off, err := New(Config{Store: f.auth.store, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler), DisableAPIKeyUsage: true})
	if err != nil {
		b.Fatal(err)
	}
	offHandler := off.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.Run("APIKeyUsageOff", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/api.php?APIKey="+f.apiKey, nil)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			offHandler.ServeHTTP(w, r)
		}
	})
	b.Run("APIKeyUsageOffParallel", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/api.php?APIKey="+f.apiKey, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				offHandler.ServeHTTP(w, r)
			}
		})
	})
	b.Run("EToken", func(b *testing.B) { benchETokens(b, f, false) })
	b.Run("ETokenParallel", func(b *testing.B) { benchETokens(b, f, true) })
	for _, tc := range requests {
		check := func(b *testing.B, r *http.Request) {
			rec := httptest.NewRecorder()
			f.principalSeen.Store(0)
			f.handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK || (f.principalSeen.Load() == 1) != tc.auth {
				b.Fatalf("%s: status %d, principal seen %d", tc.name, rec.Code, f.principalSeen.Load())
			}
		}
		b.Run(tc.name, func(b *testing.B) {
			r := tc.req()
			check(b, r)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				f.handler.ServeHTTP(w, r)
			}
		})
		b.Run(tc.name+"Parallel", func(b *testing.B) {
			r := tc.req()
			check(b, r)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					f.handler.ServeHTTP(w, r)
				}
			})
		})
	}
}

// benchETokens sends a fresh etoken with every request, since each is
// single use: the cost includes decoding it and claiming its nonce in the
// store. Tokens are made ahead, in batches, off the clock.
func benchETokens(b *testing.B, f *benchFixture, parallel bool) {
	sid := Secret{value: f.sessionID}
	const batch = 4096
	var mu sync.Mutex
	var pool []*http.Request
	refill := func() {
		for range batch {
			tok, err := f.auth.issueEToken(sid)
			if err != nil {
				panic(err)
			}
			r := httptest.NewRequest("GET", "/api-sl.php", nil)
			r.Header.Set("Authorization", "Bearer "+tok.Reveal())
			pool = append(pool, r)
		}
	}
	next := func() *http.Request {
		mu.Lock()
		defer mu.Unlock()
		if len(pool) == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		r := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		return r
	}
	refill()
	f.principalSeen.Store(0)
	defer func() {
		if n := f.principalSeen.Load(); n != int64(b.N) {
			b.Fatalf("%d of %d etokens authenticated", n, b.N)
		}
	}()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			f.handler.ServeHTTP(w, next())
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			f.handler.ServeHTTP(w, next())
		}
	})
}

// BenchmarkCookieDecode is securecookie's decoding of a session cookie
// alone: what the cookie path costs on top of BenchmarkMiddleware/Cookie
// the first time a cookie is seen (later requests find it decoded).
func BenchmarkCookieDecode(b *testing.B) {
	f := newBenchFixture(b)
	a := f.auth
	b.ReportAllocs()
	for b.Loop() {
		var raw []byte
		if err := securecookie.DecodeMulti(a.cfg.Cookie.Name, f.cookie.Value, &raw, a.codecs...); err != nil {
			b.Fatal(err)
		}
	}
}

// floorMiddleware is the least any API key middleware can do: hash the
// key, look it up in a map, put the result in the request's context, and
// call the next handler. Like any middleware it calls next through the
// http.Handler interface, so the request it passes on is on the heap.
type floorKey struct{}

func floorMiddleware(m map[[32]byte]Principal, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.Sum256([]byte(r.Header.Get("X-Api-Key"))) // canonical: no allocation for the lookup
		p, ok := m[h]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, p)))
	})
}

// BenchmarkFloor is the floor DESIGN.md names: a SHA-256 of the key, one
// map lookup, one context value, on a map of benchAccounts keys.
func BenchmarkFloor(b *testing.B) {
	m := make(map[[32]byte]Principal, benchAccounts)
	var key string
	for i := range benchAccounts {
		k := fmt.Sprintf("kw_%043d", i)
		m[sha256.Sum256([]byte(k))] = Principal{Scope: scopes.User, AccountID: int64(i + 1), Username: fmt.Sprintf("user%d", i), AuthenticatedAt: time.Now()}
		if i == benchAccounts/2 {
			key = k
		}
	}
	var seen atomic.Int64
	floor := floorMiddleware(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(floorKey{}).(Principal); ok {
			seen.Add(1)
		}
	}))
	r := httptest.NewRequest("GET", "/api.php", nil)
	r.Header.Set("X-API-Key", key)
	b.Run("Serial", func(b *testing.B) {
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			floor.ServeHTTP(w, r)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				floor.ServeHTTP(w, r)
			}
		})
	})
	if seen.Load() == 0 {
		b.Fatal("floor never reached its handler")
	}
}

// BenchmarkRecordAPIKeyUse is what counting a key's use adds to a request:
// the whole of it, the store write being in the background.
func BenchmarkRecordAPIKeyUse(b *testing.B) {
	a, err := New(Config{Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.Run("Serial", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		b.ReportAllocs()
		for b.Loop() {
			a.recordUse(7, now, r, netip.Addr{})
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest("GET", "/", nil)
			for pb.Next() {
				a.recordUse(7, now, r, netip.Addr{})
			}
		})
	})
}
