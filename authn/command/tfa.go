package command

import (
	"encoding/base64"
	"errors"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/totp"
)

// 2FA command error codes. 3 and 6 mean what they mean at login.
const (
	CodeTFAAlreadyEnabled = 1
	CodeTFANotEnabled     = 2
)

var (
	errTFAAlreadyEnabled = &Error{Code: CodeTFAAlreadyEnabled, Text: "2FA is already enabled"}
	errTFANotEnabled     = &Error{Code: CodeTFANotEnabled, Text: "2FA is not enabled"}
	errTFANotSetUp       = &Error{Code: CodeTFANotEnabled, Text: "2FA is not set up: call TFA.Setup first"}
)

// registerTFA registers User.TFA.* and Admin.TFA.*.
func (api *API) registerTFA() {
	for prefix, scope := range map[string]scopes.Scope{"User": scopes.User, "Admin": scopes.Admin} {
		s := []scopes.Scope{scope}
		api.mustHandle(prefix+".TFA.Setup", Command{Scopes: s, Run: api.tfaSetup})
		api.mustHandle(prefix+".TFA.Enable", Command{Scopes: s, Run: api.tfaEnable})
		api.mustHandle(prefix+".TFA.Disable", Command{Scopes: s, Run: api.tfaDisable})
		api.mustHandle(prefix+".TFA.RecoveryCodes.Regenerate", Command{Scopes: s, Run: api.tfaRegenerate})
	}
}

// tfaError answers package totp's refusals with the commands' codes.
func tfaError(err error) error {
	switch {
	case errors.Is(err, totp.ErrCodeUsed):
		return errTFACodeUsed
	case errors.Is(err, totp.ErrInvalidCode):
		return errInvalidTFA
	case errors.Is(err, totp.ErrNotSetUp):
		return errTFANotSetUp
	case errors.Is(err, totp.ErrAlreadyEnabled):
		return errTFAAlreadyEnabled
	case errors.Is(err, totp.ErrNotEnabled):
		return errTFANotEnabled
	}
	return err
}

// tfaSetup is *.TFA.Setup: a new pending secret, as TFASecret (base32),
// TFAURL (otpauth://) and QRCode (base64 PNG). 2FA is not on until Enable.
func (api *API) tfaSetup(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	e, err := api.auth.SetupTFA(c.Context(), c.Principal)
	if err != nil {
		return nil, tfaError(err)
	}
	return Fields{"TFASecret": e.Secret, "TFAURL": e.URL, "QRCode": base64.StdEncoding.EncodeToString(e.QRCode)}, nil
}

// tfaEnable is *.TFA.Enable with TFACode: 2FA goes on, the account's other
// sessions end, the caller's goes on under the answer's SessionID, and the
// recovery codes are answered, once.
func (api *API) tfaEnable(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	code, err := c.Param("TFACode")
	if err != nil {
		return nil, err
	}
	codes, next, err := api.auth.EnableTFA(c.Context(), c.Principal, code)
	if err != nil {
		return nil, tfaError(err)
	}
	return api.withSession(c, next, Fields{"RecoveryCodes": codes})
}

// tfaDisable is *.TFA.Disable with Password and TFACode: 2FA goes off, the
// account's other sessions end, and the caller's goes on under the
// answer's SessionID. 3 for a wrong password, 2 if 2FA is off, 6 for a
// wrong code.
func (api *API) tfaDisable(c *Call) (Fields, error) {
	if err := api.requirePasswordSession(c); err != nil {
		return nil, err
	}
	pw, err := c.Param("Password")
	if err != nil {
		return nil, err
	}
	if pw == "" {
		return nil, errInvalidCredentials
	}
	if err := api.prove(c, pw, ""); err != nil {
		return nil, err
	}
	if err := api.requireTFA(c); err != nil {
		return nil, err
	}
	if err := api.proveCode(c); err != nil {
		return nil, err
	}
	next, err := api.auth.DisableTFA(c.Context(), c.Principal)
	if err != nil {
		return nil, tfaError(err)
	}
	return api.withSession(c, next, Fields{})
}

// tfaRegenerate is *.TFA.RecoveryCodes.Regenerate with TFACode: ten new
// recovery codes replace the old ones, answered once.
func (api *API) tfaRegenerate(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	if err := api.requireTFA(c); err != nil {
		return nil, err
	}
	if err := api.proveCode(c); err != nil {
		return nil, err
	}
	codes, err := api.auth.RegenerateRecoveryCodes(c.Context(), c.Principal)
	if err != nil {
		return nil, tfaError(err)
	}
	return Fields{"RecoveryCodes": codes}, nil
}

// requireTFA answers 2 unless the caller has 2FA on.
func (api *API) requireTFA(c *Call) error {
	on, err := api.auth.TFAEnabled(c.Context(), c.Principal.Account())
	if err != nil {
		return err
	}
	if !on {
		return errTFANotEnabled
	}
	return nil
}

// proveCode checks the TFACode parameter for the caller, counted and
// throttled as a login attempt: 6 if it is missing, wrong or used.
func (api *API) proveCode(c *Call) error {
	code, err := c.Param("TFACode")
	if err != nil {
		return err
	}
	if code == "" {
		return errInvalidTFA
	}
	return api.prove(c, "", code)
}
