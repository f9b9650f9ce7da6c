package authn

import (
	"context"
	"errors"

	"github.com/keyward/keyward/totp"
)

// SetupTFA makes a new pending TOTP secret for p's account, as
// *.TFA.Setup does: 2FA is not on until [Authenticator.EnableTFA]. It needs
// a session made with a password (a key must not change the second
// factor); an account with 2FA on is [totp.ErrAlreadyEnabled].
func (a *Authenticator) SetupTFA(ctx context.Context, p Principal) (totp.Enrollment, error) {
	if err := requirePasswordSession(p); err != nil {
		return totp.Enrollment{}, err
	}
	acct, err := a.activeAccount(ctx, p.Account())
	if err != nil {
		return totp.Enrollment{}, err
	}
	return a.tfa.Setup(ctx, acct)
}

// EnableTFA turns 2FA on for p's account once code matches its pending
// secret, ends the account's other sessions, and returns the recovery
// codes, shown once. A wrong code is [totp.ErrInvalidCode] (and an event),
// no pending secret [totp.ErrNotSetUp].
func (a *Authenticator) EnableTFA(ctx context.Context, p Principal, code string) ([]string, error) {
	if err := requirePasswordSession(p); err != nil {
		return nil, err
	}
	codes, err := a.tfa.Enable(ctx, p.Account(), code)
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		a.emit(ctx, Event{Kind: EventLoginFailed, Account: p.Account(), Username: p.Username, Reason: "wrong 2FA code at enable"})
		return nil, err
	case err != nil:
		return nil, err
	}
	a.emit(ctx, Event{Kind: EventTFAEnabled, Account: p.Account(), Username: p.Username})
	if _, err := a.EndOtherSessions(ctx, p); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTFA turns 2FA off for p's account and ends its other sessions.
// The caller checks the password and a code first, as *.TFA.Disable does.
func (a *Authenticator) DisableTFA(ctx context.Context, p Principal) error {
	if err := requirePasswordSession(p); err != nil {
		return err
	}
	if err := a.tfa.Disable(ctx, p.Account()); err != nil {
		return storeFailure(err)
	}
	a.emit(ctx, Event{Kind: EventTFADisabled, Account: p.Account(), Username: p.Username})
	_, err := a.EndOtherSessions(ctx, p)
	return err
}
