package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
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

// An Octeth-style command API: the built-in login and the host's own
// command, with its scope and its own error code.
func ExampleNew() {
	a, _ := newExample()
	api := command.New(a, command.Config{})
	err := api.Handle("List.Create", command.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *command.Call) (command.Fields, error) {
			name, err := c.Param("SubscriberListName")
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, command.Fail(1, "Missing subscriber list name")
			}
			return command.Fields{"ListID": 1}, nil
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
	fmt.Print(call("Command=List.Delete"))
	// Output:
	// {"Success":true,"ErrorCode":0,"ErrorText":"","ListID":1}
	// {"Success":false,"ErrorCode":1,"ErrorText":"Missing subscriber list name"}
	// {"Success":false,"ErrorCode":401,"ErrorText":"Authentication required"}
	// {"Success":false,"ErrorCode":404,"ErrorText":"Unknown command"}
}

// A host command with its own parameter, validation, scope and error code,
// written once and served in both dialects: Octeth's Command= envelope and
// WMD's c= one.
func ExampleAPI_Handle() {
	a, alice := newExample()
	sid, _ := a.StartSession(context.Background(), alice, authn.SessionOptions{Method: "password"})
	greet := command.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *command.Call) (command.Fields, error) {
			name, err := c.Param("Name")
			if err != nil {
				return nil, err
			}
			if len(name) > 20 {
				return nil, command.Fail(1, "Name longer than 20 bytes")
			}
			return command.Fields{"Greeting": "hello " + name + " from " + c.Principal.Username}, nil
		},
	}
	octeth := command.New(a, command.Config{})
	wmd := command.New(a, command.Config{Dialect: command.WMD})
	if err := octeth.Handle("Greeting.Get", greet); err != nil {
		panic(err)
	}
	if err := wmd.Handle("greet", greet); err != nil {
		panic(err)
	}
	call := func(api *command.API, query string) {
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

// Octeth 5.9's clients: ErrorCode and ErrorText as lists, and its own
// numbers for general failures (here 99998 for a missing credential, at
// HTTP 200); XML when ResponseFormat=XML.
func ExampleConfig_octethV5() {
	a, _ := newExample()
	api := command.New(a, command.Config{Profile: command.OctethV5})
	for _, query := range []string{"Command=User.Current", "Command=User.Current&ResponseFormat=XML"} {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", "/api.php?"+query, nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"Success":false,"ErrorCode":[99998],"ErrorText":["Authentication required"]}
	// 200 <?xml version="1.0" encoding="UTF-8"?>
	// <response><Success>false</Success><ErrorCode><item>99998</item></ErrorCode><ErrorText><item>Authentication required</item></ErrorText></response>
}

// A command that hands a session to its client through the answer's
// headers: Call.Response is where authn writes the cookie.
func ExampleCall_Response() {
	a, alice := newExample()
	api := command.New(a, command.Config{})
	_ = api.Handle("Demo.SignIn", command.Command{Public: true, Run: func(c *command.Call) (command.Fields, error) {
		// A host's own sign-in (single sign-on, say) that vouched for alice.
		acct, err := a.Account(c.Context(), alice.Ref())
		if err != nil {
			return nil, err
		}
		sid, err := a.StartSession(c.Context(), acct, authn.SessionOptions{Method: "sso"})
		if err != nil {
			return nil, err
		}
		if _, err := a.HandOver(c.Response(), c.HTTP, sid, true); err != nil {
			return nil, err
		}
		return command.Fields{}, nil
	}})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("POST", "/api.php?Command=Demo.SignIn", nil))
	c := rec.Result().Cookies()[0]
	fmt.Println(rec.Body.String()+"cookie:", c.Name, c.HttpOnly, c.Secure)
	// Output:
	// {"Success":true,"ErrorCode":0,"ErrorText":""}
	// cookie: __Host-keyward true true
}

// Both dialects on one path, as Octeth's and the WMD SED API's clients
// both call api.php: c= goes to the WMD API, Command= to Octeth's.
func ExampleDialects() {
	a, _ := newExample()
	octeth := command.New(a, command.Config{})
	wmd := command.New(a, command.Config{Dialect: command.WMD, Credentials: []authn.Method{authn.MethodCookie}})
	h, err := command.Dialects(octeth, wmd)
	if err != nil {
		panic(err)
	}

	for _, target := range []string{
		"/api.php?c=auth&user=alice&pass=wrong",
		"/api.php?Command=User.Login&Username=alice&Password=wrong&DisableCaptcha=true",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// {"status":"notok","error":"Invalid name or password (1/6)","group":"","user":""}
	// {"Success":false,"ErrorCode":3,"ErrorText":"Invalid login credentials"}
}
