package authntest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
)

// The helpers' credentials work through the real middleware.
func TestLoginCredentials(t *testing.T) {
	t.Parallel()
	env := New(t, Options{})
	s := env.Login(t, env.User)
	var got []authn.Method
	h := env.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		got = append(got, p.Method)
	}))
	for _, r := range []*http.Request{
		Form("/x", "SessionID", s.ID),
		func() *http.Request { r := httptest.NewRequest("GET", "/x", nil); r.AddCookie(s.Cookie); return r }(),
		func() *http.Request {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set("Authorization", "Bearer "+s.EToken)
			return r
		}(),
		Form("/x", "APIKey", env.APIKey(t, env.User)),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	want := []authn.Method{authn.MethodSession, authn.MethodCookie, authn.MethodEToken, authn.MethodAPIKey}
	if len(got) != len(want) {
		t.Fatalf("methods %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("methods %v, want %v", got, want)
		}
	}
	// The clock drives expiry.
	env.Clock.Advance(31 * time.Minute)
	rec := httptest.NewRecorder()
	env.Auth.Middleware(http.NotFoundHandler()).ServeHTTP(rec, Form("/x", "SessionID", s.ID))
	if rec.Code != 401 {
		t.Fatalf("expired session: %d", rec.Code)
	}
}

// A principal from SignedIn is accepted where a password session is needed.
func TestSignedIn(t *testing.T) {
	t.Parallel()
	env := New(t, Options{})
	_, p := env.SignedIn(t, env.User)
	WantOK(t, env.Call(t, p, "Command", "User.APIKey.Create", "Label", "x"))
	WantCode(t, env.Call(t, env.UserPrincipal(), "Command", "User.APIKey.Create", "Label", "x"), 403)
	WantOK(t, env.Call(t, p, "Command", "User.Logout"))
}

func TestSeededLogins(t *testing.T) {
	t.Parallel()
	env := New(t, Options{})
	WantOK(t, env.Call(t, authn.Principal{}, "Command", "User.Login", "Username", UserName, "Password", UserPassword))
	WantOK(t, env.Call(t, authn.Principal{}, "Command", "Admin.Login", "Username", AdminName, "Password", AdminPassword))
	WantCode(t, env.Call(t, authn.Principal{}, "Command", "User.Login", "Username", UserName, "Password", "nope"), 3)
}

func TestDecode(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	rec.WriteHeader(200)
	rec.WriteString(`{"Success":false,"ErrorCode":[3],"ErrorText":"Invalid login credentials","Extra":"x"}`)
	e := Decode(t, rec)
	if e.Success || e.Code != 3 || e.Text != "Invalid login credentials" || e.String("Extra") != "x" || Code(t, rec) != 3 {
		t.Fatalf("%+v", e)
	}
	list := New(t, Options{API: command.Config{ErrorCodeAsList: true}})
	WantCode(t, list.Call(t, authn.Principal{}, "Command", "Nope.Nope"), 404)
	if !strings.Contains(list.Call(t, list.UserPrincipal(), "Command", "User.APIKeys.Get").Header.Get("Content-Type"), "json") {
		t.Fatal("content type")
	}
}
