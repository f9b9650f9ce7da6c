package readmecode_test

// README: host-app
import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

func main() {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryConfig{}) // or sqlstore, redisstore: see Stores
	a, err := authn.New(authn.Config{
		Store: st,
		Keys:  []authn.KeyPair{{Hash: hashKey, Block: blockKey}}, // 32 random bytes each; first encodes, all decode
		// Only for trying it on http://localhost: the cookie is then not
		// Secure. Behind TLS, leave it out.
		Cookie: authn.CookieConfig{AllowPlaintextHTTP: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Accounts: keyward's stores keep them (or bring your own table: below).
	// CreateAccount hashes the password and stores the account.
	_, err = a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice", Email: "alice@example.com"}, password)
	if err != nil {
		log.Fatal(err)
	}

	// The Octeth-style command API (User.Login, Admin.Login, 2FA, keys, ...),
	// with a command of your own.
	api := command.New(a, command.Config{})
	err = api.Handle("List.Create", command.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *command.Call) (command.Fields, error) {
			name, err := c.Param("SubscriberListName")
			if err != nil {
				return nil, err // a repeated parameter: 400
			}
			if name == "" {
				return nil, command.Fail(1, "Missing subscriber list name") // HTTP 200, ErrorCode 1
			}
			id := createList(c.Context(), c.Principal.AccountID, name)
			return command.Fields{"ListID": id}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/api.php", api)                 // outside the middleware: it authenticates its own requests
	mux.Handle("/captcha/", a.CaptchaHandler()) // the images Captcha.New points to

	// Your existing routes: wrap them, guard what needs a principal.
	app := http.NewServeMux()
	app.Handle("/reports", a.Require(scopes.User)(http.HandlerFunc(reports)))
	app.Handle("/admin/", a.Require(scopes.Admin)(adminHandler))
	mux.Handle("/", a.Middleware(app))

	log.Fatal(http.ListenAndServe("localhost:8080", mux)) // ListenAndServeTLS in production
}

func reports(w http.ResponseWriter, r *http.Request) {
	p, _ := authn.PrincipalFrom(r.Context()) // scope, account ID, username, method, 2FA
	fmt.Fprintf(w, "reports of %s", p.Username)
}

// README: end

// What the README's blocks take as given.
var (
	hashKey, blockKey []byte
	password          string
	adminHandler      http.Handler
)

func createList(context.Context, int64, string) int64 { return 1 }
