package command

import (
	"errors"
	"strings"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/scopes"
)

// Password recovery error codes.
const (
	CodeMissingResetEmail = 1 // Remind: no EmailAddress
	CodeMissingResetToken = 1 // Reset: no token
	CodeInvalidResetToken = 2 // Reset: unknown, used, expired
)

// registerRecovery registers User.PasswordRemind, User.PasswordReset,
// Admin.PasswordRemind and Admin.PasswordReset. Without a mailer
// (authn.PasswordConfig.Mailer) they answer as unknown commands.
func (api *API) registerRecovery() {
	for prefix, scope := range map[string]scopes.Scope{"User": scopes.User, "Admin": scopes.Admin} {
		api.mustHandle(prefix+".PasswordRemind", Command{Public: true, Run: api.passwordRemind(scope)})
		api.mustHandle(prefix+".PasswordReset", Command{Public: true, Run: api.passwordReset(scope)})
	}
}

// unsupported answers what the authenticator is not set up for as an
// unknown command.
func unsupported(err error) error {
	if errors.Is(err, errors.ErrUnsupported) {
		return ErrUnknownCommand
	}
	return err
}

// passwordRemind is *.PasswordRemind with EmailAddress: it answers success
// whether or not the address has an account, and mails a reset token if
// it does.
func (api *API) passwordRemind(scope scopes.Scope) func(c *Call) (Fields, error) {
	return func(c *Call) (Fields, error) {
		email, err := c.Param("EmailAddress")
		if err != nil {
			return nil, err
		}
		email = strings.TrimSpace(email)
		if email == "" {
			return nil, Fail(CodeMissingResetEmail, "Missing email address")
		}
		if len(email) > maxNameBytes {
			return nil, &form.Error{Reason: "email address too long"}
		}
		if err := api.auth.RemindPassword(c.Context(), scope, email, c.HTTP); err != nil {
			return nil, unsupported(err)
		}
		return Fields{}, nil
	}
}

// passwordReset is *.PasswordReset with the Token from the message and
// NewPassword: the password is set, the token used up, and every session
// of the account ended.
func (api *API) passwordReset(scope scopes.Scope) func(c *Call) (Fields, error) {
	return func(c *Call) (Fields, error) {
		token, err := c.Param("Token")
		if err != nil {
			return nil, err
		}
		pw, err := c.Param("NewPassword")
		if err != nil {
			return nil, err
		}
		switch {
		case token == "":
			return nil, Fail(CodeMissingResetToken, "Missing token")
		case pw == "":
			return nil, Fail(CodeMissingNewPassword, "Missing new password")
		}
		// The password is checked before the token is used up.
		if err := checkNewPassword(pw); err != nil {
			return nil, err
		}
		err = api.auth.ResetPassword(c.Context(), scope, token, pw, c.HTTP)
		if errors.Is(err, authn.ErrInvalidCredential) {
			return nil, Fail(CodeInvalidResetToken, "Invalid or expired token")
		}
		if err != nil {
			return nil, unsupported(err)
		}
		return Fields{}, nil
	}
}
