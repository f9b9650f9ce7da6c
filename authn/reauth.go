package authn

import (
	"context"
	"errors"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// reauth counts a second proof from a signed-in principal (its password,
// a 2FA code) as a login attempt of its account from its address: counted
// before it is checked, refused past the throttle's limits, and reset by
// success. Without it a stolen session or key would be an unlimited
// password or code oracle.
func (a *Authenticator) reauth(ctx context.Context, r *Request, acct store.Account, check func() error) error {
	at, err := a.begin(ctx, throttleKey(acct.Scope, acct, true, ""), ipKey(r.clientIP()))
	if err != nil {
		return err
	}
	if err := check(); err != nil {
		if errors.Is(err, ErrInvalidCredential) || errors.Is(err, totp.ErrInvalidCode) {
			a.emit(ctx, Event{Kind: EventLoginFailed, Account: acct.Ref(), Username: acct.Username, Reason: reasonOf(err), ClientIP: ipKey(r.clientIP())})
		}
		return err
	}
	return a.succeed(ctx, at)
}

// checkOwnPasswordValue checks password against the principal's own
// account, as a counted re-authentication: an error wrapping
// [ErrInvalidCredential] if it is wrong.
func (a *Authenticator) checkOwnPasswordValue(ctx context.Context, r *Request, acct store.Account, password string) error {
	return a.reauth(ctx, r, acct, func() error {
		got, err := a.CheckPassword(ctx, acct.Scope, acct.Username, password)
		if err == nil && got.ID != acct.ID {
			return errWrongPassword
		}
		return err
	})
}

// checkOwnCodeValue checks a TOTP code of the principal's own account, as a
// counted re-authentication: [totp.ErrInvalidCode] if it is wrong,
// [totp.ErrNotEnabled] if 2FA is off.
func (a *Authenticator) checkOwnCodeValue(ctx context.Context, r *Request, acct store.Account, code string) error {
	return a.reauth(ctx, r, acct, func() error { return a.tfa.Verify(ctx, acct.Ref(), code) })
}
