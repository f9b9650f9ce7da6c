package authn

import (
	"errors"
	"strconv"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
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
	dc, err := c.Param("DisableCaptcha")
	if err != nil {
		return la, err
	}
	la.disableCaptcha, _ = strconv.ParseBool(dc)
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
		sid, err := a.StartSession(ctx, acct, SessionOptions{Method: method})
		if err != nil {
			return nil, err
		}
		if err := a.SetSessionCookie(c.w, c.HTTP, sid); err != nil {
			return nil, err
		}
		a.emit(ctx, Event{Kind: EventLoginOK, Account: acct.Ref(), Username: acct.Username, Reason: method})
		fields := Fields{"SessionID": sid.Reveal()}
		if scope == scopes.Admin {
			fields["AdminInfo"] = adminInfo(acct)
		} else {
			fields["UserInfo"] = userInfo(acct)
		}
		return fields, nil
	}
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
func adminInfo(a store.Account) map[string]any {
	return map[string]any{
		"AdminID":      strconv.FormatInt(a.ID, 10),
		"Name":         a.Name,
		"Username":     a.Username,
		"EmailAddress": a.Email,
		"2FA_Enabled":  "No",
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
