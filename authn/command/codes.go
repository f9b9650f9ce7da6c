package command

import (
	"errors"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
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

// textTFACodeUsed answers a right 2FA code of a time step already used.
const textTFACodeUsed = "Invalid 2FA code: this code was already used; wait for the next one"

// loginRow answers one kind of login refusal: authn's sentinel, and the
// dialect's code and text for it.
type loginRow struct {
	err  error
	code int
	text string
}

// loginCodes is the one table from authn's login refusals to Octeth's
// codes and texts. Every kind of bad credential gets the same answer. A
// profile may put rows of its own before it (profileTable.adminLogin,
// userLogin).
var loginCodes = [...]loginRow{
	{authn.ErrMissingUsername, CodeMissingUsername, "Missing username"},
	{authn.ErrMissingPassword, CodeMissingPassword, "Missing password"},
	{authn.ErrInvalidCredential, CodeInvalidCredentials, "Invalid login credentials"},
	{authn.ErrCaptchaRequired, CodeMissingCaptcha, "Missing captcha"},
	{authn.ErrCaptchaWrong, CodeInvalidCaptcha, "Invalid captcha"},
	{totp.ErrCodeUsed, CodeInvalidTFA, textTFACodeUsed},
	{authn.ErrTFAWrong, CodeInvalidTFA, "Invalid 2FA code"},
	{authn.ErrTFARequired, CodeTFARequired, "2FA required"},
}

// findLogin returns the first row, table after table, that err is.
func findLogin(err error, tables ...[]loginRow) (loginRow, bool) {
	for _, table := range tables {
		for _, row := range table {
			if errors.Is(err, row.err) {
				return row, true
			}
		}
	}
	return loginRow{}, false
}

// loginRefusal returns the command error of a refused login, in the API's
// profile, or err itself for a general failure (throttled, the store).
func (api *API) loginRefusal(scope scopes.Scope, err error) error {
	first := api.profile.userLogin
	if scope == scopes.Admin {
		first = api.profile.adminLogin
	}
	row, ok := findLogin(err, first, loginCodes[:])
	if !ok {
		return err
	}
	return &Error{Code: row.code, Text: row.text}
}

// Codes any command may answer.
const (
	// CodeReauthRequired answers a sensitive command (2FA, API keys, a new
	// password, email address or username) from a session that signed in
	// with its password longer ago than authn's re-authentication window
	// and sent no CurrentPassword: nothing changed; send CurrentPassword,
	// or sign in again. It is the same in every command and profile.
	CodeReauthRequired = 102
)
