package authn

import (
	"context"
	"errors"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
)

// A credential change (a new password, 2FA turned on or off, a new email
// address) is all or nothing. The store writes the change and raises the
// account's credential generation ([store.Account].Generation) in one
// atomic write, and a session made under an older generation is refused:
// so the change and the end of every other session happen together, or,
// when the write fails, neither does. There is no second write that could
// fail between them and no scan of the account's sessions.
//
// The caller's own session goes on under a new ID (ASVS 3.2.1), so that a
// stolen copy of the old ID dies with the others. The new session is
// written before the change, at the generation the change moves the
// account to: until the change is written it is refused like any session
// of the wrong generation, and nobody holds its ID. If the change fails it
// is deleted. If the change was written but its answer lost, the request
// fails (503) with the change in force and every old session, the
// caller's included, ended: the caller logs in again.
//
// A change that races another change of the same account (both raise the
// generation) leaves the callers' new sessions at a generation the
// account has passed: they are refused, and the callers log in again.

// changeCredentials makes a credential change of acct, which must have
// been read from the store just before: change writes it, raising acct's
// generation by one. If p rode on a session of acct, it returns that
// session's successor; otherwise the zero Secret.
func (a *Authenticator) changeCredentials(ctx context.Context, p Principal, acct store.Account, change func(context.Context) error) (Secret, error) {
	var next Secret
	if p.HasSession() && p.Account() == acct.Ref() {
		old, err := a.store.Session(ctx, p.session)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return Secret{}, errUnknownSession
		case err != nil:
			return Secret{}, storeFailure(err)
		case old.Generation != acct.Generation:
			return Secret{}, errCredentialsChanged // another change came first
		}
		succ := old
		succ.Generation = acct.Generation + 1
		succ.LastSeenAt = a.cfg.Now()
		succ.ExpiresAt = a.sessionExpiry(succ.CreatedAt, succ.LastSeenAt)
		if next, err = a.createSession(ctx, succ); err != nil {
			return Secret{}, err
		}
	}
	if err := change(ctx); err != nil {
		if next.value != "" {
			h, _ := sessionHash(next.value)
			_ = a.store.DeleteSession(context.WithoutCancel(ctx), h)
		}
		return Secret{}, err
	}
	if p.HasSession() {
		// Dead already, by its generation; deleting it only tidies, so a
		// failure here changes no answer.
		_ = a.store.DeleteSession(ctx, p.session)
	}
	return next, nil
}

// startSessionChanging starts a login's session for acct (read just
// before) together with a credential change the login makes (2FA turned
// off by a recovery code): the session is made first, at the generation
// the change moves acct to, then the change; if the change fails the
// session is deleted.
func (a *Authenticator) startSessionChanging(ctx context.Context, acct store.Account, opts SessionOptions, change func(context.Context) error) (Secret, error) {
	acct.Generation++
	id, err := a.StartSession(ctx, acct, opts)
	if err != nil {
		return Secret{}, err
	}
	if err := change(ctx); err != nil {
		h, _ := sessionHash(id.value)
		_ = a.store.DeleteSession(context.WithoutCancel(ctx), h)
		return Secret{}, err
	}
	return id, nil
}

// SetPassword hashes password with argon2id and makes it the password of
// p's account. Every other session of the account ends in the same write;
// p's own session, if it rode on one, goes on under the returned ID (the
// zero Secret if it had none), which the caller hands to the client (see
// [Authenticator.SetSessionCookie] for a browser). It needs the password
// proven recently ([Authenticator.RequireRecentPassword]; a password
// change checks the current one with [Authenticator.Reauthenticate]
// first). The store must implement [store.PasswordSetter].
func (a *Authenticator) SetPassword(ctx context.Context, p Principal, password string) (Secret, error) {
	if a.passwords == nil {
		return Secret{}, errAccountsReadOnly
	}
	if err := a.RequireRecentPassword(p); err != nil {
		return Secret{}, err
	}
	hash, err := a.HashPassword(ctx, password)
	if err != nil {
		return Secret{}, err
	}
	acct, err := a.activeAccount(ctx, p.Account())
	if err != nil {
		return Secret{}, err
	}
	next, err := a.changeCredentials(ctx, p, acct, func(ctx context.Context) error {
		if err := a.passwords.SetPassword(ctx, acct.Ref(), hash); err != nil {
			return storeFailure(err)
		}
		return nil
	})
	if err != nil {
		return Secret{}, err
	}
	a.Emit(ctx, event.Event{Kind: event.PasswordChanged, Account: p.Account(), Username: p.Username})
	return next, nil
}

// errAccountsReadOnly refuses a change to an account whose store keyward
// may not write.
var errAccountsReadOnly = because(ErrForbidden, "accounts cannot be changed through keyward with this store")
