package totp

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

func TestSealer(t *testing.T) {
	t.Parallel()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	ref := store.AccountRef{Scope: scopes.User, ID: 7}
	other := store.AccountRef{Scope: scopes.Admin, ID: 7}
	secret := []byte("twenty bytes secret!")

	plain, _ := newSealer(nil, bytes.NewReader(make([]byte, 64)))
	p, _ := plain.seal(ref, secret)
	if !bytes.Contains(p, secret) {
		t.Fatal("without keys the secret is stored as it is")
	}

	old, _ := newSealer([][]byte{k1}, randReader())
	sealed, err := old.seal(ref, secret)
	if err != nil || bytes.Contains(sealed, secret) {
		t.Fatalf("sealed %x, %v", sealed, err)
	}
	if got, err := old.open(ref, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q, %v", got, err)
	}
	// Bound to its account: copied to another row, it does not open.
	if _, err := old.open(other, sealed); !errors.Is(err, errSealed) {
		t.Fatalf("opened for another account: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := old.open(ref, tampered); !errors.Is(err, errSealed) {
		t.Fatalf("tampered: %v", err)
	}
	// Rotation: the new key first, the old one kept.
	rotated, _ := newSealer([][]byte{k2, k1}, randReader())
	if got, err := rotated.open(ref, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("old-key secret after rotation: %v", err)
	}
	resealed, _ := rotated.seal(ref, secret)
	if _, err := old.open(ref, resealed); err == nil {
		t.Fatal("sealed with the old key after rotation")
	}
	// Keys added to a running system: plain secrets still open.
	if got, err := rotated.open(ref, p); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("plain secret with keys configured: %v", err)
	}
	// Keys removed: a sealed secret does not open, and says so.
	if _, err := plain.open(ref, sealed); !errors.Is(err, errSealed) {
		t.Fatalf("sealed secret without keys: %v", err)
	}
	// Current: sealed as seal would seal it now. Anything else is sealed
	// again at its next use.
	for _, tc := range []struct {
		name    string
		s       sealer
		b       []byte
		current bool
	}{
		{"plain, no keys", plain, p, true},
		{"plain, keys", rotated, p, false},
		{"first key", old, sealed, true},
		{"second key", rotated, sealed, false},
		{"first key after rotation", rotated, resealed, true},
	} {
		got, current, err := tc.s.openCurrent(ref, tc.b)
		if err != nil || !bytes.Equal(got, secret) || current != tc.current {
			t.Errorf("%s: current %v, %v", tc.name, current, err)
		}
	}
	for _, b := range [][]byte{nil, {sealAESGCM}, {sealAESGCM, 0, 1, 2}, {9, 1, 2}} {
		if _, err := rotated.open(ref, b); !errors.Is(err, errSealed) {
			t.Errorf("open(%x): %v", b, err)
		}
	}
}

// With keys, the store never sees the secret; and 2FA keeps working.
func TestSealedAtRest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bytes.Repeat([]byte{3}, 32))
	secret, _ := f.enroll()
	st, _ := f.mem.TFA(context.Background(), alice.Ref())
	if bytes.Contains(st.Secret, []byte(secret)) || st.Secret[0] != sealAESGCM {
		t.Fatalf("secret at rest: %x", st.Secret)
	}
	if err := f.tp.Verify(context.Background(), alice.Ref(), f.codeAt(secret, 0)); err != nil {
		t.Fatal(err)
	}
}

// verifyFixture is an account with 2FA on whose secret was stored by a
// TOTP with keys before (nil: plainly), and a TOTP with keys after, on a
// store that can be made to fail or be overtaken.
type verifyFixture struct {
	*fixture
	acct   store.Account
	secret string
	codes  []string
	after  *TOTP
	hooked *resealStore
}

// resealStore is a hookStore whose puts can also fail.
type resealStore struct {
	hookStore
	fail error
}

func (r *resealStore) PutTFA(ctx context.Context, t store.TFA) error {
	if r.fail != nil {
		r.mu.Lock()
		r.puts++
		r.mu.Unlock()
		return r.fail
	}
	return r.hookStore.PutTFA(ctx, t)
}

func newVerifyFixture(t *testing.T, before, after [][]byte) *verifyFixture {
	t.Helper()
	f := newFixture(t, before...)
	ctx := context.Background()
	// A real account, so that its generation can be watched.
	acct, err := f.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.tp.Setup(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.tp.Enable(ctx, acct.Ref(), f.codeAt(e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(period * time.Second)
	rs := &resealStore{hookStore: hookStore{Memory: f.mem}}
	tp, err := New(Config{Store: rs, Keys: after, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &verifyFixture{fixture: f, acct: acct, secret: e.Secret, codes: codes, after: tp, hooked: rs}
}

func (v *verifyFixture) state() store.TFA {
	v.t.Helper()
	st, err := v.mem.TFA(context.Background(), v.acct.Ref())
	if err != nil {
		v.t.Fatal(err)
	}
	return st
}

func (v *verifyFixture) generation() int64 {
	v.t.Helper()
	a, err := v.mem.Account(context.Background(), v.acct.Ref())
	if err != nil {
		v.t.Fatal(err)
	}
	return a.Generation
}

// opensWith reports whether the stored secret opens with keys and is
// current for them.
func (v *verifyFixture) opensWith(keys ...[]byte) bool {
	s, err := newSealer(keys, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	_, current, err := s.openCurrent(v.acct.Ref(), v.state().Secret)
	return err == nil && current
}

// A right code reseals a secret stored plainly or with an older key, in
// one put that changes nothing else; a current secret, or a wrong code,
// writes nothing.
func TestVerifyReseals(t *testing.T) {
	t.Parallel()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	tests := []struct {
		name          string
		before, after [][]byte
		puts          int // PutTFA calls by the login
	}{
		{"plain, keys now", nil, [][]byte{k1}, 1},
		{"rotated", [][]byte{k1}, [][]byte{k2, k1}, 1},
		{"current", [][]byte{k1}, [][]byte{k1}, 0},
		{"plain, no keys", nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifyFixture(t, tc.before, tc.after)
			ctx := context.Background()
			before, gen := v.state(), v.generation()

			// A wrong code writes nothing.
			if err := v.after.Verify(ctx, v.acct.Ref(), "000000"); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("wrong code: %v", err)
			}
			if v.hooked.puts != 0 {
				t.Fatal("a wrong code wrote the state")
			}

			if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); err != nil {
				t.Fatal(err)
			}
			if v.hooked.puts != tc.puts {
				t.Fatalf("%d puts, want %d", v.hooked.puts, tc.puts)
			}
			after := v.state()
			if !v.opensWith(tc.after...) {
				t.Fatalf("the secret is not sealed with the first key: %x", after.Secret)
			}
			if len(tc.after) > 0 && after.Secret[0] != sealAESGCM {
				t.Fatalf("stored %x", after.Secret)
			}
			if after.Version != before.Version+int64(tc.puts) {
				t.Fatalf("version %d -> %d", before.Version, after.Version)
			}
			// Nothing else changed: still on, same codes, the step just
			// used kept, and no session ended.
			if !after.Enabled || !hasOnly(after, v.codes) || after.LastStep <= before.LastStep || v.generation() != gen {
				t.Fatalf("after the reseal: %s, generation %d -> %d", describe(after), gen, v.generation())
			}
			// attack row: the code just used is not reopened by the put.
			if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("replay after the reseal: %v", err)
			}
			// And the next code works, with no further write.
			v.clock.Advance(period * time.Second)
			if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); err != nil || v.hooked.puts != tc.puts {
				t.Fatalf("the next login: %v, %d puts", err, v.hooked.puts)
			}
		})
	}
}

// A reseal that fails or is overtaken does not fail the login, and an
// overtaking change wins.
func TestVerifyResealBestEffort(t *testing.T) {
	t.Parallel()
	k1 := bytes.Repeat([]byte{1}, 32)
	ctx := context.Background()

	t.Run("put fails", func(t *testing.T) {
		t.Parallel()
		v := newVerifyFixture(t, nil, [][]byte{k1})
		v.hooked.fail = errors.New("store down")
		if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); err != nil {
			t.Fatalf("a failed reseal failed the login: %v", err)
		}
		if v.hooked.puts != 1 || v.state().Secret[0] != sealPlain {
			t.Fatalf("%d puts, secret %x", v.hooked.puts, v.state().Secret[:1])
		}
		// The next login reseals.
		v.hooked.fail = nil
		v.clock.Advance(period * time.Second)
		if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); err != nil || !v.opensWith(k1) {
			t.Fatalf("the next login: %v, sealed %v", err, v.opensWith(k1))
		}
	})

	// Each change below is made between the login's read and its reseal:
	// the reseal is refused, and the change stands.
	for _, tc := range []struct {
		name   string
		change func(v *verifyFixture) error
		check  func(v *verifyFixture, st store.TFA) bool
	}{
		{
			name:   "disabled",
			change: func(v *verifyFixture) error { return v.tp.Disable(ctx, v.acct.Ref()) },
			check:  func(v *verifyFixture, st store.TFA) bool { return !st.Enabled && len(st.Secret) == 0 },
		},
		{
			// attack row: a used recovery code must not come back.
			name:   "recovery login",
			change: func(v *verifyFixture) error { return v.tp.Recover(ctx, v.acct.Ref(), v.codes[0]) },
			check:  func(v *verifyFixture, st store.TFA) bool { return !st.Enabled && len(st.RecoveryCodes) == 0 },
		},
		{
			name: "new recovery codes",
			change: func(v *verifyFixture) error {
				codes, err := v.tp.RegenerateRecoveryCodes(ctx, v.acct.Ref())
				v.codes = codes
				return err
			},
			check: func(v *verifyFixture, st store.TFA) bool { return st.Enabled && hasOnly(st, v.codes) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifyFixture(t, nil, [][]byte{k1})
			v.hooked.hook = func() { must(t, tc.change(v)) }
			version := v.state().Version
			if err := v.after.Verify(ctx, v.acct.Ref(), v.codeAt(v.secret, 0)); err != nil {
				t.Fatalf("an overtaken reseal failed the login: %v", err)
			}
			st := v.state()
			if !tc.check(v, st) || st.Version != version+1 || v.hooked.puts != 1 {
				t.Fatalf("after: %s (version %d, was %d)", describe(st), st.Version, version)
			}
		})
	}
}
