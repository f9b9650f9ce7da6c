package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// cheapPasswords keeps tests fast (argon2id at 64 KiB, one pass); the
// defaults are checked in their own test.
var cheapPasswords = PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1}

// testEnv is an authenticator on a memory store with a fake clock, a
// captured log, and two accounts: user alice and admin root.
type testEnv struct {
	t      testing.TB
	a      *Authenticator
	mem    *store.Memory
	clock  *clocktest.Clock
	logBuf *syncBuffer
	events *eventLog
	alice  store.Account
	root   store.Account
}

const (
	alicePassword = "correct horse battery staple"
	rootPassword  = "root's own secret phrase"
	staticKey     = "static-admin-key-0123456789abcdef"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventLog records events from Config.OnEvent.
type eventLog struct {
	mu     sync.Mutex
	events []event.Event
}

func (l *eventLog) add(_ context.Context, e event.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []event.Kind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []event.Kind
	for _, e := range l.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

// reset forgets the events recorded so far.
func (l *eventLog) reset() {
	l.mu.Lock()
	l.events = nil
	l.mu.Unlock()
}

// last returns the last event of the kind, or the zero event.Event.
func (l *eventLog) last(kind event.Kind) event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if l.events[i].Kind == kind {
			return l.events[i]
		}
	}
	return event.Event{}
}

// testKeys are fixed cookie keys: a store that wraps the memory store is
// not the default one, and needs keys that outlive the process.
var testKeys = []KeyPair{{Hash: bytes.Repeat([]byte{0x11}, 32), Block: bytes.Repeat([]byte{0x22}, 32)}}

// newTestEnv builds a testEnv; edit, if not nil, changes the Config first.
func newTestEnv(t testing.TB, edit func(*Config)) *testEnv {
	t.Helper()
	clock := clocktest.New()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	env := &testEnv{t: t, mem: mem, clock: clock, logBuf: &syncBuffer{}, events: &eventLog{}}
	ctx := context.Background()
	var err error
	env.alice, err = mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice", Email: "alice@example.com", FirstName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	env.root, err = mem.CreateAccount(ctx, store.Account{Scope: scopes.Admin, Username: "root", Email: "root@example.com", Name: "Root"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Keys:                 testKeys,
		Store:                mem,
		Now:                  clock.Now,
		Passwords:            cheapPasswords,
		AdminAPIKey:          staticKey,
		AdminAPIKeyAccountID: env.root.ID,
		Logger:               slog.New(slog.NewTextHandler(env.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent:              env.events.add,
	}
	if edit != nil {
		edit(&cfg)
	}
	env.a, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []*store.Account{&env.alice, &env.root} {
		pw := alicePassword
		if acct.Scope == scopes.Admin {
			pw = rootPassword
		}
		h, err := env.a.hashPassword(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.SetPassword(ctx, acct.Ref(), h); err != nil {
			t.Fatal(err)
		}
		if *acct, err = mem.Account(ctx, acct.Ref()); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// session starts a password session for acct, as a login now would, and
// returns its ID. The account is read again first: a session made with a
// stale copy (an older credential generation) would be refused.
func (e *testEnv) session(acct store.Account) string {
	e.t.Helper()
	acct, err := e.a.Account(context.Background(), acct.Ref())
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := e.a.StartSession(context.Background(), acct, SessionOptions{Method: "password"})
	if err != nil {
		e.t.Fatal(err)
	}
	return id.Reveal()
}

// key creates an API key for acct and returns it.
func (e *testEnv) key(acct store.Account) (string, store.APIKey) {
	e.t.Helper()
	k, rec, err := e.a.CreateAPIKey(context.Background(), acct.Ref(), APIKeyOptions{Label: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return k.Reveal(), rec
}

// cookie returns the session cookie for the session ID.
func (e *testEnv) cookie(id string) *http.Cookie {
	e.t.Helper()
	rec := httptest.NewRecorder()
	if err := e.a.setSessionCookie(rec, httptest.NewRequest("GET", "/", nil), Secret{value: id}); err != nil {
		e.t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		e.t.Fatalf("setSessionCookie set %d cookies", len(cs))
	}
	return cs[0]
}

// result is what a request through the middleware gave.
type result struct {
	status    int
	principal Principal
	reached   bool
	body      string
	errText   string
	header    http.Header
}

// serve sends r through the middleware to a handler that records the
// principal, and returns what happened.
func (e *testEnv) serve(r *http.Request) result {
	e.t.Helper()
	var res result
	h := e.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.reached = true
		res.principal, _ = PrincipalFrom(r.Context())
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res.status = rec.Code
	res.body = rec.Body.String()
	res.header = rec.Header()
	if rec.Code != http.StatusOK {
		var body struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			e.t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
		}
		if body.Status != rec.Code {
			e.t.Fatalf("error body status %d, HTTP status %d", body.Status, rec.Code)
		}
		res.errText = body.Error
	}
	return res
}

// get builds a GET request with the query.
func get(query string) *http.Request {
	return httptest.NewRequest("GET", "/api.php?"+query, nil)
}

// postForm builds a POST with an urlencoded body.
func postForm(body string) *http.Request {
	r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// failingStore fails every call of the methods named in fail with errDown.
type failingStore struct {
	store.Store
	fail map[string]bool
}

var errDown = errors.New("connection refused")

func (f *failingStore) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	if f.fail["APIKeyByHash"] {
		return store.APIKey{}, errDown
	}
	return f.Store.APIKeyByHash(ctx, h)
}

func (f *failingStore) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	if f.fail["Session"] {
		return store.Session{}, errDown
	}
	return f.Store.Session(ctx, h)
}

func (f *failingStore) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	if f.fail["Account"] {
		return store.Account{}, errDown
	}
	return f.Store.Account(ctx, ref)
}

func (f *failingStore) AccountByLogin(ctx context.Context, s scopes.Scope, login string) (store.Account, error) {
	if f.fail["AccountByLogin"] {
		return store.Account{}, errDown
	}
	return f.Store.AccountByLogin(ctx, s, login)
}

func (f *failingStore) TouchSession(ctx context.Context, h store.Hash, seen, exp time.Time) error {
	if f.fail["TouchSession"] {
		return errDown
	}
	return f.Store.TouchSession(ctx, h, seen, exp)
}

func (f *failingStore) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, n int64) error {
	if f.fail["RecordAPIKeyUse"] {
		return errDown
	}
	return f.Store.RecordAPIKeyUse(ctx, id, at, ip, n)
}

// from returns a request from the client address ip (IPv4 or IPv6), as a
// login comes in.
func from(ip string) *http.Request {
	r := httptest.NewRequest("POST", "/api.php", nil)
	r.RemoteAddr = net.JoinHostPort(ip, "40000")
	return r
}

// login makes the login req from ip.
func (e *testEnv) login(ip string, req LoginRequest) (LoginResult, error) {
	e.t.Helper()
	req.HTTP = from(ip)
	return e.a.Login(context.Background(), req)
}

// aliceLogin is a password login of alice from a dialect that cannot ask
// for a captcha (WMD's, or Octeth's with CaptchaNever): the throttle alone
// protects.
func aliceLogin(password string) LoginRequest {
	return LoginRequest{Scope: scopes.User, Username: "alice", Password: password, NoCaptcha: true}
}

// throttled returns the *ThrottledError err is, or nil.
func throttled(err error) *ThrottledError {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te
	}
	return nil
}

// statusOf is err's HTTP status ([PublicError]).
func statusOf(err error) int {
	status, _ := PublicError(err)
	return status
}

// textOf is the text a client reads for err ([PublicError]).
func textOf(err error) string {
	_, text := PublicError(err)
	return text
}
