package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// candidates are the accounts a password login's name may be: the
// account of the login's scope, or, for a login of either scope (WMD's
// c=auth), the user's and the administrator's. Either may be missing.
type candidates struct {
	scopes [2]scopes.Scope
	accts  [2]store.Account
	found  [2]bool
	n      int // how many scopes the name was looked up in: 1 or 2
}

// lookupCandidates finds the accounts req's name names. Both scopes are
// looked up for a login of either scope, whatever the name, so that the
// time taken does not tell users, administrators and unknown names apart.
func (a *Authenticator) lookupCandidates(ctx context.Context, req LoginRequest) (candidates, error) {
	c := candidates{scopes: [2]scopes.Scope{req.Scope}, n: 1}
	if req.EitherScope {
		c.scopes, c.n = [2]scopes.Scope{scopes.User, scopes.Admin}, 2
	}
	for i := range c.n {
		acct, found, err := a.lookupLogin(ctx, c.scopes[i], req.Username)
		if err != nil {
			return c, err
		}
		c.accts[i], c.found[i] = acct, found
	}
	return c, nil
}

// throttled returns the account the login's attempts count against: the
// one account found, or, when the name is both a user's and an
// administrator's, the administrator, whose counts protect the account
// worth more. The first scope's account (found or not) otherwise.
func (c candidates) throttled() (store.Account, scopes.Scope, bool) {
	if c.n == 2 && c.found[1] {
		return c.accts[1], c.scopes[1], true
	}
	if c.n == 2 && !c.found[0] {
		return c.accts[1], c.scopes[0], false
	}
	return c.accts[0], c.scopes[0], c.found[0]
}

// verify checks password against every candidate, the missing ones
// against the dummy hash, so that the work is the same whichever matches:
// a login of either scope always costs two password verifications. The
// first candidate whose password is right wins (the user, for a name that
// is both a user's and an administrator's and whose passwords are both
// right). No right password is an error wrapping [ErrInvalidCredential],
// with the reason of the first candidate that exists (or the first's, if
// none does).
func (a *Authenticator) verify(ctx context.Context, c candidates, password string) (store.Account, error) {
	var (
		won         store.Account
		matched     bool
		reason      error
		reasonFound bool // reason is a found candidate's
	)
	for i := range c.n {
		acct, err := a.verifyPassword(ctx, c.accts[i], c.found[i], password)
		switch {
		case err == nil && !matched:
			won, matched = acct, true
		case err == nil:
		case !errors.Is(err, ErrInvalidCredential):
			return store.Account{}, err // the context ended waiting for a slot
		case reason == nil, c.found[i] && !reasonFound:
			// The reason of an account that exists, if one does: a
			// wrong password for an administrator's name is not an
			// unknown username because no user has it.
			reason, reasonFound = err, c.found[i]
		}
	}
	if !matched {
		return store.Account{}, reason
	}
	return won, nil
}

// logName is what events say of the name a login gave: the username of
// the account it names, or, for a name that names none, a short keyed
// hash of it ("?3f9a..."), enough to tie attempts with one name together
// without writing what was typed: often a password typed into the wrong
// box.
func (a *Authenticator) logName(scope scopes.Scope, acct store.Account, found bool, login string) string {
	if found {
		return acct.Username
	}
	mac := hmac.New(sha256.New, a.logKey)
	mac.Write([]byte(scope.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(store.NormalizeLogin(login)))
	return "?" + hex.EncodeToString(mac.Sum(nil)[:8])
}
