package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

func ExampleOpenSQLite() {
	ctx := context.Background()
	// A file path in real use; ":memory:" here, gone on Close.
	s, err := sqlstore.OpenSQLite(ctx, ":memory:", sqlstore.Config{TablePrefix: "auth_"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	alice, err := s.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "Alice", Email: "alice@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	found, err := s.AccountByLogin(ctx, scopes.User, " ALICE@example.com")
	fmt.Println("login:", found.Username, err)

	// The store keeps the hash of the session ID, never the ID.
	now := time.Now()
	session := store.Session{
		Hash:       store.HashOf([]byte("the session ID the client holds")),
		Account:    alice.Ref(),
		Method:     "password",
		Generation: found.Generation, // made under the account's current generation
		CreatedAt:  now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	fmt.Println("create session:", s.CreateSession(ctx, session))
	got, err := s.Session(ctx, session.Hash)
	fmt.Println("session of:", got.Account == alice.Ref(), err)

	// One-time claims: the first use of an etoken nonce wins.
	first, _ := s.Claim(ctx, "etoken nonce", 2*time.Second)
	again, _ := s.Claim(ctx, "etoken nonce", 2*time.Second)
	fmt.Println("claims:", first, again)

	// A password change raises the account's credential generation in
	// the same transaction: the authenticator refuses every session made
	// under the old one.
	fmt.Println("set password:", s.SetPassword(ctx, alice.Ref(), "$argon2id$..."))
	alice, err = s.Account(ctx, alice.Ref())
	fmt.Println("generation:", got.Generation, "->", alice.Generation, err)

	// Logging out everywhere ends the account's sessions.
	n, err := s.DeleteAccountSessions(ctx, alice.Ref(), store.Hash{})
	fmt.Println("ended:", n, err)
	_, err = s.Session(ctx, session.Hash)
	fmt.Println("after:", errors.Is(err, store.ErrNotFound))
	// Output:
	// login: Alice <nil>
	// create session: <nil>
	// session of: true <nil>
	// claims: true false
	// set password: <nil>
	// generation: 0 -> 1 <nil>
	// ended: 1 <nil>
	// after: true
}
