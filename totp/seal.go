package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/keyward/keyward/store"
)

// Sealed secrets start with a version byte.
const (
	sealPlain  = 0 // the secret as it is
	sealAESGCM = 1 // a reserved byte (0), 12-byte nonce, AES-GCM ciphertext
)

// errSealed is a stored secret that cannot be opened: corrupt, or sealed
// with a key that is no longer configured. It is not the client's fault.
var errSealed = errors.New("totp: stored secret cannot be opened")

// sealer seals and opens TOTP secrets.
type sealer struct {
	aeads []cipher.AEAD
	rand  io.Reader
}

func newSealer(keys [][]byte, rand io.Reader) (sealer, error) {
	s := sealer{rand: rand}
	if len(keys) > 255 {
		return s, errors.New("totp: at most 255 keys")
	}
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return s, fmt.Errorf("totp: Keys[%d]: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return s, fmt.Errorf("totp: Keys[%d]: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// additionalData binds a sealed secret to its account.
func additionalData(ref store.AccountRef) []byte {
	return []byte("keyward totp secret " + ref.Scope.String() + " " + strconv.FormatInt(ref.ID, 10))
}

// seal encrypts secret with the first key, or stores it plainly without
// keys.
func (s sealer) seal(ref store.AccountRef, secret []byte) ([]byte, error) {
	if len(s.aeads) == 0 {
		return append([]byte{sealPlain}, secret...), nil
	}
	aead := s.aeads[0]
	out := make([]byte, 2+aead.NonceSize(), 2+aead.NonceSize()+len(secret)+aead.Overhead())
	out[0], out[1] = sealAESGCM, 0
	nonce := out[2:]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("totp: reading a nonce: %w", err)
	}
	return aead.Seal(out, nonce, secret, additionalData(ref)), nil
}

// open returns the secret sealed in b. A plain secret opens whether keys
// are configured or not, so keys can be added to a running system.
func (s sealer) open(ref store.AccountRef, b []byte) ([]byte, error) {
	secret, _, err := s.openCurrent(ref, b)
	return secret, err
}

// openCurrent is open, and also reports whether b is sealed as seal would
// seal it now. It is not when keys are configured and b is plain (stored
// before there were keys) or sealed with a key other than the first (one
// that a rotation moved down the list): such a secret is to be sealed
// again, so that the old key can be retired and no plain secret is left.
// Without keys a plain secret is current.
func (s sealer) openCurrent(ref store.AccountRef, b []byte) (secret []byte, current bool, err error) {
	if len(b) == 0 {
		return nil, false, errSealed
	}
	switch b[0] {
	case sealPlain:
		return b[1:], len(s.aeads) == 0, nil
	case sealAESGCM:
		if len(b) < 2 || len(s.aeads) == 0 {
			return nil, false, errSealed
		}
		// Try every key, newest first: a secret sealed before a rotation
		// opens with the key that is now further down the list.
		for i, aead := range s.aeads {
			if len(b) < 2+aead.NonceSize() {
				return nil, false, errSealed
			}
			nonce, ct := b[2:2+aead.NonceSize()], b[2+aead.NonceSize():]
			if secret, err := aead.Open(nil, nonce, ct, additionalData(ref)); err == nil {
				return secret, i == 0, nil
			}
		}
	}
	return nil, false, errSealed
}
