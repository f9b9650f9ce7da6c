package totp

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"net/url"
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
	// The same code again, within its window.
	if err := f.tp.Verify(ctx, ref, code); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay: %v", err)
	}
	f.clock.Advance(20 * time.Second) // still within the skew
	if err := f.tp.Verify(ctx, ref, code); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay 20 s later: %v", err)
	}
	// A later code works; after it, the earlier step's code no longer does,
	// though it is still within the skew.
	f.clock.Advance(period * time.Second)
	earlier := f.codeAt(secret, -1)
	if err := f.tp.Verify(ctx, ref, f.codeAt(secret, 1)); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	if err := f.tp.Verify(ctx, ref, earlier); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("an earlier step after a later one: %v", err)
	}
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
	if err := f.tp.Verify(ctx, alice.Ref(), code); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("the enabling code logged in: %v", err)
	}
}

func TestConcurrentVerifyExactlyOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret, _ := f.enroll()
	code := f.codeAt(secret, 0)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if f.tp.Verify(context.Background(), alice.Ref(), code) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of 100 concurrent logins with one code succeeded", ok.Load())
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
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || seen[c] {
			t.Fatalf("code %q", c)
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
		t.Fatalf("state after disable: %+v", st)
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
		in, want string
		ok       bool
	}{
		{"ABCD-EFGH-2345", "ABCDEFGH2345", true},
		{"abcd efgh 2345", "ABCDEFGH2345", true},
		{"ABCDEFGH2345", "ABCDEFGH2345", true},
		{"ABCD-EFGH-234", "", false},
		{"ABCD-EFGH-23456", "", false},
		{"ABCD_EFGH_2345", "", false},
		{"ÀBCD-EFGH-2345", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := ParseRecoveryCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRecoveryCode(%q) = %q, %v", tc.in, got, ok)
		}
	}
}

// FuzzCodes: code and recovery-code parsing never panic, and what they
// accept has the one canonical form.
func FuzzCodes(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "ABCD-EFGH-2345", "abcd efgh 2345", "", "\xff", "１２３４５６"} {
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
		if c, ok := ParseRecoveryCode(s); ok {
			if len(c) != 12 || strings.Trim(c, recoveryAlphabet) != "" {
				t.Fatalf("ParseRecoveryCode(%q) = %q", s, c)
			}
			again, ok := ParseRecoveryCode(c)
			if !ok || again != c {
				t.Fatalf("canonical form %q does not parse to itself", c)
			}
		}
		_, _ = matchStep(secret, s, now, otp.DigitsSix)
	})
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
