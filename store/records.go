package store

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/scopes"
)

// Hash is the SHA-256 of a secret (a session ID, an API key). Stores index
// sessions and keys by it and never see the secret itself.
type Hash [sha256.Size]byte

// HashOf returns the SHA-256 of secret.
func HashOf(secret []byte) Hash { return sha256.Sum256(secret) }

// AccountRef names an account: its scope and its ID within that scope. Users
// and administrators may live in separate tables, so an ID alone is not
// unique.
type AccountRef struct {
	// Scope is User or Admin.
	Scope scopes.Scope
	// ID is the account's ID within the scope.
	ID int64
}

// MarshalText implements [encoding.TextMarshaler]: "user:7", "admin:1",
// as [Invalidations] channels carry it. An invalid scope or an ID that is
// not positive is an error.
func (r AccountRef) MarshalText() ([]byte, error) {
	scope, err := r.Scope.MarshalText()
	if err != nil {
		return nil, err
	}
	if r.ID <= 0 {
		return nil, errBadRef
	}
	return strconv.AppendInt(append(scope, ':'), r.ID, 10), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler], the inverse of
// MarshalText; anything else is an error, as is a nil r.
func (r *AccountRef) UnmarshalText(b []byte) error {
	if r == nil {
		return errors.New("store: UnmarshalText into a nil *AccountRef")
	}
	name, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return errBadRef
	}
	scope, err := scopes.Parse(name)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return errBadRef
	}
	*r = AccountRef{Scope: scope, ID: n}
	return nil
}

// errBadRef is an account reference that does not parse.
var errBadRef = errors.New("store: not an account reference")

// Account is a user or an administrator. IDs are positive and unique within
// a scope; Username and Email are unique within a scope after
// [NormalizeLogin].
type Account struct {
	// ID identifies the account within its scope; positive.
	ID int64
	// Scope is User or Admin.
	Scope scopes.Scope
	// Username is what the account logs in with (or its Email).
	Username string
	// Email is the account's email address; it may be empty.
	Email string
	// Name is an administrator's display name (Octeth's AdminInfo.Name).
	Name string
	// FirstName and LastName are a user's (Octeth's UserInfo).
	FirstName string
	LastName  string
	// PasswordHash is an argon2id or bcrypt hash string; empty means the
	// account cannot log in with a password.
	PasswordHash string
	// Disabled accounts cannot log in, and their sessions and keys stop
	// working at their next request.
	Disabled bool
	// CreatedAt is when the account was made.
	CreatedAt time.Time
	// Generation is the account's credential generation. It goes up by
	// one in the same atomic write as every change of what the account
	// proves itself with: a new password ([PasswordSetter.SetPassword]),
	// a new email address with or without one
	// ([AccountUpdater.UpdateAccount]), 2FA turned on or off
	// ([TFAStates.PutTFA]). A session records the Generation it was made
	// under (Session.Generation), and a session of another generation is
	// refused: so one write ends every session made before the change,
	// with no scan, and a change that is not written ends none.
	//
	// A store keeps it for every account it keeps the password or 2FA
	// state of, and returns it with the account. Callers never set it:
	// CreateAccount and UpdateAccount ignore the value given.
	Generation int64
}

// Ref returns the account's scope and ID.
func (a Account) Ref() AccountRef { return AccountRef{Scope: a.Scope, ID: a.ID} }

// NormalizeLogin is how usernames and email addresses are compared and
// keyed: surrounding space trimmed, case folded. Stores look accounts up by
// it and throttling counts by it, so "Admin" and "admin " are one account
// and one counter.
func NormalizeLogin(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// APIKey is the stored form of an API key: its hash and what it grants.
type APIKey struct {
	// ID is assigned by the store on create: positive, unique per store.
	ID int64
	// Hash is the SHA-256 of the whole key.
	Hash Hash
	// Prefix is the key's first characters, safe to show ("kw_3kT9").
	Prefix string
	// Account is the account the key acts as.
	Account AccountRef
	// Label is the owner's name for the key.
	Label string
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// Note is free text about the key, the owner's to write: what it is
	// for, who holds it.
	Note string
	// BoundIP, if set, is the only client address the key works from: an
	// IP address ("192.0.2.7") or a CIDR prefix ("2001:db8::/32"), as the
	// host gave it. The store keeps it verbatim; the authenticator parses
	// and enforces it. Empty means any address.
	BoundIP string
	// LastUsedAt is the latest use recorded with
	// [APIKeyFinder.RecordAPIKeyUse]; zero if none. How closely it follows
	// the real last use depends on how often the authenticator records.
	LastUsedAt time.Time
	// LastUsedIP is the client address of the use recorded at LastUsedAt;
	// empty if none (or if the recorder knew no address).
	LastUsedIP string
	// RequestCount is how many requests have been recorded with
	// [APIKeyFinder.RecordAPIKeyUse].
	RequestCount int64
}

// Session is the server side of a login. The client holds its ID; the store
// holds its Hash.
type Session struct {
	// Hash is the SHA-256 of the session ID.
	Hash Hash
	// Account is whose session it is.
	Account AccountRef
	// TFA reports whether the login passed a second factor.
	TFA bool
	// Method is how the login was made ("password", "apikey", "adminapikey"),
	// for the principal and the audit log.
	Method string
	// APIKeyHash is, for a session made by logging in with an API key, the
	// key's Hash: the session lasts no longer than the key. Zero
	// otherwise.
	APIKeyHash Hash
	// SwitchedBy is, for a session an administrator made to act as a user
	// (Octeth's User.Switch), that administrator. Zero otherwise.
	SwitchedBy AccountRef
	// SwitchPrivilege is, for a switched session, the privilege the
	// administrator chose: "Default" or "Full". Empty otherwise. The store
	// keeps it verbatim.
	SwitchPrivilege string
	// Parent is, for a switched session, the Hash of the administrator's
	// session that made it: the switched session ends with that one
	// (logout, expiry, a credential change). Zero otherwise.
	Parent Hash
	// Generation is the account's [Account.Generation] when the session
	// was made. Once the account's has moved on, the session is refused.
	Generation int64
	// CreatedAt is the login's time; LastSeenAt the last request's, to
	// within the authenticator's touch interval.
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is when the session ends unless touched: the earlier of the
	// idle deadline and the absolute lifetime.
	ExpiresAt time.Time
}

// TFA is an account's second factor (TOTP): its secret, whether it is on,
// the last time step accepted, and its recovery codes. Package totp writes
// it; a store keeps it as it is given, but for LastStep and Version (see
// [TFAStates.PutTFA]).
type TFA struct {
	// Account is whose second factor it is.
	Account AccountRef
	// Enabled reports whether logins need the second factor.
	Enabled bool
	// Secret is the TOTP secret in use, as package totp sealed it
	// (encrypted when the host gave a key).
	Secret []byte
	// PendingSecret is a secret set up but not yet confirmed by a code.
	PendingSecret []byte
	// LastStep is the last TOTP time step accepted: no code of this step
	// or an earlier one is accepted again (RFC 6238 section 5.2).
	LastStep int64
	// RecoverySalt salts the recovery code hashes.
	RecoverySalt []byte
	// RecoveryCodes are the hashes of the unused recovery codes.
	RecoveryCodes []Hash
	// Version is bumped by every [TFAStates.PutTFA], and by nothing else:
	// callers pass back the Version they read, and a put from a read that
	// another put has overtaken is refused ([ErrConflict]), so that no
	// read-modify-write loses another's update. An account without state
	// is at Version 0.
	Version int64
}

// Challenge is a captcha challenge: the digits its image shows, and when it
// stops being answerable.
type Challenge struct {
	// ID names the challenge in its image's URL and in the login.
	ID string
	// Digits are the answer, each 0 to 9.
	Digits []byte
	// ExpiresAt is when the challenge is gone, answered or not.
	ExpiresAt time.Time
}

// Token is a one-time secret sent to an account's owner out of band: a
// password reset link. The store keeps its hash, never the token.
type Token struct {
	// Hash is the SHA-256 of the token.
	Hash Hash
	// Account is the account the token acts on.
	Account AccountRef
	// Purpose says what the token is for ("password-reset"). The store
	// keeps it verbatim and returns it with the token; the caller checks
	// it, so that a token of one purpose never redeems another.
	Purpose string
	// ExpiresAt is when the token stops working, taken or not.
	ExpiresAt time.Time
}
