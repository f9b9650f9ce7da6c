package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// members is a host's own users table, in its own shape: keyward only
// reads it, through the two methods of store.Accounts, and
// store.WithAccounts puts it beside keyward's store.
type members struct{ db *sql.DB }

const memberColumns = `SELECT id, handle, mail, display, pw, locked FROM members`

// Account finds a member by ID. The host has no administrators in this
// table, so the admin scope finds nobody.
func (m members) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	if ref.Scope != scopes.User {
		return store.Account{}, store.ErrNotFound
	}
	return m.scan(m.db.QueryRowContext(ctx, memberColumns+` WHERE id = ?`, ref.ID))
}

// AccountByLogin finds a member by handle or mail, ignoring case and
// surrounding space, as store.NormalizeLogin does.
func (m members) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	login = store.NormalizeLogin(login)
	if scope != scopes.User || login == "" {
		return store.Account{}, store.ErrNotFound
	}
	return m.scan(m.db.QueryRowContext(ctx, memberColumns+` WHERE lower(handle) = ? OR lower(mail) = ?`, login, login))
}

func (m members) scan(row *sql.Row) (store.Account, error) {
	var a store.Account
	var display string
	err := row.Scan(&a.ID, &a.Username, &a.Email, &display, &a.PasswordHash, &a.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Account{}, store.ErrNotFound
	}
	if err != nil {
		return store.Account{}, err // keyward answers 503: it fails closed
	}
	a.Scope = scopes.User
	a.FirstName, a.LastName, _ = strings.Cut(display, " ")
	return a, nil
}

// An app that already has users: keyward logs them in from its table.
func ExampleWithAccounts() {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	hash, _ := bcrypt.GenerateFromPassword([]byte("their old password"), bcrypt.MinCost)
	_, err = db.Exec(`CREATE TABLE members (id INTEGER PRIMARY KEY, handle TEXT, mail TEXT, display TEXT, pw TEXT, locked BOOLEAN);
		INSERT INTO members VALUES (7, 'ada', 'ada@example.com', 'Ada Lovelace', ?, false)`, string(hash))
	if err != nil {
		panic(err)
	}

	// Accounts from the host's table; keys, sessions, second factors and
	// the rest from keyward's store (SQL or Redis in production), which
	// also keeps the generations that end a member's sessions when their
	// 2FA changes.
	st, err := store.WithAccounts(members{db}, store.NewMemory(store.MemoryConfig{}))
	if err != nil {
		panic(err)
	}
	keys := []authn.KeyPair{{Hash: make([]byte, 32), Block: make([]byte, 32)}}
	rand.Read(keys[0].Hash)
	rand.Read(keys[0].Block)
	a, err := authn.New(authn.Config{
		Store:  st,
		Keys:   keys, // a real deployment's, from its secret store
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	// The table is read-only to keyward (members keeps no generations):
	// old hashes are not upgraded, and passwords are not changed here.
	ctx := context.Background()
	err = st.(store.PasswordSetter).SetPassword(ctx, store.AccountRef{Scope: scopes.User, ID: 7}, "new hash")
	fmt.Println("keyward may write passwords:", !errors.Is(err, store.ErrNotSupported))

	for _, pw := range []string{"wrong", "their old password"} {
		res, err := a.Login(ctx, authn.LoginRequest{Scope: scopes.User, Username: "ADA@example.com", Password: pw})
		fmt.Printf("logged in: %v, as %q\n", err == nil, res.Account.FirstName)
	}
	// Output:
	// keyward may write passwords: false
	// logged in: false, as ""
	// logged in: true, as "Ada"
}
