package authn

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/keyward/keyward/authn/form"
)

// Request is a request as resolvers see it: the HTTP request and its
// parameters, read once. The middleware makes one per request and passes it
// to each [Resolver] in turn; it is not safe for concurrent use and must not
// be kept after Resolve returns.
type Request struct {
	// HTTP is the request being authenticated. Resolvers read it and must
	// not change it or read its body (use [Request.Params]).
	HTTP *http.Request

	a         *Authenticator
	principal Principal

	params    form.Params
	paramsErr error
	body      []byte        // the form body read, kept for the next handler
	inline    [2]form.Param // room for a short request's parameters

	nowTime time.Time  // the request's time, read from the clock once
	ip      netip.Addr // the client's address, found once

	// ctx is the context handed to the next handler: the parent's, with
	// this Request as its state value. Embedding it here saves the
	// separate allocation of context.WithValue on every request.
	ctx requestContext

	// etokenSession is the session ID an etoken just redeemed carried,
	// when the cookie is to be set from it.
	etokenSession string

	// The flags, together so that they share one word.
	parsed   bool
	resolved bool // principal decided: credentials resolved, or given
	nowOnce  bool
	ipOnce   bool
	// oversized is set when a lenient read met a body over the limit: the
	// bytes read are in body, the rest is still in HTTP.Body.
	oversized bool
	// lenient lets a body over the limit through unread instead of
	// refusing it (the middleware in front of a host's own routes).
	lenient     bool
	clearCookie bool // the session cookie was bad: expire it in the answer
	// refusedKind is the kind of credential that got the request refused,
	// for the event; 0 if none did (a malformed request, say).
	refusedKind Method
}

// errNoRequest is what a Request without an HTTP request answers.
var errNoRequest = because(ErrBadRequest, "no HTTP request")

// Params returns the request's parameters, reading the query string and a
// form body on first use (see package form). The error is a
// [*form.Error], or [ErrBadRequest] for a Request without an HTTP
// request. A Request a host makes itself ([Request]{HTTP: r}) reads them
// under the default limits.
func (r *Request) Params() (*form.Params, error) {
	if r == nil || r.HTTP == nil {
		return &form.Params{}, errNoRequest
	}
	if !r.parsed {
		r.parsed = true
		r.paramsErr = r.readParams()
	}
	return &r.params, r.paramsErr
}

// param returns one parameter's value, "" if absent; see [form.Params.Get].
func (r *Request) param(name string) (string, error) {
	p, err := r.Params()
	if err != nil {
		return "", err
	}
	return p.Get(name)
}

// readParams fills r.params from the query string and a form body.
func (r *Request) readParams() error {
	var lim form.Limits
	if r.a != nil {
		lim = r.a.limits
	}
	params, body, err := form.Read(r.HTTP, r.inline[:0], lim)
	r.params, r.body = params, body
	if errors.Is(err, form.ErrBodyTooLarge) && r.lenient {
		// An upload to a host route, say. Its parameters are not read;
		// the next handler gets the whole body, and a credential in it is
		// not seen: the request is no more privileged for it.
		r.oversized = true
		return nil
	}
	return err
}

// now returns the request's time: the configured clock, read once per
// request however many resolvers ask.
func (r *Request) now() time.Time {
	if !r.nowOnce {
		r.nowOnce = true
		r.nowTime = r.a.cfg.Now()
	}
	return r.nowTime
}

// ClientIP returns the address the request came from, as keyward throttles
// and logs it: the peer's address, or, from one of [Config].TrustedProxies,
// the first untrusted address of X-Forwarded-For read from the right. A
// header a client sets itself is never believed. The zero Addr means the
// address could not be read.
func (r *Request) ClientIP() netip.Addr {
	if r == nil {
		return netip.Addr{}
	}
	if !r.ipOnce {
		r.ipOnce = true
		if r.HTTP != nil {
			r.ip = r.a.clientAddr(r.HTTP)
		}
	}
	return r.ip
}
