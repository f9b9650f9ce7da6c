package authn

import "context"

// A Resolver turns a host's own kind of credential into a [Principal]. The
// middleware tries [Config].Resolvers after keyward's own credentials
// ([Config].Credentials). A Resolver returns the zero Principal and a nil
// error when the request carries no credential of its kind,
// [ErrInvalidCredential] (possibly wrapped) when it carries a bad one,
// [ErrBadRequest] for a malformed one, and anything else when it could not
// tell (the store failed): the middleware then answers 503. A principal
// returned without a Method is [MethodCustom].
//
// Resolvers must be safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, r *Request) (Principal, error)
}

// errNoCredential is what keyward's own resolvers return when the request
// carries no credential of their kind.
var errNoCredential = because(ErrUnauthenticated, "no credential of this kind")

// defaultCredentials are the credentials tried when [Config].Credentials
// is nil, in this order.
var defaultCredentials = [...]Method{MethodEToken, MethodAdminKey, MethodAPIKey, MethodSession, MethodCookie}

// resolveCredential resolves one of keyward's own credentials, named by
// the Method it makes, into *p. The principal goes out through a pointer,
// not as a result: the middleware tries every kind on every request, and
// most are absent, so this saves copying a zero Principal per kind.
func (a *Authenticator) resolveCredential(ctx context.Context, r *Request, m Method, p *Principal) error {
	switch m {
	case MethodEToken:
		return a.resolveBearer(ctx, r, p)
	case MethodAdminKey:
		return a.resolveAdminAPIKey(ctx, r, p)
	case MethodAPIKey:
		return a.resolveAPIKey(ctx, r, p)
	case MethodSession:
		return a.resolveSessionID(ctx, r, p)
	case MethodCookie:
		return a.resolveCookie(ctx, r, p)
	}
	return errNoCredential
}
