package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
)

// sessionIDLen is the length of a session ID: 32 random bytes in unpadded
// base64url.
const sessionIDLen = 43

// SessionOptions describe a login that starts a session.
type SessionOptions struct {
	// TFA records that the login passed a second factor.
	TFA bool
	// Method is how the login was made: "password", "apikey",
	// "adminapikey", or a host's own word. The principal reports it as
	// Login; managing keys and 2FA needs a "password" session.
	Method string
	// APIKeyHash ties a session made by logging in with an API key to that
	// key (its SHA-256): the session ends when the key is revoked or
	// expires. Zero for other logins.
	APIKeyHash store.Hash
	// SwitchedBy is, for a session an administrator makes to act as a
	// user (User.Switch), the administrator's principal: it must ride on
	// a session, and the new session ends with that one (logout, expiry,
	// a credential change of the administrator's). SwitchPrivilege is
	// what they chose.
	SwitchedBy      Principal
	SwitchPrivilege string
}

// errSwitchNeedsSession refuses a switched session for an administrator
// who has no session for it to end with.
var errSwitchNeedsSession = because(ErrForbidden, "switching needs an administrator's session")

// StartSession makes a new session for acct and returns its ID, which the
// client sends as SessionID (or carries in the cookie: see
// [Authenticator.HandOver]). Every login gets a fresh ID, so a
// session ID planted before login is worth nothing after it. The store
// keeps only the ID's SHA-256, and the account's credential generation
// ([store.Account].Generation) as acct has it: acct must have been read
// from the store just before, or the session is refused as made before
// the account's latest credential change.
func (a *Authenticator) StartSession(ctx context.Context, acct store.Account, opts SessionOptions) (Secret, error) {
	if err := a.made(); err != nil {
		return Secret{}, err
	}
	if !acct.Scope.Valid() || acct.ID <= 0 {
		return Secret{}, errors.New("authn: StartSession needs a stored account")
	}
	if acct.Disabled {
		return Secret{}, errAccountDisabled
	}
	now := a.cfg.Now()
	s := store.Session{
		Account:         acct.Ref(),
		TFA:             opts.TFA,
		Method:          opts.Method,
		APIKeyHash:      opts.APIKeyHash,
		SwitchPrivilege: opts.SwitchPrivilege,
		Generation:      acct.Generation,
		CreatedAt:       now,
		LastSeenAt:      now,
		ExpiresAt:       a.sessionExpiry(now, now),
	}
	if sw := opts.SwitchedBy; sw.Authenticated() {
		if !sw.HasSession() {
			return Secret{}, errSwitchNeedsSession
		}
		s.SwitchedBy, s.Parent = sw.Account(), sw.session
	}
	return a.createSession(ctx, s)
}

// createSession stores s under a new random ID (s.Hash is set here) and
// returns the ID.
func (a *Authenticator) createSession(ctx context.Context, s store.Session) (Secret, error) {
	raw, err := a.random(32)
	if err != nil {
		return Secret{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	s.Hash = hashCredential(id)
	start := time.Now()
	if err := a.store.CreateSession(ctx, s); err != nil {
		// The write may have landed though its answer was lost: take it
		// back, so that no session is left that nobody holds the ID of.
		// If the store is down this fails too, and the session, unknown
		// to anyone, expires on its own.
		after, cancel := a.afterward(ctx, start)
		_ = a.store.DeleteSession(after, s.Hash)
		cancel()
		return Secret{}, storeFailure(err)
	}
	return Secret{value: id}, nil
}

// sessionExpiry returns when a session created at created and last seen at
// seen ends: the earlier of the idle deadline and the absolute lifetime.
func (a *Authenticator) sessionExpiry(created, seen time.Time) time.Time {
	idle := seen.Add(a.cfg.Sessions.IdleTimeout)
	if abs := created.Add(a.cfg.Sessions.Lifetime); abs.Before(idle) {
		return abs
	}
	return idle
}

// sessionHash returns the hash the store knows a session ID by: the
// SHA-256 of the ID exactly as issued, so another spelling of the same
// bytes (non-canonical base64, say) is simply unknown. It reports false
// for a string of the wrong length, which cannot be one of ours.
func sessionHash(id string) (store.Hash, bool) {
	if len(id) != sessionIDLen {
		return store.Hash{}, false
	}
	return hashCredential(id), true
}

func (a *Authenticator) resolveSessionID(ctx context.Context, r *Request, p *Principal) error {
	id, err := r.param("SessionID")
	if err != nil {
		return err
	}
	if id == "" {
		return errNoCredential
	}
	h, ok := sessionHash(id)
	if !ok {
		return errUnknownSession
	}
	*p, err = a.principalForSession(ctx, r, h, MethodSession)
	return err
}

// principalForSession resolves a session by its hash: it must be live
// (see [Authenticator.liveSession]), its API key, if it was made with one,
// still valid, and, if it is a switched session, the administrator's
// session that made it live too. A stale last-seen time is written back;
// otherwise the request only reads.
func (a *Authenticator) principalForSession(ctx context.Context, r *Request, h store.Hash, m Method) (Principal, error) {
	now := r.now()
	rec, err := a.liveSession(ctx, h, now, m)
	if err != nil {
		return Principal{}, err
	}
	s, acct := &rec.s, &rec.acct
	if s.APIKeyHash != (store.Hash{}) {
		if err := a.keyStillValid(ctx, r, s.APIKeyHash, now); err != nil {
			return Principal{}, err
		}
	}
	if s.SwitchedBy.ID != 0 {
		if err := a.parentAlive(ctx, s, now, m); err != nil {
			return Principal{}, err
		}
	}
	if err := a.touch(ctx, s, now); err != nil {
		return Principal{}, err
	}
	return Principal{
		Scope:           acct.Scope,
		AccountID:       acct.ID,
		Username:        acct.Username,
		Method:          m,
		AuthenticatedAt: s.CreatedAt,
		TFA:             s.TFA,
		Login:           s.Method,
		SwitchedBy:      s.SwitchedBy,
		SwitchPrivilege: s.SwitchPrivilege,
		session:         h,
	}, nil
}

// errCredentialsChanged refuses a session made before its account's
// latest credential change (a new password, 2FA on or off, a new email
// address).
var errCredentialsChanged = because(ErrInvalidCredential, "session ended by a credential change")

// liveSession reads the session h with its account. The session must
// exist, be neither idle too long nor past its lifetime, belong to an
// enabled account, and have been made under the account's current
// credential generation; one made before a credential change is deleted
// as it is met.
//
// It reads through the cache ([CacheConfig]). A cached session serves
// only while its last-seen time is within the touch interval: later,
// another instance may have moved it, and a touch is due, so the store
// decides. A session read from the store whose generation differs from a
// cached account's is read again with the account from the store before
// anything is decided: the cached account may be the stale one. The
// record returned is shared with the cache: the caller must not change it.
func (a *Authenticator) liveSession(ctx context.Context, h store.Hash, now time.Time, m Method) (*sessionRecord, error) {
	return a.liveSessionFrom(ctx, h, now, m, true)
}

func (a *Authenticator) liveSessionFrom(ctx context.Context, h store.Hash, now time.Time, m Method, useCache bool) (*sessionRecord, error) {
	if useCache {
		if rec := a.cache.session(h, now); rec != nil && now.Sub(rec.s.LastSeenAt) < a.cfg.Sessions.TouchInterval {
			if err := a.sessionExpired(ctx, &rec.s, now, m); err != nil {
				return nil, err
			}
			return rec, nil
		}
	}
	t := a.cache.ticket()
	s, err := a.store.Session(ctx, h)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnknownSession
	case err != nil:
		return nil, storeFailure(err)
	}
	if err := a.sessionExpired(ctx, &s, now, m); err != nil {
		return nil, err
	}
	read, err := a.readAccount(ctx, s.Account, now, useCache)
	if err != nil {
		return nil, err
	}
	acct := read.acct
	if s.Generation != acct.Generation {
		if read.cached {
			return a.liveSessionFrom(ctx, h, now, m, false)
		}
		// Dead since the change; deleting it only tidies, so a failure
		// to delete changes no answer.
		_ = a.store.DeleteSession(ctx, h)
		a.Emit(ctx, event.Event{Kind: event.SessionExpired, Account: s.Account, Method: m.String(), Time: now, Reason: "credentials changed"})
		return nil, errCredentialsChanged
	}
	rec := &sessionRecord{s: s, acct: acct, at: older(now, read.at)} // as old as its account
	a.cache.putSession(t, rec)
	return rec, nil
}

// sessionExpired refuses a session idle too long or past its lifetime at
// now. A cached session's last-seen time is within the touch interval, so
// the idle timeout cannot end it here wrongly.
func (a *Authenticator) sessionExpired(ctx context.Context, s *store.Session, now time.Time, m Method) error {
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= a.cfg.Sessions.IdleTimeout || now.Sub(s.CreatedAt) >= a.cfg.Sessions.Lifetime {
		a.Emit(ctx, event.Event{Kind: event.SessionExpired, Account: s.Account, Method: m.String(), Time: now})
		return errSessionExpired
	}
	return nil
}

// errSwitchEnded refuses a switched session whose administrator's session
// has ended.
var errSwitchEnded = because(ErrInvalidCredential, "the administrator's session that switched has ended")

// parentAlive checks that the administrator's session that made the
// switched session s is live, and keeps it so while the administrator
// works through s: a switched session ends with the session that made it
// (logout, expiry, the administrator's credential change or account
// disabled), never later.
func (a *Authenticator) parentAlive(ctx context.Context, s *store.Session, now time.Time, m Method) error {
	if s.Parent == (store.Hash{}) {
		return errSwitchEnded // made before sessions recorded their parent
	}
	parent, err := a.liveSession(ctx, s.Parent, now, m)
	switch {
	case errors.Is(err, ErrInvalidCredential):
		return errSwitchEnded
	case err != nil:
		return err
	case parent.s.Account != s.SwitchedBy:
		return errSwitchEnded
	}
	return a.touch(ctx, &parent.s, now)
}

// touch writes a session's last-seen time when it has gone stale (older
// than the touch interval), so that most requests only read.
func (a *Authenticator) touch(ctx context.Context, s *store.Session, now time.Time) error {
	if now.Sub(s.LastSeenAt) < a.cfg.Sessions.TouchInterval {
		return nil
	}
	expires := a.sessionExpiry(s.CreatedAt, now)
	switch err := a.store.TouchSession(ctx, s.Hash, now, expires); {
	case errors.Is(err, store.ErrNotFound): // ended since we read it
		return errUnknownSession
	case err != nil:
		return storeFailure(err)
	}
	a.cache.touched(s.Hash, now, expires)
	return nil
}

// errSessionKeyGone refuses a session made with an API key that has since
// been revoked or has expired.
var errSessionKeyGone = because(ErrInvalidCredential, "the session's API key is gone")

// keyStillValid checks that the API key a session was made with still
// works, and from this client: the static admin key as configured now, or
// a stored key, unexpired, and bound to nowhere else.
func (a *Authenticator) keyStillValid(ctx context.Context, r *Request, h store.Hash, now time.Time) error {
	if a.hasAdminKey && subtle.ConstantTimeCompare(h[:], a.adminKeyHash[:]) == 1 {
		return nil
	}
	var k store.APIKey
	var err error
	if rec := a.cache.key(h, now); rec != nil {
		k = rec.k
	} else {
		k, err = a.store.APIKeyByHash(ctx, h)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errSessionKeyGone
	case err != nil:
		return storeFailure(err)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return errSessionKeyGone
	case k.BoundIP != "" && !boundAllows(k.BoundIP, r.ClientIP()):
		return errKeyBound
	}
	return nil
}

// errNoSession is what ending the session of a principal that has none
// returns.
var errNoSession = because(ErrBadRequest, "request did not come with a session")

// EndSession ends the session p rode on (logout), and drops the session
// cookie r came with, if any, in the answer w. A nil r, or a principal
// without a session (an API key), is an error wrapping [ErrBadRequest],
// and ends nothing; a session already ended is not an error.
func (a *Authenticator) EndSession(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.made(); err != nil {
		return err
	}
	if r == nil {
		return errNoRequest
	}
	if !p.HasSession() {
		return errNoSession
	}
	// Made whatever the client does: a logout whose client left mid-way
	// must not leave the session working. The store's deadline bounds it.
	ctx := context.WithoutCancel(r.Context())
	start := time.Now()
	err := a.store.DeleteSession(ctx, p.session)
	after, cancel := a.afterward(ctx, start)
	defer cancel()
	a.invalidate(after, p.Account()) // ended, or perhaps
	if err != nil {
		return storeFailure(err)
	}
	if _, ok := cookieValue(r.Header, a.cfg.Cookie.Name); ok {
		a.clearSessionCookie(w, r)
	}
	a.Emit(ctx, event.Event{Kind: event.Logout, Account: p.Account(), Username: p.Username, Method: p.Method.String()})
	return nil
}

// EndAllSessions ends every session of the account, as when an
// administrator disables it or its owner asks to be signed out everywhere,
// and returns how many it ended.
func (a *Authenticator) EndAllSessions(ctx context.Context, account store.AccountRef) (int, error) {
	if err := a.made(); err != nil {
		return 0, err
	}
	ctx = context.WithoutCancel(ctx) // made whatever the caller does, as EndSession
	start := time.Now()
	n, err := a.store.DeleteAccountSessions(ctx, account, store.Hash{})
	after, cancel := a.afterward(ctx, start)
	defer cancel()
	a.invalidate(after, account)
	if err != nil {
		return n, storeFailure(err)
	}
	a.Emit(ctx, event.Event{Kind: event.SessionsEnded, Account: account, Count: n})
	return n, nil
}

// HandOver gives a new session to its client: it returns an etoken of it
// (a Bearer credential good for a moment: see [ETokenConfig]) and, when
// setCookie, sets the session cookie on w. If either cannot be made, the
// session is ended: nobody must be left holding a session they were never
// told about. The caller sends the session ID, the etoken, or both. A nil
// r is an error wrapping [ErrBadRequest]: there is nobody to hand the
// session to, so it is ended.
func (a *Authenticator) HandOver(w http.ResponseWriter, r *http.Request, id Secret, setCookie bool) (Secret, error) {
	if err := a.made(); err != nil {
		return Secret{}, err
	}
	ctx, err := context.Background(), errNoRequest // no r: nobody to hand it to
	var etoken Secret
	if r != nil {
		ctx = context.WithoutCancel(r.Context())
		etoken, err = a.issueEToken(id)
	}
	if err == nil && setCookie {
		err = a.setSessionCookie(w, r, id)
	}
	if err != nil {
		if h, ok := sessionHash(id.Reveal()); ok {
			_ = a.store.DeleteSession(ctx, h)
		}
		return Secret{}, err
	}
	return etoken, nil
}
