// Package authn turns a request's credential into a [Principal]: who the
// request acts as, with what scope, and how it proved it. It is the
// net/http middleware at the heart of keyward, and the Octeth-style command
// API built on it.
//
// # Use
//
//	a, err := authn.New(authn.Config{Store: st, Keys: keys})
//	if err != nil { ... }
//
//	api := authn.NewAPI(a, authn.APIConfig{})   // User.Login, Admin.Login, ...
//	api.Handle("List.Create", authn.Command{Scopes: []scopes.Scope{scopes.User}, Run: listCreate})
//
//	mux := http.NewServeMux()
//	mux.Handle("/api.php", api)                   // authenticates its own requests
//	mux.Handle("/reports", a.Middleware(a.Require(scopes.User)(reports)))
//
// and in a handler or a command:
//
//	p, ok := authn.PrincipalFrom(r.Context())    // or c.Principal in a Command
//
// # Credentials
//
// The middleware tries its resolvers in a fixed order ([DefaultResolvers]):
// a Bearer etoken, an admin API key (AdminAPIKey parameter or
// X-Admin-API-Key header), an API key (APIKey or X-API-Key), a SessionID
// parameter, the session cookie. Parameter names match ignoring ASCII
// case, in the query string or a form body (urlencoded or multipart),
// which is read once under a size limit and left readable for the next
// handler. A host adds its own credential with a [Resolver].
//
// # Logins and the command API
//
// [Authenticator.Login] is one login in any dialect: the throttle, the
// captcha ([CaptchaPolicy]), the password or key, the second factor
// (package totp), then a fresh session. An [API] serves it, with logout,
// API keys, 2FA enrollment, account updates, password recovery (with a
// [Mailer]) and the host's own commands, in Octeth's envelope
// ({"Success":...,"ErrorCode":...,"ErrorText":...}, [Seeds] or [OctethV5]
// numbering, JSON or XML) or WMD's ({"status":"ok"|"notok",...}). Every
// login answers an etoken ([Authenticator.IssueEToken]): the session,
// encrypted, for 2 seconds, once, as a Bearer credential.
//
// # What it defends against
//
//   - A stolen store: session IDs, API keys, reset tokens and recovery
//     codes are kept as SHA-256 hashes, passwords as argon2id (bcrypt
//     verifies too, and is upgraded), TOTP secrets sealed with AES-GCM
//     when keys are given.
//   - Guessing: failed logins are counted in the store per username and
//     address, per address and per username; past a few a captcha is
//     needed, past the limit a 429 that does not depend on the password.
//     An unknown username costs the same password verification as a wrong
//     password, and every kind of bad credential has one answer.
//   - Fallback tricks: a present but bad credential refuses the request; it
//     never falls back to a weaker credential or to anonymous. Two
//     credentials naming different accounts, or one parameter given twice,
//     are a malformed request.
//   - Cross-site requests: unsafe requests that rely on the session cookie,
//     and every command and login of an [API] whatever its method, pass
//     [http.CrossOriginProtection]. The cookie is __Host-, Secure,
//     HttpOnly, SameSite=Lax, signed and encrypted (gorilla/securecookie)
//     and carries only the session ID.
//   - Session fixation: every login makes a new session.
//   - Replays: etokens, TOTP steps, recovery codes, captchas and reset
//     tokens are single use, claimed atomically in the store.
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
// let through because something could not be checked. Every store call on
// the request path has a deadline ([Config].StoreTimeout), so a store that
// stalls is a 503 in time, not a request that hangs. The one write that is
// not on the request path is API key usage (counts and last use), which is
// bookkeeping, not a check: it is written in the background.
//
// A credential change (a new password, a new email address, 2FA on or
// off) is one write that also raises the account's credential generation,
// and a session made under an older one is refused: the change and the
// end of every other session happen together or not at all. The caller's
// session goes on under a new ID (see [Authenticator.SetPassword]).
//
// # Errors
//
// Every refusal is one of the sentinel errors of this package, mapped to
// its HTTP status by [HTTPStatus] and to a client-safe text by [PublicText]
// through one table; [Config].ErrorWriter decides how the middleware
// writes it, and an [API]'s [Profile] how its envelope numbers it.
//
// An [Authenticator] and an [API] are safe for concurrent use.
package authn
