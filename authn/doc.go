// Package authn turns a request's credential into a [Principal]: who the
// request acts as, with what scope, and how it proved it. It is the
// net/http middleware at the heart of keyward.
//
// # Use
//
//	a, err := authn.New(authn.Config{Store: st, Keys: keys})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	mux.Handle("/lists", a.Require(scopes.User)(listsHandler))
//	http.ListenAndServe(addr, a.Middleware(mux))
//
// and in a handler:
//
//	p, ok := authn.PrincipalFrom(r.Context())
//
// Logins go through [Authenticator.CheckPassword] and
// [Authenticator.StartSession]; keys through [Authenticator.CreateAPIKey].
//
// # Credentials
//
// The middleware tries its resolvers in a fixed order ([DefaultResolvers]):
// an admin API key (AdminAPIKey parameter or X-Admin-API-Key header), an
// API key (APIKey or X-API-Key), a SessionID parameter, the session cookie.
// Parameter names match ignoring ASCII case, in the query string or a form
// body (urlencoded or multipart), which is read once under a size limit and
// left readable for the next handler. A host adds its own credential with a
// [Resolver].
//
// # What it defends against
//
//   - A stolen store: session IDs and API keys are kept as SHA-256 hashes,
//     passwords as argon2id (bcrypt verifies too, and is upgraded).
//   - Guessing who has an account: an unknown username costs the same
//     password verification as a wrong password, and every login failure
//     has the same answer.
//   - Fallback tricks: a present but bad credential refuses the request; it
//     never falls back to a weaker credential or to anonymous. Two
//     credentials naming different accounts, or one parameter given twice,
//     are a malformed request.
//   - Cross-site requests: unsafe requests that rely on the session cookie
//     pass [http.CrossOriginProtection]. The cookie is __Host-, Secure,
//     HttpOnly, SameSite=Lax, signed and encrypted (gorilla/securecookie)
//     and carries only the session ID.
//   - Session fixation: every login makes a new session.
//   - Timing: secrets are compared with crypto/subtle; stores are searched
//     by hashes.
//   - Login floods: at most [Config].MaxConcurrentHashes password hashes run
//     at once.
//   - Leaks through logs: events and errors never hold a secret, and
//     [Secret] prints as REDACTED.
//
// # Where it fails closed
//
// A store error refuses the request with 503 ([ErrStoreUnavailable]); an
// error the middleware does not know is treated the same way. Nothing is
// let through because something could not be checked.
//
// # Errors
//
// Every refusal is one of the sentinel errors of this package, mapped to
// its HTTP status by [HTTPStatus] and to a client-safe text by [PublicText];
// [Config].ErrorWriter decides how it is written.
package authn
