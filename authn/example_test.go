package authn_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// newExample returns an authenticator on a memory store with one user,
// quiet logs and cheap password hashing (examples must run fast; keep the
// defaults in production).
func newExample() (*authn.Authenticator, store.Account) {
	a, err := authn.New(authn.Config{
		Store:     store.NewMemory(store.MemoryConfig{}),
		Logger:    slog.New(slog.DiscardHandler),
		Passwords: authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
	})
	if err != nil {
		panic(err)
	}
	alice, err := a.CreateAccount(context.Background(), store.Account{Scope: scopes.User, Username: "alice", Email: "alice@example.com"}, "s3cret-passphrase")
	if err != nil {
		panic(err)
	}
	return a, alice
}

// Wrap a mux in the middleware, guard a route with Require, and read the
// principal in the handler.
func ExampleAuthenticator_Middleware() {
	a, alice := newExample()
	key, _, _ := a.CreateAPIKey(context.Background(), alice.Ref(), authn.APIKeyOptions{Label: "cron"})

	mux := http.NewServeMux()
	mux.Handle("/lists", a.Require(scopes.User)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "lists of %s (%s, by %s)", p.Username, p.Scope, p.Method)
	})))
	h := a.Middleware(mux)

	for _, target := range []string{"/lists?APIKey=" + key.Reveal(), "/lists", "/lists?APIKey=kw_forged"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 200 lists of alice (user, by apikey)
	// 401 {"status":401,"error":"Authentication required"}
	//
	// 401 {"status":401,"error":"Authentication failure or session expired"}
}

// A login handler of a host's own: Login's sentinel errors become the
// host's answers, and HandOver gives the session to the client.
func ExampleAuthenticator_Login() {
	a, _ := newExample()
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.CheckOrigin(r); err != nil { // no login from another site
			authn.WriteJSONError(w, r, err)
			return
		}
		res, err := a.Login(r.Context(), authn.LoginRequest{
			Scope:    scopes.User,
			Username: r.PostFormValue("username"),
			Password: r.PostFormValue("password"),
			TFACode:  r.PostFormValue("code"),
			HTTP:     r, // the client's address is what the throttle counts
		})
		switch {
		case errors.Is(err, authn.ErrTFARequired):
			fmt.Fprintln(w, "enter the code from your app")
			return
		case err != nil:
			status, text := authn.PublicError(err)
			w.WriteHeader(status)
			fmt.Fprintln(w, text)
			return
		}
		if _, err := a.HandOver(w, r, res.SessionID, true); err != nil { // sets the cookie
			authn.WriteJSONError(w, r, err)
			return
		}
		fmt.Fprintf(w, "welcome %s (session %v)\n", res.Account.Username, res.SessionID) // a Secret prints as REDACTED
	})

	for _, form := range []string{"username=alice&password=guess", "username=Alice@Example.com&password=s3cret-passphrase", "username=alice"} {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		login.ServeHTTP(rec, r)
		fmt.Print(rec.Code, " ", rec.Body.String())
		if c := rec.Result().Cookies(); len(c) > 0 {
			fmt.Println("cookie:", c[0].Name, c[0].HttpOnly, c[0].Secure)
		}
	}
	// Output:
	// 401 Authentication failure or session expired
	// 200 welcome alice (session REDACTED)
	// cookie: __Host-keyward true true
	// 400 Missing password
}

// Start a session for an account the host checked itself (single sign-on,
// say), then authenticate requests by its ID.
func ExampleAuthenticator_StartSession() {
	a, alice := newExample()
	sid, err := a.StartSession(context.Background(), alice, authn.SessionOptions{Method: "sso"})
	if err != nil {
		panic(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		fmt.Println("signed in:", p.Username, p.Method, p.Login)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?SessionID="+sid.Reveal(), nil))
	// Output:
	// signed in: alice session sso
}

// serviceResolver is a host's own credential: a header its billing service
// sends. A real resolver checks a signature or an mTLS peer.
type serviceResolver struct{}

func (serviceResolver) Resolve(ctx context.Context, r *authn.Request) (authn.Principal, error) {
	if r.HTTP.Header.Get("X-Service") != "billing" {
		return authn.Principal{}, nil // no credential of this kind
	}
	return authn.Principal{Scope: scopes.Admin, AccountID: 1, Username: "billing"}, nil
}

// A host's own credential, tried after keyward's.
func ExampleConfig_resolvers() {
	a, err := authn.New(authn.Config{
		Logger:    slog.New(slog.DiscardHandler),
		Passwords: authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Resolvers: []authn.Resolver{serviceResolver{}},
	})
	if err != nil {
		panic(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := authn.PrincipalFrom(r.Context())
		fmt.Println(ok, p.Username, p.Scope, p.Method)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Service", "billing")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// true billing admin custom
}

// Only the credentials a host names, in its order: here a browser
// application that takes the session cookie and nothing else. A key is not
// looked at.
func ExampleConfig_credentials() {
	mem := store.NewMemory(store.MemoryConfig{})
	a, err := authn.New(authn.Config{
		Store:       mem,
		Logger:      slog.New(slog.DiscardHandler),
		Passwords:   authn.PasswordConfig{Memory: 64, Iterations: 1, Parallelism: 1},
		Credentials: []authn.Method{authn.MethodCookie},
	})
	if err != nil {
		panic(err)
	}
	alice, _ := mem.CreateAccount(context.Background(), store.Account{Scope: scopes.User, Username: "alice"})
	key, _, _ := a.CreateAPIKey(context.Background(), alice.Ref(), authn.APIKeyOptions{})
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := authn.PrincipalFrom(r.Context())
		fmt.Println("signed in:", ok)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?APIKey="+key.Reveal(), nil))
	// Output:
	// signed in: false
}

// Test a handler without a store or a server: give the request a principal.
func ExampleWithPrincipal() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := authn.PrincipalFrom(r.Context()); ok {
			fmt.Fprintf(w, "hello %s", p.Username)
		}
	})
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(authn.WithPrincipal(r.Context(), authn.Principal{Scope: scopes.User, AccountID: 7, Username: "alice"}))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	fmt.Println(rec.Body.String())
	// Output: hello alice
}
