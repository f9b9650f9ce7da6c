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
// Recovery codes are 10 per enrollment, XXXX-XXXXX-XXXX: 13 symbols of
// the digits 2 to 9 and the letters but I, L, O and U (about 64 bits
// each), so that no symbol can be mistaken for another. They are shown
// once, kept as salted SHA-256 hashes, and used once: consuming one is
// atomic in the store. Using one turns 2FA off, as Octeth does; the
// account enrolls again. They are read leniently (any case, spaces and
// dashes anywhere, U for V), and codes issued before this alphabet
// (XXXX-XXXX-XXXX of [A-Z0-9]) are still accepted as they were: see
// [ParseRecoveryCode].
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
// reads the store can compute codes. Package authn always gives keys: its
// Config.TFA.Keys if set, otherwise keys derived from its cookie keys; a
// host that uses this package on its own should give keys too, and keep
// them apart from the database.
//
// Keys rotate like cookie keys: the first seals, every one opens. A secret
// stored plainly (before there were keys) or sealed with a key that is no
// longer the first still opens, and is sealed again with the first key at
// its next use: a right code at [TOTP.Verify], or [TOTP.Enable] and
// [TOTP.RegenerateRecoveryCodes]. At Verify that write is a
// compare-and-set on the state's version that changes nothing else (not
// Enabled, so no session ends), and it is best effort: if it fails or
// another change overtook it, the login still succeeds and the next one
// tries again. So an old key can be dropped once every account with 2FA
// on has logged in with a code since the rotation; a secret sealed only
// with a dropped key no longer opens, and its owner cannot log in with a
// code until 2FA is reset (a recovery code still works).
//
// A *TOTP is safe for concurrent use.
package totp
