// Package form reads a request's parameters as keyward's middleware and
// command API see them: the query string, then an
// application/x-www-form-urlencoded or multipart/form-data body (files in
// a multipart body are skipped), in request order. It is the one parser of
// untrusted input in front of every credential and command, and refuses
// rather than guesses:
//
//   - a name given twice is ambiguous, so [Params.Get] of it is an error:
//     which copy counts is exactly what parameter pollution exploits;
//   - names match ignoring ASCII case only (Octeth's documents write both
//     APIKey and apikey), never Unicode case, so no exotic spelling
//     aliases a name;
//   - invalid UTF-8, NUL, broken percent-encoding, a semicolon in a query,
//     too many or too long parameters, and a body over its limit are
//     errors ([*Error]), each saying what was wrong in words a client
//     may read (never a value).
//
// The middleware reads a request's parameters once; handlers after it get
// them from authn.Authenticator.Request, and commands from their Call.
package form
