package authn

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	if _, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "nopass"}); err != nil {
		t.Fatal(err)
	}
	disabledHash, _ := env.a.hashPassword(ctx, "pw")
	if _, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "off", PasswordHash: disabledHash, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		scope    scopes.Scope
		login    string
		password string
		wantID   int64
	}{
		{"username", scopes.User, "alice", alicePassword, env.alice.ID},
		{"email", scopes.User, "alice@example.com", alicePassword, env.alice.ID},
		{"case and space", scopes.User, " ALICE ", alicePassword, env.alice.ID},
		{"admin", scopes.Admin, "root", rootPassword, env.root.ID},
		{"wrong password", scopes.User, "alice", "wrong", 0},
		{"password case matters", scopes.User, "alice", strings.ToUpper(alicePassword), 0},
		{"unknown user", scopes.User, "mallory", alicePassword, 0},
		// A user's credentials do not log in to the admin scope.
		{"user at admin login", scopes.Admin, "alice", alicePassword, 0},
		{"no password set", scopes.User, "nopass", "", 0},
		{"disabled", scopes.User, "off", "pw", 0},
		{"over-long password", scopes.User, "alice", strings.Repeat("x", 5000), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acct, err := env.a.checkPassword(ctx, tc.scope, tc.login, tc.password)
			if tc.wantID == 0 {
				if !errors.Is(err, ErrInvalidCredential) || textOf(err) != "Authentication failure or session expired" {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || acct.ID != tc.wantID {
				t.Fatalf("checkPassword = %v, %v", acct.ID, err)
			}
		})
	}
}

func TestPasswordRehash(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	weak := argon2Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	oldArgon, err := (&hasher{params: weak, rand: env.a.cfg.Rand, sem: make(chan struct{}, 1)}).hash(ctx, "pw1")
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("pw2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := env.a.hashPassword(ctx, "pw3")
	tests := []struct {
		name, hash, password string
		rehashed             bool
	}{
		{"argon2id with old parameters", oldArgon, "pw1", true},
		{"bcrypt", string(bcryptHash), "pw2", true},
		{"current parameters", current, "pw3", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acct, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "u" + string(rune('a'+i)), PasswordHash: tc.hash})
			if err != nil {
				t.Fatal(err)
			}
			// A wrong password never rehashes.
			if _, err := env.a.checkPassword(ctx, scopes.User, acct.Username, "wrong"); err == nil {
				t.Fatal("wrong password accepted")
			}
			if got, _ := env.mem.Account(ctx, acct.Ref()); got.PasswordHash != tc.hash {
				t.Fatal("hash changed on a failed login")
			}
			if _, err := env.a.checkPassword(ctx, scopes.User, acct.Username, tc.password); err != nil {
				t.Fatal(err)
			}
			got, _ := env.mem.Account(ctx, acct.Ref())
			if (got.PasswordHash != tc.hash) != tc.rehashed {
				t.Fatalf("rehashed = %v, want %v (%s)", got.PasswordHash != tc.hash, tc.rehashed, got.PasswordHash)
			}
			if tc.rehashed && !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("new hash %q", got.PasswordHash)
			}
			if _, err := env.a.checkPassword(ctx, scopes.User, acct.Username, tc.password); err != nil {
				t.Fatalf("login after rehash: %v", err)
			}
		})
	}
}

func TestParseArgon2(t *testing.T) {
	t.Parallel()
	good := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)
	if _, _, _, err := parseArgon2(good); err != nil {
		t.Fatalf("good hash: %v", err)
	}
	bad := []string{
		"",
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		// Parameters that would make verification allocate 4 TiB or spin.
		"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$short",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
	}
	for _, h := range bad {
		if _, _, _, err := parseArgon2(h); !errors.Is(err, errHashFormat) {
			t.Errorf("parseArgon2(%q) = %v", h, err)
		}
	}
}

// A login for an unknown user still verifies a (dummy) hash: seen here by
// the hash taking the only hashing slot, not by timing.
func TestUnknownUserCostsAHash(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Passwords.MaxConcurrentHashes = 1 })
	env.a.hasher.sem <- struct{}{} // hold the only slot
	for _, login := range []string{"alice", "nobody"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := env.a.checkPassword(ctx, scopes.User, login, "guess")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: checkPassword did not wait for a hashing slot: %v", login, err)
		}
	}
	<-env.a.hasher.sem
	if _, err := env.a.checkPassword(context.Background(), scopes.User, "nobody", "guess"); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("with a free slot: %v", err)
	}
}

// At most MaxConcurrentHashes hashes run at once; the rest wait under their
// context, so a flood of logins cannot exhaust memory.
func TestHashConcurrencyBounded(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Passwords.MaxConcurrentHashes = 2 })
	h := env.a.hasher
	if cap(h.sem) != 2 {
		t.Fatalf("slots %d", cap(h.sem))
	}
	h.sem <- struct{}{}
	h.sem <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := env.a.hashPassword(ctx, "pw")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("hashPassword with no slot free and its context cancelled: %v", err)
	}
	<-h.sem
	if _, err := env.a.hashPassword(context.Background(), "pw"); err != nil {
		t.Fatalf("with a slot free: %v", err)
	}
}

func TestDefaultArgon2(t *testing.T) {
	t.Parallel()
	c, err := PasswordConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := c.argon2()
	if p != (argon2Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}) {
		t.Fatalf("the default argon2 parameters = %+v, want OWASP's m=19456 t=2 p=1", p)
	}
	h := &hasher{params: p, rand: strings.NewReader(strings.Repeat("s", 64)), sem: make(chan struct{}, 1)}
	enc, err := h.hash(context.Background(), "pw")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q, %v", enc, err)
	}
	ok, rehash, err := h.verify(context.Background(), enc, "pw")
	if !ok || rehash || err != nil {
		t.Fatalf("verify = %v %v %v", ok, rehash, err)
	}
}
