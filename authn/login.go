package authn

import (
	"context"
	"errors"
	"net/netip"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// Login error codes, as Octeth's User.Login and Admin.Login answer them.
const (
	CodeMissingUsername    = 1
	CodeMissingPassword    = 2
	CodeInvalidCredentials = 3
	CodeMissingCaptcha     = 4
	CodeInvalidCaptcha     = 5
	CodeInvalidTFA         = 6
	CodeTFARequired        = 101
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
	// made with [Config].Disable2FASecret, in the form Bypass says.
	Disable2FAToken string
	// Bypass is the form of Disable2FAToken accepted: [BypassBound] (the
	// default) or Octeth 5.9's [BypassStatic].
	Bypass TFABypass
	// CaptchaID and Captcha answer a captcha.
	CaptchaID, Captcha string
	// DisableCaptcha asks to skip the captcha (Octeth's API logins); the
	// policy decides whether it is honoured.
	DisableCaptcha bool
	// NoCaptcha says the dialect has no captcha parameter (WMD's c=auth):
	// the throttle alone protects.
	NoCaptcha bool
	// ClientIP is where the login came from ([Authenticator.ClientIP]).
	ClientIP netip.Addr
}

// LoginResult is a successful login.
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
}

// LoginError refuses a login for a reason the client is told: Octeth's code
// and text, and how many attempts of this username from this address the
// throttle has counted, and its limit (WMD's "(1/6)").
type LoginError struct {
	// Code and Text are Octeth's (1 to 6, 101).
	Code int
	Text string
	// Attempts is this attempt's number in the throttle's window for the
	// username from the address (0 before the throttle counted it), and
	// Limit the number allowed.
	Attempts int
	Limit    int
}

// Error returns the text.
func (e *LoginError) Error() string { return "authn: login refused: " + e.Text }

// The login answers. Every kind of bad credential gets the same one.
var loginTexts = map[int]string{
	CodeMissingUsername:    "Missing username",
	CodeMissingPassword:    "Missing password",
	CodeInvalidCredentials: "Invalid login credentials",
	CodeMissingCaptcha:     "Missing captcha",
	CodeInvalidCaptcha:     "Invalid captcha",
	CodeInvalidTFA:         "Invalid 2FA code",
	CodeTFARequired:        "2FA required",
}

// refusal returns the LoginError of code for the attempt at.
func (a *Authenticator) refusal(code int, at attempt) *LoginError {
	return &LoginError{Code: code, Text: loginTexts[code], Attempts: int(at.n), Limit: a.cfg.Throttle.PerUserIP}
}

// Login checks a login and, if it is good, starts a session. In this order,
// so that no answer tells more than the steps before it earned:
//
//  1. a missing username or password: 1, 2;
//  2. the throttle: past a limit, [*ThrottledError] (429), the same
//     whether the password is right or not;
//  3. the captcha, when the policy asks for one: 4 missing, 5 wrong;
//  4. the password or key: 3, one answer for every kind of bad credential;
//  5. the second factor, if the account has one on: 101 none, 6 wrong.
//
// Every attempt is counted before anything is checked; success resets the
// account's count from this address. Other errors (the store) fail
// closed. The caller sets the cookie or sends the session ID.
func (a *Authenticator) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	byKey := req.APIKey != ""
	if req.EitherScope && !byKey {
		req.Scope = scopes.User // until the password says otherwise
	}
	if !req.Scope.Valid() {
		return LoginResult{}, errors.New("authn: Login needs a scope")
	}
	switch {
	case !byKey && req.Username == "":
		return LoginResult{}, a.refusal(CodeMissingUsername, attempt{})
	case !byKey && req.Password == "":
		return LoginResult{}, a.refusal(CodeMissingPassword, attempt{})
	}
	ip := ipKey(req.ClientIP)
	ev := event.Event{Account: store.AccountRef{Scope: req.Scope}, ClientIP: ip}
	// The account is looked up first, so that its username and its email
	// address count as one; the password is checked later, after the
	// throttle and the captcha.
	var cands candidates
	who := ""
	if !byKey {
		var err error
		if cands, err = a.lookupCandidates(ctx, req); err != nil {
			return LoginResult{}, err
		}
		acct, scope, found := cands.throttled()
		who = throttleKey(scope, acct, found, req.Username)
		ev.Username = a.logName(scope, acct, found, req.Username)
		if found {
			ev.Account = acct.Ref()
		}
	}
	at, err := a.begin(ctx, who, ip)
	if err == nil && !byKey && at.accountOver && !a.canAskCaptcha(req) {
		a.takeBack(ctx, at.pair, at.ip, at.account) // refused: it counts nowhere
		err = a.accountThrottled(at)
	}
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		ev.Kind, ev.Reason = event.LockedOut, "too many failed attempts"
		a.Emit(ctx, ev)
		return LoginResult{}, err
	}
	if err != nil {
		return LoginResult{}, err
	}
	// failed logs a failure (begin has counted it) and answers code.
	failed := func(code int, reason string) error {
		ev.Kind, ev.Reason = event.LoginFailed, reason
		a.Emit(ctx, ev)
		return a.refusal(code, at)
	}

	if !byKey && a.captchaRequired(req, at) {
		if req.Captcha == "" {
			ev.Kind, ev.Reason = event.CaptchaDemanded, "captcha missing"
			a.Emit(ctx, ev)
			return LoginResult{}, a.refusal(CodeMissingCaptcha, at)
		}
		ok, err := a.captcha.Check(ctx, captcha.Response{ID: req.CaptchaID, Answer: req.Captcha, RemoteIP: req.ClientIP.String()})
		if err != nil {
			return LoginResult{}, storeFailure(err)
		}
		if !ok {
			return LoginResult{}, failed(CodeInvalidCaptcha, "wrong captcha")
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
		return LoginResult{}, failed(CodeInvalidCredentials, reasonOf(err))
	}
	if err != nil {
		return LoginResult{}, err
	}
	req.Scope = acct.Scope // of either scope: the one the password was right for
	ev.Account, ev.Username = acct.Ref(), acct.Username

	var tfa tfaOutcome
	if !byKey {
		// Only now that the password is known right does the answer say
		// anything about 2FA.
		tfa, err = a.secondFactor(ctx, acct, req, ev)
		if res, err := a.tfaRefusal(ctx, err, at, failed); err != nil {
			return res, err
		}
	}
	res := LoginResult{Account: acct, Method: method, TFAPassed: tfa.passed}
	if res.TFAEnabled, err = a.tfa.Enabled(ctx, acct.Ref()); err != nil {
		return LoginResult{}, storeFailure(err)
	}
	if err := a.settle(ctx, at, true); err != nil {
		return LoginResult{}, err
	}
	// The session is the last thing made: nothing after it can fail and
	// leave a session behind that nobody was told about. A login that
	// turns 2FA off makes it with that change, all or nothing.
	opts := SessionOptions{Method: method, TFA: tfa.passed, APIKeyHash: keyHash}
	if tfa.turnOff == nil {
		res.SessionID, err = a.StartSession(ctx, acct, opts)
	} else {
		res.SessionID, err = a.startSessionChanging(ctx, acct, opts, tfa.turnOff)
		if res, err := a.tfaRefusal(ctx, err, at, failed); err != nil {
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
		return LoginResult{}, err
	}
	ev.Kind, ev.Reason = event.LoginOK, method
	a.Emit(ctx, ev)
	return res, nil
}

// tfaRefusal turns an error of the second factor into the login's answer:
// a wrong code is a failed attempt (6), a missing one 101, a store failure
// itself. It returns nil for nil.
func (a *Authenticator) tfaRefusal(ctx context.Context, err error, at attempt, failed func(code int, reason string) error) (LoginResult, error) {
	var le *LoginError
	switch {
	case err == nil:
		return LoginResult{}, nil
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrNotEnabled):
		return LoginResult{}, failed(CodeInvalidTFA, "wrong 2FA or recovery code")
	case errors.As(err, &le) && le.Code == CodeInvalidTFA:
		return LoginResult{}, failed(CodeInvalidTFA, le.Text)
	case errors.As(err, &le) && le.Code == CodeTFARequired:
		// The password was right and no code came: not a failure. It
		// neither counts nor resets.
		_ = a.settle(ctx, at, false)
		return LoginResult{}, a.refusal(le.Code, at)
	case errors.As(err, &le):
		return LoginResult{}, a.refusal(le.Code, at)
	}
	return LoginResult{}, tfaError(err)
}

// canAskCaptcha reports whether a password login can be asked for a
// captcha at all: not in a dialect without one, nor under [CaptchaNever].
func (a *Authenticator) canAskCaptcha(req LoginRequest) bool {
	return !req.NoCaptcha && a.cfg.CaptchaPolicy != CaptchaNever
}

// captchaRequired applies the captcha policy to a password login. Past
// the account's limit of failures every policy that can ask for one does,
// whatever DisableCaptcha says, from every address.
func (a *Authenticator) captchaRequired(req LoginRequest, at attempt) bool {
	afterFailures := at.failures >= int64(a.cfg.Throttle.CaptchaAfter) || at.accountOver
	switch {
	case !a.canAskCaptcha(req):
		return false
	case a.cfg.CaptchaPolicy == CaptchaAlways:
		return true
	case a.cfg.CaptchaPolicy == CaptchaAfterFailures:
		return afterFailures
	}
	return !req.DisableCaptcha || afterFailures // CaptchaOcteth
}

// keyLogin returns the account an API key login names: a key of the
// login's scope (for Admin.Login, the static admin key too).
func (a *Authenticator) keyLogin(ctx context.Context, req LoginRequest) (store.Account, error) {
	r := &Request{a: a, ipOnce: true, ip: req.ClientIP} // for its clock and address
	p, err := a.principalForKey(ctx, r, req.APIKey, req.Scope == scopes.Admin)
	if err != nil {
		return store.Account{}, err
	}
	if p.Scope != req.Scope {
		return store.Account{}, because(ErrInvalidCredential, "key of the other scope")
	}
	return a.activeAccount(ctx, p.Account())
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
		return tfaOutcome{}, &LoginError{Code: CodeInvalidTFA, Text: "recovery code without 2FA"}
	case !on:
		return tfaOutcome{}, nil // a TOTP code with 2FA off is ignored
	case req.TFARecoveryCode != "":
		code := req.TFARecoveryCode
		return tfaOutcome{passed: true, turnOff: func(ctx context.Context) error { return a.tfa.Recover(ctx, ref, code) }}, nil
	case req.TFACode == "":
		ev.Kind, ev.Reason = event.LoginFailed, "2FA code required"
		a.Emit(ctx, ev)
		return tfaOutcome{}, &LoginError{Code: CodeTFARequired}
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
