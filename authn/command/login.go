package command

import (
	"strconv"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// registerBuiltins registers keyward's own commands of the Octeth dialect.
func (api *API) registerBuiltins() {
	user, admin := []scopes.Scope{scopes.User}, []scopes.Scope{scopes.Admin}
	api.mustHandle("User.Login", Command{Public: true, Run: api.login(scopes.User)})
	api.mustHandle("Admin.Login", Command{Public: true, Run: api.login(scopes.Admin)})
	api.mustHandle("User.Logout", Command{Scopes: user, Run: api.logout})
	api.mustHandle("Admin.Logout", Command{Scopes: admin, Run: api.logout})
	api.registerKeys()
	api.registerTFA()
	api.registerAccounts()
	api.registerCaptcha()
	api.registerRecovery()
	api.mustHandle("User.Switch", Command{Scopes: admin, Run: api.userSwitch})
}

// readLogin reads an Octeth login's parameters. A repeated parameter is a
// malformed request.
func (api *API) readLogin(c *Call, scope scopes.Scope) (authn.LoginRequest, error) {
	keyParam := "apikey"
	if scope == scopes.Admin {
		keyParam = "adminapikey"
	}
	req := authn.LoginRequest{Scope: scope, HTTP: c.HTTP, StaticBypass: api.profile.staticBypass}
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
	var disableCaptcha bool
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"DisableCaptcha", &disableCaptcha}, {"Disable2FA", &req.Disable2FA}} {
		v, err := c.Param(f.name)
		if err != nil {
			return req, err
		}
		*f.dst, _ = strconv.ParseBool(v)
	}
	switch api.cfg.CaptchaPolicy {
	case CaptchaOcteth:
		req.AskCaptcha = !disableCaptcha
	case CaptchaAlways:
		req.AskCaptcha = true
	case CaptchaNever:
		req.NoCaptcha = true
	}
	return req, nil
}

// login is User.Login (scope User) and Admin.Login (scope Admin): by
// username or email and password, or by API key alone. Success answers a
// new SessionID and etoken, sets the session cookie, and describes the
// account.
func (api *API) login(scope scopes.Scope) func(c *Call) (Fields, error) {
	return func(c *Call) (Fields, error) {
		req, err := api.readLogin(c, scope)
		if err != nil {
			return nil, err
		}
		res, err := api.auth.Login(c.Context(), req)
		if err != nil {
			return nil, api.loginRefusal(scope, err)
		}
		etoken, err := api.auth.HandOver(c.Response(), c.HTTP, res.SessionID, true)
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
	return map[string]any{
		"AdminID":      strconv.FormatInt(a.ID, 10),
		"Name":         a.Name,
		"Username":     a.Username,
		"EmailAddress": a.Email,
		"2FA_Enabled":  yesNo(tfaOn),
	}
}

// yesNo is how Octeth writes a flag.
func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// logout is User.Logout and Admin.Logout: it ends the calling session and
// drops the cookie.
func (api *API) logout(c *Call) (Fields, error) {
	if err := api.auth.EndSession(c.Response(), c.HTTP, c.Principal); err != nil {
		return nil, err
	}
	return Fields{}, nil
}
