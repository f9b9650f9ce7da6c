package authn

import (
	"errors"
	"net/http"
)

// Errors of the request path. Resolvers, the middleware, [Authenticator.Require]
// and the login functions return these, wrapped with a reason where it helps
// the log; [HTTPStatus] maps each to its status. None carries a secret.
var (
	// ErrNoCredential is returned by a [Resolver] when the request carries
	// no credential of its kind. The middleware moves on to the next.
	ErrNoCredential = errors.New("authn: no credential")
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
)

// reasonError is an error of one of the kinds above with a more precise
// message for the log. It unwraps to its kind.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

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
)

// storeFailure wraps a store's error as ErrStoreUnavailable, keeping the
// cause for the log.
func storeFailure(err error) error {
	return &storeError{cause: err}
}

type storeError struct{ cause error }

func (e *storeError) Error() string   { return ErrStoreUnavailable.Error() + ": " + e.cause.Error() }
func (e *storeError) Unwrap() []error { return []error{ErrStoreUnavailable, e.cause} }

// HTTPStatus returns the HTTP status for err: 400, 401, 403 or 503 for the
// errors of this package, 200 for nil, and 503 for anything else, so an
// unexpected failure fails closed rather than open.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrInvalidCredential), errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrNoCredential):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// PublicText returns the text a client may see for err: one sentence per
// status, with no detail that would help an attacker (which check failed,
// whether an account exists) and nothing from a store's error.
func PublicText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBadRequest):
		var re *reasonError
		if errors.As(err, &re) && re.kind == ErrBadRequest {
			return "Malformed request: " + re.reason
		}
		return "Malformed request"
	case errors.Is(err, ErrInvalidCredential):
		return "Invalid or expired credential"
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrNoCredential):
		return "Authentication required"
	case errors.Is(err, ErrCrossOrigin):
		return "Cross-origin request refused"
	case errors.Is(err, ErrForbidden):
		return "Not allowed for this account"
	}
	return "Service unavailable"
}
