package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Every exported function and method, called with the values a host can
// build itself (zero structs, requests made with httptest, principals
// filled in by hand, a Request holding only its HTTP request) and with
// those it gets from a login (a principal on a session, the session's
// ID), returns (an error, if it must), and never panics: a test over the
// package's whole API, by reflection, so that a method added later is
// covered too. It goes over the API twice, the principal filled in by hand
// the ordinary one the first time, the one on a session the second, so
// that each meets every other argument's values (a nil request among
// them).
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	a, err := authn.New(authn.Config{Cookie: authn.CookieConfig{AllowPlaintextHTTP: true}, Passwords: cheapHashing, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	handByHand := authn.Principal{Scope: scopes.User, AccountID: 1, Username: "someone"}
	onSession, id := loggedIn(t, a)
	receivers := []any{
		a, &authn.Authenticator{}, (*authn.Authenticator)(nil), // the last two not made by New
		&authn.Request{}, &authn.Request{HTTP: httptest.NewRequest("GET", "/?SessionID=x", nil)},
		a.Request(httptest.NewRequest("POST", "/?APIKey=kw_x", strings.NewReader("a=1"))),
		&form.Params{}, authn.Principal{}, handByHand, onSession, authn.Secret{}, id,
		&authn.ThrottledError{}, authn.Method(0), authn.MethodCustom + 1,
	}
	funcs := map[string]any{
		"Disable2FAToken": authn.Disable2FAToken, "PublicError": authn.PublicError,
		"WithPrincipal": authn.WithPrincipal, "WriteJSONError": authn.WriteJSONError,
		"PrincipalFrom": authn.PrincipalFrom, "New": authn.New,
	}
	calls := 0
	for _, p := range []authn.Principal{handByHand, onSession} {
		calls += hostcall.Sweep(t, receivers, funcs, func(typ reflect.Type) []reflect.Value { return hostValues(typ, p, id) }, serve)
	}
	t.Logf("%d calls", calls)
}

// The harness finds a panic where there is one: a host-built nil or zero
// value that a function does not expect.
func TestHostBuiltCatchesPanics(t *testing.T) {
	t.Parallel()
	fragile := func(r *authn.Request, p authn.Principal) string { return r.HTTP.Method + p.Username }
	calls, panics := callAll(t, "fragile", reflect.ValueOf(fragile), authn.Principal{}, authn.Secret{})
	// (*Request){HTTP: get} first; then &Request{} and nil, each panicking.
	if calls < 3 || len(panics) != 2 || !strings.Contains(panics[0], "fragile(") {
		t.Fatalf("%d calls, panics %q", calls, panics)
	}
}

// A nil request is refused, not a panic: EndSession ends nothing, and
// HandOver ends the session it has nobody to hand to.
func TestSessionsNeedRequest(t *testing.T) {
	t.Parallel()
	a, err := authn.New(authn.Config{Cookie: authn.CookieConfig{AllowPlaintextHTTP: true}, Passwords: cheapHashing, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p, id := loggedIn(t, a)
	if err := a.EndSession(httptest.NewRecorder(), nil, p); !errors.Is(err, authn.ErrBadRequest) {
		t.Errorf("EndSession(nil request): %v; want ErrBadRequest", err)
	}
	if !sessionWorks(a, id) {
		t.Error("EndSession(nil request) ended the session")
	}
	for _, setCookie := range []bool{false, true} {
		acct, err := a.Account(context.Background(), p.Account())
		if err != nil {
			t.Fatal(err)
		}
		id, err := a.StartSession(context.Background(), acct, authn.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		if etoken, err := a.HandOver(w, nil, id, setCookie); !errors.Is(err, authn.ErrBadRequest) || etoken.Reveal() != "" || len(w.Result().Cookies()) > 0 {
			t.Errorf("HandOver(nil request, %v): %v, an etoken %v, %d cookies; want ErrBadRequest and nothing", setCookie, err, etoken.Reveal() != "", len(w.Result().Cookies()))
		}
		if sessionWorks(a, id) {
			t.Errorf("HandOver(nil request, %v) left the session it handed to nobody", setCookie)
		}
	}
}

// An Authenticator not made by New, zero or nil, answers one error, which
// PublicError makes 503 (not ErrStoreUnavailable: no store failed); its
// middleware and handlers answer it as JSON and call no next handler.
func TestNotMadeAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	answer := func(err error) (int, string) {
		if errors.Is(err, authn.ErrStoreUnavailable) {
			return 0, "ErrStoreUnavailable"
		}
		return authn.PublicError(err)
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the next handler was called") })
	served := func(h http.Handler) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		var body struct {
			Status int
			Error  string
		}
		if err := json.NewDecoder(w.Body).Decode(&body); err != nil || body.Status != w.Code || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			return w.Code, fmt.Sprintf("%q, body %+v (%v)", w.Header().Get("Content-Type"), body, err)
		}
		return w.Code, body.Error
	}
	for _, a := range []*authn.Authenticator{{}, new(authn.Authenticator), nil} {
		for name, call := range map[string]func() (int, string){
			"Login": func() (int, string) {
				_, err := a.Login(ctx, authn.LoginRequest{Scope: scopes.User, Username: "someone", Password: "a password"})
				return answer(err)
			},
			"Account": func() (int, string) {
				_, err := a.Account(ctx, store.AccountRef{Scope: scopes.User, ID: 1})
				return answer(err)
			},
			"Middleware":     func() (int, string) { return served(a.Middleware(next)) },
			"Require":        func() (int, string) { return served(a.Require()(next)) },
			"CaptchaHandler": func() (int, string) { return served(a.CaptchaHandler()) },
		} {
			if status, text := call(); status != http.StatusServiceUnavailable || text != "Service unavailable" {
				t.Errorf("%s of %#v: %d %s; want 503 Service unavailable", name, a, status, text)
			}
		}
	}
}

// cheapHashing is password hashing fast enough for tests.
var cheapHashing = authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1}

// loggedIn returns a principal on a session, as a host gets one (a
// password login, then a request with its SessionID through
// Authenticate), and the session's ID.
func loggedIn(t *testing.T, a *authn.Authenticator) (authn.Principal, authn.Secret) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "someone"}, "someone's password"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Login(ctx, authn.LoginRequest{Scope: scopes.User, Username: "someone", Password: "someone's password", HTTP: httptest.NewRequest("POST", "/", nil)})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/?SessionID="+url.QueryEscape(res.SessionID.Reveal()), nil)
	next, err := a.Authenticate(httptest.NewRecorder(), a.Request(r), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := authn.PrincipalFrom(next.Context())
	if !ok || !p.HasSession() {
		t.Fatalf("principal %+v of a SessionID has no session", p)
	}
	return p, res.SessionID
}

// sessionWorks reports whether a request with the session ID id is
// signed in.
func sessionWorks(a *authn.Authenticator, id authn.Secret) bool {
	r := httptest.NewRequest("GET", "/?SessionID="+url.QueryEscape(id.Reveal()), nil)
	_, err := a.Authenticate(httptest.NewRecorder(), a.Request(r), nil)
	return err == nil
}

// quiet is the log of the authenticators here: what they report is not
// what is tested.
var quiet = slog.New(slog.DiscardHandler)

// serve sends a request through a handler, or through a middleware in
// front of one.
func serve(v any) {
	r := httptest.NewRequest("POST", "/?Command=User.Current&SessionID=x", strings.NewReader("APIKey=kw_x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch h := v.(type) {
	case http.Handler:
		h.ServeHTTP(httptest.NewRecorder(), r)
	case func(http.Handler) http.Handler:
		h(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	}
}

// hostValues returns values of type t that a host can build, or has from
// a login (p, id), the first the most ordinary.
func hostValues(t reflect.Type, p authn.Principal, id authn.Secret) []reflect.Value {
	get := httptest.NewRequest("GET", "/", nil)
	post := httptest.NewRequest("POST", "/", strings.NewReader("x=1"))
	var vals []any
	switch t {
	case reflect.TypeFor[context.Context]():
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		vals = []any{context.Background(), cancelled, authn.WithPrincipal(context.Background(), p)}
	case reflect.TypeFor[*http.Request]():
		vals = []any{get, post, (*http.Request)(nil)}
	case reflect.TypeFor[http.ResponseWriter]():
		vals = []any{httptest.NewRecorder()}
	case reflect.TypeFor[http.Handler]():
		vals = []any{http.NotFoundHandler(), http.Handler(nil)}
	case reflect.TypeFor[authn.Principal]():
		vals = []any{p, authn.Principal{}, authn.Principal{Scope: scopes.Admin, AccountID: 99, Method: authn.MethodCookie}}
	case reflect.TypeFor[*authn.Request]():
		vals = []any{&authn.Request{HTTP: get}, &authn.Request{}, (*authn.Request)(nil),
			&authn.Request{HTTP: httptest.NewRequest("GET", "/?APIKey=kw_x&SessionID="+strings.Repeat("A", 43), nil)}}
	case reflect.TypeFor[*authn.Authenticator]():
		a, _ := authn.New(authn.Config{Logger: quiet})
		vals = []any{a}
	case reflect.TypeFor[authn.Config]():
		vals = []any{authn.Config{}, authn.Config{Store: store.NewMemory(store.MemoryConfig{})}, authn.Config{Credentials: []authn.Method{}}}
	case reflect.TypeFor[[]authn.Method]():
		vals = []any{[]authn.Method(nil), []authn.Method{}, []authn.Method{authn.MethodCookie}, []authn.Method{0, authn.MethodCustom, authn.MethodCustom + 1}}
	case reflect.TypeFor[authn.LoginRequest]():
		vals = []any{
			authn.LoginRequest{Scope: scopes.User, Username: "someone", Password: "a password"},
			authn.LoginRequest{},
			authn.LoginRequest{Scope: scopes.Admin, APIKey: "kw_x", HTTP: post},
			authn.LoginRequest{EitherScope: true, Username: "someone", Password: "a password", TFACode: "123456", HTTP: get},
			authn.LoginRequest{Scope: scopes.User, Username: "someone", Password: "pw", TFARecoveryCode: "AAAA-BBBB-CCCC", Disable2FA: true,
				Disable2FAToken: "x", StaticBypass: true, CaptchaID: "x", Captcha: "1", AskCaptcha: true},
		}
	case reflect.TypeFor[store.Account]():
		vals = []any{store.Account{Scope: scopes.User, ID: 1, Username: "someone"}, store.Account{}}
	case reflect.TypeFor[store.AccountRef]():
		vals = []any{store.AccountRef{Scope: scopes.User, ID: 1}, store.AccountRef{}}
	case reflect.TypeFor[authn.SessionOptions]():
		vals = []any{authn.SessionOptions{}, authn.SessionOptions{Method: "switch", SwitchedBy: p}}
	case reflect.TypeFor[authn.APIKeyOptions]():
		vals = []any{authn.APIKeyOptions{}, authn.APIKeyOptions{BoundIP: "x", ExpiresAt: time.Now(), Label: strings.Repeat("\xff", 300)}}
	case reflect.TypeFor[event.Event]():
		vals = []any{event.Event{}, event.Event{Kind: event.LoginOK, Err: authn.ErrBadRequest}}
	case reflect.TypeFor[authn.Secret]():
		vals = []any{id, authn.Secret{}}
	case reflect.TypeFor[time.Time]():
		vals = []any{time.Now(), time.Time{}}
	case reflect.TypeFor[error]():
		vals = []any{authn.ErrBadRequest, fmt.Errorf("a host's: %w", authn.ErrForbidden), error(nil)}
	default:
		switch t.Kind() {
		case reflect.String:
			return []reflect.Value{reflect.ValueOf("").Convert(t), reflect.ValueOf("x").Convert(t), reflect.ValueOf(strings.Repeat("\xff", 300)).Convert(t)}
		case reflect.Int, reflect.Int64, reflect.Uint8:
			return []reflect.Value{reflect.Zero(t), reflect.ValueOf(1).Convert(t), reflect.ValueOf(-1).Convert(t)}
		case reflect.Bool:
			return []reflect.Value{reflect.ValueOf(false), reflect.ValueOf(true)}
		case reflect.Slice:
			return []reflect.Value{reflect.Zero(t), reflect.MakeSlice(t, 1, 1)}
		case reflect.Struct, reflect.Interface, reflect.Pointer, reflect.Func, reflect.Map:
			return []reflect.Value{reflect.Zero(t)}
		}
	}
	return hostcall.Of(t, vals...)
}

// callAll calls f with every host-built argument (hostcall.All), serving a
// request through what it returns.
func callAll(t *testing.T, name string, f reflect.Value, p authn.Principal, id authn.Secret) (int, []string) {
	t.Helper()
	return hostcall.All(t, name, f, func(typ reflect.Type) []reflect.Value { return hostValues(typ, p, id) }, serve)
}
