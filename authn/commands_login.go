package authn

import (
	"errors"
	"strconv"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// errInvalidCredentials is the answer to a bad password, also in the 2FA
// commands.
var errInvalidCredentials = &CommandError{Code: CodeInvalidCredentials, Text: loginTexts[CodeInvalidCredentials]}

// errInvalidTFA is the answer to a bad 2FA code in the 2FA commands.
var errInvalidTFA = &CommandError{Code: CodeInvalidTFA, Text: loginTexts[CodeInvalidTFA]}

// readLogin reads an Octeth login's parameters. A repeated parameter is a
// malformed request.
func readLogin(c *Call, scope scopes.Scope) (LoginRequest, error) {
	keyParam := "apikey"
	if scope == scopes.Admin {
		keyParam = "adminapikey"
	}
	req := LoginRequest{Scope: scope}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"Username", &req.Username},
		{"Password", &req.Password},
		{keyParam, &req.APIKey},
		{"TFACode", &req.TFACode},
		{"TFARecoveryCode", &req.TFARecoveryCode},
		{"CaptchaID", &req.CaptchaID},
		{"Captcha", &req.Captcha},
		{"Disable2FAToken", &req.Disable2FAToken},
	} {
		v, err := c.Param(f.name)
		if err != nil {
			return req, err
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"DisableCaptcha", &req.DisableCaptcha}, {"Disable2FA", &req.Disable2FA}} {
		v, err := c.Param(f.name)
		if err != nil {
			return req, err
		}
		*f.dst, _ = strconv.ParseBool(v)
	}
	return req, nil
}

// login is User.Login (scope User) and Admin.Login (scope Admin): by
// username or email and password, or by API key alone. Success answers a
// new SessionID, sets the session cookie, and describes the account.
func (api *API) login(scope scopes.Scope) func(c *Call) (Fields, error) {
	return func(c *Call) (Fields, error) {
		req, err := readLogin(c, scope)
		if err != nil {
			return nil, err
		}
		ctx := c.Context()
		req.ClientIP = api.a.ClientIP(c.HTTP)
		req.Bypass = api.profile.bypass
		res, err := api.a.Login(ctx, req)
		var le *LoginError
		if errors.As(err, &le) {
			return nil, api.loginFailure(scope, le)
		}
		if err != nil {
			return nil, err
		}
		etoken, err := api.a.handOver(ctx, c.w, c.HTTP, res.SessionID, true)
		if err != nil {
			return nil, err
		}
		fields := Fields{"SessionID": res.SessionID.Reveal(), "etoken": etoken.Reveal()}
		if res.TFADisabled {
			fields["TFADisabled"] = true
		}
		if scope == scopes.Admin {
			fields["AdminInfo"] = adminInfo(res.Account, res.TFAEnabled)
		} else {
			fields["UserInfo"] = userInfo(res.Account)
		}
		return fields, nil
	}
}

// loginFailure is the command error of a refused login, in the API's
// profile: OctethV5 answers a missing or wrong 2FA code at Admin.Login
// with 101, at User.Login with 6.
func (api *API) loginFailure(scope scopes.Scope, le *LoginError) error {
	code, text := le.Code, le.Text
	if code == CodeTFARequired || code == CodeInvalidTFA {
		want := api.profile.userTFA
		if scope == scopes.Admin {
			want = api.profile.adminTFA
		}
		switch want {
		case CodeTFARequired:
			code, text = CodeTFARequired, "Invalid two-factor authentication code"
		case CodeInvalidTFA:
			code, text = CodeInvalidTFA, loginTexts[CodeInvalidTFA]
		}
	}
	return &CommandError{Code: code, Text: text}
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
	enabled := yesNo(tfaOn)
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
