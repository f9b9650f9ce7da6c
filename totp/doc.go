// Package totp is keyward's second factor: TOTP (RFC 6238) enrollment and
// verification on github.com/pquerna/otp, with replay protection and
// single-use recovery codes, on a store that any number of processes share.
//
// # Use
//
//	t, err := totp.New(totp.Config{Store: st, Issuer: "Example"})
//	e, err := t.Setup(ctx, account)          // e.Secret, e.URL, e.QRCode (PNG)
//	codes, err := t.Enable(ctx, ref, "123456") // the 10 recovery codes, once
//	err = t.Verify(ctx, ref, "654321")         // at each login
//
// # Codes
//
// Codes are RFC 6238 with SHA-1, 6 digits and 30-second steps, accepted one
// step either side of now. Once a code of some step is accepted for an
// account, no code of that step or an earlier one is accepted again (RFC
// 6238 section 5.2): the last accepted step is raised with an atomic
// compare-and-set in the store, so of two logins racing with one code,
// exactly one succeeds, on one process or many.
//
// Recovery codes are 10 per enrollment, XXXX-XXXX-XXXX of [A-Z0-9] (about
// 62 bits each), shown once, kept as salted SHA-256 hashes, and used once:
// consuming one is atomic in the store. Using one turns 2FA off, as Octeth
// does; the account enrolls again.
//
// # Concurrent changes
//
// Setup, Enable, Disable, RegenerateRecoveryCodes and the turning off
// that follows a recovery login each read the account's 2FA state, change
// it and write it back whole. The write is a compare-and-set on the
// state's version ([store.TFAStates]): if another change was written in
// between, from this process or another sharing the store, it is refused,
// and the operation reads again and checks its conditions on what it
// finds (Setup with 2FA now on is [ErrAlreadyEnabled], Enable after a new
// Setup replaced the secret [ErrInvalidCode], RegenerateRecoveryCodes with
// 2FA now off [ErrNotEnabled]) before it tries again. No change is lost:
// a Setup never turns off a 2FA that an Enable reported on, and new
// recovery codes never turn back on a 2FA that a recovery login turned
// off. After a few refusals in a row it gives up with an error that wraps
// [store.ErrConflict].
//
// # Secrets at rest
//
// A TOTP secret cannot be hashed: the server needs it to compute codes. With
// [Config].Keys set, secrets are sealed with AES-GCM before they reach the
// store, bound to their account (a sealed secret copied to another account
// does not open). Without keys they are stored as they are, so anyone who
// reads the store can compute codes: give keys in production, and keep them
// apart from the database. Keys rotate like cookie keys: the first seals,
// every one opens, and secrets sealed with an older key (or none) are
// resealed with the first at their next write.
//
// A *TOTP is safe for concurrent use.
package totp
