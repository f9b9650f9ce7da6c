package authn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// wmdTimeLayout is how WMD writes times ("2026-04-16 09:20:48").
const wmdTimeLayout = "2006-01-02 15:04:05"

// wmdAuth is WMD's c=auth: with logout=1 it ends the request's session
// (cookie or etoken); otherwise it logs in with user and pass (and tfacode,
// if 2FA is on), sets the session cookie and answers the etoken, as seed
// 004 shows. A failure says "Invalid name or password (n/m)": the
// throttle's count of attempts of this name from this address, and its
// limit. WMD has no captcha parameter: the throttle alone protects. A name
// that is both a user's and an administrator's logs in to the one whose
// password it is (the user, if it is both's): see [LoginRequest].EitherScope.
func (api *API) wmdAuth(c *Call) (Fields, error) {
	logout, err := c.Param("logout")
	if err != nil {
		return nil, err
	}
	if logout != "" && logout != "0" {
		return api.wmdLogout(c)
	}
	var user, pass, tfa string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"user", &user}, {"pass", &pass}, {"tfacode", &tfa}} {
		if *f.dst, err = c.Param(f.name); err != nil {
			return nil, err
		}
	}
	ctx := c.Context()
	// WMD has one kind of account with an admin flag, keyward two scopes:
	// the login is of whichever the password is right for.
	res, err := api.a.Login(ctx, LoginRequest{
		EitherScope: true, Username: user, Password: pass, TFACode: tfa,
		NoCaptcha: true, ClientIP: api.a.ClientIP(c.HTTP),
	})
	var le *LoginError
	if errors.As(err, &le) {
		text := le.Text
		if le.Code <= CodeInvalidCredentials {
			text = fmt.Sprintf("Invalid name or password (%d/%d)", le.Attempts, le.Limit)
		}
		return nil, &CommandError{Code: le.Code, Text: text, Fields: Fields{"user": "", "group": ""}}
	}
	if err != nil {
		return nil, err
	}
	etoken, err := api.a.handOver(ctx, c.w, c.HTTP, res.SessionID, true)
	if err != nil {
		return nil, err
	}
	acct := res.Account
	full := fullName(acct)
	display := full
	if display == "" {
		display = acct.Username
	}
	return Fields{
		"user":        acct.Username,
		"group":       "",
		"userid":      acct.ID,
		"admin":       acct.Scope == scopes.Admin,
		"fullname":    full,
		"displayname": display,
		"lastsignin":  api.a.cfg.Now().UTC().Format(wmdTimeLayout),
		"etoken":      etoken.Reveal(),
	}, nil
}

// wmdLogout ends the session the request rides on, and drops the cookie.
func (api *API) wmdLogout(c *Call) (Fields, error) {
	p, err := api.a.authenticate(c.req, api.resolvers(), true)
	if err != nil {
		return nil, err
	}
	if !p.Authenticated() {
		return nil, ErrUnauthenticated
	}
	if err := api.a.EndSession(c.Context(), p); err != nil {
		return nil, err
	}
	api.a.ClearSessionCookie(c.w, c.HTTP)
	return Fields{}, nil
}

// fullName is an account's name: an administrator's Name, or a user's first
// and last names.
func fullName(a store.Account) string {
	if a.Name != "" {
		return a.Name
	}
	return strings.TrimSpace(a.FirstName + " " + a.LastName)
}
