package authn

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Admin.Update error codes, as seed 003 numbers them (2 is a missing
// username, as [CodeMissingPassword] is at login), and 9 of ours.
const (
	CodeMissingName           = 1
	CodeUpdateMissingUsername = 2
	CodeMissingEmail          = 4
	CodeInvalidAdminID        = 6
	CodeInvalidEmail          = 7
	CodeNotOwnAccount         = 8
	CodeLoginTaken            = 9
)

// maxNameBytes bounds names, usernames and email addresses.
const maxNameBytes = 255

// adminUpdate is Admin.Update (seeds 002 and 003): AdminID, Name, Username
// and EmailAddress required, Password optional. An administrator changes
// only their own account. A new password is hashed with argon2id and ends
// the account's other sessions, not the calling one; changing it needs a
// session made with a password.
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
	switch {
	case err != nil || id <= 0:
		return nil, Fail(CodeInvalidAdminID, "Invalid admin ID")
	case id != c.Principal.AccountID:
		// Whether that admin exists is not said.
		return nil, Fail(CodeNotOwnAccount, "Admin account not owned by the logged-in admin")
	case !validEmail(v.email):
		return nil, Fail(CodeInvalidEmail, "Invalid email address format")
	case len(v.name) > maxNameBytes || len(v.username) > maxNameBytes || !utf8.ValidString(v.name+v.username):
		return nil, because(ErrBadRequest, "name or username too long")
	}
	if v.password != "" {
		if err := checkNewPassword(v.password); err != nil {
			return nil, err
		}
	}
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	// A new username, email address or password takes the account over:
	// not with a key alone (seed 003 sends its session with the key), and
	// not with a session alone either. It needs proof: the static admin
	// key in the same request (seed 003 sends it beside the session), a
	// password login on this session within the re-authentication window,
	// or CurrentPassword.
	if v.password != "" || store.NormalizeLogin(v.username) != store.NormalizeLogin(acct.Username) || !strings.EqualFold(v.email, acct.Email) {
		if err := requirePasswordSession(c.Principal); err != nil {
			return nil, err
		}
		if !withStaticAdminKey(c.Principal) {
			if err := api.reauthenticated(c); err != nil {
				return nil, err
			}
		}
	}
	before := acct
	acct.Name, acct.Username, acct.Email = v.name, v.username, v.email
	next, err := api.updateAccount(c, before, acct, v.password)
	if err != nil {
		return nil, err
	}
	api.a.Emit(c.Context(), event.Event{Kind: event.AccountUpdated, Account: acct.Ref(), Username: acct.Username})
	return api.withSession(c, next, Fields{}), nil
}

// withStaticAdminKey reports whether p came with the static admin API key
// ([Config].AdminAPIKey), the deployment's own proof of being the
// administrator.
func withStaticAdminKey(p Principal) bool {
	switch p.Method {
	case MethodAdminKey:
		return p.APIKeyID == 0 // stored keys have IDs
	}
	return false
}

// updateAccount stores acct's names and email address and, if password is
// not empty, its new password, in one write. before is the account as
// read just now. A new password or email address is a credential change
// (see [Authenticator.changeCredentials]): it ends the account's other
// sessions in the same write, and the caller's session goes on under the
// returned ID.
func (api *API) updateAccount(c *Call, before, acct store.Account, password string) (Secret, error) {
	ctx := c.Context()
	up := api.a.updater
	if up == nil {
		return Secret{}, errAccountsReadOnly
	}
	acct.PasswordHash = "" // no new password: the store keeps the old one
	if password != "" {
		if err := requirePasswordSession(c.Principal); err != nil {
			return Secret{}, err
		}
		hash, err := api.a.HashPassword(ctx, password)
		if err != nil {
			return Secret{}, err
		}
		acct.PasswordHash = hash
	}
	write := func(ctx context.Context) error {
		switch err := up.UpdateAccount(ctx, acct); {
		case errors.Is(err, store.ErrConflict):
			return Fail(CodeLoginTaken, "Username or email address already taken")
		case err != nil:
			return storeFailure(err)
		}
		return nil
	}
	if password == "" && store.NormalizeLogin(acct.Email) == store.NormalizeLogin(before.Email) {
		return Secret{}, write(ctx) // names only: no credential changes
	}
	next, err := api.a.changeCredentials(ctx, c.Principal, before, write)
	if err == nil && password != "" {
		api.a.Emit(ctx, event.Event{Kind: event.PasswordChanged, Account: acct.Ref(), Username: acct.Username})
	}
	return next, err
}

// withSession adds to an answer the session the caller goes on with after
// a credential change, if there is one: as SessionID, and as the session
// cookie too when the caller came with the cookie.
func (api *API) withSession(c *Call, next Secret, f Fields) Fields {
	if next.value == "" {
		return f
	}
	if c.Principal.Method == MethodCookie {
		if err := api.a.SetSessionCookie(c.w, c.HTTP, next); err != nil {
			// The session is made and the change written; a cookie that
			// cannot be made (it always can: the keys were checked at New)
			// leaves the browser to sign in again.
			api.a.Emit(c.Context(), event.Event{Kind: event.CommandFailed, Account: c.Principal.Account(), Reason: "setting the session cookie", Err: err})
		}
	}
	f["SessionID"] = next.Reveal()
	return f
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

// registerAccounts registers the account commands.
func (api *API) registerAccounts() {
	api.mustHandle("Admin.Update", Command{Scopes: []scopes.Scope{scopes.Admin}, Run: api.adminUpdate})
	api.mustHandle("User.Update", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.userUpdate})
	api.mustHandle("User.PasswordChange", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.passwordChange})
	api.mustHandle("User.Current", Command{Scopes: []scopes.Scope{scopes.User}, Run: api.userCurrent})
}

// userCurrent is User.Current: the caller's UserInfo, with 2FA_Enabled.
func (api *API) userCurrent(c *Call) (Fields, error) {
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	on, err := api.a.tfa.Enabled(c.Context(), acct.Ref())
	if err != nil {
		return nil, storeFailure(err)
	}
	info := userInfo(acct)
	info["2FA_Enabled"] = yesNo(on)
	return Fields{"UserInfo": info}, nil
}

// yesNo is how Octeth writes a flag.
func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// More account command codes, shared by Admin.Update, User.Update and
// User.PasswordChange.
const (
	CodePasswordTooShort   = 10
	CodeMissingNewPassword = 11
)

// minPasswordLen is the shortest password the commands set (NIST SP
// 800-63B asks for at least 8).
const minPasswordLen = 8

// checkNewPassword answers a password too short; too long is malformed.
func checkNewPassword(pw string) error {
	switch {
	case len(pw) > maxPasswordBytes:
		return because(ErrBadRequest, "password too long")
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return Fail(CodePasswordTooShort, "Password too short (at least 8 characters)")
	}
	return nil
}

// userUpdate is User.Update (user scope, own account): FirstName,
// LastName and EmailAddress change what they are given (an absent
// parameter leaves its field alone); Password sets a new password. A new
// email address or password needs a session made with the password and
// CurrentPassword. Errors: 3 the current password missing or wrong, 4 an
// empty EmailAddress, 7 its format, 9 it is taken, 10 the password too
// short.
func (api *API) userUpdate(c *Call) (Fields, error) {
	ctx := c.Context()
	acct, err := api.a.activeAccount(ctx, c.Principal.Account())
	if err != nil {
		return nil, err
	}
	before := acct
	for _, f := range []struct {
		name string
		dst  *string
	}{{"FirstName", &acct.FirstName}, {"LastName", &acct.LastName}, {"EmailAddress", &acct.Email}} {
		if !c.Params.Has(f.name) {
			continue
		}
		v, err := c.Param(f.name)
		if err != nil {
			return nil, err
		}
		v = strings.TrimSpace(v)
		if len(v) > maxNameBytes {
			return nil, because(ErrBadRequest, f.name+" too long")
		}
		*f.dst = v
	}
	if c.Params.Has("EmailAddress") {
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
	if password != "" || !strings.EqualFold(acct.Email, before.Email) {
		if err := requirePasswordSession(c.Principal); err != nil {
			return nil, err
		}
		if err := api.checkCurrentPassword(c, before); err != nil {
			return nil, err
		}
	}
	if password != "" {
		if err := checkNewPassword(password); err != nil {
			return nil, err
		}
	}
	next, err := api.updateAccount(c, before, acct, password)
	if err != nil {
		return nil, err
	}
	api.a.Emit(ctx, event.Event{Kind: event.AccountUpdated, Account: acct.Ref(), Username: acct.Username})
	return api.withSession(c, next, Fields{"UserInfo": userInfo(acct)}), nil
}

// passwordChange is User.PasswordChange (user scope, own account):
// CurrentPassword and NewPassword. The account's other sessions end.
// Errors: 3 the current password missing or wrong, 10 the new one too
// short, 11 it is missing.
func (api *API) passwordChange(c *Call) (Fields, error) {
	// Before anything is checked: a key must not learn whether a guessed
	// password is right.
	if err := requirePasswordSession(c.Principal); err != nil {
		return nil, err
	}
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	if err := api.checkCurrentPassword(c, acct); err != nil {
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
	next, err := api.a.SetPassword(c.Context(), c.Principal, pw)
	if err != nil {
		return nil, err
	}
	return api.withSession(c, next, Fields{}), nil
}

// checkCurrentPassword checks the CurrentPassword parameter against acct,
// as a login attempt of the account (counted and throttled): 3 if it is
// missing or wrong.
func (api *API) checkCurrentPassword(c *Call, acct store.Account) error {
	return api.checkPasswordParam(c, acct, "CurrentPassword")
}

// checkPasswordParam checks a password parameter against acct, counted
// and throttled as a login attempt: 3 if it is missing or wrong.
func (api *API) checkPasswordParam(c *Call, acct store.Account, param string) error {
	pw, err := c.Param(param)
	if err != nil {
		return err
	}
	if pw == "" {
		return errInvalidCredentials
	}
	err = api.a.checkOwnPasswordValue(c.Context(), c.req, acct, pw)
	if errors.Is(err, ErrInvalidCredential) {
		return errInvalidCredentials
	}
	if err == nil {
		c.Principal.AuthenticatedAt = api.a.cfg.Now() // proven, for the rest of the command
	}
	return err
}

// CodeReauthRequired answers a sensitive command (2FA, API keys, a new
// password, email address or username) from a session that signed in
// with its password longer ago than [Config].ReauthWindow, and sent no
// CurrentPassword: nothing changed; send CurrentPassword, or sign in
// again. It is the same in every command and profile.
const CodeReauthRequired = 102

// errReauthRequired is CodeReauthRequired's answer.
var errReauthRequired = Fail(CodeReauthRequired, "Re-authentication required: send CurrentPassword, or sign in again")

// reauthenticated lets a sensitive command go on: the caller rides on a
// session made with the password, and either signed in with it within
// [Config].ReauthWindow or sends it now as CurrentPassword, checked and
// counted as a login attempt (3 if it is wrong). Otherwise the answer is
// CodeReauthRequired, and nothing changes. A principal that is no password
// session (a key) is refused before any password is looked at.
func (api *API) reauthenticated(c *Call) error {
	err := api.a.RequireRecentPassword(c.Principal)
	if !errors.Is(err, ErrReauthenticate) {
		return err
	}
	if pw, perr := c.Param("CurrentPassword"); perr != nil {
		return perr
	} else if pw == "" {
		return errReauthRequired
	}
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return err
	}
	return api.checkCurrentPassword(c, acct)
}
