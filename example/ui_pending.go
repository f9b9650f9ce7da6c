package main

import (
	"errors"
	"net/netip"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
)

// pendingTTL is how long the second step of a login may take.
const pendingTTL = 5 * time.Minute

// pendingName is the name the pending token's MAC covers, so that no other
// value sealed with the same keys passes for one.
const pendingName = "keyward-example-pending-login"

// pendingLogin is what the second step of a login (the 2FA code or a
// recovery code) needs from the first: who is signing in, and how.
//
// How the state is carried, and why. [authn.Authenticator.Login] is the
// only exported way to finish a login, and it checks the password every
// time (there is no exported "password already checked" step, and there
// should not be one that a page can call). So the second step must hand
// Login the password again. The choices were:
//
//   - Re-post username and password in hidden fields of the second form:
//     simple, but the password then sits in clear in the page's HTML, where
//     the browser's session history, a "save page" or an extension can
//     read it.
//   - Keep it server-side under a random ID in a cookie or hidden field:
//     needs a store with expiry for the example alone.
//   - This: seal it. The first step's username, password, scope and the
//     client's address are encrypted (AES-CTR) and signed (HMAC-SHA256,
//     over pendingName and a timestamp) with gorilla/securecookie, under
//     keys made at start-up and never shown. The token lives only in the
//     second form's hidden field (autocomplete off, the page not cached),
//     expires after pendingTTL, is refused from another address, and
//     reveals nothing to whoever reads the page.
//
// A stolen token is worth at most what the password is, from the same
// address, for five minutes: Login still checks the password, the
// throttle, the captcha and the second factor. It is not single use, for
// the same reason a password is not: a wrong code must let the user try
// again, and each try is counted by the throttle.
type pendingLogin struct {
	Admin    bool   `json:"a"`
	Username string `json:"u"`
	Password string `json:"p"`
	IP       string `json:"ip"`
}

// errPendingAddress refuses a pending token used from another address.
var errPendingAddress = errors.New("example: pending login from another address")

// sealPending seals the login request's first step, for the client at ip.
func (u *ui) sealPending(req authn.LoginRequest, ip netip.Addr) (string, error) {
	return u.pending.Encode(pendingName, pendingLogin{
		Admin:    req.Scope == scopes.Admin,
		Username: req.Username,
		Password: req.Password,
		IP:       ip.String(),
	})
}

// openPending opens a pending token sealed for the client at ip: an error
// if it was tampered with, has expired, or was sealed for another address.
func (u *ui) openPending(token string, ip netip.Addr) (pendingLogin, error) {
	var pl pendingLogin
	if err := u.pending.Decode(pendingName, token, &pl); err != nil {
		return pendingLogin{}, err
	}
	if pl.IP != ip.String() {
		return pendingLogin{}, errPendingAddress
	}
	return pl, nil
}
