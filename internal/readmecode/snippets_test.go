package readmecode_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"testing"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/authntest"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/sqlstore"
)

// usersTable stands for a host's own users table.
type usersTable struct{ db *sql.DB }

func (usersTable) Account(context.Context, store.AccountRef) (store.Account, error) {
	return store.Account{}, store.ErrNotFound
}

func (usersTable) AccountByLogin(context.Context, scopes.Scope, string) (store.Account, error) {
	return store.Account{}, store.ErrNotFound
}

func ownAccounts(db *sql.DB, keys []authn.KeyPair) *authn.Authenticator {
	// README: own-accounts
	st, err := store.WithAccounts(usersTable{db}, store.NewMemory(store.MemoryConfig{})) // usersTable: your store.Accounts
	if err != nil {
		log.Fatal(err)
	}
	a, err := authn.New(authn.Config{Store: st, Keys: keys})
	// README: end
	if err != nil {
		log.Fatal(err)
	}
	return a
}

func handlerTest(r *http.Request) *http.Request {
	// README: principal
	r = r.WithContext(authn.WithPrincipal(r.Context(), authn.Principal{Scope: scopes.User, AccountID: 7, Username: "alice"}))
	// README: end
	return r
}

func serveMux(a *authn.Authenticator, api *command.API, addr string) {
	// README: servemux
	// net/http's ServeMux (Go 1.22 patterns)
	app := http.NewServeMux()
	app.Handle("GET /reports/{id}", a.Require(scopes.User)(http.HandlerFunc(reports)))
	mux := http.NewServeMux()
	mux.Handle("/api.php", api) // outside the middleware
	mux.Handle("/", a.Middleware(app))
	log.Fatal(http.ListenAndServe(addr, mux))
	// README: end
}

// lists stands for a host's own service.
var lists interface {
	Create(ctx context.Context, account int64, name string) (int64, error)
}

func ownCommand(api *command.API) {
	// README: own-command
	api.Handle("List.Create", command.Command{
		Scopes: []scopes.Scope{scopes.User}, // who may call it (Public: true for none)
		Run: func(c *command.Call) (command.Fields, error) {
			name, err := c.Param("SubscriberListName") // names match ignoring case
			if err != nil {
				return nil, err // given twice: 400
			}
			if name == "" {
				return nil, command.Fail(1, "Missing subscriber list name") // HTTP 200, ErrorCode 1
			}
			id, err := lists.Create(c.Context(), c.Principal.AccountID, name)
			if err != nil {
				return nil, err // logged; 503 "Service unavailable"
			}
			return command.Fields{"ListID": id}, nil // beside Success, ErrorCode, ErrorText
		},
	})
	// README: end
}

// listCreate is the README's command for its authntest block: it runs.
var listCreate = command.Command{
	Scopes: []scopes.Scope{scopes.User},
	Run: func(c *command.Call) (command.Fields, error) {
		return command.Fields{"ListID": 1}, nil
	},
}

func TestListCreate(t *testing.T) {
	// README: authntest
	env := authntest.New(t, authntest.Options{})
	env.API.Handle("List.Create", listCreate)
	e := env.Call(t, env.UserPrincipal(), "Command", "List.Create", "SubscriberListName", "x")
	authntest.WantOK(t, e)
	authntest.WantCode(t, env.Call(t, env.AdminPrincipal(), "Command", "List.Create"), 403)
	// README: end
}

func sharedStores(ctx context.Context, keys []authn.KeyPair) (*authn.Authenticator, error) {
	// README: stores
	sql, err := sqlstore.OpenPostgres(ctx, "postgres://app@db/app", sqlstore.Config{TablePrefix: "keyward_"})
	if err != nil {
		return nil, err
	}
	rds, err := redisstore.Open(ctx, "redis://cache:6379/0", redisstore.Config{KeyPrefix: "keyward_"})
	if err != nil {
		return nil, err
	}
	a, err := authn.New(authn.Config{
		Store: store.Combine(sql, rds), // accounts, keys, 2FA in SQL; sessions, claims, counters in Redis
		Keys:  keys,
	})
	// README: end
	return a, err
}
