package authn

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// Sensitive changes (2FA on, off or new recovery codes, API keys, a new
// password, email address or username) need the account's password
// proven within [ReauthConfig].Window: a session made with the password
// that recently, or the password given again in the request
// ([Authenticator.Reauthenticate]). A stolen session, or one left open on a
// shared computer, cannot enroll its holder's authenticator or make itself
// a key, without the password.

// errNeedsPasswordSession refuses a sensitive change to anything but a
// session made with a password: a leaked key, used directly or through a
// key login, must not be able to mint keys that outlive its revocation or
// change the second factor; nor may a switched session.
var errNeedsPasswordSession = because(ErrForbidden, "keys, 2FA and credentials are managed from a password login")

// requirePasswordSession refuses p unless it rode on a session made with a
// password, however long ago.
func requirePasswordSession(p Principal) error {
	if !p.HasSession() || p.Login != "password" {
		return errNeedsPasswordSession
	}
	return nil
}

// requireRecentPassword returns nil if p may make a sensitive change now:
// p rode on a session made with a password, and proved the password within
// [ReauthConfig].Window ([Principal].AuthenticatedAt). A principal that is
// not such a session is an error wrapping [ErrForbidden]; one whose proof
// is older is [ErrReauthenticate].
func (a *Authenticator) requireRecentPassword(p Principal) error {
	if err := requirePasswordSession(p); err != nil {
		return err
	}
	if p.AuthenticatedAt.IsZero() || a.cfg.Now().Sub(p.AuthenticatedAt) >= a.cfg.Reauth.Window {
		return ErrReauthenticate
	}
	return nil
}

// staticKeyBesideSession reports whether p rode on a password session
// with the static admin key ([Config].AdminAPIKey) beside it, as seed 003
// sends Admin.Update: the deployment's own proof of the administrator,
// taken for a change of the administrator's own account
// ([Authenticator.UpdateAccount]) and for nothing else.
func staticKeyBesideSession(p Principal) bool {
	return p.staticKey && requirePasswordSession(p) == nil
}

// Reauthenticate makes sure p has proven its password recently, for a
// sensitive change (2FA, API keys, a new password, email address or
// username). p must ride on a session made with a password (a key, a key
// login or a switched session is an error wrapping [ErrForbidden]).
//
// With neither password nor code, it returns p if p proved its password
// within [ReauthConfig].Window (its login, or an earlier Reauthenticate),
// and [ErrReauthenticate] otherwise: ask for the password again, or have
// the client sign in again. With a password, a 2FA code, or both, it
// checks them now against p's account, each counted and throttled as a
// login attempt of the account from r's client, and returns p with
// AuthenticatedAt set to now: proof, for the rest of this request, that
// the caller knows them. A wrong password is an error wrapping
// [ErrInvalidCredential]; a wrong, used or needless code (2FA off) one
// wrapping [ErrTFAWrong]; too many of either, [*ThrottledError].
func (a *Authenticator) Reauthenticate(ctx context.Context, r *http.Request, p Principal, password, code string) (Principal, error) {
	if err := a.made(); err != nil {
		return p, err
	}
	if password == "" && code == "" {
		return p, a.requireRecentPassword(p)
	}
	if err := requirePasswordSession(p); err != nil {
		return p, err
	}
	acct, err := a.Account(ctx, p.Account())
	if err != nil {
		return p, err
	}
	req := &Request{HTTP: r, a: a}
	if r == nil {
		req = &Request{a: a, ipOnce: true}
	}
	if password != "" {
		if err := a.checkOwnPasswordValue(ctx, req, p, acct, password); err != nil {
			return p, err
		}
	}
	if code != "" {
		switch err := a.checkOwnCodeValue(ctx, req, p, acct, code); {
		case errors.Is(err, totp.ErrCodeUsed):
			return p, errTFACodeUsed
		case errors.Is(err, totp.ErrInvalidCode):
			return p, because(ErrTFAWrong, "wrong 2FA code")
		case errors.Is(err, totp.ErrNotEnabled):
			return p, because(ErrTFAWrong, "2FA is not on")
		case err != nil:
			return p, tfaError(err)
		}
	}
	p.AuthenticatedAt = a.cfg.Now()
	return p, nil
}

// reauth counts a second proof from p, signed in (its password, a 2FA
// code), as a login attempt of its account from its address: counted
// before it is checked, refused past the throttle's limits, and reset by
// success. Without it a stolen session or key would be an unlimited
// password or code oracle. Past the account's limit a login must answer a
// captcha, which a re-authentication cannot: see pastAccountLimit.
func (a *Authenticator) reauth(ctx context.Context, r *Request, p Principal, acct store.Account, check func() error) error {
	at, err := a.begin(ctx, throttleKey(acct.Scope, acct, true, ""), ipKey(r.ClientIP()))
	if err == nil && at.accountOver {
		err = a.pastAccountLimit(ctx, at, p)
	}
	if err != nil {
		var throttled *ThrottledError
		if errors.As(err, &throttled) {
			a.Emit(ctx, event.Event{Kind: event.LockedOut, Account: acct.Ref(), Username: acct.Username, Reason: "too many failed attempts", ClientIP: ipKey(r.ClientIP())})
		}
		return err
	}
	if err := check(); err != nil {
		if errors.Is(err, ErrInvalidCredential) || errors.Is(err, totp.ErrInvalidCode) {
			a.Emit(ctx, event.Event{Kind: event.LoginFailed, Account: acct.Ref(), Username: acct.Username, Reason: reasonOf(err), ClientIP: ipKey(r.ClientIP())})
		}
		return err
	}
	return a.settle(ctx, at, true)
}

// pastAccountLimit decides a re-authentication of an account past its
// limit, where every login must answer a captcha. A session that signed
// in with its password within [ReauthConfig].Window (through that
// captcha: the owner, most likely) is still checked, a few times
// ([ThrottleConfig].PerUserIP in a Window) for the session wherever it
// comes from, so that the owner can still change a password or the second
// factor while someone else hammers the account. Any other session is
// refused (429) unchecked, and the attempt counts nowhere: an old or
// stolen session is no password oracle around the account's limit.
func (a *Authenticator) pastAccountLimit(ctx context.Context, at attempt, p Principal) error {
	recent := !p.AuthenticatedAt.IsZero() && a.cfg.Now().Sub(p.AuthenticatedAt) < a.cfg.Reauth.Window
	if recent && p.HasSession() {
		key := counterKey("reauth-session", hex.EncodeToString(p.session[:]))
		_, err := a.count(ctx, key, a.cfg.Throttle.Window, a.cfg.Throttle.PerUserIP)
		if err == nil || !errors.Is(err, ErrThrottled) {
			return err
		}
	}
	a.takeBack(ctx, at.pair, at.ip, at.account)
	return a.accountThrottled(at)
}

// checkOwnPasswordValue checks password against the principal's own
// account, as a counted re-authentication: an error wrapping
// [ErrInvalidCredential] if it is wrong.
func (a *Authenticator) checkOwnPasswordValue(ctx context.Context, r *Request, p Principal, acct store.Account, password string) error {
	return a.reauth(ctx, r, p, acct, func() error {
		got, err := a.checkPassword(ctx, acct.Scope, acct.Username, password)
		if err == nil && got.ID != acct.ID {
			return errWrongPassword
		}
		return err
	})
}

// checkOwnCodeValue checks a TOTP code of the principal's own account, as a
// counted re-authentication: [totp.ErrInvalidCode] if it is wrong,
// [totp.ErrNotEnabled] if 2FA is off.
func (a *Authenticator) checkOwnCodeValue(ctx context.Context, r *Request, p Principal, acct store.Account, code string) error {
	return a.reauth(ctx, r, p, acct, func() error { return a.tfa.Verify(ctx, acct.Ref(), code) })
}
