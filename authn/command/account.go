package command

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Admin.Update error codes, as seed 003 numbers them (2 is a missing
// username, as CodeMissingPassword is at login), and 9 of ours.
const (
	CodeMissingName           = 1
	CodeUpdateMissingUsername = 2
	CodeMissingEmail          = 4
	CodeInvalidAdminID        = 6
	CodeInvalidEmail          = 7
	CodeNotOwnAccount         = 8
	CodeLoginTaken            = 9
)

// More account command codes, shared by Admin.Update, User.Update and
// User.PasswordChange.
const (
	CodePasswordTooShort   = 10
	CodeMissingNewPassword = 11
)

const (
	// maxNameBytes bounds names, usernames and email addresses.
	maxNameBytes = 255
	// minPasswordLen is the shortest password the commands set (NIST SP
	// 800-63B asks for at least 8), and maxPasswordBytes the longest
	// authn hashes.
	minPasswordLen   = 8
	maxPasswordBytes = 1024
)

// registerAccounts registers the account commands.
func (api *API) registerAccounts() {
	api.mustHandle("Admin.Update", Command{Scopes: []scopes.Scope{scopes.Admin}, Run: api.adminUpdate})
	api.mustHandle("User.Update", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.userUpdate})
	api.mustHandle("User.PasswordChange", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.passwordChange})
	api.mustHandle("User.Current", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.userCurrent})
}

// adminUpdate is Admin.Update (seeds 002 and 003): AdminID, Name, Username
// and EmailAddress required, Password optional. An administrator changes
// only their own account. A new password, username or email address needs
// proof: CurrentPassword, a password login on this session within the
// re-authentication window, or the static admin key beside the session
// (seed 003 sends both). A new password or email address ends the
// account's other sessions; the caller's goes on under the answer's
// SessionID.
func (api *API) adminUpdate(c *Call) (Fields, error) {
	var v struct{ adminID, name, username, email, password string }
	for _, f := range []struct {
		name string
		dst  *string
	}{{"AdminID", &v.adminID}, {"Name", &v.name}, {"Username", &v.username}, {"EmailAddress", &v.email}, {"Password", &v.password}} {
		val, err := c.Param(f.name)
		if err != nil {
			return nil, err
		}
		*f.dst = strings.TrimSpace(val)
		if f.name == "Password" {
			*f.dst = val // a password is taken as typed
		}
	}
	switch {
	case v.name == "":
		return nil, Fail(CodeMissingName, "Missing name")
	case v.username == "":
		return nil, Fail(CodeUpdateMissingUsername, "Missing username")
	case v.email == "":
		return nil, Fail(CodeMissingEmail, "Missing email address")
	}
	id, err := strconv.ParseInt(v.adminID, 10, 64)
	if err != nil || id <= 0 {
		return nil, Fail(CodeInvalidAdminID, "Invalid admin ID")
	}
	if id != c.Principal.AccountID {
		// An administrator may learn which admin IDs exist (seed 003
		// answers 6 for one that does not); they change none but
		// their own.
		switch _, err := api.auth.Account(c.Context(), store.AccountRef{Scope: scopes.Admin, ID: id}); {
		case errors.Is(err, authn.ErrInvalidCredential):
			return nil, Fail(CodeInvalidAdminID, "Invalid admin ID")
		case err != nil:
			return nil, err
		}
		return nil, Fail(CodeNotOwnAccount, "Admin account not owned by the logged-in admin")
	}
	switch {
	case !validEmail(v.email):
		return nil, Fail(CodeInvalidEmail, "Invalid email address format")
	case len(v.name) > maxNameBytes || len(v.username) > maxNameBytes || !utf8.ValidString(v.name+v.username):
		return nil, &form.Error{Reason: "name or username too long"}
	}
	if v.password != "" {
		if err := checkNewPassword(v.password); err != nil {
			return nil, err
		}
	}
	acct, err := api.auth.Account(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	// A new password, username or email address needs proof: a
	// CurrentPassword sent is checked now; without one, authn's
	// UpdateAccount takes a recent password login or the static admin key
	// beside the session (seed 003 sends both), and answers 102 otherwise.
	pw, err := c.Param("CurrentPassword")
	if err != nil {
		return nil, err
	}
	if pw != "" {
		if err := api.prove(c, pw, ""); err != nil {
			return nil, err
		}
	}
	acct.Name, acct.Username, acct.Email = v.name, v.username, v.email
	next, err := api.update(c, acct, v.password)
	if err != nil {
		return nil, err
	}
	return api.withSession(c, next, Fields{})
}

// update stores acct's names and email address and, if password is not
// empty, its new password (see authn's UpdateAccount), answering a taken
// username or email address with 9.
func (api *API) update(c *Call, acct store.Account, password string) (authn.Secret, error) {
	next, err := api.auth.UpdateAccount(c.Context(), c.Principal, acct, password)
	switch {
	case errors.Is(err, store.ErrConflict):
		return authn.Secret{}, Fail(CodeLoginTaken, "Username or email address already taken")
	case errors.Is(err, authn.ErrReauthenticate):
		return authn.Secret{}, errReauthRequired
	}
	return next, err
}

// validEmail reports whether s is a bare email address (no display name,
// no angle brackets) with a dotted domain.
func validEmail(s string) bool {
	if len(s) > maxNameBytes {
		return false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".")
}

// checkNewPassword answers a password too short; too long is malformed.
func checkNewPassword(pw string) error {
	switch {
	case len(pw) > maxPasswordBytes:
		return &form.Error{Reason: "password too long"}
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return Fail(CodePasswordTooShort, "Password too short (at least 8 characters)")
	}
	return nil
}

// userCurrent is User.Current: the caller's UserInfo, with 2FA_Enabled.
func (api *API) userCurrent(c *Call) (Fields, error) {
	acct, err := api.auth.Account(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	on, err := api.auth.TFAEnabled(c.Context(), acct.Ref())
	if err != nil {
		return nil, err
	}
	info := userInfo(acct)
	info["2FA_Enabled"] = yesNo(on)
	return Fields{"UserInfo": info}, nil
}

// userUpdate is User.Update (user scope, own account): FirstName,
// LastName and EmailAddress change what they are given (an absent
// parameter leaves its field alone); Password sets a new password. A new
// email address or password needs a session made with the password and
// CurrentPassword, and ends the account's other sessions; the caller's
// goes on under the answer's SessionID. Errors: 3 the current password
// missing or wrong, 4 an empty EmailAddress, 7 its format, 9 it is taken,
// 10 the password too short.
func (api *API) userUpdate(c *Call) (Fields, error) {
	acct, err := api.auth.Account(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	params, err := c.params()
	if err != nil {
		return nil, err
	}
	before := acct
	for _, f := range []struct {
		name string
		dst  *string
	}{{"FirstName", &acct.FirstName}, {"LastName", &acct.LastName}, {"EmailAddress", &acct.Email}} {
		if !params.Has(f.name) {
			continue
		}
		v, err := c.Param(f.name)
		if err != nil {
			return nil, err
		}
		v = strings.TrimSpace(v)
		if len(v) > maxNameBytes {
			return nil, &form.Error{Reason: f.name + " too long"}
		}
		*f.dst = v
	}
	if params.Has("EmailAddress") {
		switch {
		case acct.Email == "":
			return nil, Fail(CodeMissingEmail, "Missing email address")
		case !validEmail(acct.Email):
			return nil, Fail(CodeInvalidEmail, "Invalid email address format")
		}
	}
	password, err := c.Param("Password")
	if err != nil {
		return nil, err
	}
	// A new email address takes the account over as surely as a new
	// password (a reset goes there): both need a session made with the
	// password, and the current password again.
	if password != "" || store.NormalizeLogin(acct.Email) != store.NormalizeLogin(before.Email) {
		if err := api.requirePasswordSession(c); err != nil {
			return nil, err
		}
		if err := api.currentPassword(c); err != nil {
			return nil, err
		}
	}
	if password != "" {
		if err := checkNewPassword(password); err != nil {
			return nil, err
		}
	}
	next, err := api.update(c, acct, password)
	if err != nil {
		return nil, err
	}
	return api.withSession(c, next, Fields{"UserInfo": userInfo(acct)})
}

// passwordChange is User.PasswordChange (user scope, own account):
// CurrentPassword and NewPassword. The account's other sessions end; the
// caller's goes on under the answer's SessionID. Errors: 3 the current
// password missing or wrong, 10 the new one too short, 11 it is missing.
func (api *API) passwordChange(c *Call) (Fields, error) {
	// Before anything is checked: a key must not learn whether a guessed
	// password is right.
	if err := api.requirePasswordSession(c); err != nil {
		return nil, err
	}
	if err := api.currentPassword(c); err != nil {
		return nil, err
	}
	pw, err := c.Param("NewPassword")
	switch {
	case err != nil:
		return nil, err
	case pw == "":
		return nil, Fail(CodeMissingNewPassword, "Missing new password")
	}
	if err := checkNewPassword(pw); err != nil {
		return nil, err
	}
	acct, err := api.auth.Account(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	next, err := api.update(c, acct, pw)
	if err != nil {
		return nil, err
	}
	return api.withSession(c, next, Fields{})
}

// currentPassword checks the CurrentPassword parameter, always required
// here: 3 if it is missing or wrong.
func (api *API) currentPassword(c *Call) error {
	pw, err := c.Param("CurrentPassword")
	if err != nil {
		return err
	}
	if pw == "" {
		return errInvalidCredentials
	}
	return api.prove(c, pw, "")
}
