package authn

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
	errTFAAlreadyEnabled = &CommandError{Code: CodeTFAAlreadyEnabled, Text: "2FA is already enabled"}
	errTFANotEnabled     = &CommandError{Code: CodeTFANotEnabled, Text: "2FA is not enabled"}
	errTFANotSetUp       = &CommandError{Code: CodeTFANotEnabled, Text: "2FA is not set up: call TFA.Setup first"}
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

// tfaSetup is *.TFA.Setup: a new pending secret, as TFASecret (base32),
// TFAURL (otpauth://) and QRCode (base64 PNG). 2FA is not on until Enable.
func (api *API) tfaSetup(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	e, err := api.a.SetupTFA(c.Context(), c.Principal)
	switch {
	case errors.Is(err, totp.ErrAlreadyEnabled):
		return nil, errTFAAlreadyEnabled
	case err != nil:
		return nil, tfaError(err)
	}
	return Fields{"TFASecret": e.Secret, "TFAURL": e.URL, "QRCode": base64.StdEncoding.EncodeToString(e.QRCode)}, nil
}

// tfaEnable is *.TFA.Enable with TFACode: 2FA goes on, the account's other
// sessions end, and the recovery codes are answered, once.
func (api *API) tfaEnable(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	code, err := c.Param("TFACode")
	if err != nil {
		return nil, err
	}
	codes, next, err := api.a.EnableTFA(c.Context(), c.Principal, code)
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		return nil, errInvalidTFA
	case errors.Is(err, totp.ErrNotSetUp):
		return nil, errTFANotSetUp
	case errors.Is(err, totp.ErrAlreadyEnabled):
		return nil, errTFAAlreadyEnabled
	case err != nil:
		return nil, tfaError(err)
	}
	return api.withSession(c, next, Fields{"RecoveryCodes": codes}), nil
}

// tfaDisable is *.TFA.Disable with Password and TFACode: 2FA goes off and
// the account's other sessions end.
func (api *API) tfaDisable(c *Call) (Fields, error) {
	if err := requirePasswordSession(c.Principal); err != nil {
		return nil, err
	}
	if err := api.checkOwnPassword(c); err != nil {
		return nil, err
	}
	if err := api.checkOwnCode(c); err != nil {
		return nil, err
	}
	next, err := api.a.DisableTFA(c.Context(), c.Principal)
	if err != nil {
		return nil, err
	}
	return api.withSession(c, next, Fields{}), nil
}

// tfaRegenerate is *.TFA.RecoveryCodes.Regenerate with TFACode: ten new
// recovery codes replace the old ones, answered once.
func (api *API) tfaRegenerate(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	if err := api.checkOwnCode(c); err != nil {
		return nil, err
	}
	codes, err := api.a.RegenerateRecoveryCodes(c.Context(), c.Principal)
	if errors.Is(err, totp.ErrNotEnabled) {
		return nil, errTFANotEnabled
	}
	if err != nil {
		return nil, err
	}
	return Fields{"RecoveryCodes": codes}, nil
}

// checkOwnPassword checks the Password parameter against the caller's own
// account: 3 if it is missing or wrong.
func (api *API) checkOwnPassword(c *Call) error {
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return err
	}
	return api.checkPasswordParam(c, acct, "Password")
}

// checkOwnCode checks the TFACode parameter for the caller, counted and
// throttled as a login attempt: 2 if 2FA is off, 6 if the code is missing,
// wrong or used.
func (api *API) checkOwnCode(c *Call) error {
	code, err := c.Param("TFACode")
	if err != nil {
		return err
	}
	acct, err := api.a.activeAccount(c.Context(), c.Principal.Account())
	if err != nil {
		return err
	}
	err = api.a.checkOwnCodeValue(c.Context(), c.req, acct, code)
	switch {
	case errors.Is(err, totp.ErrNotEnabled):
		return errTFANotEnabled
	case errors.Is(err, totp.ErrInvalidCode):
		return errInvalidTFA
	}
	return tfaError(err)
}
