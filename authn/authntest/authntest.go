package authntest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// T is what the helpers need of a test: *testing.T, *testing.B and
// *testing.F all are one.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// The seeded accounts' credentials.
const (
	UserName      = "alice@example.com"
	UserPassword  = "alice-password-for-tests"
	AdminName     = "admin"
	AdminPassword = "admin-password-for-tests"
)

// Options adjust an [Env].
type Options struct {
	// Config, if set, edits the authenticator's Config before New: set
	// Credentials or Resolvers, a throttle. Store, Now and the hashing
	// cost are the Env's.
	Config func(*authn.Config)
	// API configures Env.API (dialect, profile, envelope options). Its
	// zero CaptchaPolicy is taken as command.CaptchaAfterFailures, so that
	// tests log in without a captcha until the throttle asks for one; set
	// CaptchaAlways to test captchas.
	API command.Config
}

// Env is keyward for a test. Its fields are ready to use; it is safe for
// concurrent use as its parts are.
type Env struct {
	// Auth is the authenticator.
	Auth *authn.Authenticator
	// API is a command API on Auth, with keyward's built-in commands;
	// register the host's own with API.Handle.
	API *command.API
	// Store is the in-memory store behind Auth. Auth caches what
	// credentials resolve to (authn.CacheConfig): a test that changes an
	// account, a key or a session here directly, behind keyward's back,
	// calls Auth.Invalidate for the account before the next request.
	Store *store.Memory
	// Clock is Auth's and Store's clock.
	Clock *Clock
	// User and Admin are the seeded accounts: UserName / UserPassword
	// and AdminName / AdminPassword.
	User, Admin store.Account
}

// New returns an Env, failing t if it cannot be made.
func New(t T, opts Options) *Env {
	t.Helper()
	clock := NewClock()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	cfg := authn.Config{
		Store:     mem,
		Now:       clock.Now,
		Passwords: authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Logger:    slog.New(slog.DiscardHandler),
		Cookie:    authn.CookieConfig{AllowPlaintextHTTP: true},
	}
	if opts.Config != nil {
		opts.Config(&cfg)
		cfg.Store, cfg.Now = mem, clock.Now
	}
	a, err := authn.New(cfg)
	if err != nil {
		t.Fatalf("authntest: %v", err)
	}
	api := opts.API
	if api.CaptchaPolicy == command.CaptchaOcteth {
		api.CaptchaPolicy = command.CaptchaAfterFailures
	}
	env := &Env{Auth: a, API: command.New(a, api), Store: mem, Clock: clock}
	env.User = env.seed(t, store.Account{Scope: scopes.User, Username: UserName, Email: UserName, FirstName: "Alice", LastName: "Example"}, UserPassword)
	env.Admin = env.seed(t, store.Account{Scope: scopes.Admin, Username: AdminName, Email: "admin@example.com", Name: "Administrator"}, AdminPassword)
	return env
}

func (e *Env) seed(t T, acct store.Account, password string) store.Account {
	t.Helper()
	acct, err := e.Auth.CreateAccount(context.Background(), acct, password)
	if err != nil {
		t.Fatalf("authntest: %v", err)
	}
	return acct
}

// AddUser creates another user account with the password.
func (e *Env) AddUser(t T, username, password string) store.Account {
	t.Helper()
	return e.seed(t, store.Account{Scope: scopes.User, Username: username, Email: username}, password)
}

// UserPrincipal is a principal of the seeded user with no session behind
// it: enough for commands that read the principal. Commands that need a
// session made with a password (logout, keys, 2FA, password changes) want
// [Env.SignedIn].
func (e *Env) UserPrincipal() authn.Principal { return principalOf(e.User, e.Clock.Now()) }

// AdminPrincipal is a principal of the seeded administrator.
func (e *Env) AdminPrincipal() authn.Principal { return principalOf(e.Admin, e.Clock.Now()) }

func principalOf(a store.Account, at time.Time) authn.Principal {
	return authn.Principal{Scope: a.Scope, AccountID: a.ID, Username: a.Username, Method: authn.MethodSession, AuthenticatedAt: at, Login: "password"}
}

// Session is what a login gives a client.
type Session struct {
	// ID is the SessionID.
	ID string
	// EToken is a fresh etoken of the session.
	EToken string
	// Cookie is the session cookie.
	Cookie *http.Cookie
}

// Login starts a session for the account, as a password login would, and
// returns its ID, an etoken and the cookie.
func (e *Env) Login(t T, acct store.Account) Session {
	t.Helper()
	sid, err := e.Auth.StartSession(context.Background(), acct, authn.SessionOptions{Method: "password"})
	if err != nil {
		t.Fatalf("authntest: %v", err)
	}
	rec := httptest.NewRecorder()
	tok, err := e.Auth.HandOver(rec, httptest.NewRequest("GET", "/", nil), sid, true)
	if err != nil {
		t.Fatalf("authntest: %v", err)
	}
	return Session{ID: sid.Reveal(), EToken: tok.Reveal(), Cookie: rec.Result().Cookies()[0]}
}

// SignedIn logs the account in with a password session, as Login does,
// and returns the session and the principal the middleware finds for it:
// a principal that logout and the key and 2FA commands accept.
func (e *Env) SignedIn(t T, acct store.Account) (Session, authn.Principal) {
	t.Helper()
	s := e.Login(t, acct)
	var p authn.Principal
	h := e.Auth.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		p, _ = authn.PrincipalFrom(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), Form("/", "SessionID", s.ID))
	if !p.HasSession() {
		t.Fatalf("authntest: the new session does not resolve")
	}
	return s, p
}

// APIKey creates an API key for the account and returns it.
func (e *Env) APIKey(t T, acct store.Account) string {
	t.Helper()
	k, _, err := e.Auth.CreateAPIKey(context.Background(), acct.Ref(), authn.APIKeyOptions{Label: "authntest"})
	if err != nil {
		t.Fatalf("authntest: %v", err)
	}
	return k.Reveal()
}

// WithPrincipal returns a copy of r whose context carries p, as if the
// middleware had authenticated it: for a handler's own test.
func WithPrincipal(r *http.Request, p authn.Principal) *http.Request {
	return r.WithContext(authn.WithPrincipal(r.Context(), p))
}

// Form returns a POST of the name/value pairs as an urlencoded form, as
// Octeth's clients send them.
func Form(target string, kv ...string) *http.Request {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	r := httptest.NewRequest("POST", target, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// Call calls a command on e.API as p, with the name/value pairs as the
// form (name the command yourself: "Command", "List.Create"), and returns
// the decoded envelope. The zero Principal calls anonymously; credentials
// in the pairs are resolved as usual.
func (e *Env) Call(t T, p authn.Principal, kv ...string) Envelope {
	t.Helper()
	r := Form("/api.php", kv...)
	if p.Authenticated() {
		r = WithPrincipal(r, p)
	}
	rec := httptest.NewRecorder()
	e.API.ServeHTTP(rec, r)
	return Decode(t, rec)
}

// Envelope is a decoded answer of an Octeth API.
type Envelope struct {
	// Status is the HTTP status.
	Status int
	// Success, Code and Text are the envelope's (a list's one element
	// when the API sends lists).
	Success bool
	Code    int
	Text    string
	// Fields are every field, the envelope's included, undecoded.
	Fields map[string]json.RawMessage
	// Header is the answer's header.
	Header http.Header
}

// String returns the field as a string, or "".
func (e Envelope) String(field string) string {
	var s string
	_ = json.Unmarshal(e.Fields[field], &s)
	return s
}

// Int returns the field as a number, or 0.
func (e Envelope) Int(field string) int64 {
	var n int64
	_ = json.Unmarshal(e.Fields[field], &n)
	return n
}

// Decode reads an Octeth envelope from a recorded answer, failing t if it
// is not one. ErrorCode may be a number or a one-element list.
func Decode(t T, rec *httptest.ResponseRecorder) Envelope {
	t.Helper()
	e := Envelope{Status: rec.Code, Header: rec.Header()}
	body, _ := io.ReadAll(bytes.NewReader(rec.Body.Bytes()))
	if err := json.Unmarshal(body, &e.Fields); err != nil {
		t.Fatalf("authntest: not a JSON envelope: %v: %s", err, body)
	}
	if err := json.Unmarshal(e.Fields["Success"], &e.Success); err != nil {
		t.Fatalf("authntest: envelope without Success: %s", body)
	}
	code := e.Fields["ErrorCode"]
	if len(code) > 0 && code[0] == '[' {
		var list []int
		if err := json.Unmarshal(code, &list); err != nil || len(list) != 1 {
			t.Fatalf("authntest: ErrorCode %s", code)
		}
		e.Code = list[0]
	} else if err := json.Unmarshal(code, &e.Code); err != nil {
		t.Fatalf("authntest: ErrorCode %s", code)
	}
	_ = json.Unmarshal(e.Fields["ErrorText"], &e.Text)
	return e
}

// Code returns the ErrorCode of a recorded Octeth answer.
func Code(t T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	return Decode(t, rec).Code
}

// WantOK fails t unless e is a success.
func WantOK(t T, e Envelope) {
	t.Helper()
	if !e.Success || e.Code != 0 || e.Status != http.StatusOK {
		t.Fatalf("want success, got HTTP %d ErrorCode %d %q", e.Status, e.Code, e.Text)
	}
}

// WantCode fails t unless e is a failure with the code (and, for the
// general codes 400 to 503, that HTTP status).
func WantCode(t T, e Envelope, code int) {
	t.Helper()
	status := http.StatusOK
	if code >= 400 && code < 600 {
		status = code
	}
	if e.Success || e.Code != code || e.Status != status {
		t.Fatalf("want ErrorCode %d (HTTP %d), got HTTP %d ErrorCode %d %q", code, status, e.Status, e.Code, e.Text)
	}
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at 2026-01-02 03:04:05 UTC.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
