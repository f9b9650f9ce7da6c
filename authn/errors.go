package authn

import (
	"errors"
	"net/http"

	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/totp"
)

// Errors of the request path. Resolvers, the middleware, [Authenticator.Require]
// and the login functions return these, wrapped with a reason where it helps
// the log; [PublicError] maps each to its status and text. None carries a secret.
var (
	// ErrInvalidCredential means a credential is present but unknown,
	// revoked, tampered with, expired, or its account is disabled: 401.
	ErrInvalidCredential = errors.New("authn: invalid credential")
	// ErrUnauthenticated means a route requires a principal and the request
	// carries no credential: 401.
	ErrUnauthenticated = errors.New("authn: authentication required")
	// ErrForbidden means the principal's scope is not allowed: 403.
	ErrForbidden = errors.New("authn: scope not allowed")
	// ErrCrossOrigin means an unsafe request authenticated by the session
	// cookie came from another origin: 403.
	ErrCrossOrigin = errors.New("authn: cross-origin request refused")
	// ErrBadRequest means the request is malformed: a body over the limit,
	// broken encoding, invalid UTF-8, a parameter too long or repeated,
	// credentials that name different accounts: 400.
	ErrBadRequest = errors.New("authn: malformed request")
	// ErrStoreUnavailable means the store failed; the request is refused,
	// never let through: 503.
	ErrStoreUnavailable = errors.New("authn: store unavailable")
	// ErrReauthenticate means a sensitive change (2FA, API keys, a new
	// password, email address or username) came from a session whose
	// password was not proven within [ReauthConfig].Window: 403. Send the
	// password again, or sign in again.
	ErrReauthenticate = errors.New("authn: re-authentication required")
	// ErrMissingUsername and ErrMissingPassword refuse a login that lacks
	// one: 400.
	ErrMissingUsername = errors.New("authn: missing username")
	ErrMissingPassword = errors.New("authn: missing password")
	// ErrCaptchaRequired refuses a login that must answer a captcha and
	// sent none; ErrCaptchaWrong one whose answer is wrong: 401.
	ErrCaptchaRequired = errors.New("authn: captcha required")
	ErrCaptchaWrong    = errors.New("authn: wrong captcha")
	// ErrTFARequired refuses a login whose password is right, of an
	// account with 2FA on, that sent no code; ErrTFAWrong one whose code
	// or recovery code is wrong or used: 401.
	ErrTFARequired = errors.New("authn: 2FA code required")
	ErrTFAWrong    = errors.New("authn: wrong 2FA code")
)

// reasonError is an error of one of the kinds above with a more precise
// message for the log. It unwraps to its kind.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.kind.Error() + ": " + e.reason }

// Unwrap returns the kind. (A single error, not a list: errors.Is walks a
// list through a slice it allocates, and the middleware asks of every
// absent credential.)
func (e *reasonError) Unwrap() error { return e.kind }

// causedError is a reasonError that also unwraps to what the kind was
// decided on, for callers that tell causes apart (totp.ErrCodeUsed).
type causedError struct {
	reasonError
	cause error
}

// Unwrap returns the reasonError (so that its reason is found as any
// other's) and the cause.
func (e *causedError) Unwrap() []error { return []error{&e.reasonError, e.cause} }

// because returns an error of kind whose message adds reason. reason must
// never hold a secret.
func because(kind error, reason string) error { return &reasonError{kind: kind, reason: reason} }

// Reasons used in more than one place, allocated once.
var (
	errSessionExpired   = because(ErrInvalidCredential, "session expired")
	errUnknownSession   = because(ErrInvalidCredential, "unknown session")
	errUnknownKey       = because(ErrInvalidCredential, "unknown or expired API key")
	errAccountDisabled  = because(ErrInvalidCredential, "account disabled or gone")
	errConflictingCreds = because(ErrBadRequest, "credentials name different accounts")
	// errTFACodeUsed is a right 2FA code of a time step already used:
	// wrong, and, for the dialects' texts, totp.ErrCodeUsed too.
	errTFACodeUsed = &causedError{reasonError{kind: ErrTFAWrong, reason: "2FA code already used"}, totp.ErrCodeUsed}
)

// storeFailure wraps a store's error as ErrStoreUnavailable, keeping the
// cause for the log.
func storeFailure(err error) error {
	return &storeError{cause: err}
}

type storeError struct{ cause error }

func (e *storeError) Error() string   { return ErrStoreUnavailable.Error() + ": " + e.cause.Error() }
func (e *storeError) Unwrap() []error { return []error{ErrStoreUnavailable, e.cause} }

// errorClass is one row of the table that maps errors to answers.
type errorClass struct {
	err    error
	status int
	text   string // what a client may read
}

// errorTable is the one place errors become statuses and texts; the
// middleware's JSON answer and the API's envelope both read it. The first
// row that matches decides.
var errorTable = [...]errorClass{
	{ErrBadRequest, http.StatusBadRequest, "Malformed request"}, // first: classify's row for form's errors
	{ErrInvalidCredential, http.StatusUnauthorized, "Authentication failure or session expired"},
	{ErrUnauthenticated, http.StatusUnauthorized, "Authentication required"},
	{ErrMissingUsername, http.StatusBadRequest, "Missing username"},
	{ErrMissingPassword, http.StatusBadRequest, "Missing password"},
	{ErrCaptchaRequired, http.StatusUnauthorized, "Captcha required"},
	{ErrCaptchaWrong, http.StatusUnauthorized, "Invalid captcha"},
	{ErrTFARequired, http.StatusUnauthorized, "2FA code required"},
	{ErrTFAWrong, http.StatusUnauthorized, "Invalid 2FA code"},
	{ErrCrossOrigin, http.StatusForbidden, "Cross-origin request refused"},
	{ErrReauthenticate, http.StatusForbidden, "Re-authentication required: send CurrentPassword, or sign in again"},
	{ErrForbidden, http.StatusForbidden, "Not allowed for this account"},
	{ErrThrottled, http.StatusTooManyRequests, "Too many failed attempts; try again later"},
	{ErrStoreUnavailable, http.StatusServiceUnavailable, "Service unavailable"},
}

// failClosed is the class of an error nobody expected: the request is
// refused as if the store had failed.
var failClosed = errorClass{nil, http.StatusServiceUnavailable, "Service unavailable"}

// classify returns err's row of the table. Package form's refusals are
// malformed requests.
func classify(err error) errorClass {
	var fe *form.Error
	if errors.As(err, &fe) && fe != nil {
		return errorTable[0]
	}
	for _, c := range errorTable {
		if errors.Is(err, c.err) {
			return c
		}
	}
	return failClosed
}

// PublicError returns how err is answered: its HTTP status, and the text a
// client may see. Nil is 200 and "". The errors of this package get their
// row of one table; anything else is 503, so an unexpected failure fails
// closed rather than open. The text is one sentence per kind, with no
// detail that would help an attacker (which check failed, whether an
// account exists) and nothing from a store's error; a malformed request
// says what was wrong with it.
func PublicError(err error) (status int, text string) {
	if err == nil {
		return http.StatusOK, ""
	}
	c := classify(err)
	var re *reasonError
	var fe *form.Error
	switch {
	case c.err != ErrBadRequest:
	case errors.As(err, &fe) && fe != nil:
		return c.status, c.text + ": " + fe.Reason
	case errors.As(err, &re) && re.kind == ErrBadRequest:
		return c.status, c.text + ": " + re.reason
	}
	return c.status, c.text
}

// reasonOf returns the log reason of an error made by because.
func reasonOf(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	return ""
}
