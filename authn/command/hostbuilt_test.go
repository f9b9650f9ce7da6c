package command_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Every exported function and method of the package, called with the
// values a host can build itself (zero structs, a Call it makes to test a
// command, requests made with httptest, configs filled in by hand),
// returns (an error, if it must), and never panics: a test over the
// package's whole API, by reflection, as authn's is over its own, so that
// a method added later is covered too.
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	a := newAuthenticator(t)
	api := command.New(a, command.Config{})
	wmd := command.New(a, command.Config{Dialect: command.WMD, Credentials: []authn.Method{authn.MethodEToken}})
	unmade, unmadeWMD := command.New(nil, command.Config{}), command.New(nil, command.Config{Dialect: command.WMD})
	receivers := []any{
		api, wmd, command.New(a, command.Config{Profile: command.OctethV5, Dialect: 99, CaptchaPolicy: 99}),
		unmade, unmadeWMD, &command.API{}, (*command.API)(nil),
		&command.Call{}, (*command.Call)(nil),
		&command.Call{HTTP: httptest.NewRequest("POST", "/", strings.NewReader("a=1&a=2"))},
		&command.Call{HTTP: httptest.NewRequest("GET", "/?SessionID=x", nil), Principal: authn.Principal{Scope: scopes.User, AccountID: 1}},
		&command.Call{Params: &form.Params{}},
		&command.Error{}, &command.Error{Code: 1, Text: "x", Fields: command.Fields{"Success": true}},
	}
	funcs := map[string]any{"New": command.New, "Fail": command.Fail, "Dialects": command.Dialects}
	var calls int
	var panics []string
	for _, recv := range receivers {
		v := reflect.ValueOf(recv)
		for i := range v.NumMethod() {
			n, p := callAll(t, fmt.Sprintf("%T.%s", recv, v.Type().Method(i).Name), v.Method(i))
			calls, panics = calls+n, append(panics, p...)
		}
	}
	for name, f := range funcs {
		n, p := callAll(t, name, reflect.ValueOf(f))
		calls, panics = calls+n, append(panics, p...)
	}
	// The built-in commands too, through the router, with a host's
	// requests of every kind; and through APIs made without an
	// authenticator, alone and as dialects of one endpoint.
	handlers := []http.Handler{api, wmd, unmade, unmadeWMD, &command.API{}}
	for _, pair := range [][2]*command.API{{api, wmd}, {unmade, unmadeWMD}} {
		h, err := command.Dialects(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		handlers = append(handlers, h)
	}
	for _, h := range handlers {
		for _, r := range hostRequests() {
			calls++
			if msg := hostcall.Call("ServeHTTP", reflect.ValueOf(h.ServeHTTP), []reflect.Value{reflect.ValueOf(httptest.NewRecorder()), reflect.ValueOf(r)}, func(any) {}); msg != "" {
				panics = append(panics, msg)
			}
		}
	}
	for _, p := range panics {
		t.Error(p)
	}
	t.Logf("%d calls", calls)
}

// An API made without an authenticator, or the zero API, answers every
// request with the internal error (500) in its envelope; the zero API
// takes commands all the same; a nil API answers 500 too.
func TestUnmadeAPIAnswersInternalError(t *testing.T) {
	t.Parallel()
	zero := &command.API{}
	run := func(*command.Call) (command.Fields, error) { return command.Fields{"Done": true}, nil }
	if err := zero.Handle("Host.Run", command.Command{Public: true, Run: run}); err != nil {
		t.Fatal(err)
	}
	if err := (*command.API)(nil).Handle("Host.Run", command.Command{Public: true, Run: run}); err == nil {
		t.Error("Handle on a nil API: no error")
	}
	unmadeWMD := command.New(nil, command.Config{Dialect: command.WMD})
	both, err := command.Dialects(command.New(nil, command.Config{}), unmadeWMD)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{
		"New(nil)": command.New(nil, command.Config{}), "New(nil) WMD": unmadeWMD, "zero": zero,
		"Dialects": both, "nil": (*command.API)(nil),
	} {
		for _, q := range []string{"Command=Host.Run", "Command=User.Login&Username=someone&Password=x", "c=auth", "Command=User.Login&Command=x", "a=%zz", ""} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/api.php?"+q, nil))
			if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "Done") ||
				!strings.Contains(w.Body.String(), `"Internal error"`) {
				t.Errorf("%s, %s: %d %s; want 500, an internal error", name, q, w.Code, w.Body)
			}
		}
	}
}

// The harness finds a panic where there is one.
func TestHostBuiltCatchesPanics(t *testing.T) {
	t.Parallel()
	fragile := func(c *command.Call) string { return c.HTTP.Method }
	calls, panics := callAll(t, "fragile", reflect.ValueOf(fragile))
	if calls != 3 || len(panics) != 2 || !strings.Contains(panics[0], "fragile(") {
		t.Fatalf("%d calls, panics %q", calls, panics)
	}
}

var discardLogger = slog.New(slog.DiscardHandler)

// newAuthenticator is an authenticator on a memory store with an account
// of each scope, cheap hashing and a quiet log.
func newAuthenticator(t *testing.T) *authn.Authenticator {
	t.Helper()
	a, err := authn.New(authn.Config{
		Cookie:    authn.CookieConfig{AllowPlaintextHTTP: true},
		Passwords: authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Logger:    discardLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []scopes.Scope{scopes.User, scopes.Admin} {
		if _, err := a.CreateAccount(context.Background(), store.Account{Scope: s, Username: "someone"}, "someone's password"); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// hostRequests are requests for every built-in command, anonymous and
// with credentials that do not work, in both dialects' words.
func hostRequests() []*http.Request {
	names := []string{
		"User.Login", "Admin.Login", "User.Logout", "Admin.Logout", "User.APIKey.Create", "User.APIKey.Delete", "User.APIKeys.Get",
		"User.TFA.Setup", "User.TFA.Enable", "User.TFA.Disable", "User.TFA.RecoveryCodes.Regenerate",
		"Admin.TFA.Setup", "Admin.TFA.Enable", "Admin.TFA.Disable", "Admin.TFA.RecoveryCodes.Regenerate",
		"Admin.Update", "User.Update", "User.PasswordChange", "User.Current", "User.Switch", "Captcha.New",
		"User.PasswordRemind", "User.PasswordReset", "Admin.PasswordRemind", "Admin.PasswordReset", "",
	}
	var rs []*http.Request
	for _, n := range names {
		for _, q := range []string{"", "&Username=someone&Password=someone's+password&DisableCaptcha=true", "&SessionID=x&APIKey=kw_x&ResponseFormat=XML", "&c=auth&user=someone&pass=x&logout=1"} {
			r := httptest.NewRequest("POST", "/api.php?Command="+n+q, strings.NewReader("UserID=1&AdminID=1&EmailAddress=%ff"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rs = append(rs, r)
		}
	}
	return append(rs, httptest.NewRequest("GET", "/api.php?c=auth", nil), httptest.NewRequest("GET", "/", nil))
}

// hostValues returns values of type typ that a host can build, the first
// the most ordinary.
func hostValues(t *testing.T, typ reflect.Type) []reflect.Value {
	get := httptest.NewRequest("GET", "/", nil)
	post := httptest.NewRequest("POST", "/?Command=User.Login", strings.NewReader("x=1"))
	run := func(*command.Call) (command.Fields, error) { return nil, nil }
	var vals []any
	switch typ {
	case reflect.TypeFor[context.Context]():
		vals = []any{context.Background()}
	case reflect.TypeFor[*http.Request]():
		vals = []any{get, post, (*http.Request)(nil)}
	case reflect.TypeFor[http.ResponseWriter]():
		vals = []any{httptest.NewRecorder()}
	case reflect.TypeFor[*authn.Authenticator]():
		vals = []any{newAuthenticator(t), (*authn.Authenticator)(nil), &authn.Authenticator{}}
	case reflect.TypeFor[*command.API]():
		a := newAuthenticator(t)
		vals = []any{command.New(a, command.Config{}), command.New(a, command.Config{Dialect: command.WMD}),
			command.New(nil, command.Config{Dialect: command.WMD}), command.New(&authn.Authenticator{}, command.Config{}),
			&command.API{}, (*command.API)(nil)}
	case reflect.TypeFor[*command.Call]():
		vals = []any{&command.Call{HTTP: get}, &command.Call{}, (*command.Call)(nil)}
	case reflect.TypeFor[command.Config]():
		vals = []any{
			command.Config{},
			command.Config{Dialect: command.WMD, Profile: command.OctethV5, AlwaysHTTP200: true, ErrorCodeAsList: true, CaptchaPolicy: command.CaptchaNever, CaptchaURL: "x"},
			command.Config{Dialect: 7, Profile: 7, CaptchaPolicy: 7, Credentials: []authn.Method{0, authn.MethodCustom, 200}},
		}
	case reflect.TypeFor[command.Command]():
		vals = []any{
			command.Command{Scopes: []scopes.Scope{scopes.User}, Run: run},
			command.Command{},
			command.Command{Public: true, Run: func(*command.Call) (command.Fields, error) { panic("a host's bug") }},
			command.Command{Scopes: []scopes.Scope{scopes.User, 0}, Run: run},
		}
	default:
		switch typ.Kind() {
		case reflect.String:
			return []reflect.Value{reflect.ValueOf("").Convert(typ), reflect.ValueOf("User.Login").Convert(typ), reflect.ValueOf(strings.Repeat("\xff", 300)).Convert(typ)}
		case reflect.Int, reflect.Int64, reflect.Uint8:
			return []reflect.Value{reflect.Zero(typ), reflect.ValueOf(1).Convert(typ), reflect.ValueOf(-1).Convert(typ)}
		case reflect.Bool:
			return []reflect.Value{reflect.ValueOf(false), reflect.ValueOf(true)}
		case reflect.Slice:
			return []reflect.Value{reflect.Zero(typ), reflect.MakeSlice(typ, 1, 1)}
		case reflect.Pointer:
			return []reflect.Value{reflect.New(typ.Elem()), reflect.Zero(typ)}
		case reflect.Struct, reflect.Interface, reflect.Func, reflect.Map:
			return []reflect.Value{reflect.Zero(typ)}
		}
	}
	return hostcall.Of(typ, vals...)
}

// callAll calls f with every host-built argument (hostcall.All), serving
// requests through each handler it returns.
func callAll(t *testing.T, name string, f reflect.Value) (int, []string) {
	t.Helper()
	return hostcall.All(t, name, f, func(typ reflect.Type) []reflect.Value { return hostValues(t, typ) }, func(v any) {
		if h, ok := v.(http.Handler); ok {
			for _, r := range hostRequests()[:8] {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		}
	})
}
