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

// loginCodes is the one table from authn's login refusals to Octeth's
// codes and texts. Every kind of bad credential gets the same answer.
var loginCodes = [...]struct {
	err  error
	code int
	text string
}{
	{authn.ErrMissingUsername, CodeMissingUsername, "Missing username"},
	{authn.ErrMissingPassword, CodeMissingPassword, "Missing password"},
	{authn.ErrInvalidCredential, CodeInvalidCredentials, "Invalid login credentials"},
	{authn.ErrCaptchaRequired, CodeMissingCaptcha, "Missing captcha"},
	{authn.ErrCaptchaWrong, CodeInvalidCaptcha, "Invalid captcha"},
	{totp.ErrCodeUsed, CodeInvalidTFA, textTFACodeUsed},
	{authn.ErrTFAWrong, CodeInvalidTFA, "Invalid 2FA code"},
	{authn.ErrTFARequired, CodeTFARequired, "2FA required"},
}

// loginRefusal returns the command error of a refused login, in the API's
// profile (OctethV5 answers a missing or wrong 2FA code at Admin.Login
// with 101, at User.Login with 6), or err itself for a general failure
// (throttled, the store).
func (api *API) loginRefusal(scope scopes.Scope, err error) error {
	for _, row := range loginCodes {
		if !errors.Is(err, row.err) {
			continue
		}
		code, text := row.code, row.text
		if code == CodeTFARequired || code == CodeInvalidTFA {
			want := api.profile.userTFA
			if scope == scopes.Admin {
				want = api.profile.adminTFA
			}
			switch want {
			case CodeTFARequired:
				code, text = CodeTFARequired, "Invalid two-factor authentication code"
			case CodeInvalidTFA:
				code = CodeInvalidTFA
				if row.code == CodeTFARequired {
					text = "Invalid 2FA code"
				}
			}
		}
		return &Error{Code: code, Text: text}
	}
	return err
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
