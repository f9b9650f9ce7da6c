package command

import (
	"errors"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/totp"
)

// The answers of re-authentication, shared by every command that needs it.
var (
	// errInvalidCredentials is the answer to a wrong or missing password,
	// as at login.
	errInvalidCredentials = &Error{Code: CodeInvalidCredentials, Text: "Invalid login credentials"}
	// errInvalidTFA is the answer to a wrong or used 2FA code, as at
	// login.
	errInvalidTFA = &Error{Code: CodeInvalidTFA, Text: "Invalid 2FA code"}
	// errTFACodeUsed is a right code already used: the same code, a text
	// that says to wait for the next one.
	errTFACodeUsed = &Error{Code: CodeInvalidTFA, Text: textTFACodeUsed}
	// errReauthRequired is CodeReauthRequired's answer.
	errReauthRequired = &Error{Code: CodeReauthRequired, Text: "Re-authentication required: send CurrentPassword, or sign in again"}
)

// reauthenticated lets a sensitive command go on: the caller rides on a
// session made with the password, and either signed in with it within
// authn's re-authentication window or sends it now as CurrentPassword,
// checked and counted as a login attempt (3 if it is wrong). Otherwise the
// answer is CodeReauthRequired, and nothing changes. A principal that is
// no password session (a key) is refused (403) before any password is
// looked at. The call's principal carries the proof for the rest of the
// command.
func (api *API) reauthenticated(c *Call) error {
	pw, err := c.Param("CurrentPassword")
	if err != nil {
		return err
	}
	return api.prove(c, pw, "")
}

// prove checks what the caller sends (a password, a 2FA code, or neither
// for a recent login) with authn's Reauthenticate, and answers as the
// commands do: 3 for a wrong password, 6 for a wrong code, 102 for a login
// too old.
func (api *API) prove(c *Call, password, code string) error {
	p, err := api.auth.Reauthenticate(c.Context(), c.HTTP, c.Principal, password, code)
	switch {
	case errors.Is(err, authn.ErrReauthenticate):
		return errReauthRequired
	case errors.Is(err, authn.ErrInvalidCredential):
		return errInvalidCredentials
	case errors.Is(err, totp.ErrCodeUsed):
		return errTFACodeUsed
	case errors.Is(err, authn.ErrTFAWrong):
		return errInvalidTFA
	case err != nil:
		return err
	}
	c.Principal = p
	return nil
}

// requirePasswordSession refuses (403) a caller that does not ride on a
// session made with a password (a key, a key login, a switched session),
// however long ago it signed in.
func (api *API) requirePasswordSession(c *Call) error {
	_, err := api.auth.Reauthenticate(c.Context(), c.HTTP, c.Principal, "", "")
	if errors.Is(err, authn.ErrForbidden) {
		return err
	}
	return nil
}

// withSession adds to an answer the session the caller goes on with after
// a credential change, if there is one: as SessionID, and as the session
// cookie too when the caller came with the cookie.
func (api *API) withSession(c *Call, next authn.Secret, f Fields) (Fields, error) {
	if next.Reveal() == "" {
		return f, nil
	}
	if c.Principal.Method == authn.MethodCookie {
		if _, err := api.auth.HandOver(c.Response(), c.HTTP, next, true); err != nil {
			return nil, err
		}
	}
	f["SessionID"] = next.Reveal()
	return f, nil
}
