// Package captcha defends password logins against automated guessing with
// a challenge a person answers: the [Checker] interface, small enough for a
// host to plug in hCaptcha or Cloudflare Turnstile, and [Digits], the
// default, which draws distorted digits (and reads them aloud) with
// github.com/dchest/captcha.
//
// Digits keeps its challenges in the keyward store ([store.Challenges]), not
// in dchest/captcha's package-level store, so a challenge made by one
// instance is drawn and checked by any other, and there is no global state.
// A challenge is single use: checked once, right or wrong, it is gone; it
// also expires (10 minutes by default).
//
// A *Digits is safe for concurrent use.
package captcha
