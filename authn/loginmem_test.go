package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// BenchmarkConcurrentLoginsMemory sends a burst of password logins at once
// through a login handler (User.Login in an urlencoded body, as the command
// API's, the right password, the default argon2id parameters: 19 MiB a
// hash) and reports
// the memory they cost, not their speed (issue 15: 1000 concurrent logins
// within 150 MiB of RSS):
//
//   - B/login: bytes allocated per login, garbage included. With
//     x/crypto's argon2 that is about 19 MiB a login. A hasher that reuses
//     argon2's memory allocates it once per hashing slot and burst (each
//     burst starts after a collection has freed the idle buffers): 2 x 19
//     MiB / n, some 40 KB a login for n = 1000 on 2 cores.
//   - peak-heap-MiB: the most heap (objects, live or not yet swept) seen
//     during the burst, sampled every millisecond.
//   - peak-go-MiB: the most memory the Go runtime held from the OS and had
//     not given back (runtime/metrics' total less released): the Go part
//     of the process's RSS, binary aside.
//
// Its ns/op is the time of a whole burst, for information; nothing
// asserts it. go run ./tools/load logins measures the same over HTTP, the
// example's RSS included. With -short the burst is 100 logins.
func BenchmarkConcurrentLoginsMemory(b *testing.B) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	b.Run(fmt.Sprintf("logins=%d", n), func(b *testing.B) {
		var peakHeap, peakGo uint64
		var allocated uint64
		for b.Loop() {
			// A fresh authenticator (the throttle counts every burst) and
			// a collected heap, so that the burst, not what came before
			// it, sets the peak.
			b.StopTimer()
			handler, body := newLoginBurst(b, n)
			runtime.GC()
			debug.FreeOSMemory()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.StartTimer()

			stop := samplePeaks(time.Millisecond)
			loginBurst(b, handler, body, n)
			heap, goMem := stop()

			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			allocated += after.TotalAlloc - before.TotalAlloc
			peakHeap, peakGo = max(peakHeap, heap), max(peakGo, goMem)
			b.StartTimer()
		}
		b.ReportMetric(float64(allocated)/float64(b.N*n), "B/login")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakGo)/(1<<20), "peak-go-MiB")
	})
}

// newLoginBurst returns a login handler on an authenticator with the
// default argon2 parameters, one user, and a throttle that lets n logins
// from one address through without a captcha; and the body of a good
// login. The handler does what a command API's User.Login does (authn
// cannot import one): it reads the form, logs in, and hands the session
// over with its cookie and etoken.
func newLoginBurst(b *testing.B, n int) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	a, err := New(Config{
		Store:    store.NewMemory(store.MemoryConfig{}),
		Logger:   slog.New(slog.DiscardHandler),
		Throttle: ThrottleConfig{PerIP: n + 1, PerUserIP: n + 1, PerAccount: n + 1, CaptchaAfter: n + 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	const password = "a burst of logins, all of them right"
	acct, err := a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "burst@example.com", Email: "burst@example.com"}, password)
	if err != nil {
		b.Fatal(err)
	}
	body := url.Values{"Command": {"User.Login"}, "Username": {acct.Username}, "Password": {password}, "DisableCaptcha": {"true"}}.Encode()
	return loginHandler(a), body
}

// loginHandler is a password login in an urlencoded body, answered as
// Octeth's User.Login is: {"Success":true,"SessionID":...,"etoken":...}.
func loginHandler(a *Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := a.Request(r).Params()
		if err != nil {
			WriteJSONError(w, r, err)
			return
		}
		var username, password string
		if username, err = params.Get("Username"); err == nil {
			password, err = params.Get("Password")
		}
		if err != nil {
			WriteJSONError(w, r, err)
			return
		}
		res, err := a.Login(r.Context(), LoginRequest{Scope: scopes.User, Username: username, Password: password, HTTP: r})
		if err != nil {
			WriteJSONError(w, r, err)
			return
		}
		etoken, err := a.HandOver(w, r, res.SessionID, true)
		if err != nil {
			WriteJSONError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(struct {
			Success   bool
			SessionID string
			EToken    string `json:"etoken"`
		}{true, res.SessionID.Reveal(), etoken.Reveal()})
	})
}

// loginBurst sends n logins at once, each from its own goroutine, and
// fails unless every one succeeds.
func loginBurst(b *testing.B, h http.Handler, body string, n int) {
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	failures := make(chan string, n)
	for range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r := httptest.NewRequest(http.MethodPost, "/api.php", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			ready.Done()
			<-start
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"Success":true`) {
				failures <- fmt.Sprintf("%d %.200s", w.Code, w.Body.String())
			}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	close(failures)
	if len(failures) > 0 {
		b.Fatalf("%d of %d logins failed; the first: %s", len(failures), n, <-failures)
	}
}

// samplePeaks reads the runtime's memory every interval until the function
// it returns is called, which returns the largest heap (objects) and Go
// memory held from the OS (total less released) seen.
func samplePeaks(every time.Duration) func() (heap, goMem uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var peakHeap, peakGo uint64
	read := func() {
		metrics.Read(samples)
		peakHeap = max(peakHeap, samples[0].Value.Uint64())
		peakGo = max(peakGo, samples[1].Value.Uint64()-samples[2].Value.Uint64())
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(stop)
		<-done
		read()
		return peakHeap, peakGo
	}
}
