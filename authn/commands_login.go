package authn

import (
	"context"
	"errors"
	"strconv"

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

// The login answers. Every kind of bad credential gets the same one.
var (
	errMissingUsername    = &CommandError{Code: CodeMissingUsername, Text: "Missing username"}
	errMissingPassword    = &CommandError{Code: CodeMissingPassword, Text: "Missing password"}
	errInvalidCredentials = &CommandError{Code: CodeInvalidCredentials, Text: "Invalid login credentials"}
	errInvalidTFA         = &CommandError{Code: CodeInvalidTFA, Text: "Invalid 2FA code"}
	errTFARequired        = &CommandError{Code: CodeTFARequired, Text: "2FA required"}
)

// loginAttempt is what a login request says, read once.
type loginAttempt struct {
	scope    scopes.Scope
	username string
	password string
	key      string // apikey or adminapikey
	// Read now and handed to the second factor and captcha checks; until
	// those are configured, nothing is done with them.
	tfaCode, tfaRecoveryCode string
	captchaID, captcha       string
	disableCaptcha           bool
	// disable2FA asks to turn 2FA off; honoured only with a valid code.
	disable2FA bool
}

// readLogin reads a login's parameters. A repeated parameter is a
// malformed request.
func readLogin(c *Call, scope scopes.Scope) (loginAttempt, error) {
	keyParam := "apikey"
	if scope == scopes.Admin {
		keyParam = "adminapikey"
	}
	la := loginAttempt{scope: scope}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"Username", &la.username},
		{"Password", &la.password},
		{keyParam, &la.key},
		{"TFACode", &la.tfaCode},
		{"TFARecoveryCode", &la.tfaRecoveryCode},
		{"CaptchaID", &la.captchaID},
		{"Captcha", &la.captcha},
	} {
		v, err := c.Param(f.name)
		if err != nil {
			return la, err
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"DisableCaptcha", &la.disableCaptcha}, {"Disable2FA", &la.disable2FA}} {
		v, err := c.Param(f.name)
		if err != nil {
			return la, err
		}
		*f.dst, _ = strconv.ParseBool(v)
	}
	return la, nil
}

// login is User.Login (scope User) and Admin.Login (scope Admin): by
// username or email and password, or by API key alone. Success answers a
// new SessionID, sets the session cookie, and describes the account.
func (api *API) login(scope scopes.Scope) func(c *Call) (Fields, error) {
	return func(c *Call) (Fields, error) {
		ctx := c.Context()
		a := api.a
		la, err := readLogin(c, scope)
		if err != nil {
			return nil, err
		}
		var acct store.Account
		method := "password"
		if la.key != "" {
			method = "apikey"
			if scope == scopes.Admin {
				method = "adminapikey"
			}
			acct, err = a.keyLogin(c.req, la)
		} else {
			switch {
			case la.username == "":
				return nil, errMissingUsername
			case la.password == "":
				return nil, errMissingPassword
			}
			acct, err = a.CheckPassword(ctx, scope, la.username, la.password)
		}
		if errors.Is(err, ErrInvalidCredential) {
			a.emit(ctx, Event{Kind: EventLoginFailed, Account: store.AccountRef{Scope: scope}, Username: truncate(la.username, 64), Reason: reasonOf(err)})
			return nil, errInvalidCredentials
		}
		if err != nil {
			return nil, err
		}
		var tfa tfaOutcome
		if la.key == "" {
			// Only once the password is known right does the answer say
			// anything about 2FA.
			if tfa, err = a.secondFactor(ctx, acct, la); err != nil {
				return nil, err
			}
		}
		opts := SessionOptions{Method: method, TFA: tfa.passed}
		if la.key != "" {
			opts.APIKeyHash = hashCredential(la.key) // the session ends with the key
		}
		sid, err := a.StartSession(ctx, acct, opts)
		if err != nil {
			return nil, err
		}
		if err := a.SetSessionCookie(c.w, c.HTTP, sid); err != nil {
			return nil, err
		}
		a.emit(ctx, Event{Kind: EventLoginOK, Account: acct.Ref(), Username: acct.Username, Reason: method})
		fields := Fields{"SessionID": sid.Reveal()}
		if tfa.disabled {
			fields["TFADisabled"] = true
		}
		if scope == scopes.Admin {
			on := tfa.passed && !tfa.disabled
			if la.key != "" && a.tfa != nil {
				if on, err = a.tfa.Enabled(ctx, acct.Ref()); err != nil {
					return nil, storeFailure(err)
				}
			}
			fields["AdminInfo"] = adminInfo(acct, on)
		} else {
			fields["UserInfo"] = userInfo(acct)
		}
		return fields, nil
	}
}

// tfaOutcome is what the second factor of a login came to.
type tfaOutcome struct {
	passed   bool // a TOTP code or recovery code was right
	disabled bool // and 2FA is now off (recovery code, or Disable2FA)
}

// secondFactor checks a password login's second factor, if the account has
// one on: no code is 101, a wrong, reused or malformed code 6. A right
// recovery code turns 2FA off, as Octeth does; so does Disable2FA=true
// with a right code, and only then. Turning 2FA off ends the account's
// other sessions. With 2FA off, a TFACode is ignored, but a recovery code
// is 6: it cannot be checked, and accepting it would let one code log in
// many times.
func (a *Authenticator) secondFactor(ctx context.Context, acct store.Account, la loginAttempt) (tfaOutcome, error) {
	if a.tfa == nil {
		return tfaOutcome{}, nil
	}
	ref := acct.Ref()
	on, err := a.tfa.Enabled(ctx, ref)
	if err != nil {
		return tfaOutcome{}, storeFailure(err)
	}
	if !on {
		if la.tfaRecoveryCode != "" {
			// A recovery code that cannot be checked is not accepted: of
			// many logins racing with one code, the first turns 2FA off,
			// and the rest must not pass on the strength of that code.
			a.emit(ctx, Event{Kind: EventLoginFailed, Account: ref, Username: acct.Username, Reason: "recovery code without 2FA"})
			return tfaOutcome{}, errInvalidTFA
		}
		return tfaOutcome{}, nil // a TOTP code with 2FA off is ignored
	}
	var out tfaOutcome
	switch {
	case la.tfaRecoveryCode != "":
		err = a.tfa.Recover(ctx, ref, la.tfaRecoveryCode)
		out = tfaOutcome{passed: err == nil, disabled: err == nil}
	case la.tfaCode != "":
		err = a.tfa.Verify(ctx, ref, la.tfaCode)
		out.passed = err == nil
		if err == nil && la.disable2FA {
			err = a.tfa.Disable(ctx, ref)
			out.disabled = err == nil
		}
	default:
		a.emit(ctx, Event{Kind: EventLoginFailed, Account: ref, Username: acct.Username, Reason: "2FA code required"})
		return out, errTFARequired
	}
	switch {
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrNotEnabled):
		a.emit(ctx, Event{Kind: EventLoginFailed, Account: ref, Username: acct.Username, Reason: "wrong 2FA code"})
		return tfaOutcome{}, errInvalidTFA
	case err != nil:
		return tfaOutcome{}, storeFailure(err)
	}
	if la.tfaRecoveryCode != "" {
		a.emit(ctx, Event{Kind: EventRecoveryUsed, Account: ref, Username: acct.Username})
	}
	if out.disabled {
		a.emit(ctx, Event{Kind: EventTFADisabled, Account: ref, Username: acct.Username})
		if _, err := a.EndAllSessions(ctx, ref); err != nil {
			return tfaOutcome{}, err
		}
	}
	return out, nil
}

// keyLogin returns the account an API key login names: a key of the
// login's scope (for Admin.Login, the static admin key too).
func (a *Authenticator) keyLogin(req *Request, la loginAttempt) (store.Account, error) {
	p, err := a.principalForKey(req.HTTP.Context(), req, la.key, la.scope == scopes.Admin)
	if err != nil {
		return store.Account{}, err
	}
	if p.Scope != la.scope {
		return store.Account{}, because(ErrInvalidCredential, "key of the other scope")
	}
	return a.activeAccount(req.HTTP.Context(), p.Account())
}

// userInfo is User.Login's UserInfo, with Octeth's field names.
func userInfo(a store.Account) map[string]any {
	return map[string]any{
		"UserID":       a.ID,
		"Username":     a.Username,
		"EmailAddress": a.Email,
		"FirstName":    a.FirstName,
		"LastName":     a.LastName,
	}
}

// adminInfo is Admin.Login's AdminInfo, with Octeth's field names and
// string values (AdminID "1", 2FA_Enabled "Yes"/"No").
func adminInfo(a store.Account, tfaOn bool) map[string]any {
	enabled := "No"
	if tfaOn {
		enabled = "Yes"
	}
	return map[string]any{
		"AdminID":      strconv.FormatInt(a.ID, 10),
		"Name":         a.Name,
		"Username":     a.Username,
		"EmailAddress": a.Email,
		"2FA_Enabled":  enabled,
	}
}

// logout is User.Logout and Admin.Logout: it ends the calling session and
// drops the cookie.
func (api *API) logout(c *Call) (Fields, error) {
	if err := api.a.EndSession(c.Context(), c.Principal); err != nil {
		return nil, err
	}
	if c.Principal.Method == MethodCookie {
		api.a.ClearSessionCookie(c.w, c.HTTP)
	}
	return Fields{}, nil
}

// reasonOf returns the log reason of an error made by because.
func reasonOf(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	return ""
}

// truncate bounds a client-given string for the log.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
