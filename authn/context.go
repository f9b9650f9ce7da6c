package authn

import (
	"context"
)

// stateKey is the context key under which the middleware keeps the
// request's [Request]: its principal and its parameters.
type stateKey struct{}

// requestContext is a context that carries a *Request under stateKey{}
// and delegates everything else to its parent. It is what context.WithValue
// makes, laid out inside the Request so that one allocation serves both.
// Its Done, Err and Deadline are the parent's, so cancellation and
// context.WithCancel children behave exactly as with WithValue.
type requestContext struct {
	context.Context
	req *Request
}

// Value returns the Request for stateKey{}, and asks the parent otherwise.
func (c *requestContext) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return c.req
	}
	return c.Context.Value(key)
}

// PrincipalFrom returns the principal stored in ctx, if any. It reports
// false for an anonymous request and for a context the middleware never
// saw.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	r, ok := ctx.Value(stateKey{}).(*Request)
	if !ok || !r.principal.Authenticated() {
		return Principal{}, false
	}
	return r.principal, true
}

// WithPrincipal returns a copy of ctx that carries p, for tests and for
// hosts that authenticate a request some other way.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, stateKey{}, &Request{principal: p})
}
