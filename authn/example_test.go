package authn_test

import (
	"context"
	"encoding/json"
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
	mem := store.NewMemory(store.MemoryConfig{})
	a, err := authn.New(authn.Config{
		Store:  mem,
		Logger: slog.New(slog.DiscardHandler),
		Argon2: authn.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	hash, _ := a.HashPassword(ctx, "s3cret-passphrase")
	alice, err := mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice", Email: "alice@example.com", PasswordHash: hash})
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

// Log in with a password, then use the session ID.
func ExampleAuthenticator_CheckPassword() {
	a, _ := newExample()
	ctx := context.Background()

	if _, err := a.CheckPassword(ctx, scopes.User, "alice", "guess"); err != nil {
		fmt.Println("wrong password:", authn.HTTPStatus(err), authn.PublicText(err))
	}
	acct, err := a.CheckPassword(ctx, scopes.User, "Alice@Example.com", "s3cret-passphrase")
	if err != nil {
		panic(err)
	}
	sid, _ := a.StartSession(ctx, acct, authn.SessionOptions{Method: "password"})
	fmt.Println("session:", sid) // a Secret prints as REDACTED

	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		fmt.Println("signed in:", p.Username, p.Method)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?SessionID="+sid.Reveal(), nil))
	// Output:
	// wrong password: 401 Authentication failure or session expired
	// session: REDACTED
	// signed in: alice session
}

// The default credential order, and a host's own credential tried first.
func ExampleConfig_resolvers() {
	a, err := authn.New(authn.Config{
		Logger: slog.New(slog.DiscardHandler),
		Argon2: authn.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		Resolvers: append([]authn.Resolver{
			authn.ResolverFunc(func(ctx context.Context, r *authn.Request) (authn.Principal, error) {
				if r.HTTP.Header.Get("X-Service") != "billing" {
					return authn.Principal{}, authn.ErrNoCredential
				}
				// A real resolver checks a signature or an mTLS peer here.
				return authn.Principal{Scope: scopes.Admin, AccountID: 1, Username: "billing", Method: authn.MethodCustom}, nil
			}),
		}, authn.DefaultResolvers()...),
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

// An Octeth-style command API: the built-in login and the host's own
// command, with its scope and its own error code.
func ExampleNewAPI() {
	a, _ := newExample()
	api := authn.NewAPI(a, authn.APIConfig{})
	err := api.Handle("List.Create", authn.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *authn.Call) (authn.Fields, error) {
			name, err := c.Param("SubscriberListName")
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, authn.Fail(1, "Missing subscriber list name")
			}
			return authn.Fields{"ListID": 1}, nil
		},
	})
	if err != nil {
		panic(err)
	}

	call := func(form string) string {
		r := httptest.NewRequest("POST", "/api.php", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		return rec.Body.String()
	}
	var login struct{ SessionID string }
	_ = json.Unmarshal([]byte(call("Command=User.Login&Username=alice&Password=s3cret-passphrase&DisableCaptcha=true")), &login)
	fmt.Print(call("Command=List.Create&SessionID=" + login.SessionID + "&SubscriberListName=Newsletter"))
	fmt.Print(call("Command=List.Create&SessionID=" + login.SessionID))
	fmt.Print(call("Command=List.Create"))
	// Output:
	// {"Success":true,"ErrorCode":0,"ErrorText":"","ListID":1}
	// {"Success":false,"ErrorCode":1,"ErrorText":"Missing subscriber list name"}
	// {"Success":false,"ErrorCode":401,"ErrorText":"Authentication required"}
}

// A host command with its own parameter, validation, scope and error code,
// written once and served in both dialects: Octeth's Command= envelope and
// WMD's c= one.
func ExampleAPI_Handle() {
	a, alice := newExample()
	sid, _ := a.StartSession(context.Background(), alice, authn.SessionOptions{Method: "password"})
	greet := authn.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *authn.Call) (authn.Fields, error) {
			name, err := c.Param("Name")
			if err != nil {
				return nil, err
			}
			if len(name) > 20 {
				return nil, authn.Fail(1, "Name longer than 20 bytes")
			}
			return authn.Fields{"Greeting": "hello " + name + " from " + c.Principal.Username}, nil
		},
	}
	octeth := authn.NewAPI(a, authn.APIConfig{})
	wmd := authn.NewAPI(a, authn.APIConfig{Dialect: authn.WMD})
	if err := octeth.Handle("Greeting.Get", greet); err != nil {
		panic(err)
	}
	if err := wmd.Handle("greet", greet); err != nil {
		panic(err)
	}
	call := func(api *authn.API, query string) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", "/api.php?SessionID="+sid.Reveal()+"&"+query, nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	call(octeth, "Command=Greeting.Get&Name=Bob")
	call(octeth, "Command=Greeting.Get&Name=Bartholomew+the+Third+of+Nowhere")
	call(wmd, "c=greet&Name=Bob")
	call(wmd, "c=greet&Name=Bartholomew+the+Third+of+Nowhere")
	// Output:
	// 200 {"Success":true,"ErrorCode":0,"ErrorText":"","Greeting":"hello Bob from alice"}
	// 200 {"Success":false,"ErrorCode":1,"ErrorText":"Name longer than 20 bytes"}
	// 200 {"status":"ok","error":"","Greeting":"hello Bob from alice"}
	// 200 {"status":"notok","error":"Name longer than 20 bytes"}
}
