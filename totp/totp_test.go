package totp

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

var alice = store.Account{ID: 7, Scope: scopes.User, Username: "alice@example.com"}

type fixture struct {
	t     *testing.T
	tp    *TOTP
	mem   *store.Memory
	clock *clocktest.Clock
}

func newFixture(t *testing.T, keys ...[]byte) *fixture {
	t.Helper()
	clock := clocktest.New()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	tp, err := New(Config{Store: mem, Issuer: "Example", Keys: keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, tp: tp, mem: mem, clock: clock}
}

// codeAt returns secret's code at the step offset from now.
func (f *fixture) codeAt(secret string, offset int) string {
	f.t.Helper()
	step := f.clock.Now().Unix()/period + int64(offset)
	code, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

// enroll sets up and enables 2FA for alice, returning the secret and the
// recovery codes, and moves the clock past the enabling step.
func (f *fixture) enroll() (string, []string) {
	f.t.Helper()
	e, err := f.tp.Setup(context.Background(), alice)
	if err != nil {
		f.t.Fatal(err)
	}
	codes, err := f.tp.Enable(context.Background(), alice.Ref(), f.codeAt(e.Secret, 0))
	if err != nil {
		f.t.Fatal(err)
	}
	f.clock.Advance(period * time.Second)
	return e.Secret, codes
}

// RFC 6238 Appendix B, the SHA-1 rows: 8 digits, the ASCII secret
// "12345678901234567890", through the same matching code logins use.
func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		now := time.Unix(v.unix, 0).UTC()
		step, ok := matchStep(secret, v.code, now, otp.DigitsEight)
		if !ok || step != v.unix/30 {
			t.Errorf("T=%d: matchStep(%s) = %d, %v; want step %d", v.unix, v.code, step, ok, v.unix/30)
		}
		// One digit off is refused.
		wrong := []byte(v.code)
		wrong[7] = '0' + (wrong[7]-'0'+1)%10
		if _, ok := matchStep(secret, string(wrong), now, otp.DigitsEight); ok {
			t.Errorf("T=%d: %s accepted", v.unix, wrong)
		}
	}
}

func TestWindowEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		offset int
		ok     bool
	}{
		{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false},
	}
	for _, tc := range tests {
		f := newFixture(t)
		secret, _ := f.enroll()
		f.clock.Advance(10 * period * time.Second) // well past the enabling step
		err := f.tp.Verify(context.Background(), alice.Ref(), f.codeAt(secret, tc.offset))
		if (err == nil) != tc.ok {
			t.Errorf("code of step %+d: %v, want ok=%v", tc.offset, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidCode) {
			t.Errorf("code of step %+d: error %v is not ErrInvalidCode", tc.offset, err)
		}
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret, _ := f.enroll()
	ctx := context.Background()
	ref := alice.Ref()
	code := f.codeAt(secret, 0)
	if err := f.tp.Verify(ctx, ref, code); err != nil {
		t.Fatal(err)
	}
	// The same code again, within its window: used, and said so.
	if err := f.tp.Verify(ctx, ref, code); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("replay: %v", err)
	}
	f.clock.Advance(20 * time.Second) // still within the skew
	if err := f.tp.Verify(ctx, ref, code); !errors.Is(err, ErrCodeUsed) || !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay 20 s later: %v", err)
	}
	// A wrong code is never called used.
	if err := f.tp.Verify(ctx, ref, wrongCode(code)); !errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrCodeUsed) {
		t.Fatalf("a wrong code: %v", err)
	}
	// A later code works; after it, the earlier step's code no longer does,
	// though it is still within the skew.
	f.clock.Advance(period * time.Second)
	earlier := f.codeAt(secret, -1)
	if err := f.tp.Verify(ctx, ref, f.codeAt(secret, 1)); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	if err := f.tp.Verify(ctx, ref, earlier); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("an earlier step after a later one: %v", err)
	}
}

// wrongCode returns a six-digit code other than code.
func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// The code that enables 2FA counts as used.
func TestEnableCodeIsUsed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	e, err := f.tp.Setup(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	code := f.codeAt(e.Secret, 0)
	if _, err := f.tp.Enable(ctx, alice.Ref(), code); err != nil {
		t.Fatal(err)
	}
	if err := f.tp.Verify(ctx, alice.Ref(), code); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("the enabling code logged in: %v", err)
	}
}

func TestConcurrentVerifyExactlyOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret, _ := f.enroll()
	code := f.codeAt(secret, 0)
	var ok, used atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			switch err := f.tp.Verify(context.Background(), alice.Ref(), code); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrCodeUsed):
				used.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || used.Load() != 99 {
		t.Fatalf("of 100 concurrent logins with one code, %d succeeded and %d were told it was used; want 1 and 99", ok.Load(), used.Load())
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ref := alice.Ref()
	_, codes := f.enroll()
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		// XXXX-XXXXX-XXXX, of the alphabet without look-alikes.
		if len(c) != 15 || c[4] != '-' || c[10] != '-' || seen[c] ||
			strings.Trim(strings.ReplaceAll(c, "-", ""), recoveryAlphabet) != "" {
			t.Fatalf("code %q", c)
		}
		if strings.ContainsAny(c, "01ILOU") {
			t.Fatalf("code %q has a look-alike", c)
		}
		if _, ok := ParseRecoveryCode(c); !ok {
			t.Fatalf("code %q does not parse", c)
		}
		seen[c] = true
	}
	if err := f.tp.Recover(ctx, ref, "AAAA-AAAA-AAAA"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	// Typed in lower case with spaces: still the code.
	if err := f.tp.Recover(ctx, ref, " "+strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if on, _ := f.tp.Enabled(ctx, ref); on {
		t.Fatal("2FA still on after a recovery login")
	}
	if err := f.tp.Recover(ctx, ref, codes[4]); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("recovery with 2FA off: %v", err)
	}
	// The store holds hashes, never the codes.
	st, _ := f.mem.TFA(ctx, ref)
	if len(st.RecoveryCodes) != 0 || len(st.Secret) != 0 {
		t.Fatalf("state after disable: %s", describe(st))
	}
}

func TestRecoveryCodeConcurrentSingleUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, codes := f.enroll()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if f.tp.Recover(context.Background(), alice.Ref(), codes[0]) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("one backup code sent 30 times at once logged in %d times", ok.Load())
	}
}

func TestRegenerateReplacesCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, old := f.enroll()
	fresh, err := f.tp.RegenerateRecoveryCodes(ctx, alice.Ref())
	if err != nil || len(fresh) != RecoveryCodeCount {
		t.Fatalf("regenerate: %d, %v", len(fresh), err)
	}
	if err := f.tp.Recover(ctx, alice.Ref(), old[0]); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("an old code after regeneration: %v", err)
	}
	if err := f.tp.Recover(ctx, alice.Ref(), fresh[0]); err != nil {
		t.Fatalf("a new code: %v", err)
	}
}

func TestSetupAndStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ref := alice.Ref()
	if _, err := f.tp.Enable(ctx, ref, "123456"); !errors.Is(err, ErrNotSetUp) {
		t.Fatalf("Enable before Setup: %v", err)
	}
	if err := f.tp.Verify(ctx, ref, "123456"); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("Verify without 2FA: %v", err)
	}
	e, err := f.tp.Setup(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := f.tp.Enabled(ctx, ref); on {
		t.Fatal("on after Setup alone")
	}
	if err := f.tp.Verify(ctx, ref, f.codeAt(e.Secret, 0)); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("a pending secret's code logged in: %v", err)
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != e.Secret || u.Query().Get("issuer") != "Example" ||
		u.Path != "/Example:alice@example.com" || u.Query().Get("digits") != "6" || u.Query().Get("period") != "30" || u.Query().Get("algorithm") != "SHA1" {
		t.Fatalf("URL %q", e.URL)
	}
	if raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret); err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %d bytes, %v", e.Secret, len(raw), err)
	}
	img, err := png.Decode(bytes.NewReader(e.QRCode))
	if err != nil || img.Bounds().Dx() < qrSize*3/4 || img.Bounds().Dx() > qrSize || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("QR code: %v %v", img.Bounds(), err)
	}
	// The quiet zone is light and the top-left finder pattern dark.
	light, _, _, _ := img.At(1, 1).RGBA()
	side := img.Bounds().Dx()
	first := -1
	for i := 0; i < side; i++ {
		if r, _, _, _ := img.At(i, i).RGBA(); r < 0x8000 {
			first = i
			break
		}
	}
	if light < 0x8000 || first <= 0 || first > side/4 {
		t.Fatalf("QR code layout: corner light=%v, first dark pixel on the diagonal at %d of %d", light >= 0x8000, first, side)
	}
	// A second Setup replaces the pending secret: the first's codes fail.
	e2, _ := f.tp.Setup(ctx, alice)
	if _, err := f.tp.Enable(ctx, ref, f.codeAt(e.Secret, 0)); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("the replaced secret enabled 2FA: %v", err)
	}
	if _, err := f.tp.Enable(ctx, ref, f.codeAt(e2.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tp.Setup(ctx, alice); !errors.Is(err, ErrAlreadyEnabled) {
		t.Fatalf("Setup with 2FA on: %v", err)
	}
	if _, err := f.tp.Enable(ctx, ref, f.codeAt(e2.Secret, 1)); !errors.Is(err, ErrAlreadyEnabled) {
		t.Fatalf("Enable twice: %v", err)
	}
	if err := f.tp.Disable(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := f.tp.Verify(ctx, ref, f.codeAt(e2.Secret, 1)); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("Verify after Disable: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory(store.MemoryConfig{})
	for _, cfg := range []Config{
		{},
		{Store: mem, Issuer: "a:b"},
		{Store: mem, Keys: [][]byte{make([]byte, 7)}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"123456", "123456", true},
		{"123 456", "123456", true},
		{" 123456 ", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false}, // full-width digits are not ASCII
		{"", "", false},
		{strings.Repeat(" ", 100) + "123456", "", false},
	}
	for _, tc := range tests {
		got, ok := normalizeCode(tc.in, 6)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeCode(%q) = %q, %v", tc.in, got, ok)
		}
	}
}

func TestParseRecoveryCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"as shown", "ABCD-EFGHJ-2345", "ABCDEFGHJ2345", true},
		{"lower case, spaces", "abcd efghj 2345", "ABCDEFGHJ2345", true},
		{"no dashes", "ABCDEFGHJ2345", "ABCDEFGHJ2345", true},
		{"dashes anywhere", "-A-B-C-D-E-F-G-H-J-2-3-4-5-", "ABCDEFGHJ2345", true},
		{"mixed case", "aBcD-eFgHj-2345", "ABCDEFGHJ2345", true},
		{"U read as V", "UVWX-uvwxy-2345", "VVWXVVWXY2345", true},
		{"one short", "ABCD-EFGH-2345", "ABCDEFGH2345", true}, // 12 symbols: an old code
		{"one long", "ABCD-EFGHJK-2345", "", false},
		{"zero, never issued", "0BCD-EFGHJ-2345", "", false},
		{"O, never issued", "OBCD-EFGHJ-2345", "", false},
		{"one, never issued", "1BCD-EFGHJ-2345", "", false},
		{"I, never issued", "IBCD-EFGHJ-2345", "", false},
		{"L, never issued", "lBCD-EFGHJ-2345", "", false},
		{"underscores", "ABCD_EFGHJ_2345", "", false},
		// attack row: a non-ASCII letter whose upper case is ASCII must
		// not pass for it.
		{"non-ASCII", "ÀBCD-EFGHJ-2345", "", false},
		{"dotless i", "ıBCD-EFGHJ-2345", "", false},
		{"empty", "", "", false},
		{"only dashes", "---- ----- ----", "", false},
		// attack row: a long input is refused before it is scanned.
		{"padded", strings.Repeat(" ", 60) + "ABCDEFGHJ2345", "", false},

		// Codes issued before the 30-symbol alphabet: 12 of [A-Z0-9],
		// where 0, O, 1, I and L were all symbols, read as they were.
		{"old code", "A4O9-I0VF-0R1L", "A4O9I0VF0R1L", true},
		{"old code, lower case", "a4o9 i0vf 0r1l", "A4O9I0VF0R1L", true},
		{"old code with U", "UUUU-UUUU-UUUU", "UUUUUUUUUUUU", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseRecoveryCode(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseRecoveryCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// Codes issued before the 30-symbol alphabet, stored as hashes of their
// canonical form, still log in; their look-alikes are other codes, and do
// not.
func TestLegacyRecoveryCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.enroll()
	st := f.tfaState()
	old := []string{"A4O9-I0VF-0R1L", "OOOO-0000-1111", "ABCD-EFGH-2345"}
	st.RecoveryCodes = nil
	for _, c := range old {
		st.RecoveryCodes = append(st.RecoveryCodes, hashRecoveryCode(st.RecoverySalt, strings.ReplaceAll(c, "-", "")))
	}
	must(t, f.mem.PutTFA(ctx, st))

	for _, wrong := range []string{
		"A4O9-10VF-0R1L", // I typed as 1: in the old alphabet, another code
		"A409-I0VF-0R1L", // O typed as 0
		"A4O9-I0VF-0RIL", // 1 typed as I
		"OOOO-OOOO-1111",
		"A4O9-I0VF-0R1L-2", // 13 symbols: read as a new code, and refused
		"A4O9-I0VFV-0R1L",
	} {
		if err := f.tp.Recover(ctx, alice.Ref(), wrong); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("Recover(%q): %v", wrong, err)
		}
	}
	if !hasOnly(f.tfaState(), old) {
		t.Fatal("a refused code changed the stored codes")
	}
	if err := f.tp.Recover(ctx, alice.Ref(), "a4o9 i0vf 0r1l"); err != nil {
		t.Fatalf("an old code typed in lower case: %v", err)
	}
	if on, _ := f.tp.Enabled(ctx, alice.Ref()); on {
		t.Fatal("2FA still on after a recovery login with an old code")
	}
}

// New codes typed as people type them (lower case, spaces, U for V) are
// the codes stored.
func TestRecoveryCodeTypedLeniently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, codes := f.enroll()
	st := f.tfaState()
	typed := func(c string) string {
		return " " + strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(c, "-", "  "), "V", "U")) + " "
	}
	for _, c := range codes {
		norm, ok := ParseRecoveryCode(typed(c))
		if !ok || !slices.Contains(st.RecoveryCodes, hashRecoveryCode(st.RecoverySalt, norm)) {
			t.Fatalf("%q typed as %q is not the code stored", c, typed(c))
		}
	}
	if err := f.tp.Recover(context.Background(), alice.Ref(), typed(codes[2])); err != nil {
		t.Fatalf("Recover(%q) for %q: %v", typed(codes[2]), codes[2], err)
	}
}

// FuzzCodes: code and recovery-code parsing never panic, and what they
// accept has the one canonical form: 13 symbols of today's alphabet, or
// 12 of [A-Z0-9] for a code issued before it, which parses to itself and
// does not depend on case, spaces or dashes.
func FuzzCodes(f *testing.F) {
	for _, s := range []string{
		"123456", "123 456", "ABCD-EFGH-2345", "abcd efgh 2345", "", "\xff", "１２３４５６",
		"ABCD-EFGHJ-2345", "abcd efghj 2345", "UUUU-uuuuu-UUUU", "0BCD-EFGHJ-2345", "A4O9-I0VF-0R1L",
		"ıBCD-EFGHJ-2345", "ABCD-EFGHJK-2345",
	} {
		f.Add(s)
	}
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111109, 0)
	f.Fuzz(func(t *testing.T, s string) {
		if c, ok := normalizeCode(s, 6); ok {
			if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("normalizeCode(%q) = %q", s, c)
			}
		}
		c, ok := ParseRecoveryCode(s)
		if ok {
			switch len(c) {
			case recoveryLen:
				if strings.Trim(c, recoveryAlphabet) != "" {
					t.Fatalf("ParseRecoveryCode(%q) = %q, not of the alphabet", s, c)
				}
				if again, ok := ParseRecoveryCode(formatRecoveryCode(c)); !ok || again != c {
					t.Fatalf("%q as shown, %q, parses to %q, %v", c, formatRecoveryCode(c), again, ok)
				}
			case legacyRecoveryLen:
				if strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
					t.Fatalf("ParseRecoveryCode(%q) = %q, an old code not of [A-Z0-9]", s, c)
				}
				// Old codes are read exactly: nothing but case, spaces
				// and dashes changes.
				if strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s)) != c {
					t.Fatalf("old code %q read as %q", s, c)
				}
			default:
				t.Fatalf("ParseRecoveryCode(%q) = %q", s, c)
			}
			if again, ok := ParseRecoveryCode(c); !ok || again != c {
				t.Fatalf("canonical form %q does not parse to itself", c)
			}
		}
		// Case, spaces and dashes never change the answer.
		// (ASCII only: ToUpper and ToLower may change the length of other
		// text, or map it to ASCII.)
		if len(s) <= 2*recoveryLen && isASCII(s) {
			for _, v := range []string{strings.ToLower(s), strings.ToUpper(s), "-" + s + " ", strings.ReplaceAll(s, "-", " ")} {
				if got, gotOK := ParseRecoveryCode(v); got != c || gotOK != ok {
					t.Fatalf("ParseRecoveryCode(%q) = %q, %v; of %q: %q, %v", v, got, gotOK, s, c, ok)
				}
			}
		}
		_, _ = matchStep(secret, s, now, otp.DigitsSix)
	})
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzRecoveryCodeTyped: a code made from any random bytes, typed with any
// mix of case, spaces, dashes and U for V, parses to the code; and one
// symbol typed as another symbol (a typo, not a look-alike) does not.
func FuzzRecoveryCodeTyped(f *testing.F) {
	f.Add([]byte("seed"), uint64(0), uint8(0), uint8(1))
	f.Add(bytes.Repeat([]byte{239}, 40), uint64(0xffffffffffffffff), uint8(12), uint8(29))
	f.Add(bytes.Repeat([]byte{255}, 40), uint64(0x5555), uint8(3), uint8(7))
	f.Fuzz(func(t *testing.T, seed []byte, mask uint64, at, other uint8) {
		raw, err := randomSymbols(cycle(seed), recoveryLen)
		if err != nil {
			return // no byte of seed is below 240: no symbol to draw
		}
		if len(raw) != recoveryLen || strings.Trim(raw, recoveryAlphabet) != "" {
			t.Fatalf("randomSymbols = %q", raw)
		}
		var typed strings.Builder
		for i := 0; i < len(raw); i++ {
			c, m := raw[i], mask>>(4*(i%16))
			if c == 'V' && m&1 != 0 {
				c = 'U'
			}
			if m&2 != 0 && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			typed.WriteByte(c)
			switch m >> 2 & 3 {
			case 1:
				typed.WriteByte(' ')
			case 2:
				typed.WriteByte('-')
			}
		}
		if got, ok := ParseRecoveryCode(typed.String()); !ok || got != raw {
			t.Fatalf("%q typed as %q parses to %q, %v", raw, typed.String(), got, ok)
		}
		if got, ok := ParseRecoveryCode(formatRecoveryCode(raw)); !ok || got != raw {
			t.Fatalf("%q as shown parses to %q, %v", raw, got, ok)
		}
		// A typo: another symbol of the alphabet in one place.
		i := int(at) % recoveryLen
		sym := recoveryAlphabet[int(other)%len(recoveryAlphabet)]
		if sym == raw[i] {
			return
		}
		wrong := raw[:i] + string(sym) + raw[i+1:]
		if got, ok := ParseRecoveryCode(wrong); ok && got == raw {
			t.Fatalf("the typo %q parses to the code %q", wrong, raw)
		}
	})
}

// cycle reads b over and over, or fails at once if b is empty.
func cycle(b []byte) io.Reader {
	if len(b) == 0 {
		return bytes.NewReader(nil)
	}
	return &cycleReader{b: b}
}

type cycleReader struct {
	b []byte
	n int
	i int
}

// Read fills p from b, round and round, up to 64 rounds, then fails, so a
// seed with no byte below 240 ends randomSymbols.
func (r *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		if r.n >= 64*len(r.b) {
			if i == 0 {
				return 0, io.EOF
			}
			return i, nil
		}
		p[i] = r.b[r.i]
		r.i = (r.i + 1) % len(r.b)
		r.n++
	}
	return len(p), nil
}

func BenchmarkVerify(b *testing.B) {
	clock := clocktest.New()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	tp, err := New(Config{Store: mem, Keys: [][]byte{bytes.Repeat([]byte{1}, 32)}, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e, _ := tp.Setup(ctx, alice)
	gen := func() string {
		step := clock.Now().Unix() / period
		code, _ := hotp.GenerateCodeCustom(e.Secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		return code
	}
	if _, err := tp.Enable(ctx, alice.Ref(), gen()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		clock.Advance(period * time.Second) // a fresh step: each code is new
		code := gen()
		b.StartTimer()
		if err := tp.Verify(ctx, alice.Ref(), code); err != nil {
			b.Fatal(err)
		}
	}
}

// hookStore is a store whose next PutTFA first runs a hook: another change
// to the state, made between the caller's read and its write, as a
// concurrent request would. The hook runs once, unless always is set.
type hookStore struct {
	*store.Memory
	mu     sync.Mutex
	hook   func()
	always bool
	puts   int
}

func (h *hookStore) PutTFA(ctx context.Context, t store.TFA) error {
	h.mu.Lock()
	h.puts++
	hook := h.hook
	if !h.always {
		h.hook = nil
	}
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	return h.Memory.PutTFA(ctx, t)
}

// overtake returns a TOTP on a hookStore over f's memory, for the change
// that is overtaken; f.tp works on the memory directly, for the hooks.
func (f *fixture) overtake() (*TOTP, *hookStore) {
	f.t.Helper()
	hs := &hookStore{Memory: f.mem}
	tp, err := New(Config{Store: hs, Issuer: "Example", Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return tp, hs
}

// tfaState returns alice's stored 2FA state.
func (f *fixture) tfaState() store.TFA {
	f.t.Helper()
	st, err := f.mem.TFA(context.Background(), alice.Ref())
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// describe summarizes st for a failure message, without its secrets.
func describe(st store.TFA) string {
	return fmt.Sprintf("Enabled=%v, secret %v, pending secret %v, %d recovery codes, version %d",
		st.Enabled, len(st.Secret) > 0, len(st.PendingSecret) > 0, len(st.RecoveryCodes), st.Version)
}

// hasOnly reports whether st's recovery codes are exactly codes.
func hasOnly(st store.TFA, codes []string) bool {
	if len(st.RecoveryCodes) != len(codes) {
		return false
	}
	for _, c := range codes {
		norm, _ := ParseRecoveryCode(c)
		if !slices.Contains(st.RecoveryCodes, hashRecoveryCode(st.RecoverySalt, norm)) {
			return false
		}
	}
	return true
}

// Each read-modify-write, overtaken between its read and its write by
// another change, checks again on the state it would replace: no change
// is lost.
func TestOvertakenChangesAreNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := alice.Ref()
	tests := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"SetupOvertakenByEnable", func(t *testing.T, f *fixture) {
			// The lost update this guards against: Setup wrote back the
			// Enabled=false it read, and 2FA was silently off.
			e, err := f.tp.Setup(ctx, alice)
			must(t, err)
			tp, hs := f.overtake()
			var enabled error
			hs.hook = func() { _, enabled = f.tp.Enable(ctx, ref, f.codeAt(e.Secret, 0)) }
			if _, err := tp.Setup(ctx, alice); !errors.Is(err, ErrAlreadyEnabled) {
				t.Fatalf("Setup overtaken by an Enable: %v, want ErrAlreadyEnabled", err)
			}
			must(t, enabled)
			if st := f.tfaState(); !st.Enabled || len(st.RecoveryCodes) != RecoveryCodeCount {
				t.Fatalf("after an Enable and the Setup it overtook: %s", describe(st))
			}
		}},
		{"EnableOvertakenBySetup", func(t *testing.T, f *fixture) {
			// The code matched a pending secret that a new Setup has
			// replaced: 2FA must not go on with a secret the user's app
			// may no longer have.
			e, err := f.tp.Setup(ctx, alice)
			must(t, err)
			tp, hs := f.overtake()
			var next Enrollment
			hs.hook = func() { next, err = f.tp.Setup(ctx, alice) }
			if _, err := tp.Enable(ctx, ref, f.codeAt(e.Secret, 0)); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("Enable overtaken by a Setup: %v, want ErrInvalidCode", err)
			}
			must(t, err)
			if st := f.tfaState(); st.Enabled {
				t.Fatalf("on with a replaced secret: %s", describe(st))
			}
			// The new secret enables, at a step the first code did not use.
			f.clock.Advance(period * time.Second)
			if _, err := f.tp.Enable(ctx, ref, f.codeAt(next.Secret, 0)); err != nil {
				t.Fatalf("Enable with the new secret: %v", err)
			}
		}},
		{"EnableOvertakenByEnable", func(t *testing.T, f *fixture) {
			// Two Enables with codes of two steps: one turns 2FA on, the
			// other finds it on; the codes are the winner's.
			e, err := f.tp.Setup(ctx, alice)
			must(t, err)
			tp, hs := f.overtake()
			var codes []string
			hs.hook = func() { codes, err = f.tp.Enable(ctx, ref, f.codeAt(e.Secret, 1)) }
			if _, err := tp.Enable(ctx, ref, f.codeAt(e.Secret, 0)); !errors.Is(err, ErrAlreadyEnabled) {
				t.Fatalf("Enable overtaken by an Enable: %v, want ErrAlreadyEnabled", err)
			}
			must(t, err)
			if st := f.tfaState(); !st.Enabled || !hasOnly(st, codes) {
				t.Fatalf("the winner's codes are not the ones stored: %s", describe(st))
			}
		}},
		{"EnableOvertakenByDisable", func(t *testing.T, f *fixture) {
			e, err := f.tp.Setup(ctx, alice)
			must(t, err)
			tp, hs := f.overtake()
			hs.hook = func() { err = f.tp.Disable(ctx, ref) }
			if _, err := tp.Enable(ctx, ref, f.codeAt(e.Secret, 0)); !errors.Is(err, ErrNotSetUp) {
				t.Fatalf("Enable overtaken by a Disable: %v, want ErrNotSetUp", err)
			}
			must(t, err)
			if st := f.tfaState(); st.Enabled || len(st.PendingSecret) != 0 {
				t.Fatalf("after a Disable and the Enable it overtook: %s", describe(st))
			}
		}},
		{"RegenerateOvertakenByRecover", func(t *testing.T, f *fixture) {
			// The lost update this guards against: the new codes were
			// written over the recovery login's Disable, and 2FA was back
			// on.
			_, old := f.enroll()
			tp, hs := f.overtake()
			var recovered error
			hs.hook = func() { recovered = f.tp.Recover(ctx, ref, old[0]) }
			if _, err := tp.RegenerateRecoveryCodes(ctx, ref); !errors.Is(err, ErrNotEnabled) {
				t.Fatalf("Regenerate overtaken by a recovery login: %v, want ErrNotEnabled", err)
			}
			must(t, recovered)
			if st := f.tfaState(); st.Enabled || len(st.RecoveryCodes) != 0 || len(st.Secret) != 0 {
				t.Fatalf("on again after a recovery login: %s", describe(st))
			}
		}},
		{"RecoverOvertakenByRegenerate", func(t *testing.T, f *fixture) {
			// A Regenerate writes between the recovery login's read and
			// its write: the login is judged on the state it would
			// replace, where its old code is no longer a code. It fails,
			// and 2FA stays on with the new codes, one of which works.
			_, old := f.enroll()
			tp, hs := f.overtake()
			var fresh []string
			var err error
			hs.hook = func() { fresh, err = f.tp.RegenerateRecoveryCodes(ctx, ref) }
			if err := tp.Recover(ctx, ref, old[0]); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("Recover with a code a Regenerate replaced: %v, want ErrInvalidCode", err)
			}
			must(t, err)
			if st := f.tfaState(); !st.Enabled || len(st.RecoveryCodes) != RecoveryCodeCount {
				t.Fatalf("a failed recovery changed 2FA: %s", describe(st))
			}
			must(t, f.tp.Recover(ctx, ref, fresh[0]))
		}},
		{"DisableOvertakenByRegenerate", func(t *testing.T, f *fixture) {
			f.enroll()
			tp, hs := f.overtake()
			var err error
			hs.hook = func() { _, err = f.tp.RegenerateRecoveryCodes(ctx, ref) }
			must(t, tp.Disable(ctx, ref))
			must(t, err)
			if st := f.tfaState(); st.Enabled || len(st.RecoveryCodes) != 0 {
				t.Fatalf("on after a Disable: %s", describe(st))
			}
		}},
		{"GivesUpAfterMaxAttempts", func(t *testing.T, f *fixture) {
			// Every write overtaken: an error, never a write from a stale
			// read.
			tp, hs := f.overtake()
			hs.always = true
			hs.hook = func() {
				st, err := f.mem.TFA(ctx, ref)
				if errors.Is(err, store.ErrNotFound) {
					st = store.TFA{Account: ref}
				}
				_ = f.mem.PutTFA(ctx, st)
			}
			_, err := tp.Setup(ctx, alice)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Setup always overtaken: %v, want store.ErrConflict", err)
			}
			if hs.puts != maxAttempts {
				t.Fatalf("%d puts, want %d", hs.puts, maxAttempts)
			}
			if st := f.tfaState(); len(st.PendingSecret) != 0 || st.Version != maxAttempts {
				t.Fatalf("state after the refused Setups: %s", describe(st))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFixture(t))
		})
	}
}

// raceRounds runs round rounds times, in parallel subtests, each with a
// fixture of its own, and returns when all have ended.
func raceRounds(t *testing.T, rounds int, round func(t *testing.T, f *fixture)) {
	t.Run("rounds", func(t *testing.T) {
		for i := range rounds {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				round(t, newFixture(t))
			})
		}
	})
}

// A Setup racing an Enable never leaves 2FA off after the Enable reported
// success: the Setup finds 2FA on and says so, or writes first and the
// Enable fails.
func TestSetupRacingEnable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := alice.Ref()
	const rounds = 100
	var enabled, setUp atomic.Int64
	raceRounds(t, rounds, func(t *testing.T, f *fixture) {
		e, err := f.tp.Setup(ctx, alice)
		must(t, err)
		code := f.codeAt(e.Secret, 0)
		var setupErr, enableErr error
		var start, wg sync.WaitGroup
		start.Add(1)
		wg.Go(func() { start.Wait(); _, enableErr = f.tp.Enable(ctx, ref, code) })
		wg.Go(func() { start.Wait(); _, setupErr = f.tp.Setup(ctx, alice) })
		start.Done()
		wg.Wait()
		st := f.tfaState()
		switch {
		case enableErr == nil:
			enabled.Add(1)
			if !st.Enabled || len(st.RecoveryCodes) != RecoveryCodeCount {
				t.Fatalf("Enable succeeded, but 2FA is off after a racing Setup (%v): %s", setupErr, describe(st))
			}
			if !errors.Is(setupErr, ErrAlreadyEnabled) {
				t.Fatalf("Enable succeeded and the racing Setup: %v, want ErrAlreadyEnabled", setupErr)
			}
		case errors.Is(enableErr, ErrInvalidCode):
			setUp.Add(1)
			must(t, setupErr)
			if st.Enabled || len(st.PendingSecret) == 0 {
				t.Fatalf("the Setup won, but the state is %s", describe(st))
			}
		default:
			t.Fatalf("Enable: %v", enableErr)
		}
	})
	t.Logf("of %d rounds, Enable won %d and Setup %d", rounds, enabled.Load(), setUp.Load())
}

// A RegenerateRecoveryCodes racing a recovery login ends consistent:
// either 2FA off with no codes (the login succeeded), or on with only the
// new codes (the old code was gone when the login tried it). Never on
// after the recovery login reported 2FA off.
func TestRegenerateRacingRecover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := alice.Ref()
	const rounds = 100
	var off, on atomic.Int64
	raceRounds(t, rounds, func(t *testing.T, f *fixture) {
		_, old := f.enroll()
		var fresh []string
		var regenErr, recoverErr error
		var start, wg sync.WaitGroup
		start.Add(1)
		wg.Go(func() { start.Wait(); recoverErr = f.tp.Recover(ctx, ref, old[0]) })
		wg.Go(func() { start.Wait(); fresh, regenErr = f.tp.RegenerateRecoveryCodes(ctx, ref) })
		start.Done()
		wg.Wait()
		st := f.tfaState()
		switch {
		case recoverErr == nil:
			off.Add(1)
			if st.Enabled || len(st.RecoveryCodes) != 0 || len(st.Secret) != 0 {
				t.Fatalf("the recovery login succeeded, but 2FA is on after a racing Regenerate (%v): %s", regenErr, describe(st))
			}
			if regenErr != nil && !errors.Is(regenErr, ErrNotEnabled) {
				t.Fatalf("Regenerate: %v", regenErr)
			}
		case errors.Is(recoverErr, ErrInvalidCode):
			on.Add(1)
			must(t, regenErr)
			if !st.Enabled || !hasOnly(st, fresh) {
				t.Fatalf("the old code was refused, but the state is not on with only the new codes: %s", describe(st))
			}
		default:
			t.Fatalf("Recover: %v", recoverErr)
		}
	})
	t.Logf("of %d rounds, the recovery login won %d and Regenerate %d", rounds, off.Load(), on.Load())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
