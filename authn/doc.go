// Package authn turns a request's credential into a [Principal]: who the
// request acts as, with what scope, and how it proved it. It is the
// net/http middleware at the heart of keyward, and everything a login
// needs around it: passwords, sessions, API keys, second factors, the
// throttle, captchas, re-authentication. It speaks no wire dialect: the
// Octeth and WMD command APIs are package command, built on this
// package's exported API alone, as a host's own would be.
//
// # Use
//
//	a, err := authn.New(authn.Config{Store: st, Keys: keys})
//	if err != nil { ... }
//
//	mux := http.NewServeMux()
//	mux.Handle("/api.php", command.New(a, command.Config{})) // User.Login, Admin.Login, ...
//	mux.Handle("/", a.Middleware(app))                        // your routes
//	app.Handle("/reports", a.Require(scopes.User)(reports))
//
// and in a handler:
//
//	p, ok := authn.PrincipalFrom(r.Context())
//
// # Credentials
//
// The middleware tries keyward's credentials in the order of
// [Config].Credentials, by default: a Bearer etoken, an admin API key
// (AdminAPIKey parameter or X-Admin-API-Key header), an API key (APIKey or
// X-API-Key), a SessionID parameter, the session cookie; then the host's
// own [Resolver] values. Parameter names match ignoring ASCII case, in the
// query string or a form body (urlencoded or multipart), which is read
// once under [Config].Limits (package form) and left readable for the next
// handler. A handler that authenticates by itself, as a command router
// does, reads the parameters first with [Authenticator.Request] and calls
// [Authenticator.Authenticate] only when it needs a principal.
//
// # Logins
//
// [Authenticator.Login] is one login in any dialect: the throttle, the
// captcha, the password or key, the second factor (package totp), then a
// fresh session. Its refusals are sentinel errors ([ErrInvalidCredential],
// [ErrTFARequired], [ErrCaptchaRequired], [*ThrottledError], ...) that
// each dialect numbers in a table of its own. [Authenticator.HandOver]
// gives the new session to its client: a cookie, an etoken (the session,
// encrypted, for 2 seconds, once, as a Bearer credential), or both.
// Logout is [Authenticator.EndSession].
//
// Around logins: API keys ([Authenticator.CreateAPIKey]), 2FA
// ([Authenticator.SetupTFA], [Authenticator.EnableTFA]), accounts
// ([Authenticator.CreateAccount], [Authenticator.UpdateAccount]),
// password recovery ([Authenticator.RemindPassword], with a [Mailer]) and
// captchas ([Authenticator.NewCaptcha], [Authenticator.CaptchaHandler]).
// Sensitive changes need the password proven recently
// ([Authenticator.Reauthenticate]). Every step is an audit event (package
// event), logged and handed to [Config].OnEvent.
//
// # What it defends against
//
//   - A stolen store: session IDs, API keys, reset tokens and recovery
//     codes are kept as SHA-256 hashes, passwords as argon2id (bcrypt
//     verifies too, and is upgraded), TOTP secrets sealed with AES-GCM.
//   - Guessing: failed logins are counted in the store per username and
//     address, per address and per username; past a few a captcha is
//     needed, past the limit a 429 that does not depend on the password.
//     The attempts it refuses count nowhere, so hammering an account does
//     not lock its owner out. An unknown username costs the same password
//     verification as a wrong password, and every kind of bad credential
//     has one answer.
//   - Fallback tricks: a present but bad credential refuses the request; it
//     never falls back to a weaker credential or to anonymous. Two
//     credentials naming different accounts, or one parameter given twice,
//     are a malformed request.
//   - Cross-site requests: unsafe requests that rely on the session cookie
//     pass [http.CrossOriginProtection] ([Authenticator.CheckOrigin]). The
//     cookie is __Host-, Secure, HttpOnly, SameSite=Lax, signed and
//     encrypted (gorilla/securecookie) and carries only the session ID.
//   - Session fixation: every login makes a new session.
//   - A stolen session: sensitive changes need the password again.
//   - Replays: etokens, TOTP steps, recovery codes, captchas and reset
//     tokens are single use, claimed atomically in the store.
//   - Timing: secrets are compared with crypto/subtle; stores are searched
//     by hashes.
//   - Login floods: at most [PasswordConfig].MaxConcurrentHashes password
//     hashes run at once.
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
// session goes on under a new ID (see [Authenticator.UpdateAccount]).
//
// # Many instances
//
// Each Authenticator keeps the sessions and API keys it resolved, with
// their accounts, in a bounded cache ([CacheConfig]), so that a credential
// seen again costs no store round trip. The cache serves only while the
// store's invalidation channel ([store.Invalidations]) is listening; a
// logout, a key revoked, a credential change or an account disabled
// through keyward reaches every instance sharing the store within
// [store.InvalidationBound] (1 s). A refusal is never decided on cached
// data. Changes made outside keyward reach the cache through
// [Authenticator.Invalidate]; [Authenticator.Close] flushes what is
// buffered and stops the channel's listener.
//
// # Errors
//
// Every refusal is one of the sentinel errors of this package, mapped to
// its HTTP status and a client-safe text by [PublicError] through one
// table; [Config].ErrorWriter decides how the middleware
// writes it.
//
// An [Authenticator] is safe for concurrent use.
package authn
