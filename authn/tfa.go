package authn

import (
	"context"
	"errors"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// SetupTFA makes a new pending TOTP secret for p's account, as
// *.TFA.Setup does: 2FA is not on until [Authenticator.EnableTFA]. Like
// every change of the second factor it needs the password proven recently
// ([Authenticator.Reauthenticate]): a key, or a stolen session, must
// not enroll its holder's authenticator. An account with 2FA on is
// [totp.ErrAlreadyEnabled].
func (a *Authenticator) SetupTFA(ctx context.Context, p Principal) (totp.Enrollment, error) {
	if err := a.made(); err != nil {
		return totp.Enrollment{}, err
	}
	if err := a.requireRecentPassword(p); err != nil {
		return totp.Enrollment{}, err
	}
	acct, err := a.Account(ctx, p.Account())
	if err != nil {
		return totp.Enrollment{}, err
	}
	return a.tfa.Setup(ctx, acct)
}

// EnableTFA turns 2FA on for p's account once code matches its pending
// secret and returns the recovery codes, shown once. It is a credential
// change: the account's other sessions end in the same write, and p's
// session goes on under the returned ID (see [Authenticator.UpdateAccount]).
// A wrong code is [totp.ErrInvalidCode] (and an event), no pending secret
// [totp.ErrNotSetUp].
func (a *Authenticator) EnableTFA(ctx context.Context, p Principal, code string) ([]string, Secret, error) {
	if err := a.made(); err != nil {
		return nil, Secret{}, err
	}
	if err := a.requireRecentPassword(p); err != nil {
		return nil, Secret{}, err
	}
	acct, err := a.Account(ctx, p.Account())
	if err != nil {
		return nil, Secret{}, err
	}
	var codes []string
	next, err := a.changeCredentials(ctx, p, acct, func(ctx context.Context) error {
		codes, err = a.tfa.Enable(ctx, p.Account(), code)
		return err
	})
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		a.Emit(ctx, event.Event{Kind: event.LoginFailed, Account: p.Account(), Username: p.Username, Reason: "wrong 2FA code at enable"})
		return nil, Secret{}, err
	case err != nil:
		return nil, Secret{}, tfaError(err)
	}
	a.Emit(ctx, event.Event{Kind: event.TFAEnabled, Account: p.Account(), Username: p.Username})
	return codes, next, nil
}

// DisableTFA turns 2FA off for p's account, a credential change like
// [Authenticator.EnableTFA]'s. The caller checks the password and a code
// first, as *.TFA.Disable does.
func (a *Authenticator) DisableTFA(ctx context.Context, p Principal) (Secret, error) {
	if err := a.made(); err != nil {
		return Secret{}, err
	}
	if err := a.requireRecentPassword(p); err != nil {
		return Secret{}, err
	}
	acct, err := a.Account(ctx, p.Account())
	if err != nil {
		return Secret{}, err
	}
	next, err := a.changeCredentials(ctx, p, acct, func(ctx context.Context) error {
		return a.tfa.Disable(ctx, p.Account())
	})
	if err != nil {
		return Secret{}, tfaError(err)
	}
	a.Emit(ctx, event.Event{Kind: event.TFADisabled, Account: p.Account(), Username: p.Username})
	return next, nil
}

// RegenerateRecoveryCodes replaces the recovery codes of p's account
// (2FA on) with new ones, returned once. It needs the password proven
// recently, and the caller checks a TOTP code first, as
// *.TFA.RecoveryCodes.Regenerate does. 2FA off is [totp.ErrNotEnabled].
func (a *Authenticator) RegenerateRecoveryCodes(ctx context.Context, p Principal) ([]string, error) {
	if err := a.made(); err != nil {
		return nil, err
	}
	if err := a.requireRecentPassword(p); err != nil {
		return nil, err
	}
	codes, err := a.tfa.RegenerateRecoveryCodes(ctx, p.Account())
	if err != nil {
		return nil, tfaError(err)
	}
	return codes, nil
}

// TFAEnabled reports whether the account has 2FA on.
func (a *Authenticator) TFAEnabled(ctx context.Context, ref store.AccountRef) (bool, error) {
	if err := a.made(); err != nil {
		return false, err
	}
	on, err := a.tfa.Enabled(ctx, ref)
	if err != nil {
		return false, storeFailure(err)
	}
	return on, nil
}

// tfaError passes keyward's own errors (and package totp's) on, and makes
// any other (the store's) a store failure.
func tfaError(err error) error {
	if err == nil || classify(err) != failClosed {
		return err
	}
	for _, known := range []error{totp.ErrInvalidCode, totp.ErrNotEnabled, totp.ErrNotSetUp, totp.ErrAlreadyEnabled} {
		if errors.Is(err, known) {
			return err
		}
	}
	return storeFailure(err)
}
