package authn

import (
	"net/http"
	"slices"

	"github.com/keyward/keyward/scopes"
)

// Require returns middleware that lets a request through only if it has a
// principal of one of the scopes, or of any scope when none are given.
// Anonymous requests are refused with [ErrUnauthenticated] (401), other
// scopes with [ErrForbidden] (403). It must sit behind
// [Authenticator.Middleware]; without it every request is anonymous.
func (a *Authenticator) Require(allowed ...scopes.Scope) func(http.Handler) http.Handler {
	if err := a.made(); err != nil {
		return func(http.Handler) http.Handler { return notMade(err) }
	}
	allowed = slices.Clone(allowed)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			switch {
			case !ok:
				a.cfg.ErrorWriter(w, r, ErrUnauthenticated)
			case len(allowed) > 0 && !slices.Contains(allowed, p.Scope):
				a.cfg.ErrorWriter(w, r, ErrForbidden)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
