package totp

import (
	"bytes"
	"context"
	"errors"
	"testing"

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
	raw, _ := newSealer(nil, nil)
	_ = raw
	if bytes.Contains(st.Secret, []byte(secret)) || st.Secret[0] != sealAESGCM {
		t.Fatalf("secret at rest: %x", st.Secret)
	}
	if err := f.tp.Verify(context.Background(), alice.Ref(), f.codeAt(secret, 0)); err != nil {
		t.Fatal(err)
	}
}
