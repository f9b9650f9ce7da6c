package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// cheapPasswords keeps tests fast: argon2id at 64 KiB, one pass.
var cheapPasswords = authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1}

// testKeys are fixed cookie keys: a store that wraps the memory store is
// not the default one, and needs keys that outlive the process.
var testKeys = []authn.KeyPair{{Hash: bytes.Repeat([]byte{0x11}, 32), Block: bytes.Repeat([]byte{0x22}, 32)}}

const (
	alicePassword = "correct horse battery staple"
	rootPassword  = "root's own secret phrase"
	staticKey     = "static-admin-key-0123456789abcdef"
)

// testEnv is an authenticator on a memory store with a fake clock, a
// captured log and events, two accounts (user alice and admin root), and
// an Octeth API on it.
type testEnv struct {
	t      testing.TB
	a      *authn.Authenticator
	api    *API
	mem    *store.Memory
	clock  *clocktest.Clock
	logBuf *syncBuffer
	events *eventLog
	alice  store.Account
	root   store.Account
}

// newTestEnv builds a testEnv; edit, if not nil, changes the
// authenticator's Config first. The API is New(a, Config{}).
func newTestEnv(t testing.TB, edit func(*authn.Config)) *testEnv {
	t.Helper()
	clock := clocktest.New()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	env := &testEnv{t: t, mem: mem, clock: clock, logBuf: &syncBuffer{}, events: &eventLog{}}
	ctx := context.Background()
	// The accounts are made first, as a host seeds its store, with an
	// authenticator of their own: the static admin key acts as root.
	seed, err := authn.New(authn.Config{Store: mem, Now: clock.Now, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	create := func(acct store.Account, pw string) store.Account {
		t.Helper()
		made, err := seed.CreateAccount(ctx, acct, pw)
		if err != nil {
			t.Fatal(err)
		}
		return made
	}
	env.alice = create(store.Account{Scope: scopes.User, Username: "alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell"}, alicePassword)
	env.root = create(store.Account{Scope: scopes.Admin, Username: "root", Email: "root@example.com", Name: "Root"}, rootPassword)
	cfg := authn.Config{
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
	if env.a, err = authn.New(cfg); err != nil {
		t.Fatal(err)
	}
	env.api = New(env.a, Config{})
	return env
}

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

// all returns the events recorded so far.
func (l *eventLog) all() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event.Event(nil), l.events...)
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

// session starts a password session for acct, as a login now would, and
// returns its ID. The account is read again first: a session made with a
// stale copy (an older credential generation) would be refused.
func (e *testEnv) session(acct store.Account) string {
	e.t.Helper()
	acct, err := e.a.Account(context.Background(), acct.Ref())
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := e.a.StartSession(context.Background(), acct, authn.SessionOptions{Method: "password"})
	if err != nil {
		e.t.Fatal(err)
	}
	return id.Reveal()
}

// key creates an API key for acct and returns it.
func (e *testEnv) key(acct store.Account) string {
	e.t.Helper()
	k, _, err := e.a.CreateAPIKey(context.Background(), acct.Ref(), authn.APIKeyOptions{Label: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return k.Reveal()
}

// status is the middleware's status for a request with the query from ip:
// whether a credential works.
func (e *testEnv) status(ip, query string) int {
	e.t.Helper()
	r := httptest.NewRequest("GET", "/?"+query, nil)
	r.RemoteAddr = net.JoinHostPort(ip, "1")
	rec := httptest.NewRecorder()
	e.a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, r)
	return rec.Code
}

// principal is the principal the middleware finds for the query.
func (e *testEnv) principal(query string) authn.Principal {
	e.t.Helper()
	var p authn.Principal
	e.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ = authn.PrincipalFrom(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?"+query, nil))
	return p
}

// apiAnswer is one decoded API answer.
type apiAnswer struct {
	status     int
	code       int
	ok         bool
	text       any
	body       string
	retryAfter string
	header     http.Header
	fields     map[string]any
}

// call posts the form to env's API from ip.
func (e *testEnv) call(ip, form string) apiAnswer {
	e.t.Helper()
	return e.callAPI(e.api, ip, form)
}

// callAPI posts the form to h from ip, and decodes the JSON answer.
func (e *testEnv) callAPI(h http.Handler, ip, form string) apiAnswer {
	e.t.Helper()
	r := postForm(form)
	r.RemoteAddr = net.JoinHostPort(ip, "40000")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return decode(e.t, rec)
}

// decode reads an answer: Octeth's envelope or WMD's.
func decode(t testing.TB, rec *httptest.ResponseRecorder) apiAnswer {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	a := apiAnswer{status: rec.Code, body: rec.Body.String(), retryAfter: rec.Header().Get("Retry-After"), header: rec.Header(), fields: body}
	switch code := body["ErrorCode"].(type) {
	case float64:
		a.code = int(code)
	case []any: // ErrorCodeAsList, OctethV5
		if len(code) == 1 {
			f, _ := code[0].(float64)
			a.code = int(f)
		}
	}
	a.text = body["ErrorText"]
	a.ok, _ = body["Success"].(bool)
	if s, ok := body["status"].(string); ok { // WMD
		a.ok, a.text = s == "ok", body["error"]
	}
	return a
}

// postForm builds a POST with an urlencoded body.
func postForm(body string) *http.Request {
	r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// captchaAnswer makes a captcha through Captcha.New from ip and reads its
// answer from the store, as a person reads the image.
func (e *testEnv) captchaAnswer(ip string) (id, digits string) {
	e.t.Helper()
	a := e.call(ip, "Command=Captcha.New")
	if !a.ok {
		e.t.Fatalf("Captcha.New: %s", a.body)
	}
	id = a.fields["CaptchaID"].(string)
	if a.fields["ImageURL"] != "/captcha/"+id+".png" || a.fields["AudioURL"] != "/captcha/"+id+".wav" {
		e.t.Fatalf("URLs: %v", a.fields)
	}
	c, err := e.mem.Challenge(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range c.Digits {
		b.WriteByte('0' + d)
	}
	return id, b.String()
}

// enableTFA turns 2FA on for acct through the API, from a fresh password
// session, and returns the TOTP secret, the recovery codes, and the
// session the caller goes on with.
func (e *testEnv) enableTFA(acct store.Account) (secret string, codes []string, sid string) {
	e.t.Helper()
	prefix := "User"
	if acct.Scope == scopes.Admin {
		prefix = "Admin"
	}
	sid = e.session(acct)
	a := e.call("192.0.2.250", "Command="+prefix+".TFA.Setup&SessionID="+sid)
	if !a.ok {
		e.t.Fatalf("TFA.Setup: %s", a.body)
	}
	secret = a.fields["TFASecret"].(string)
	a = e.call("192.0.2.250", "Command="+prefix+".TFA.Enable&SessionID="+sid+"&TFACode="+totpCode(e.t, secret, e.clock.Now()))
	if !a.ok {
		e.t.Fatalf("TFA.Enable: %s", a.body)
	}
	for _, c := range a.fields["RecoveryCodes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes, a.fields["SessionID"].(string)
}

// totpCode is secret's TOTP code at t.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := pqtotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// failingStore fails every call of the methods named in fail with errDown.
type failingStore struct {
	store.Store
	mu   sync.Mutex
	fail map[string]bool
}

var errDown = errors.New("connection refused")

func (f *failingStore) failing(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[method]
}

func (f *failingStore) set(method string, fail bool) {
	f.mu.Lock()
	f.fail[method] = fail
	f.mu.Unlock()
}

func (f *failingStore) AccountByLogin(ctx context.Context, s scopes.Scope, login string) (store.Account, error) {
	if f.failing("AccountByLogin") {
		return store.Account{}, errDown
	}
	return f.Store.AccountByLogin(ctx, s, login)
}

func (f *failingStore) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	if f.failing("Session") {
		return store.Session{}, errDown
	}
	return f.Store.Session(ctx, h)
}

// hostCaptcha is a host's own captcha service (hCaptcha, Turnstile): it
// makes its challenges itself, and "ok" answers them.
type hostCaptcha struct{}

func (hostCaptcha) Check(_ context.Context, r captcha.Response) (bool, error) {
	return r.Answer == "ok", nil
}

// itoa is an account ID as a parameter.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }
