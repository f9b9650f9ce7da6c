package command

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/form"
)

// Profile is how an Octeth [API] numbers and sends its general failures,
// for the clients it serves: a table, not a second code path.
type Profile uint8

const (
	// Seeds is the default: Octeth's documents in keyward's seeds. A
	// general failure's ErrorCode is its HTTP status (400, 401, 403, 404,
	// 429, 500, 503); ErrorCode and ErrorText are single values. Its logins
	// take the bound Disable2FAToken (authn.Disable2FAToken).
	Seeds Profile = iota
	// OctethV5 is Octeth 5.9's API: a missing, invalid or expired
	// credential is 99998 and a scope not allowed 99999, both at HTTP
	// 200; an unknown command 100003 and a malformed request 100000 at
	// HTTP 400; an unexpected failure 100005 at HTTP 500; those three also
	// carry Errors: [{"Code":...,"Message":...}]. ErrorCode and ErrorText
	// are lists ([3]). Admin.Login answers a wrong or missing 2FA code with
	// 101, User.Login with 6. Its logins take Octeth 5.9's static
	// Disable2FAToken (authn.LoginRequest.StaticBypass).
	OctethV5
)

// generalRow is how a profile sends one kind of general failure.
type generalRow struct {
	code, status int
	// hard failures carry an Errors list (OctethV5).
	hard bool
}

// profileTable is a profile's rows, by the sentinel error that classifies
// the failure ([classify]).
type profileTable struct {
	general map[error]generalRow
	// lists sends ErrorCode and ErrorText as one-element lists.
	lists bool
	// adminLogin and userLogin are rows read before [loginCodes] at
	// Admin.Login and User.Login.
	adminLogin, userLogin []loginRow
	// staticBypass: the logins take Octeth 5.9's static Disable2FAToken.
	staticBypass bool
}

// table returns p's table, made anew from constants: no table is shared
// or can be changed by a caller.
func (p Profile) table() profileTable {
	if p != OctethV5 {
		return profileTable{} // Seeds: the status is the code
	}
	return profileTable{
		general: map[error]generalRow{
			authn.ErrInvalidCredential: {99998, http.StatusOK, false},
			authn.ErrUnauthenticated:   {99998, http.StatusOK, false},
			authn.ErrForbidden:         {99999, http.StatusOK, false},
			authn.ErrCrossOrigin:       {99999, http.StatusOK, false},
			authn.ErrReauthenticate:    {99999, http.StatusOK, false},
			ErrUnknownCommand:          {100003, http.StatusBadRequest, true},
			authn.ErrBadRequest:        {100000, http.StatusBadRequest, true},
			ErrInternal:                {100005, http.StatusInternalServerError, true},
			authn.ErrStoreUnavailable:  {100005, http.StatusInternalServerError, true},
			nil:                        {100005, http.StatusInternalServerError, true}, // anything unexpected
		},
		lists: true,
		// Admin.Login answers a missing, wrong or used code alike;
		// User.Login a missing one as a wrong one.
		adminLogin: []loginRow{
			{authn.ErrTFAWrong, CodeTFARequired, "Invalid two-factor authentication code"},
			{authn.ErrTFARequired, CodeTFARequired, "Invalid two-factor authentication code"},
		},
		userLogin:    []loginRow{{authn.ErrTFARequired, CodeInvalidTFA, "Invalid 2FA code"}},
		staticBypass: true,
	}
}

// generalAnswer returns the envelope of a general failure in the profile.
func (t profileTable) generalAnswer(err error) answer {
	kind := kindOf(err)
	status, text := authn.PublicError(err)
	switch kind {
	case ErrUnknownCommand:
		status, text = http.StatusNotFound, "Unknown command"
	case ErrInternal:
		status, text = http.StatusInternalServerError, "Internal error"
	}
	a := answer{status: status, code: status, text: text}
	if row, ok := t.general[kind]; ok {
		a.status, a.code, a.hard = row.status, row.code, row.hard
	}
	var te *authn.ThrottledError
	if errors.As(err, &te) {
		a.retryAfter = strconv.Itoa(max(1, int(math.Ceil(te.RetryAfter.Seconds()))))
	}
	return a
}

// generalKinds are the general errors, in the order a profile's table
// looks for them: the first that err is decides.
var generalKinds = [...]error{
	ErrUnknownCommand, ErrInternal, authn.ErrBadRequest, authn.ErrInvalidCredential,
	authn.ErrUnauthenticated, authn.ErrCrossOrigin, authn.ErrReauthenticate, authn.ErrForbidden,
	authn.ErrThrottled, authn.ErrStoreUnavailable,
}

// kindOf returns the general error err is (package form's refusals are
// malformed requests), or nil for one nobody expected.
func kindOf(err error) error {
	var fe *form.Error
	if errors.As(err, &fe) {
		return authn.ErrBadRequest
	}
	for _, k := range generalKinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
