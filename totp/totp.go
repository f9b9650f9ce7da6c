package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/store"
)

// Store is what package totp needs of a store: the 2FA states, and the
// atomic use of a time step.
type Store interface {
	store.TFAStates
	store.TFAUses
}

// Errors. None of them says which code was expected.
var (
	// ErrInvalidCode is a code or recovery code that is wrong, malformed,
	// or already used.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrCodeUsed is a right code of a time step already used (the code
	// that just enabled 2FA, say): it wraps ErrInvalidCode, and only says
	// to wait for the next code. It is never answered for a wrong code.
	ErrCodeUsed = fmt.Errorf("%w: already used", ErrInvalidCode)
	// ErrNotEnabled means the account has no second factor on.
	ErrNotEnabled = errors.New("totp: 2FA not enabled")
	// ErrNotSetUp means Enable was called without a Setup first.
	ErrNotSetUp = errors.New("totp: 2FA not set up")
	// ErrAlreadyEnabled means Setup was called while 2FA is on: turn it
	// off first.
	ErrAlreadyEnabled = errors.New("totp: 2FA already enabled")
)

// The parameters of every code: RFC 6238 as authenticator apps expect it.
const (
	period = 30 // seconds
	skew   = 1  // steps either side
	// secretBytes is the secret's size: 160 bits, as RFC 4226 recommends.
	secretBytes = 20
	// RecoveryCodeCount is how many recovery codes an enrollment gets.
	RecoveryCodeCount = 10
	// qrSize is roughly the QR code's width and height in pixels.
	qrSize = 256
)

// Config configures a [TOTP]. Store is required; every other field has a
// default.
type Config struct {
	// Store keeps the 2FA state. Required.
	Store Store
	// Issuer names the service in authenticator apps. Default "keyward".
	Issuer string
	// Keys seal secrets at rest with AES-GCM: 16, 24 or 32 bytes each; the
	// first seals, all open. Default none: secrets are stored as they are
	// (see the package documentation).
	Keys [][]byte
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of secrets, salts and recovery codes. Default
	// crypto/rand.Reader.
	Rand io.Reader
}

// TOTP enrolls, verifies and recovers second factors. Make one with [New]:
// the methods of a TOTP made otherwise (a zero or nil one) return an
// error.
type TOTP struct {
	st     Store
	issuer string
	sealer sealer
	now    func() time.Time
	rand   io.Reader
}

// New checks cfg and returns a TOTP.
func New(cfg Config) (*TOTP, error) {
	if cfg.Store == nil {
		return nil, errors.New("totp: Config.Store is required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "keyward"
	}
	if strings.Contains(cfg.Issuer, ":") {
		return nil, errors.New("totp: Issuer must not contain a colon")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	s, err := newSealer(cfg.Keys, cfg.Rand)
	if err != nil {
		return nil, err
	}
	return &TOTP{st: cfg.Store, issuer: cfg.Issuer, sealer: s, now: cfg.Now, rand: cfg.Rand}, nil
}

// Enrollment is a new secret to show its owner once.
type Enrollment struct {
	// Secret is the secret in base32, for typing into an app.
	Secret string
	// URL is the otpauth:// URL, as the QR code carries it.
	URL string
	// QRCode is a PNG image of the URL.
	QRCode []byte
}

// Setup makes a new secret for the account and keeps it pending: 2FA is not
// on until [TOTP.Enable] confirms a code of it. A second Setup replaces the
// pending secret. With 2FA already on it is [ErrAlreadyEnabled], also when
// an Enable overtook this Setup: the check is made again on the state the
// write replaces.
func (t *TOTP) Setup(ctx context.Context, acct store.Account) (Enrollment, error) {
	ref := acct.Ref()
	var e Enrollment
	var sealed []byte
	err := t.update(ctx, ref, func(st store.TFA, _ bool) (store.TFA, error) {
		if st.Enabled {
			return st, ErrAlreadyEnabled
		}
		if sealed == nil { // the first attempt; a retry keeps the secret
			var err error
			if e, sealed, err = t.newSecret(acct); err != nil {
				return st, err
			}
		}
		st.PendingSecret = sealed
		// With 2FA off recovery codes have no use.
		st.RecoverySalt, st.RecoveryCodes = nil, nil
		return st, nil
	})
	if err != nil {
		return Enrollment{}, err
	}
	return e, nil
}

// newSecret makes a secret for acct, and returns it as the enrollment
// shows it and sealed for the store.
func (t *TOTP) newSecret(acct store.Account) (Enrollment, []byte, error) {
	raw := make([]byte, secretBytes)
	if _, err := io.ReadFull(t.rand, raw); err != nil {
		return Enrollment{}, nil, fmt.Errorf("totp: reading a secret: %w", err)
	}
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      t.issuer,
		AccountName: acct.Username,
		Period:      period,
		Secret:      raw,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, nil, fmt.Errorf("totp: %w", err)
	}
	qrcode, err := qrPNG(key.URL())
	if err != nil {
		return Enrollment{}, nil, err
	}
	sealed, err := t.sealer.seal(acct.Ref(), raw)
	if err != nil {
		return Enrollment{}, nil, err
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL(), QRCode: qrcode}, sealed, nil
}

// Enable turns 2FA on for the account once code matches its pending
// secret, and returns its recovery codes, which are shown once. The code
// counts as used: its step is claimed in the store before anything is
// written, so one code enables once.
//
// If another change to the state overtakes this one, Enable checks again
// on the state its write would replace: 2FA turned on meanwhile is
// [ErrAlreadyEnabled], a pending secret replaced by a new Setup is
// [ErrInvalidCode] (the code was of the old one), none left (2FA was
// turned off) [ErrNotSetUp].
func (t *TOTP) Enable(ctx context.Context, ref store.AccountRef, code string) ([]string, error) {
	var (
		checked []byte // the sealed pending secret code matched
		sealed  []byte // the secret, sealed again with the current key
		codes   []string
		salt    []byte
		hashes  []store.Hash
	)
	err := t.update(ctx, ref, func(st store.TFA, found bool) (store.TFA, error) {
		switch {
		case !found:
			return st, ErrNotSetUp
		case st.Enabled:
			return st, ErrAlreadyEnabled
		case len(st.PendingSecret) == 0:
			return st, ErrNotSetUp
		case checked != nil && !bytes.Equal(st.PendingSecret, checked):
			return st, ErrInvalidCode
		}
		if checked == nil { // the first attempt: check and use the code
			secret, err := t.sealer.open(ref, st.PendingSecret)
			if err != nil {
				return st, err
			}
			if err := t.use(ctx, ref, secret, code, st.LastStep); err != nil {
				return st, err
			}
			if codes, salt, hashes, err = t.newRecoveryCodes(); err != nil {
				return st, err
			}
			if sealed, err = t.sealer.seal(ref, secret); err != nil {
				return st, err
			}
			checked = st.PendingSecret
		}
		st.Enabled = true
		st.Secret = sealed
		st.PendingSecret = nil
		st.RecoverySalt, st.RecoveryCodes = salt, hashes
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// Verify checks a login's code. A right code of a step not used before
// succeeds once; a wrong or malformed code is [ErrInvalidCode], a right
// one of a step already used [ErrCodeUsed] (which wraps it);
// an account without 2FA on is [ErrNotEnabled].
//
// After a right code, a secret stored plainly or sealed with a key that
// is no longer the first is sealed again with the first key (see the
// package documentation, Secrets at rest). That write is best effort: if
// it fails, or another change to the state overtook it, the login still
// succeeds, and the next one tries again.
func (t *TOTP) Verify(ctx context.Context, ref store.AccountRef, code string) error {
	st, err := t.enabledState(ctx, ref)
	if err != nil {
		return err
	}
	secret, current, err := t.sealer.openCurrent(ref, st.Secret)
	if err != nil {
		return err
	}
	if err := t.use(ctx, ref, secret, code, st.LastStep); err != nil {
		return err
	}
	if !current {
		t.resealUsed(ctx, ref, st, secret)
	}
	return nil
}

// resealUsed writes st back with secret sealed with the current key, after
// a login that opened it with an older key or none. It is one put,
// compared on the Version st was read at, with nothing else changed:
//
//   - Enabled is as read, so the put does not raise the account's
//     generation and ends no session.
//   - LastStep is as read, lower than the step the login just used; the
//     store keeps the greater of the two, so no code is reopened.
//   - The recovery codes are written back as read. A recovery login
//     ([TOTP.Recover]) is a put of its own, so one that came after the
//     read makes this put a conflict rather than be undone by it.
//
// A conflict means another change overtook the read: that change wins,
// and this put is dropped rather than redone (the next login reseals). Any
// other error is dropped too. This is a fail-open trade-off on purpose:
// the secret stays readable under its old seal a while longer, but a
// login whose code was right is never refused because a housekeeping
// write failed.
func (t *TOTP) resealUsed(ctx context.Context, ref store.AccountRef, st store.TFA, secret []byte) {
	sealed, err := t.sealer.seal(ref, secret)
	if err != nil {
		return
	}
	st.Account, st.Secret = ref, sealed
	_ = t.st.PutTFA(ctx, st) // best effort, see above
}

// use accepts code if it matches secret at a step after last, and raises
// the stored step to it, atomically: a code raced by another login fails.
func (t *TOTP) use(ctx context.Context, ref store.AccountRef, secret []byte, code string, last int64) error {
	step, ok := matchStep(secret, code, t.now(), otp.DigitsSix)
	switch {
	case !ok:
		return ErrInvalidCode
	case step <= last:
		return ErrCodeUsed
	}
	advanced, err := t.st.AdvanceTFAStep(ctx, ref, step)
	if err != nil {
		return err
	}
	if !advanced {
		return ErrCodeUsed // another use of this step came first
	}
	return nil
}

// matchStep returns the latest time step within skew of now at which code
// is secret's code, computing every candidate so that the work does not
// depend on which one matches.
func matchStep(secret []byte, code string, now time.Time, digits otp.Digits) (int64, bool) {
	code, ok := normalizeCode(code, digits.Length())
	if !ok {
		return 0, false
	}
	b32 := base32.StdEncoding.EncodeToString(secret)
	current := now.Unix() / period
	if now.Unix() < 0 && now.Unix()%period != 0 {
		current-- // floor, for times before 1970
	}
	var match int64
	found := false
	for step := current - skew; step <= current+skew; step++ {
		if step < 0 {
			continue
		}
		valid, err := hotp.ValidateCustom(code, uint64(step), b32, hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && valid {
			match, found = step, true
		}
	}
	return match, found
}

// normalizeCode returns code without spaces if it is n ASCII digits.
func normalizeCode(code string, n int) (string, bool) {
	if len(code) > 2*n {
		return "", false
	}
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != n {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// Recover logs in with a recovery code in place of a TOTP code: the code
// is used up and 2FA is turned off for the account, as Octeth does, in one
// write (a put compared on the state's Version, so a change that overtook
// the read is seen, and of concurrent uses of one code exactly one
// succeeds). That write is a credential change: it raises the account's
// generation ([store.Account].Generation). A wrong, malformed or used code
// is [ErrInvalidCode], and changes nothing.
func (t *TOTP) Recover(ctx context.Context, ref store.AccountRef, code string) error {
	norm, ok := ParseRecoveryCode(code)
	if !ok {
		return ErrInvalidCode
	}
	return t.update(ctx, ref, func(st store.TFA, found bool) (store.TFA, error) {
		if !found || !st.Enabled {
			return st, ErrNotEnabled
		}
		if !hasCode(st.RecoveryCodes, hashRecoveryCode(st.RecoverySalt, norm)) {
			return st, ErrInvalidCode
		}
		return store.TFA{Account: ref, LastStep: st.LastStep}, nil
	})
}

// hasCode reports whether h is among codes, comparing every one in
// constant time.
func hasCode(codes []store.Hash, h store.Hash) bool {
	found := 0
	for _, c := range codes {
		found |= subtle.ConstantTimeCompare(c[:], h[:])
	}
	return found == 1
}

// Disable turns 2FA off for the account and forgets its secret and
// recovery codes. The last accepted step is kept. If another change
// overtakes the write (new recovery codes, say), Disable reads again and
// turns 2FA off on what it finds: a change made from an older read never
// undoes it.
func (t *TOTP) Disable(ctx context.Context, ref store.AccountRef) error {
	return t.update(ctx, ref, func(st store.TFA, found bool) (store.TFA, error) {
		if !found {
			return st, errNoWrite
		}
		return store.TFA{Account: ref, LastStep: st.LastStep}, nil
	})
}

// RegenerateRecoveryCodes replaces the account's recovery codes with 10
// new ones, returned once. With 2FA off it is [ErrNotEnabled], also when
// a Disable or a recovery login overtook it: the check is made again on
// the state the write replaces, so the new codes never turn 2FA back on.
func (t *TOTP) RegenerateRecoveryCodes(ctx context.Context, ref store.AccountRef) ([]string, error) {
	var (
		codes  []string
		salt   []byte
		hashes []store.Hash
	)
	err := t.update(ctx, ref, func(st store.TFA, found bool) (store.TFA, error) {
		if !found || !st.Enabled {
			return st, ErrNotEnabled
		}
		if codes == nil { // the first attempt; a retry keeps the codes
			var err error
			if codes, salt, hashes, err = t.newRecoveryCodes(); err != nil {
				return st, err
			}
		}
		sealed, err := t.reseal(ref, st.Secret)
		if err != nil {
			return st, err
		}
		st.Secret = sealed
		st.RecoverySalt, st.RecoveryCodes = salt, hashes
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// maxAttempts is how many times [TOTP.update] reads, changes and writes
// before it gives up. Each attempt after the first means that another
// change to the same account's 2FA state won the race, which one person's
// settings see rarely.
const maxAttempts = 5

// errNoWrite, returned by a change given to [TOTP.update], ends it with
// nothing written and no error.
var errNoWrite = errors.New("totp: nothing to write")

// errNotMade is what a TOTP that [New] did not make answers: every method
// reads the state first ([TOTP.update], [TOTP.state]), and it has no
// store to read it from.
var errNotMade = errors.New("totp: TOTP not made by New")

// update changes the account's 2FA state: it reads the state (found
// false, and the zero state with Account set, if there is none), calls
// change, and puts what change returns with the Version it read. If
// another put overtook it ([store.ErrConflict]) it does it all again from
// a fresh read, so change sees the state its write will replace and
// checks its preconditions on that; after maxAttempts conflicts it gives
// up with an error that wraps store.ErrConflict. An error from change
// ends update with that error and nothing written. change may be called
// more than once.
func (t *TOTP) update(ctx context.Context, ref store.AccountRef, change func(st store.TFA, found bool) (store.TFA, error)) error {
	if t == nil || t.st == nil {
		return errNotMade
	}
	for range maxAttempts {
		st, err := t.st.TFA(ctx, ref)
		found := err == nil
		switch {
		case errors.Is(err, store.ErrNotFound):
			st = store.TFA{Account: ref} // at Version 0
		case err != nil:
			return err
		}
		next, err := change(st, found)
		if errors.Is(err, errNoWrite) {
			return nil
		}
		if err != nil {
			return err
		}
		next.Account, next.Version = ref, st.Version
		if err := t.st.PutTFA(ctx, next); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("totp: the 2FA state changed %d times while being written: %w", maxAttempts, store.ErrConflict)
}

// Enabled reports whether the account has 2FA on.
func (t *TOTP) Enabled(ctx context.Context, ref store.AccountRef) (bool, error) {
	st, err := t.state(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return st.Enabled, err
}

// state reads the account's 2FA state.
func (t *TOTP) state(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	if t == nil || t.st == nil {
		return store.TFA{Account: ref}, errNotMade
	}
	st, err := t.st.TFA(ctx, ref)
	if err != nil {
		return store.TFA{Account: ref}, err
	}
	return st, nil
}

// enabledState reads the state of an account that must have 2FA on.
func (t *TOTP) enabledState(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	st, err := t.state(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return st, ErrNotEnabled
	case err != nil:
		return st, err
	case !st.Enabled:
		return st, ErrNotEnabled
	}
	return st, nil
}

// reseal opens a sealed secret and seals it again with the current key.
func (t *TOTP) reseal(ref store.AccountRef, sealed []byte) ([]byte, error) {
	secret, err := t.sealer.open(ref, sealed)
	if err != nil {
		return nil, err
	}
	return t.sealer.seal(ref, secret)
}
