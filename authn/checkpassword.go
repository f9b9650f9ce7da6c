package authn

import (
	"context"
	"errors"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Reasons a password check fails, for the log only: clients see one answer
// for all of them.
var (
	errUnknownLogin  = because(ErrInvalidCredential, "unknown username")
	errWrongPassword = because(ErrInvalidCredential, "wrong password")
	errNoPassword    = because(ErrInvalidCredential, "account has no password")
	errDisabledLogin = because(ErrInvalidCredential, "account disabled")
	errBadHash       = because(ErrInvalidCredential, "stored password hash unreadable")
)

// hashPassword returns an argon2id hash of password with the configured
// parameters, for a host that creates accounts or changes passwords. It
// waits for a hashing slot under ctx (see [PasswordConfig].MaxConcurrentHashes).
func (a *Authenticator) hashPassword(ctx context.Context, password string) (string, error) {
	if len(password) > maxPasswordBytes {
		return "", because(ErrBadRequest, "password too long")
	}
	return a.hasher.hash(ctx, password)
}

// checkPassword finds the account of the scope whose username or email
// address is login, and checks password against its hash.
//
// An unknown login, a wrong password, a disabled account and an account
// without a password all return an error wrapping [ErrInvalidCredential],
// and all cost one password verification (an unknown login is checked
// against a dummy hash), so neither the answer nor its timing tells which
// accounts exist. A store failure is [ErrStoreUnavailable].
//
// On success, a hash made with other parameters (or with bcrypt) is
// replaced by one with the current parameters, if the store implements
// [store.PasswordSetter] (and the password has not changed meanwhile); a
// failure to replace it is logged and does not
// fail the login, since the password was right and the old hash still
// works.
func (a *Authenticator) checkPassword(ctx context.Context, scope scopes.Scope, login, password string) (store.Account, error) {
	acct, found, err := a.lookupLogin(ctx, scope, login)
	if err != nil {
		return store.Account{}, err
	}
	return a.verifyPassword(ctx, acct, found, password)
}

// lookupLogin finds the account of the scope that login names; found is
// false, and the error nil, when there is none.
func (a *Authenticator) lookupLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, bool, error) {
	acct, err := a.store.AccountByLogin(ctx, scope, login)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Account{}, false, nil
	case err != nil:
		return store.Account{}, false, storeFailure(err)
	}
	return acct, true, nil
}

// verifyPassword checks password against acct's hash, or against the
// dummy hash when no account was found, for the same work either way.
func (a *Authenticator) verifyPassword(ctx context.Context, acct store.Account, found bool, password string) (store.Account, error) {
	if !found {
		// The same work and the same failures as for a known account.
		if _, _, err := a.hasher.verify(ctx, a.hasher.dummy, password); err != nil {
			return store.Account{}, err
		}
		return store.Account{}, errUnknownLogin
	}
	hash := acct.PasswordHash
	if hash == "" {
		hash = a.hasher.dummy
	}
	ok, rehash, err := a.hasher.verify(ctx, hash, password)
	switch {
	case errors.Is(err, errHashFormat):
		if _, _, err := a.hasher.verify(ctx, a.hasher.dummy, password); err != nil {
			return store.Account{}, err
		}
		return store.Account{}, errBadHash
	case err != nil: // the context ended while waiting for a slot
		return store.Account{}, err
	case acct.PasswordHash == "":
		return store.Account{}, errNoPassword
	case !ok:
		return store.Account{}, errWrongPassword
	case acct.Disabled:
		return store.Account{}, errDisabledLogin
	}
	if rehash {
		a.upgradeHash(ctx, acct, password)
	}
	return acct, nil
}

// upgradeHash replaces acct's password hash with one made with the current
// parameters, if the store can (it has [store.PasswordSetter] and does not
// answer [store.ErrNotSupported]), and if the hash is still the one checked:
// a password changed meanwhile is not overwritten with the old one.
func (a *Authenticator) upgradeHash(ctx context.Context, acct store.Account, password string) {
	if a.passwords == nil {
		return
	}
	hash, err := a.hasher.hash(ctx, password)
	if err == nil {
		err = a.passwords.RehashPassword(ctx, acct.Ref(), acct.PasswordHash, hash)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotSupported) {
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Account: acct.Ref(), Reason: "password hash upgrade failed"})
	}
}
