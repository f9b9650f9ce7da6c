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

// ThrottleConfig sets how many login attempts are allowed before logins
// are refused for a while. Counts live in the store, so every instance that
// shares it counts together, and each attempt is counted before its
// password is checked, so that concurrent attempts cannot slip past a
// limit. An account's username and email address share its counts. The
// zero value means the defaults.
type ThrottleConfig struct {
	// Window is how long attempts of an account from an address, and of
	// an address, are remembered. Default 15 minutes.
	Window time.Duration
	// PerUserIP is how many attempts an account (or a username that names
	// none) may have from one address in a Window. Default 6. Success
	// resets this count.
	PerUserIP int
	// PerIP is how many attempts one address may make in a Window, over
	// all usernames (logins, key logins, re-authentications). Default 100.
	PerIP int
	// PerAccount is how many attempts an account may have in an
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
		t.PerIP = 100
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

// retryAfterSeconds is a Retry-After header's value: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// attempt is one login attempt's place in the counters.
type attempt struct {
	pair, ip, account string // counter keys; pair and account empty for key logins
	// failures is how many failed attempts of this username from this
	// address came before this one.
	failures int64
	// n is this attempt's number in the pair's window, for WMD's "(n/m)".
	n int64
	// accountOver says the account is past its limit: a password login
	// needs a captcha, from every address; accountReset is when that
	// window ends.
	accountOver  bool
	accountReset time.Time
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
// refuses it if a limit is reached. Each counter is raised before
// anything is checked, atomically, so that of any number of concurrent
// attempts no more than the limits get through.
//
// The counters are raised in order: the username from this address (the
// pair), the address, the account. An attempt refused by a limit (429) is
// taken back from every counter it raised, the refusing one included, so
// it counts nowhere: whoever is refused cannot raise another's count. The
// account's limit refuses nothing: past it every address must answer a
// captcha ([attempt].accountOver), so that failures from many addresses
// never lock the owner out. [Authenticator.settle] takes the counts of a
// success and of a 2FA-required answer back too, so the counters hold
// failures (and attempts still being checked).
//
// who names the account: its scope and ID when the login names an account
// that exists, so that its username and its email address share one
// count; otherwise the normalized login. It is empty for a key login, which
// only the address counts.
func (a *Authenticator) begin(ctx context.Context, who, ip string) (attempt, error) {
	t := a.cfg.Throttle
	at := attempt{ip: counterKey("ip", ip)}
	if who != "" {
		at.pair = counterKey("pair", who, ip)
		n, err := a.count(ctx, at.pair, t.Window, t.PerUserIP)
		if err != nil {
			return at, err
		}
		at.n, at.failures = n, n-1
	}
	if _, err := a.count(ctx, at.ip, t.Window, t.PerIP); err != nil {
		if errors.Is(err, ErrThrottled) {
			a.takeBack(ctx, at.pair)
		}
		return at, err
	}
	if who == "" {
		return at, nil
	}
	at.account = counterKey("account", who)
	n, reset, err := a.store.Increment(ctx, at.account, t.AccountWindow)
	if err != nil {
		return at, storeFailure(err)
	}
	at.accountOver, at.accountReset = n > int64(t.PerAccount), reset
	return at, nil
}

// count raises a counter and returns its count; past max it takes the
// raise back and refuses ([*ThrottledError]).
func (a *Authenticator) count(ctx context.Context, key string, window time.Duration, max int) (int64, error) {
	got, reset, err := a.store.Increment(ctx, key, window)
	if err != nil {
		return 0, storeFailure(err)
	}
	if got > int64(max) {
		a.takeBack(ctx, key)
		return got, &ThrottledError{RetryAfter: reset.Sub(a.cfg.Now())}
	}
	return got, nil
}

// takeBack takes one attempt back from each counter named, for an attempt
// that must not count, the counters sharing one deadline. A store that
// fails here leaves the attempt counted, which errs on the safe side: the
// answer to a refused attempt does not change. It returns the first
// failure, for a caller that goes on to other store calls.
func (a *Authenticator) takeBack(ctx context.Context, keys ...string) error {
	after, cancel := a.afterward(ctx, time.Now())
	defer cancel()
	var first error
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := a.store.Decrement(after, k); err != nil && first == nil {
			first = storeFailure(err)
		}
	}
	return first
}

// accountThrottled refuses a login past the account's limit where no
// captcha can be asked (a dialect without one, or [LoginRequest].NoCaptcha): there,
// and only there, the account's limit is a hard 429.
func (a *Authenticator) accountThrottled(at attempt) error {
	return &ThrottledError{RetryAfter: at.accountReset.Sub(a.cfg.Now())}
}

// throttleKey names what a login counts against: the account, if the
// login names one, else the normalized login.
func throttleKey(scope scopes.Scope, acct store.Account, found bool, login string) string {
	if found {
		return "account " + scope.String() + " " + strconv.FormatInt(acct.ID, 10)
	}
	return "login " + scope.String() + " " + store.NormalizeLogin(login)
}

// settle records how an attempt ended that was not a failure. A success
// starts the username's count from this address again and takes the
// attempt back from the address's and the account's counts; a login that
// only learned that 2FA is required (the password right, no code sent)
// neither counts nor resets: its attempt is taken back from all three.
func (a *Authenticator) settle(ctx context.Context, at attempt, success bool) error {
	if !success {
		a.takeBack(ctx, at.pair, at.ip, at.account)
		return nil
	}
	if at.pair != "" {
		if err := a.store.Reset(ctx, at.pair); err != nil {
			return storeFailure(err)
		}
	}
	// A store that cannot take the attempts back now would stall the
	// calls after this one too: the success is not handed on.
	return a.takeBack(ctx, at.ip, at.account)
}
