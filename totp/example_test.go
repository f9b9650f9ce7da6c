package totp_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// Enrollment, a login with a code, a replay, and a recovery, on a clock
// the example moves (a real TOTP takes the time from time.Now, and the
// code from the account owner's authenticator app).
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	t, err := totp.New(totp.Config{
		Store:  store.NewMemory(store.MemoryConfig{}),
		Issuer: "Example",
		Keys:   [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // seal secrets at rest: a real key, from a secret store
		Now:    func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ada := store.Account{Scope: scopes.User, ID: 7, Username: "ada"}

	// Setup: a secret for the app (as text, URL or QR code), pending until
	// a code of it comes back.
	e, err := t.Setup(ctx, ada)
	if err != nil {
		panic(err)
	}
	fmt.Println("scan:", strings.HasPrefix(e.URL, "otpauth://totp/Example:ada?"), len(e.QRCode) > 0)
	code := func() string { // what the app shows now
		c, err := pqtotp.GenerateCode(e.Secret, now)
		if err != nil {
			panic(err)
		}
		return c
	}

	// Enable: the first code turns 2FA on; the recovery codes are shown
	// once.
	codes, err := t.Enable(ctx, ada.Ref(), code())
	fmt.Println("enabled:", err, "recovery codes:", len(codes))

	// A login 30 seconds later, with the code of that step; the same code
	// again is a replay.
	now = now.Add(30 * time.Second)
	fmt.Println("login:", t.Verify(ctx, ada.Ref(), code()))
	fmt.Println("replay:", t.Verify(ctx, ada.Ref(), code()))

	// A lost phone: a recovery code logs in once, and turns 2FA off.
	fmt.Println("recover:", t.Recover(ctx, ada.Ref(), codes[0]))
	fmt.Println("again:", t.Recover(ctx, ada.Ref(), codes[0]))
	now = now.Add(30 * time.Second)
	fmt.Println("after:", t.Verify(ctx, ada.Ref(), code()))
	// Output:
	// scan: true true
	// enabled: <nil> recovery codes: 10
	// login: <nil>
	// replay: totp: invalid code: already used
	// recover: <nil>
	// again: totp: 2FA not enabled
	// after: totp: 2FA not enabled
}
