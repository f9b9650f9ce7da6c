package authn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// hkdfSHA256 is RFC 5869 written out with HMAC, for one block of output:
// a second implementation to check crypto/hkdf's use against.
func hkdfSHA256(ikm, salt []byte, info string) []byte {
	if salt == nil {
		salt = make([]byte, sha256.Size)
	}
	ext := hmac.New(sha256.New, salt)
	ext.Write(ikm)
	prk := ext.Sum(nil)
	exp := hmac.New(sha256.New, prk)
	exp.Write([]byte(info))
	exp.Write([]byte{1})
	return exp.Sum(nil)
}

func TestTFASealKeys(t *testing.T) {
	t.Parallel()
	p1 := KeyPair{Hash: bytes.Repeat([]byte{1}, 32), Block: bytes.Repeat([]byte{2}, 32)}
	p2 := KeyPair{Hash: bytes.Repeat([]byte{3}, 64), Block: bytes.Repeat([]byte{4}, 16)}

	k1, err := tfaSealKeys([]KeyPair{p1}, nil)
	if err != nil || len(k1) != 1 || len(k1[0]) != 32 {
		t.Fatalf("tfaSealKeys(p1) = %x, %v", k1, err)
	}
	// Pinned (checked by Python hmac as well): a derivation that changed
	// would leave every stored secret unopenable.
	const want = "6fe40defe1482655d3fe482df2df92b377526cc2e5451d32b08453ef95f5cd8b"
	if got := hex.EncodeToString(k1[0]); got != want {
		t.Errorf("derived key of p1 = %s, want %s", got, want)
	}
	ikm := append(append(append([]byte{0, 0, 0, 32}, p1.Hash...), 0, 0, 0, 32), p1.Block...)
	if ref := hkdfSHA256(ikm, nil, "keyward totp seal v1"); !bytes.Equal(k1[0], ref) {
		t.Errorf("derived key %x, RFC 5869 by hand %x", k1[0], ref)
	}
	if bytes.Contains(p1.Hash, k1[0][:16]) || bytes.Contains(p1.Block, k1[0][:16]) {
		t.Error("a cookie key is used as it is")
	}

	// One key per pair, in order: the first seals, and after a rotation
	// the old pair's key is still there to open.
	k21, err := tfaSealKeys([]KeyPair{p2, p1}, nil)
	if err != nil || len(k21) != 2 {
		t.Fatalf("tfaSealKeys(p2, p1) = %d keys, %v", len(k21), err)
	}
	if !bytes.Equal(k21[1], k1[0]) || bytes.Equal(k21[0], k21[1]) || len(k21[0]) != 32 {
		t.Fatalf("rotation: %x", k21)
	}
	again, _ := tfaSealKeys([]KeyPair{p2, p1}, nil)
	if !bytes.Equal(again[0], k21[0]) {
		t.Fatal("the derivation is not deterministic")
	}

	// Both halves of a pair count, and where one ends and the other
	// begins (attack row: the same bytes split differently must not give
	// the same key).
	for name, p := range map[string]KeyPair{
		"other hash":  {Hash: bytes.Repeat([]byte{9}, 32), Block: p1.Block},
		"other block": {Hash: p1.Hash, Block: bytes.Repeat([]byte{9}, 32)},
		"swapped":     {Hash: p1.Block, Block: p1.Hash},
		"moved byte":  {Hash: append(bytes.Clone(p1.Hash), 2), Block: p1.Block[1:]},
	} {
		k, err := tfaSealKeys([]KeyPair{p}, nil)
		if err != nil || bytes.Equal(k[0], k1[0]) {
			t.Errorf("%s: same key as p1 (%v)", name, err)
		}
	}

	// TFAKeys seal, copied, and the derived keys follow, to open what
	// was sealed before TFAKeys were given.
	own := [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 16)}
	got, err := tfaSealKeys([]KeyPair{p1}, own)
	if err != nil || len(got) != 3 || !bytes.Equal(got[0], own[0]) || !bytes.Equal(got[1], own[1]) || !bytes.Equal(got[2], k1[0]) {
		t.Fatalf("with TFAKeys: %x, %v", got, err)
	}
	got[0][0] ^= 1
	if own[0][0] != 7 {
		t.Fatal("the TFAKeys are not copied")
	}

	// Never a silent fallback to unsealed secrets.
	for name, keys := range map[string][]KeyPair{
		"no keys":     nil,
		"empty hash":  {p1, {Block: p1.Block}},
		"empty block": {{Hash: p1.Hash}},
	} {
		if k, err := tfaSealKeys(keys, nil); err == nil {
			t.Errorf("%s: %d keys, no error", name, len(k))
		}
	}
}

// Derived keys seal with the first pair, and a cookie key rotation moves
// secrets to the new pair's key at their next login: after that the old
// pair can go.
func TestTFASealKeysRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	mem := store.NewMemory(store.MemoryConfig{Now: clock})
	acct := store.Account{ID: 1, Scope: scopes.User, Username: "alice"}
	old := KeyPair{Hash: bytes.Repeat([]byte{1}, 32), Block: bytes.Repeat([]byte{2}, 32)}
	fresh := KeyPair{Hash: bytes.Repeat([]byte{5}, 32), Block: bytes.Repeat([]byte{6}, 32)}
	tfa := func(pairs ...KeyPair) *totp.TOTP {
		t.Helper()
		keys, err := tfaSealKeys(pairs, nil)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := totp.New(totp.Config{Store: mem, Keys: keys, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	code := func(secret string) string {
		now = now.Add(30 * time.Second) // a fresh step each time
		c, err := pqtotp.GenerateCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	before := tfa(old)
	e, err := before.Setup(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Enable(ctx, acct.Ref(), code(e.Secret)); err != nil {
		t.Fatal(err)
	}
	st, _ := mem.TFA(ctx, acct.Ref())
	if st.Secret[0] != 1 || bytes.Contains(st.Secret, []byte(e.Secret)) {
		t.Fatalf("not sealed: %x", st.Secret)
	}

	// Dropping the old pair before the account logged in again: the
	// secret does not open.
	if err := tfa(fresh).Verify(ctx, acct.Ref(), code(e.Secret)); err == nil {
		t.Fatal("a secret sealed with a dropped pair's key opened")
	}
	// Rotated, the old pair kept last: the login succeeds and reseals.
	if err := tfa(fresh, old).Verify(ctx, acct.Ref(), code(e.Secret)); err != nil {
		t.Fatal(err)
	}
	if err := tfa(fresh).Verify(ctx, acct.Ref(), code(e.Secret)); err != nil {
		t.Fatalf("after the reseal, without the old pair: %v", err)
	}
}
