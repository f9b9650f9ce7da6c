package totp

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/store"
)

// recoveryAlphabet is what recovery codes are made of: 36 symbols, so 12
// of them carry log2(36^12), about 62 bits.
const recoveryAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// recoveryLen is a code's length without its dashes.
const recoveryLen = 12

// newRecoveryCodes returns RecoveryCodeCount fresh codes, a new salt, and
// the codes' salted hashes.
func (t *TOTP) newRecoveryCodes() (codes []string, salt []byte, hashes []store.Hash, err error) {
	salt = make([]byte, 16)
	if _, err := io.ReadFull(t.rand, salt); err != nil {
		return nil, nil, nil, fmt.Errorf("totp: reading a salt: %w", err)
	}
	for range RecoveryCodeCount {
		raw, err := randomSymbols(t.rand, recoveryLen)
		if err != nil {
			return nil, nil, nil, err
		}
		codes = append(codes, raw[0:4]+"-"+raw[4:8]+"-"+raw[8:12])
		hashes = append(hashes, hashRecoveryCode(salt, raw))
	}
	return codes, salt, hashes, nil
}

// randomSymbols returns n symbols of recoveryAlphabet, uniformly: bytes of
// 252 and above are drawn again, so that no symbol is likelier than
// another.
func randomSymbols(rand io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return "", fmt.Errorf("totp: reading a recovery code: %w", err)
		}
		for _, b := range buf {
			if b >= 252 { // 252 = 7 * 36
				continue
			}
			out = append(out, recoveryAlphabet[b%36])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// ParseRecoveryCode returns a recovery code in its canonical form (12
// upper-case symbols, no dashes), accepting what people type: lower case,
// spaces, dashes anywhere. It reports false for anything that cannot be a
// recovery code.
func ParseRecoveryCode(s string) (string, bool) {
	if len(s) > 4*recoveryLen {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != recoveryLen {
		return "", false
	}
	return b.String(), true
}

// hashRecoveryCode is how a canonical recovery code is kept: SHA-256 over
// the account's salt and the code.
func hashRecoveryCode(salt []byte, code string) store.Hash {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	var out store.Hash
	h.Sum(out[:0])
	return out
}
