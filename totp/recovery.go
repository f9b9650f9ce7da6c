package totp

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/store"
)

// recoveryAlphabet is what recovery codes are made of: the digits 2 to 9
// and the letters but I, L, O and U, which is Crockford's base32 without
// 0 and 1. No symbol looks like another: there is neither 0 nor O, and
// neither 1 nor I nor L; U goes too, as it passes for V when written by
// hand (a U typed is read as V, see [ParseRecoveryCode]).
const recoveryAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

// recoveryLen is a code's length without its dashes. With 30 symbols, 13
// of them carry log2(30^13), about 63.8 bits: no fewer than the 62 of the
// codes before (12 of 36 symbols), which 12 of 30 (58.9 bits) would not
// reach. They are shown as 4-5-4: XXXX-XXXXX-XXXX.
const recoveryLen = 13

// recoveryRejectFrom is where randomSymbols draws a byte again: the
// largest multiple of the alphabet's size that a byte can hold.
const recoveryRejectFrom = 256 / len(recoveryAlphabet) * len(recoveryAlphabet)

// legacyRecoveryLen is the length of the codes issued before the 30-symbol
// alphabet: 12 of [A-Z0-9], shown as XXXX-XXXX-XXXX. The store keeps the
// hashes of their canonical form, so they are read by the old rules: see
// [ParseRecoveryCode].
const legacyRecoveryLen = 12

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
		codes = append(codes, formatRecoveryCode(raw))
		hashes = append(hashes, hashRecoveryCode(salt, raw))
	}
	return codes, salt, hashes, nil
}

// formatRecoveryCode shows a canonical code of recoveryLen symbols as its
// owner sees it, XXXX-XXXXX-XXXX.
func formatRecoveryCode(raw string) string {
	return raw[0:4] + "-" + raw[4:9] + "-" + raw[9:13]
}

// randomSymbols returns n symbols of recoveryAlphabet, uniformly: bytes of
// recoveryRejectFrom (240) and above are drawn again, so that no symbol is
// likelier than another.
func randomSymbols(rand io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return "", fmt.Errorf("totp: reading a recovery code: %w", err)
		}
		for _, b := range buf {
			if int(b) >= recoveryRejectFrom {
				continue
			}
			out = append(out, recoveryAlphabet[int(b)%len(recoveryAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// ParseRecoveryCode returns a recovery code in its canonical form, the
// form whose hash the store keeps, accepting what people type. It reports
// false for anything that cannot be a recovery code.
//
// Everywhere, case does not matter, and spaces and dashes are ignored
// wherever they are. What is left decides which kind of code it is, as
// the two kinds differ in length:
//
//   - 13 symbols: a code of today's 30-symbol alphabet. The canonical form
//     is the 13 symbols in upper case. U, which the alphabet leaves out,
//     is read as V. 0, 1, I, L and O are refused: no code has them, and
//     none of them looks like one symbol more than another (O like D or
//     Q, I like J or T), so no guess is made.
//   - 12 symbols: a code issued before, of [A-Z0-9]. The canonical form is
//     the 12 symbols in upper case, and nothing else is mapped: in that
//     alphabet 0 and O, 1, I and L were all symbols of their own, and a
//     code could have any of them, so mapping one to another would turn
//     a right code into a wrong one.
//
// So each input has one canonical form, checked with one hash, and codes
// issued before this alphabet keep working exactly as they did.
func ParseRecoveryCode(s string) (string, bool) {
	if len(s) > 4*recoveryLen {
		return "", false
	}
	out := make([]byte, 0, recoveryLen)
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
		if len(out) == recoveryLen {
			return "", false
		}
		out = append(out, c)
	}
	switch len(out) {
	case legacyRecoveryLen:
		return string(out), true
	case recoveryLen:
		for i, c := range out {
			if c == 'U' {
				out[i] = 'V'
			} else if strings.IndexByte(recoveryAlphabet, c) < 0 {
				return "", false
			}
		}
		return string(out), true
	}
	return "", false
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
