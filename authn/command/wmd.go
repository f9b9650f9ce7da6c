package command

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
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
	acct := res.Account
	var info WMDInfo
	if api.cfg.WMDInfo != nil {
		info = api.cfg.WMDInfo(c.Context(), acct)
	}
	if info.URL == "" {
		info.URL = requestURL(c.HTTP)
	}
	etoken, err := api.auth.HandOver(c.Response(), c.HTTP, res.SessionID, true)
	if err != nil {
		return nil, err
	}
	full := fullName(acct)
	display := full
	if display == "" {
		display = acct.Username
	}
	return Fields{
		"user":        acct.Username,
		"group":       info.Group,
		"secondary":   info.Secondary,
		"userid":      acct.ID,
		"admin":       acct.Scope == scopes.Admin,
		"fullname":    full,
		"displayname": display,
		"rights":      info.Rights,
		"lastsignin":  res.At.UTC().Format(wmdTimeLayout),
		"url":         info.URL,
		"etoken":      etoken.Reveal(),
	}, nil
}

// WMDInfo is what a c=auth answer holds that keyward does not keep: WMD's
// own notions of an account. [Config].WMDInfo gives it; its zero value
// answers the seed's neutral values.
type WMDInfo struct {
	// Group is the account's group name. Default "".
	Group string
	// Secondary is 1 for a WMD secondary user. Default 0.
	Secondary int
	// Rights is WMD's bit mask of the account's rights (1009 in seed 004).
	// Default 0: none that keyward knows of.
	Rights int
	// URL is the API's address for scripts ("https://host/api.php").
	// Default: the address the login came to, its Host and path, always
	// https but for a plain connection to a loopback host (local
	// development): a script is never told to send its etoken in clear
	// because a proxy ended TLS before keyward. The Host is the client's
	// own word, echoed to that client alone; at another public address,
	// or under a path prefix a proxy strips, set it. Empty if the request
	// named no host.
	URL string
}

// requestURL is the address r came to, without its query (see
// [WMDInfo].URL): https, or http for a plain connection to loopback.
func requestURL(r *http.Request) string {
	if r == nil || r.URL == nil || r.Host == "" {
		return ""
	}
	scheme := "https"
	if r.TLS == nil && loopbackHost(r.Host) {
		scheme = "http"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
}

// loopbackHost reports whether a Host header names this machine:
// localhost or a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// wmdLogin is WMD's table of login refusals, read before Octeth's
// ([loginCodes]): WMD's documents answer a missing or bad name or
// password, and nothing else a login can refuse, so the rest (captcha,
// 2FA) keep Octeth's codes and texts.
var wmdLogin = []loginRow{
	{authn.ErrMissingUsername, CodeInvalidCredentials, textWMDBadLogin},
	{authn.ErrMissingPassword, CodeInvalidCredentials, textWMDBadLogin},
	{authn.ErrInvalidCredential, CodeInvalidCredentials, textWMDBadLogin},
}

// textWMDBadLogin is WMD's answer to a bad name or password; the
// throttle's count follows it, "(attempts/limit)".
const textWMDBadLogin = "Invalid name or password"

// wmdRefusal is the answer to a refused c=auth, or err itself for a
// general failure (throttled, the store).
func wmdRefusal(err error, res authn.LoginResult) error {
	row, ok := findLogin(err, wmdLogin, loginCodes[:])
	if !ok {
		return err
	}
	if row.text == textWMDBadLogin {
		row.text = fmt.Sprintf("%s (%d/%d)", textWMDBadLogin, res.Attempts, res.Limit)
	}
	return &Error{Code: row.code, Text: row.text, Fields: Fields{"user": "", "group": ""}}
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
