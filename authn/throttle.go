package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// ThrottleConfig sets how many failed logins are allowed before logins are
// refused for a while. Counts live in the store, so every instance that
// shares it counts together. The zero value means the defaults.
type ThrottleConfig struct {
	// Window is how long failures of a username from an address, and of
	// an address, are remembered. Default 15 minutes.
	Window time.Duration
	// PerUserIP is how many attempts a username may make from one address
	// in a Window. Default 6. Success resets this count.
	PerUserIP int
	// PerIP is how many failures one address may make in a Window, over
	// all usernames. Default 60.
	PerIP int
	// PerAccount is how many failures a username may have in an
	// AccountWindow, from all addresses. Default 100 (ASVS 4.0.3 2.2.1).
	PerAccount int
	// AccountWindow is the window of PerAccount. Default 1 hour.
	AccountWindow time.Duration
	// CaptchaAfter is how many failures of a username from an address make
	// a captcha necessary even with DisableCaptcha=true. Default 3.
	CaptchaAfter int
}

func (t ThrottleConfig) withDefaults() (ThrottleConfig, error) {
	if t.Window == 0 {
		t.Window = 15 * time.Minute
	}
	if t.PerUserIP == 0 {
		t.PerUserIP = 6
	}
	if t.PerIP == 0 {
		t.PerIP = 60
	}
	if t.PerAccount == 0 {
		t.PerAccount = 100
	}
	if t.AccountWindow == 0 {
		t.AccountWindow = time.Hour
	}
	if t.CaptchaAfter == 0 {
		t.CaptchaAfter = 3
	}
	if t.Window < time.Second || t.AccountWindow < time.Second || t.PerUserIP < 1 || t.PerIP < 1 || t.PerAccount < 1 || t.CaptchaAfter < 0 {
		return t, errors.New("authn: Throttle settings must be positive (windows of a second or more)")
	}
	return t, nil
}

// ErrThrottled means too many failed logins: 429, with Retry-After. The
// error is a [*ThrottledError].
var ErrThrottled = errors.New("authn: too many failed attempts")

// ThrottledError refuses a login while its counters are over a limit. It
// is the same answer whether the password was right or wrong: the password
// is not checked.
type ThrottledError struct {
	// RetryAfter is how long until the counter that refused it resets.
	RetryAfter time.Duration
}

// Error says the request was throttled and for how long.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", ErrThrottled, e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// RetryAfterSeconds is the Retry-After header's value: whole seconds,
// rounded up, at least 1.
func (e *ThrottledError) RetryAfterSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds()))))
}

// attempt is one login attempt's place in the counters.
type attempt struct {
	pair, ip, account string // counter keys; pair and account empty for key logins
	// failures is how many failed attempts of this username from this
	// address came before this one.
	failures int64
	// n is this attempt's number in the pair's window, for WMD's "(n/m)".
	n int64
}

// counterKey makes a store key of fixed size from its parts: a username can
// be long and anything at all.
func counterKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "keyward:throttle:" + kind + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// begin counts a login attempt before its credentials are checked, and
// refuses it if a limit is already reached. The per-username-and-address
// counter is raised here, atomically, so that of any number of concurrent
// guesses no more than PerUserIP get past it; the other counters are
// raised when an attempt fails.
func (a *Authenticator) begin(ctx context.Context, scope scopes.Scope, username, ip string) (attempt, error) {
	t := a.cfg.Throttle
	at := attempt{ip: counterKey("ip", ip)}
	now := a.cfg.Now()
	if n, reset, err := a.store.Count(ctx, at.ip); err != nil {
		return at, storeFailure(err)
	} else if n >= int64(t.PerIP) {
		return at, &ThrottledError{RetryAfter: reset.Sub(now)}
	}
	if username == "" {
		return at, nil // a key login: only the address is counted
	}
	login := store.NormalizeLogin(username)
	at.account = counterKey("account", scope.String(), login)
	if n, reset, err := a.store.Count(ctx, at.account); err != nil {
		return at, storeFailure(err)
	} else if n >= int64(t.PerAccount) {
		return at, &ThrottledError{RetryAfter: reset.Sub(now)}
	}
	at.pair = counterKey("pair", scope.String(), login, ip)
	n, reset, err := a.store.Increment(ctx, at.pair, t.Window)
	if err != nil {
		return at, storeFailure(err)
	}
	at.n, at.failures = n, n-1
	if n > int64(t.PerUserIP) {
		return at, &ThrottledError{RetryAfter: reset.Sub(now)}
	}
	return at, nil
}

// fail records that the attempt failed.
func (a *Authenticator) fail(ctx context.Context, at attempt) error {
	t := a.cfg.Throttle
	if _, _, err := a.store.Increment(ctx, at.ip, t.Window); err != nil {
		return storeFailure(err)
	}
	if at.account != "" {
		if _, _, err := a.store.Increment(ctx, at.account, t.AccountWindow); err != nil {
			return storeFailure(err)
		}
	}
	return nil
}

// succeed records that the attempt succeeded: the username's count from
// this address starts again.
func (a *Authenticator) succeed(ctx context.Context, at attempt) error {
	if at.pair == "" {
		return nil
	}
	if err := a.store.Reset(ctx, at.pair); err != nil {
		return storeFailure(err)
	}
	return nil
}
