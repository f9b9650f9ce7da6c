package authn

import (
	"context"
	"errors"
	"time"

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
	start := time.Now()
	err := change(ctx)
	after, cancel := a.afterward(ctx, start)
	defer cancel()
	a.invalidate(after, acct.Ref()) // written, or perhaps: every cache forgets
	if err != nil {
		if next.value != "" {
			// Nobody holds its ID (and, unless the change landed with
			// its answer lost, its generation is one the account has not
			// reached): deleting it only tidies.
			h, _ := sessionHash(next.value)
			_ = a.store.DeleteSession(after, h)
		}
		return Secret{}, err
	}
	if p.HasSession() {
		// Dead already, by its generation; deleting it only tidies, so a
		// failure here changes no answer.
		_ = a.store.DeleteSession(after, p.session)
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
	start := time.Now()
	err = change(ctx)
	after, cancel := a.afterward(ctx, start)
	defer cancel()
	a.invalidate(after, acct.Ref())
	if err != nil {
		h, _ := sessionHash(id.value)
		_ = a.store.DeleteSession(after, h)
		return Secret{}, err
	}
	return id, nil
}

// UpdateAccount stores acct's Username, Email, Name, FirstName and
// LastName and, if password is not empty, a new password (hashed with
// argon2id), all in one write: acct is p's own account, read with
// [Authenticator.Account] and changed. A new password, email address or
// username needs the password proven recently ([Authenticator.Reauthenticate]),
// or the static admin key ([Config].AdminAPIKey) beside p's session.
// A new password or email address is a credential change: every other
// session of the account ends in the same write, and p's own, if it rode
// on one, goes on under the returned ID (the zero Secret otherwise), which
// the caller hands to the client ([Authenticator.HandOver]).
//
// A username or email address another account of the scope has is
// [store.ErrConflict], and nothing changes. A store that cannot change
// accounts (a host's own read-only table, or one that answers
// [store.ErrNotSupported]) is an error wrapping [ErrForbidden].
func (a *Authenticator) UpdateAccount(ctx context.Context, p Principal, acct store.Account, password string) (Secret, error) {
	if err := a.made(); err != nil {
		return Secret{}, err
	}
	if a.updater == nil {
		return Secret{}, errAccountsReadOnly
	}
	if p.Account() != acct.Ref() {
		return Secret{}, because(ErrForbidden, "an account is changed by its owner")
	}
	before, err := a.Account(ctx, acct.Ref())
	if err != nil {
		return Secret{}, err
	}
	credential := password != "" || store.NormalizeLogin(acct.Email) != store.NormalizeLogin(before.Email)
	if credential || store.NormalizeLogin(acct.Username) != store.NormalizeLogin(before.Username) {
		if err := a.requireRecentPassword(p); err != nil && !staticKeyBesideSession(p) {
			return Secret{}, err
		}
	}
	acct.PasswordHash = "" // no new password: the store keeps the old one
	if password != "" {
		if acct.PasswordHash, err = a.hashPassword(ctx, password); err != nil {
			return Secret{}, err
		}
	}
	write := func(ctx context.Context) error {
		return accountWriteError(a.updater.UpdateAccount(ctx, acct))
	}
	var next Secret
	if credential {
		next, err = a.changeCredentials(ctx, p, before, write)
	} else {
		start := time.Now()
		err = write(ctx) // no credential changes: no session does
		after, cancel := a.afterward(ctx, start)
		a.invalidate(after, acct.Ref()) // but cached names do
		cancel()
	}
	if err != nil {
		return Secret{}, err
	}
	if password != "" {
		a.Emit(ctx, event.Event{Kind: event.PasswordChanged, Account: acct.Ref(), Username: acct.Username})
	}
	a.Emit(ctx, event.Event{Kind: event.AccountUpdated, Account: acct.Ref(), Username: acct.Username})
	return next, nil
}

// CreateAccount adds acct (its ID is assigned) with password as its
// password, hashed with argon2id, in one write, and returns the stored
// account. The store must implement [store.AccountCreator] (a host's own
// read-only table does not, and a composed one answers
// [store.ErrNotSupported]: an error wrapping [ErrForbidden]). A username
// or email address another account of the scope has is
// [store.ErrConflict].
func (a *Authenticator) CreateAccount(ctx context.Context, acct store.Account, password string) (store.Account, error) {
	if err := a.made(); err != nil {
		return store.Account{}, err
	}
	if a.creator == nil {
		return store.Account{}, errAccountsReadOnly
	}
	hash, err := a.hashPassword(ctx, password)
	if err != nil {
		return store.Account{}, err
	}
	acct.PasswordHash = hash
	created, err := a.creator.CreateAccount(ctx, acct)
	if err != nil {
		return store.Account{}, accountWriteError(err)
	}
	return created, nil
}

// errAccountsReadOnly refuses a change to an account whose store keyward
// may not write.
var errAccountsReadOnly = because(ErrForbidden, "accounts cannot be changed through keyward with this store")

// accountWriteError is what a write of an account answers: a conflict as
// it is, [store.ErrNotSupported] (a composed store whose accounts are a
// host's read-only table: see [store.WithAccounts]) as
// errAccountsReadOnly, anything else as a store failure.
func accountWriteError(err error) error {
	switch {
	case err == nil, errors.Is(err, store.ErrConflict):
		return err
	case errors.Is(err, store.ErrNotSupported):
		return errAccountsReadOnly
	}
	return storeFailure(err)
}
