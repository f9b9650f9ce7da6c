package store_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

func ExampleNewMemory() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryConfig{}) // Now: time.Now

	alice, err := m.CreateAccount(ctx, store.Account{
		Scope:    scopes.User,
		Username: "Alice",
		Email:    "Alice@Example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created", alice.Ref().Scope, alice.ID, alice.Username)

	// Logins are compared after NormalizeLogin: trimmed, case folded.
	for _, login := range []string{"alice", "  ALICE ", "alice@example.COM"} {
		a, err := m.AccountByLogin(ctx, scopes.User, login)
		fmt.Printf("%q: %d %v\n", login, a.ID, err)
	}

	// Scopes are separate: no administrator is called alice.
	_, err = m.AccountByLogin(ctx, scopes.Admin, "alice")
	fmt.Println("admin alice:", errors.Is(err, store.ErrNotFound))

	// A username taken in the scope, in any case, is a conflict.
	_, err = m.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "ALICE"})
	fmt.Println("second ALICE:", err)
	// Output:
	// created user 1 Alice
	// "alice": 1 <nil>
	// "  ALICE ": 1 <nil>
	// "alice@example.COM": 1 <nil>
	// admin alice: true
	// second ALICE: store: conflict
}

func ExampleMemory_TakeToken() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryConfig{})

	// The reset link mailed to the account's owner carries the token; the
	// store keeps only its hash.
	token := []byte("the token in the reset link")
	err := m.PutToken(ctx, store.Token{
		Hash:      store.HashOf(token),
		Account:   store.AccountRef{Scope: scopes.User, ID: 1},
		Purpose:   "password-reset",
		ExpiresAt: time.Now().Add(30 * time.Minute),
	})
	fmt.Println("put:", err)

	// The link works once: the first take gets the token, and the caller
	// checks its purpose.
	got, err := m.TakeToken(ctx, store.HashOf(token))
	fmt.Println("first use:", got.Account.ID, got.Purpose == "password-reset", err)
	_, err = m.TakeToken(ctx, store.HashOf(token))
	fmt.Println("second use:", errors.Is(err, store.ErrNotFound))
	// Output:
	// put: <nil>
	// first use: 1 true <nil>
	// second use: true
}
