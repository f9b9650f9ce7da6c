package main

import (
	"net/http"

	"github.com/keyward/keyward/authn"
)

// authenticated puts next behind the authenticator's middleware, and turns
// the middleware's refusals into what a browser should get.
//
// The middleware answers a refused request (a stale or tampered cookie:
// 401; the store down: 503) through [authn.Config].ErrorWriter, which in
// the example writes the JSON the API's clients expect. A page must not
// answer JSON, so the refusal is caught here before it reaches the
// browser: a bad cookie (which the middleware has already expired in the
// same answer) sends the browser to the login page, and anything else
// becomes an error page with the same status.
func (u *ui) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &refusalCatcher{ResponseWriter: w}
		// The middleware is built per request so that its next handler
		// can tell this request's catcher that the request got through.
		u.auth.Middleware(http.HandlerFunc(func(w2 http.ResponseWriter, r2 *http.Request) {
			c.passed = true
			p, _ := authn.PrincipalFrom(r2.Context())
			u.app.metrics.served(p)
			next.ServeHTTP(w2, r2)
		})).ServeHTTP(c, r)
		if c.passed || c.status == 0 {
			return
		}
		h := w.Header()
		h.Del("Content-Type")
		h.Del("Content-Length")
		switch c.status {
		case http.StatusUnauthorized:
			http.Redirect(w, r, "/login?notice=expired", http.StatusSeeOther)
		case http.StatusBadRequest:
			u.renderError(w, c.status, "The request was malformed.")
		case http.StatusForbidden:
			u.renderError(w, c.status, "This request was refused.")
		default: // 503, the store down; nothing else is expected here
			u.renderError(w, max(c.status, http.StatusInternalServerError), "The service is unavailable. Please try again later.")
		}
	})
}

// refusalCatcher holds back what the middleware writes when it refuses a
// request, and passes everything through once the request has got past
// it. Headers are shared: the middleware's Set-Cookie that expires a bad
// cookie, and a Retry-After, reach the browser.
type refusalCatcher struct {
	http.ResponseWriter
	passed bool // the middleware let the request through
	status int  // the status of a refusal held back
}

// WriteHeader records a refusal's status, or passes a page's on.
func (c *refusalCatcher) WriteHeader(status int) {
	if c.passed {
		c.ResponseWriter.WriteHeader(status)
		return
	}
	c.status = status
}

// Write drops a refusal's body, or passes a page's on.
func (c *refusalCatcher) Write(b []byte) (int, error) {
	if c.passed {
		return c.ResponseWriter.Write(b)
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}

// Unwrap gives http.ResponseController the underlying writer.
func (c *refusalCatcher) Unwrap() http.ResponseWriter { return c.ResponseWriter }
