package authn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/authn/event"
)

// Middleware authenticates every request before next sees it.
//
// It tries keyward's credentials ([Config].Credentials), then the host's
// ([Config].Resolvers). The first credential present decides the
// principal; every other credential present must name the same account,
// or the request is malformed (400). A credential that is present but bad
// is refused (401) and never skipped for a weaker one. A request with no
// credential goes on anonymous: guard routes with [Authenticator.Require].
// A store that fails refuses the request (503). An unsafe request decided
// by the session cookie must pass [CookieConfig].CrossOrigin (403
// otherwise).
//
// A form body read to find credentials stays readable for next, and its
// parameters are available to next through [Authenticator.Request] (its
// Params are the ones read here). A form body over the limit
// ([Config].Limits: an upload) is passed on whole and unread: a
// credential in it is not seen, so send credentials in headers, the query
// string or the cookie on such requests.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	if err := a.made(); err != nil {
		return notMade(err) // decided once, not per request
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &Request{HTTP: r, a: a, lenient: true}
		if err := a.authenticate(req, nil, false); err != nil {
			a.refuse(w, req, err)
			a.cfg.ErrorWriter(w, r, err)
			return
		}
		if !req.principal.Authenticated() && req.params.Len() == 0 && req.body == nil {
			next.ServeHTTP(w, r)
			return
		}
		a.handOnCookie(w, req)
		next.ServeHTTP(w, req.handOn())
	})
}

// notMade is the handler of an Authenticator not made by New: it answers
// err (errNotMade) to every request, letting none through.
func notMade(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteJSONError(w, r, err) })
}

// Request returns keyward's state of r for a handler that authenticates
// requests itself, as a command router does: it reads the parameters
// first (they name the command), then, only for a command that needs one,
// the credentials ([Authenticator.Authenticate]). Its parameters are read
// once, under [Config].Limits, strictly: a form body over the limit is
// refused, not passed on. Behind the middleware it is the middleware's
// state, credentials already resolved, and its parameters are the ones
// the middleware read (the query string alone if it passed a body over
// the limit on unread); a principal a host put in the context
// ([WithPrincipal]) is kept, its credentials taken as resolved. A Request
// is one request's: use it from the request's goroutine.
func (a *Authenticator) Request(r *http.Request) *Request {
	if a.made() != nil {
		return &Request{HTTP: r} // as a host makes one
	}
	if r == nil {
		return &Request{a: a} // its Params and Authenticate answer errNoRequest
	}
	s, ok := r.Context().Value(stateKey{}).(*Request)
	switch {
	case ok && s.a == a:
		// Behind the middleware: its state, on the request as the handler
		// has it now (a router may have added to its context since).
		if s.HTTP != r {
			s.HTTP = r
		}
		return s
	case ok && s.a == nil && s.principal.Authenticated():
		return &Request{HTTP: r, a: a, principal: s.principal, resolved: true}
	}
	return &Request{HTTP: r, a: a}
}

// Authenticate resolves req's credentials as the middleware does, for a
// command API: credentials names the ones it accepts, in order (nil:
// [Config].Credentials, then [Config].Resolvers), and a request decided by
// the session cookie must pass the cross-origin check whatever its method,
// since commands change state on GET too. It returns the request for the
// next handler, carrying req (see [PrincipalFrom] and
// [Authenticator.Request]): the principal, or none for a request without
// credentials. Or it returns the
// error to refuse the request with ([PublicError] says how), having
// reported it (an event) and dropped a bad session cookie on w. The
// session cookie of a redeemed etoken is set on w when
// [ETokenConfig].SetsCookie asks for it.
func (a *Authenticator) Authenticate(w http.ResponseWriter, req *Request, credentials []Method) (*http.Request, error) {
	if err := a.made(); err != nil {
		return nil, err
	}
	if req == nil || req.HTTP == nil {
		return nil, errNoRequest
	}
	if req.a == nil {
		req.a = a // a Request a host made: it is this authenticator's now
	}
	var err error
	if req.resolved {
		if req.principal.Method == MethodCookie {
			err = a.checkOrigin(req.HTTP)
		}
	} else {
		err = a.authenticate(req, credentials, true)
	}
	if err != nil {
		a.refuse(w, req, err)
		return nil, err
	}
	if s, ok := req.HTTP.Context().Value(stateKey{}).(*Request); ok && s == req {
		return req.HTTP, nil // behind the middleware: it carries req already
	}
	a.handOnCookie(w, req)
	return req.handOn(), nil
}

// authenticate resolves the request's credentials and, for a request
// decided by the session cookie, checks its origin: for unsafe methods
// only, or for every method when allMethods is set (commands change state
// whatever the method).
// The principal is left in req.principal (the zero Principal on an
// error), where the next handler's context finds it.
func (a *Authenticator) authenticate(req *Request, credentials []Method, allMethods bool) error {
	req.principal = Principal{}
	err := a.resolve(req.HTTP.Context(), req, credentials, &req.principal)
	if err == nil && req.principal.Method == MethodCookie && (allMethods || !isSafeMethod(req.HTTP.Method)) {
		err = a.checkOrigin(req.HTTP)
	}
	if err != nil {
		req.principal = Principal{}
	}
	req.resolved = err == nil
	return err
}

// CheckOrigin refuses ([ErrCrossOrigin]) a request from another site: what
// [CookieConfig].CrossOrigin says of it as a POST, whatever its method. For a
// host's own forms that are posted before there is a cookie to check (a
// login page).
func (a *Authenticator) CheckOrigin(r *http.Request) error {
	if err := a.made(); err != nil {
		return err
	}
	if r == nil {
		return errNoRequest
	}
	return a.checkOrigin(r)
}

// checkOrigin applies [CookieConfig].CrossOrigin to r as if r were a POST:
// http.CrossOriginProtection lets every GET through, but an API whose
// commands change state on GET (Octeth's, WMD's) needs the check on GET
// too. Requests from non-browser clients carry neither Sec-Fetch-Site nor
// Origin and pass.
//
// One more than http.CrossOriginProtection: a request with neither
// Sec-Fetch-Site nor Origin but a Referer came from a browser (an old
// one, or one told to leave Origin out) that named the page it came from,
// and that page's origin is checked as an Origin header would be. A
// Referer that names no origin is refused.
func (a *Authenticator) checkOrigin(r *http.Request) error {
	post := r
	if isSafeMethod(r.Method) {
		c := *r
		c.Method = http.MethodPost
		post = &c
	}
	h := r.Header
	if ref := h.Get("Referer"); ref != "" && h.Get("Sec-Fetch-Site") == "" && h.Get("Origin") == "" {
		origin, ok := refererOrigin(ref)
		if !ok {
			return ErrCrossOrigin
		}
		c := *post
		c.Header = h.Clone()
		c.Header.Set("Origin", origin)
		post = &c
	}
	if a.cfg.Cookie.CrossOrigin.Check(post) != nil {
		return ErrCrossOrigin
	}
	return nil
}

// refererOrigin returns the origin ("https://example.com:8443") of a
// Referer, or false if it names none.
func refererOrigin(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}

// handOn returns the request for the next handler: its context carries req
// (and so its principal and parameters), and a form body read is readable
// again.
func (req *Request) handOn() *http.Request {
	req.ctx = requestContext{Context: req.HTTP.Context(), req: req}
	r2 := req.HTTP.WithContext(&req.ctx)
	switch {
	case req.oversized:
		r2.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(req.body), req.HTTP.Body), req.HTTP.Body}
	case req.body != nil:
		r2.Body = io.NopCloser(bytes.NewReader(req.body))
	}
	return r2
}

// resolve tries the credentials (nil: the configured ones, then the
// host's resolvers) and reconciles what they found into *found, which
// starts as the zero Principal.
func (a *Authenticator) resolve(ctx context.Context, req *Request, credentials []Method, found *Principal) error {
	custom := false
	if credentials == nil {
		credentials, custom = a.cfg.Credentials, true
	}
	n := len(credentials)
	if custom {
		n += len(a.cfg.Resolvers)
	}
	var p Principal // each resolver that finds its credential sets it whole
	for i := range n {
		var err error
		if i < len(credentials) {
			err = a.resolveCredential(ctx, req, credentials[i], &p)
		} else {
			p, err = a.cfg.Resolvers[i-len(credentials)].Resolve(ctx, req)
			if err == nil && p.Authenticated() && p.Method == 0 {
				p.Method = MethodCustom
			}
		}
		switch {
		case err == errNoCredential, err == nil && !p.Authenticated():
			continue
		case err != nil:
			// The kind refused, for the event; a request whose
			// parameters could not be read is no credential's fault.
			if req.paramsErr == nil || !errors.Is(err, req.paramsErr) {
				req.refusedKind = MethodCustom
				if i < len(credentials) {
					req.refusedKind = credentials[i]
				}
			}
			return err
		case !found.Authenticated():
			*found = p
		case p.Scope != found.Scope || p.AccountID != found.AccountID:
			return errConflictingCreds
		case !found.HasSession() && p.HasSession():
			// An API key and a session of one account (seed 003 sends
			// both): the key decides, and the session it came with is
			// there for what needs one (logout, a password change), with
			// its login's time: a key does not make a session's password
			// proof fresh.
			found.session, found.Login, found.TFA, found.AuthenticatedAt = p.session, p.Login, p.TFA, p.AuthenticatedAt
		}
	}
	return nil
}

// refuse reports a request keyward will not let through: an event, and,
// for a bad session cookie, the cookie expired in the answer, so the
// browser stops sending it. The caller writes the answer.
func (a *Authenticator) refuse(w http.ResponseWriter, req *Request, err error) {
	r := req.HTTP
	e := event.Event{Kind: event.Refused, Reason: reasonOf(err)}
	if req.refusedKind != 0 {
		e.Method = req.refusedKind.String()
	}
	switch c := classify(err); {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Reason = "request cancelled or timed out"
	case c.status >= 500:
		// The server's fault: the cause goes to the log for operators.
		e.Kind, e.Err = event.StoreFailed, err
	case e.Reason == "":
		e.Reason = c.text
	}
	a.Emit(r.Context(), e)
	if req.clearCookie {
		a.clearSessionCookie(w, r)
	}
}

// isSafeMethod reports whether the method is one that must not change
// state, and so is not subject to cross-origin protection.
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
