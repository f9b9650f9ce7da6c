package authn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
)

// Middleware authenticates every request before next sees it.
//
// It tries the resolvers in order. The first credential present decides the
// principal; every other credential present must name the same account, or
// the request is malformed (400). A credential that is present but bad is
// refused (401) and never skipped for a weaker one. A request with no
// credential goes on anonymous: guard routes with [Authenticator.Require].
// A store that fails refuses the request (503). An unsafe request decided by
// the session cookie must pass [Config].CrossOrigin (403 otherwise).
//
// A form body read to find credentials stays readable for next, and its
// parameters are available to next through [ParamsFrom].
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &Request{HTTP: r, a: a}
		p, err := a.authenticate(req)
		if err != nil {
			a.refuse(w, r, req, err, a.cfg.ErrorWriter)
			return
		}
		if !p.Authenticated() && req.params.Len() == 0 && req.body == nil {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, req.handOn(p))
	})
}

// authenticate resolves the request's credentials and, for an unsafe
// request decided by the session cookie, checks its origin.
func (a *Authenticator) authenticate(req *Request) (Principal, error) {
	p, err := a.resolve(req.HTTP.Context(), req)
	if err == nil && p.Method == MethodCookie && !isSafeMethod(req.HTTP.Method) {
		if a.cfg.CrossOrigin.Check(req.HTTP) != nil {
			err = ErrCrossOrigin
		}
	}
	return p, err
}

// handOn returns the request for the next handler: its context carries req
// (and so p and the parameters), and a form body read is readable again.
func (req *Request) handOn(p Principal) *http.Request {
	req.principal = p
	req.ctx = requestContext{Context: req.HTTP.Context(), req: req}
	r2 := req.HTTP.WithContext(&req.ctx)
	if req.body != nil {
		r2.Body = io.NopCloser(bytes.NewReader(req.body))
	}
	return r2
}

// resolve runs every resolver and reconciles what they found.
func (a *Authenticator) resolve(ctx context.Context, req *Request) (Principal, error) {
	var found Principal
	for _, res := range a.cfg.Resolvers {
		p, err := res.Resolve(ctx, req)
		switch {
		case err == ErrNoCredential || errors.Is(err, ErrNoCredential):
			continue
		case err != nil:
			return Principal{}, err
		case !p.Authenticated():
			return Principal{}, because(ErrInvalidCredential, "resolver returned no account")
		case !found.Authenticated():
			found = p
		case p.Scope != found.Scope || p.AccountID != found.AccountID:
			return Principal{}, errConflictingCreds
		}
	}
	return found, nil
}

// refuse answers a request the middleware will not let through, and logs
// why. A bad session cookie is expired in the same answer, so the browser
// stops sending it.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, req *Request, err error, write func(http.ResponseWriter, *http.Request, error)) {
	kind := EventRefused
	if HTTPStatus(err) == http.StatusServiceUnavailable {
		kind = EventStoreFailed
	}
	a.emit(r.Context(), Event{Kind: kind, Reason: err.Error()})
	if req.clearCookie {
		a.ClearSessionCookie(w, r)
	}
	write(w, r, err)
}

// isSafeMethod reports whether the method is one that must not change
// state, and so is not subject to cross-origin protection.
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
