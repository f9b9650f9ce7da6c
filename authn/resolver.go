package authn

import "context"

// A Resolver turns one kind of credential into a [Principal]. It returns
// [ErrNoCredential] when the request carries none of its kind,
// [ErrInvalidCredential] (possibly wrapped) when it carries a bad one,
// [ErrBadRequest] for a malformed one, and anything else when it could not
// tell (the store failed): the middleware then answers 503.
//
// Resolvers must be safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, r *Request) (Principal, error)
}

// ResolverFunc adapts a function to [Resolver], for a host's own
// credential.
type ResolverFunc func(ctx context.Context, r *Request) (Principal, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, r *Request) (Principal, error) { return f(ctx, r) }

// DefaultResolvers returns the resolvers the middleware tries when
// [Config].Resolvers is nil, in this order: [FromBearer], [FromAdminAPIKey],
// [FromAPIKey], [FromSessionID], [FromCookie].
func DefaultResolvers() []Resolver {
	return []Resolver{FromBearer(), FromAdminAPIKey(), FromAPIKey(), FromSessionID(), FromCookie()}
}

// builtin is a resolver of the Authenticator's own: it resolves with the
// Authenticator that made the Request, so it needs no wiring.
type builtin func(a *Authenticator, ctx context.Context, r *Request) (Principal, error)

func (b builtin) Resolve(ctx context.Context, r *Request) (Principal, error) {
	if r == nil || r.a == nil || r.HTTP == nil {
		return Principal{}, ErrNoCredential
	}
	return b(r.a, ctx, r)
}

// FromAPIKey resolves an API key given as the APIKey parameter or the
// X-API-Key header. A key of either scope works here, since the key's own
// record decides its scope; both forms present with different values is a
// malformed request.
func FromAPIKey() Resolver { return builtin((*Authenticator).resolveAPIKey) }

// FromAdminAPIKey resolves an admin API key given as the AdminAPIKey
// parameter or the X-Admin-API-Key header: a stored key of admin scope, or
// [Config].AdminAPIKey. A user-scope key here is invalid.
func FromAdminAPIKey() Resolver { return builtin((*Authenticator).resolveAdminAPIKey) }

// FromSessionID resolves the SessionID parameter.
func FromSessionID() Resolver { return builtin((*Authenticator).resolveSessionID) }

// FromCookie resolves the session cookie.
func FromCookie() Resolver { return builtin((*Authenticator).resolveCookie) }
