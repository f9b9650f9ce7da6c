package command

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// wmdTimeLayout is how WMD writes times ("2026-04-16 09:20:48").
const wmdTimeLayout = "2006-01-02 15:04:05"

// wmdAuth is WMD's c=auth: with logout=1 it ends the request's session
// (cookie or etoken); otherwise it logs in with user and pass (and tfacode,
// if 2FA is on), sets the session cookie and answers the etoken, as seed
// 004 shows. WMD has one kind of account with an admin flag, keyward two
// scopes: the login is of whichever the password is right for (see
// authn.LoginRequest.EitherScope). A failure says "Invalid name or
// password (n/m)": the throttle's count of attempts of this name from this
// address, and its limit. WMD has no captcha parameter: the throttle alone
// protects.
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
	res, err := api.auth.Login(c.Context(), authn.LoginRequest{
		EitherScope: true, Username: user, Password: pass, TFACode: tfa,
		NoCaptcha: true, HTTP: c.HTTP,
	})
	if err != nil {
		return nil, wmdRefusal(err, res)
	}
	etoken, err := api.auth.HandOver(c.Response(), c.HTTP, res.SessionID, true)
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
		"lastsignin":  res.At.UTC().Format(wmdTimeLayout),
		"etoken":      etoken.Reveal(),
	}, nil
}

// wmdRefusal is the answer to a refused c=auth: a bad name or password,
// with the throttle's count; the login table's text for the rest of the
// login's refusals; err itself for a general failure (throttled, the
// store).
func wmdRefusal(err error, res authn.LoginResult) error {
	blank := Fields{"user": "", "group": ""}
	if errors.Is(err, authn.ErrMissingUsername) || errors.Is(err, authn.ErrMissingPassword) || errors.Is(err, authn.ErrInvalidCredential) {
		return &Error{Code: CodeInvalidCredentials, Text: fmt.Sprintf("Invalid name or password (%d/%d)", res.Attempts, res.Limit), Fields: blank}
	}
	for _, row := range loginCodes {
		if errors.Is(err, row.err) {
			return &Error{Code: row.code, Text: row.text, Fields: blank}
		}
	}
	return err
}

// wmdLogout ends the session the request rides on, and drops the cookie.
func (api *API) wmdLogout(c *Call) (Fields, error) {
	req := api.auth.Request(c.HTTP)
	next, err := api.auth.Authenticate(c.Response(), req, api.cfg.Credentials)
	if err != nil {
		return nil, err
	}
	p, ok := authn.PrincipalFrom(next.Context())
	if !ok {
		return nil, authn.ErrUnauthenticated
	}
	if err := api.auth.EndSession(c.Response(), c.HTTP, p); err != nil {
		return nil, err
	}
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
