package authn

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// LoginRequest is one login, whatever the dialect it came in.
type LoginRequest struct {
	// Scope is the scope logged in to: User.Login or Admin.Login.
	Scope scopes.Scope
	// EitherScope logs in to whichever scope the name and password are
	// right for, as a dialect with one kind of account does (WMD's c=auth,
	// whose answer flags administrators): the name is looked up as a
	// user's and as an administrator's, and the password checked against
	// both, always both (a missing one against a dummy hash), so the time
	// taken tells nothing. If both are right, the user wins. Attempts
	// count against the administrator when the name is both. Scope is
	// ignored. Password logins only.
	EitherScope bool
	// Username (or email address) and Password; or APIKey alone.
	Username, Password string
	// APIKey logs in with a key of the scope (for Admin.Login, the static
	// admin key too) instead of a password. It skips the captcha and 2FA:
	// the key is its own factor.
	APIKey string
	// TFACode or TFARecoveryCode answers a second factor.
	TFACode, TFARecoveryCode string
	// Disable2FA turns 2FA off, if a valid code comes with it; or, with a
	// valid Disable2FAToken, skips the 2FA step of this login.
	Disable2FA bool
	// Disable2FAToken is the trusted bypass of a host's own front end,
	// made with [TFAConfig].Disable2FASecret: bound to the account, the
	// command and a few minutes ([Disable2FAToken]), or, with
	// StaticBypass, Octeth 5.9's static form.
	Disable2FAToken string
	// StaticBypass takes Octeth 5.9's static Disable2FAToken, the same for
	// every account of a scope and never expiring, instead of the bound
	// one: for Octeth 5.9's clients only.
	StaticBypass bool
	// CaptchaID and Captcha answer a captcha.
	CaptchaID, Captcha string
	// AskCaptcha asks for a captcha whatever the throttle says: the
	// dialect's own policy (Octeth's asks unless DisableCaptcha=true). The
	// throttle asks for one by itself after [ThrottleConfig].CaptchaAfter
	// failures of the account from the address, and from every address
	// past the account's limit of failures.
	AskCaptcha bool
	// NoCaptcha says no captcha can be asked (a dialect without one, as
	// WMD's c=auth, or a host's choice): the throttle alone protects, and
	// past the account's limit the login is refused (429).
	NoCaptcha bool
	// HTTP is the request the login came in, if any: its client's
	// address is what the throttle counts (see [Config].TrustedProxies).
	HTTP *http.Request
}

// LoginResult is what a login came to: the account and its new session
// when it succeeded, and in any case where the throttle stands.
type LoginResult struct {
	// Account is who logged in.
	Account store.Account
	// SessionID is the new session's ID, shown once.
	SessionID Secret
	// Method is "password", "apikey" or "adminapikey".
	Method string
	// TFAPassed reports that a TOTP or recovery code was right.
	TFAPassed bool
	// TFADisabled reports that this login turned 2FA off (a recovery code,
	// or Disable2FA with a code).
	TFADisabled bool
	// TFAEnabled reports whether 2FA is on for the account now.
	TFAEnabled bool
	// At is when the login was made, on the authenticator's clock.
	At time.Time
	// Attempts is this attempt's number in the throttle's window for the
	// name from the client's address (0 when it was refused before it was
	// counted), and Limit the number allowed: WMD's "(1/6)". Set on
	// refusals too.
	Attempts, Limit int
}

// Login checks a login and, if it is good, starts a session. In this order,
// so that no answer tells more than the steps before it earned:
//
//  1. a missing username or password: [ErrMissingUsername],
//     [ErrMissingPassword];
//  2. the throttle: past a limit, [*ThrottledError] (429), the same
//     whether the password is right or not;
//  3. the captcha, when one is asked for: [ErrCaptchaRequired] if none
//     came, [ErrCaptchaWrong] if it is wrong;
//  4. the password or key: an error wrapping [ErrInvalidCredential], one
//     for every kind of bad credential;
//  5. the second factor, if the account has one on: [ErrTFARequired] if
//     no code came, an error wrapping [ErrTFAWrong] if it is wrong or used.
//
// Every attempt is counted before anything is checked (see
// [ThrottleConfig]); the result says where the count stands, refused or
// not. Other errors (the store) fail closed. The caller hands the session
// on ([Authenticator.HandOver]).
func (a *Authenticator) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	if err := a.made(); err != nil {
		return LoginResult{}, err
	}
	res := LoginResult{Limit: a.cfg.Throttle.PerUserIP}
	byKey := req.APIKey != ""
	if req.EitherScope && !byKey {
		req.Scope = scopes.User // until the password says otherwise
	}
	if !req.Scope.Valid() {
		return res, errors.New("authn: Login needs a scope")
	}
	switch {
	case !byKey && req.Username == "":
		return res, ErrMissingUsername
	case !byKey && req.Password == "":
		return res, ErrMissingPassword
	}
	clientIP := a.clientAddr(req.HTTP)
	ip := ipKey(clientIP)
	ev := event.Event{Account: store.AccountRef{Scope: req.Scope}, ClientIP: ip}
	// The account is looked up first, so that its username and its email
	// address count as one; the password is checked later, after the
	// throttle and the captcha.
	var cands candidates
	who := ""
	if !byKey {
		var err error
		if cands, err = a.lookupCandidates(ctx, req); err != nil {
			return res, err
		}
		acct, scope, found := cands.throttled()
		who = throttleKey(scope, acct, found, req.Username)
		ev.Username = a.logName(scope, acct, found, req.Username)
		if found {
			ev.Account = acct.Ref()
		}
	}
	at, err := a.begin(ctx, who, ip)
	if err == nil && !byKey && at.accountOver && req.NoCaptcha {
		a.takeBack(ctx, at.pair, at.ip, at.account) // refused: it counts nowhere
		err = a.accountThrottled(at)
	}
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		ev.Kind, ev.Reason = event.LockedOut, "too many failed attempts"
		a.Emit(ctx, ev)
		return res, err
	}
	if err != nil {
		return res, err
	}
	res.Attempts = int(at.n)
	// failed logs a failure (begin has counted it) and answers err.
	failed := func(err error) (LoginResult, error) {
		ev.Kind, ev.Reason = event.LoginFailed, reasonOf(err)
		if ev.Reason == "" {
			ev.Reason = err.Error()
		}
		a.Emit(ctx, ev)
		return res, err
	}

	if !byKey && a.captchaRequired(req, at) {
		if req.Captcha == "" {
			ev.Kind, ev.Reason = event.CaptchaDemanded, "captcha missing"
			a.Emit(ctx, ev)
			return res, ErrCaptchaRequired
		}
		ok, err := a.captcha.Check(ctx, captcha.Response{ID: req.CaptchaID, Answer: req.Captcha, RemoteIP: clientIP.String()})
		if err != nil {
			return res, storeFailure(err)
		}
		if !ok {
			return failed(because(ErrCaptchaWrong, "wrong captcha"))
		}
	}

	var (
		acct    store.Account
		keyHash store.Hash
	)
	method := "password"
	if byKey {
		method = "apikey"
		if req.Scope == scopes.Admin {
			method = "adminapikey"
		}
		acct, err = a.keyLogin(ctx, req)
		keyHash = hashCredential(req.APIKey) // the session ends with the key
	} else {
		acct, err = a.verify(ctx, cands, req.Password)
	}
	if errors.Is(err, ErrInvalidCredential) {
		return failed(err)
	}
	if err != nil {
		return res, err
	}
	req.Scope = acct.Scope // of either scope: the one the password was right for
	ev.Account, ev.Username = acct.Ref(), acct.Username

	var tfa tfaOutcome
	if !byKey {
		// Only now that the password is known right does the answer say
		// anything about 2FA.
		tfa, err = a.secondFactor(ctx, acct, req, ev)
		if err := a.tfaRefusal(ctx, err, at); err != nil {
			if errors.Is(err, ErrTFAWrong) {
				return failed(err)
			}
			return res, err
		}
	}
	res.Account, res.Method, res.TFAPassed, res.At = acct, method, tfa.passed, a.cfg.Now()
	if res.TFAEnabled, err = a.tfa.Enabled(ctx, acct.Ref()); err != nil {
		return res, storeFailure(err)
	}
	if err := a.settle(ctx, at, true); err != nil {
		return res, err
	}
	// The session is the last thing made: nothing after it can fail and
	// leave a session behind that nobody was told about. A login that
	// turns 2FA off makes it with that change, all or nothing.
	opts := SessionOptions{Method: method, TFA: tfa.passed, APIKeyHash: keyHash}
	if tfa.turnOff == nil {
		res.SessionID, err = a.StartSession(ctx, acct, opts)
	} else {
		res.SessionID, err = a.startSessionChanging(ctx, acct, opts, tfa.turnOff)
		if err := a.tfaRefusal(ctx, err, at); err != nil {
			if errors.Is(err, ErrTFAWrong) {
				return failed(err)
			}
			return res, err
		}
		res.TFADisabled, res.TFAEnabled = true, false
		if req.TFARecoveryCode != "" {
			ev.Kind, ev.Reason = event.RecoveryUsed, ""
			a.Emit(ctx, ev)
		}
		ev.Kind, ev.Reason = event.TFADisabled, "at login"
		a.Emit(ctx, ev)
	}
	if err != nil {
		return res, err
	}
	ev.Kind, ev.Reason = event.LoginOK, method
	a.Emit(ctx, ev)
	return res, nil
}

// tfaRefusal turns an error of the second factor into the login's: a
// wrong or used code wraps [ErrTFAWrong]; no code is [ErrTFARequired],
// which neither counts nor resets (the password was right); a store
// failure stays one. It returns nil for nil.
func (a *Authenticator) tfaRefusal(ctx context.Context, err error, at attempt) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, totp.ErrCodeUsed):
		return errTFACodeUsed
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrNotEnabled):
		return because(ErrTFAWrong, "wrong 2FA or recovery code")
	case errors.Is(err, ErrTFAWrong):
		return err
	case errors.Is(err, ErrTFARequired):
		_ = a.settle(ctx, at, false)
		return err
	}
	return tfaError(err)
}

// captchaRequired says whether a password login needs a captcha: the
// dialect asks for one, or the throttle does (after CaptchaAfter failures
// of the account from the address, and past the account's limit from
// everywhere), unless none can be asked.
func (a *Authenticator) captchaRequired(req LoginRequest, at attempt) bool {
	if req.NoCaptcha {
		return false
	}
	return req.AskCaptcha || at.failures >= int64(a.cfg.Throttle.CaptchaAfter) || at.accountOver
}

// keyLogin returns the account an API key login names: a key of the
// login's scope (for Admin.Login, the static admin key too).
func (a *Authenticator) keyLogin(ctx context.Context, req LoginRequest) (store.Account, error) {
	r := &Request{a: a, ipOnce: true, ip: a.clientAddr(req.HTTP)} // for its clock and address
	p, err := a.principalForKey(ctx, r, req.APIKey, req.Scope == scopes.Admin)
	if err != nil {
		return store.Account{}, err
	}
	if p.Scope != req.Scope {
		return store.Account{}, because(ErrInvalidCredential, "key of the other scope")
	}
	return a.Account(ctx, p.Account())
}

// tfaOutcome is what the second factor of a login came to.
type tfaOutcome struct {
	passed bool // a TOTP code or recovery code was right (or will be checked by turnOff)
	// turnOff, if not nil, turns 2FA off as the login asked (a recovery
	// code, or Disable2FA with a right code): a credential change, made
	// with the login's session (see startSessionChanging). A recovery
	// code is checked and used up by that same write.
	turnOff func(context.Context) error
}

// secondFactor checks a password login's second factor, if the account has
// one on: no code is 101, a wrong, reused or malformed code 6. A recovery
// code turns 2FA off, as Octeth does; so does Disable2FA=true with a right
// code, and only then. With 2FA off, a TFACode is ignored, but a recovery
// code is 6: it cannot be checked, and accepting it would let one code log
// in many times.
func (a *Authenticator) secondFactor(ctx context.Context, acct store.Account, req LoginRequest, ev event.Event) (tfaOutcome, error) {
	ref := acct.Ref()
	on, err := a.tfa.Enabled(ctx, ref)
	if err != nil {
		return tfaOutcome{}, storeFailure(err)
	}
	if on && req.Disable2FA && a.validBypass(req) {
		ev.Kind, ev.Reason = event.TFABypassed, "Disable2FAToken"
		a.Emit(ctx, ev)
		return tfaOutcome{}, nil
	}
	switch {
	case !on && req.TFARecoveryCode != "":
		// A recovery code that cannot be checked is not accepted: of
		// many logins racing with one code, the first turns 2FA off,
		// and the rest must not pass on the strength of that code.
		return tfaOutcome{}, because(ErrTFAWrong, "recovery code without 2FA")
	case !on:
		return tfaOutcome{}, nil // a TOTP code with 2FA off is ignored
	case req.TFARecoveryCode != "":
		code := req.TFARecoveryCode
		return tfaOutcome{passed: true, turnOff: func(ctx context.Context) error { return a.tfa.Recover(ctx, ref, code) }}, nil
	case req.TFACode == "":
		ev.Kind, ev.Reason = event.LoginFailed, "2FA code required"
		a.Emit(ctx, ev)
		return tfaOutcome{}, ErrTFARequired
	}
	if err := a.tfa.Verify(ctx, ref, req.TFACode); err != nil {
		return tfaOutcome{}, err
	}
	out := tfaOutcome{passed: true}
	if req.Disable2FA {
		out.turnOff = func(ctx context.Context) error { return a.tfa.Disable(ctx, ref) }
	}
	return out, nil
}
