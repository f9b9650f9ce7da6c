package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// apiKeyPrefix starts every API key keyward makes, so that people and
// secret scanners can tell one when they see it.
const apiKeyPrefix = "kw_"

const (
	// maxCredentialBytes bounds a credential before it is hashed or
	// decoded. Ours are under 100 bytes; anything much longer is garbage.
	maxCredentialBytes = 512
	// keyPrefixShown is how much of a key its listing shows: the marker
	// and six characters (36 bits of its 256).
	keyPrefixShown = len(apiKeyPrefix) + 6
	// maxLabelBytes bounds an API key's label.
	maxLabelBytes = 100
)

// Canonical header keys, so the lookup in http.Header does not allocate.
const (
	headerAPIKey      = "X-Api-Key"
	headerAdminAPIKey = "X-Admin-Api-Key"
)

func (a *Authenticator) resolveAPIKey(ctx context.Context, r *Request, p *Principal) error {
	key, err := credential(r, "APIKey", headerAPIKey)
	if err != nil {
		return err
	}
	*p, err = a.principalForKey(ctx, r, key, false)
	return err
}

func (a *Authenticator) resolveAdminAPIKey(ctx context.Context, r *Request, p *Principal) error {
	key, err := credential(r, "AdminAPIKey", headerAdminAPIKey)
	if err != nil {
		return err
	}
	*p, err = a.principalForKey(ctx, r, key, true)
	return err
}

// credential returns the credential given as the parameter or the header:
// errNoCredential if neither, a malformed request if they differ or the
// header is repeated.
func credential(r *Request, param, header string) (string, error) {
	var h string
	switch hs := r.HTTP.Header[header]; len(hs) {
	case 0:
	case 1:
		h = hs[0]
	default:
		return "", because(ErrBadRequest, "header "+header+" given more than once")
	}
	p, err := r.param(param)
	if err != nil {
		return "", err
	}
	switch {
	case h == "" && p == "":
		return "", errNoCredential
	case h == "":
		return p, nil
	case p != "" && subtle.ConstantTimeCompare([]byte(h), []byte(p)) != 1:
		return "", errConflictingCreds
	}
	return h, nil
}

// hashCredential returns the SHA-256 of s. Keys, session IDs and cookies
// of ours fit a stack buffer, so hashing them does not allocate.
func hashCredential(s string) store.Hash {
	switch {
	case len(s) <= 64:
		var buf [64]byte
		return sha256.Sum256(append(buf[:0], s...))
	case len(s) <= 256:
		var buf [256]byte
		return sha256.Sum256(append(buf[:0], s...))
	}
	return sha256.Sum256([]byte(s))
}

// principalForKey resolves an API key, stored or static. adminOnly refuses
// user-scope keys.
func (a *Authenticator) principalForKey(ctx context.Context, r *Request, key string, adminOnly bool) (Principal, error) {
	if len(key) > maxCredentialBytes {
		return Principal{}, errUnknownKey
	}
	h := hashCredential(key)
	now := r.now()
	// The static key, if configured, is compared first, in constant time.
	if a.hasAdminKey && subtle.ConstantTimeCompare(h[:], a.adminKeyHash[:]) == 1 {
		read, err := a.readAccount(ctx, store.AccountRef{Scope: scopes.Admin, ID: a.cfg.AdminAPIKeyAccountID}, now, true)
		if err != nil {
			return Principal{}, err
		}
		acct := read.acct
		return Principal{Scope: scopes.Admin, AccountID: acct.ID, Username: acct.Username, Method: MethodAdminKey, AuthenticatedAt: now, staticKey: true}, nil
	}
	rec := a.cache.key(h, now)
	var t cacheTicket
	var k *store.APIKey
	if rec != nil {
		k = &rec.k
	} else {
		t = a.cache.ticket()
		stored, err := a.store.APIKeyByHash(ctx, h)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return Principal{}, errUnknownKey
		case err != nil:
			return Principal{}, storeFailure(err)
		}
		k = &stored
	}
	switch {
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return Principal{}, errUnknownKey
	case adminOnly && k.Account.Scope != scopes.Admin:
		return Principal{}, because(ErrInvalidCredential, "user key given as admin key")
	case k.BoundIP != "" && !boundAllows(k.BoundIP, r.ClientIP()):
		return Principal{}, errKeyBound
	}
	var acct *store.Account
	if rec != nil {
		acct = &rec.acct
	} else {
		read, err := a.readAccount(ctx, k.Account, now, true)
		if err != nil {
			return Principal{}, err
		}
		a.cache.putKey(t, newKeyRecord(*k, read, now))
		acct = &read.acct
	}
	if !a.cfg.DisableAPIKeyUsage {
		var known netip.Addr
		if r.HTTP == nil {
			known = r.ClientIP() // a key login: the address is known
		}
		a.recordUse(k.ID, now, r.HTTP, known)
	}
	m := MethodAPIKey
	if k.Account.Scope == scopes.Admin {
		m = MethodAdminKey
	}
	return Principal{Scope: acct.Scope, AccountID: acct.ID, Username: acct.Username, Method: m, AuthenticatedAt: now, APIKeyID: k.ID}, nil
}

// errKeyBound refuses a key bound to another client address.
var errKeyBound = because(ErrInvalidCredential, "API key bound to another address")

// boundAllows reports whether a key bound to bound (an address or a
// prefix) may be used from ip. A binding that does not parse allows
// nothing: it fails closed.
func boundAllows(bound string, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	if p, err := netip.ParsePrefix(bound); err == nil {
		return p.Contains(ip)
	}
	if b, err := netip.ParseAddr(bound); err == nil {
		return b.Unmap() == ip
	}
	return false
}

// canonicalBound returns a binding in its canonical form, or false.
func canonicalBound(s string) (string, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap().String(), true
	}
	return "", false
}

// ipString is an address for the usage record: "" when unknown.
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// Account returns the account if it can act: it exists and is not
// disabled. Otherwise it is an error wrapping [ErrInvalidCredential]; a
// store that fails, [ErrStoreUnavailable]. Read it just before a change
// ([Authenticator.UpdateAccount]): it carries the account's credential
// generation.
func (a *Authenticator) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	if err := a.made(); err != nil {
		return store.Account{}, err
	}
	acct, err := a.store.Account(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return acct, errAccountDisabled
	case err != nil:
		return acct, storeFailure(err)
	case acct.Disabled:
		return acct, errAccountDisabled
	}
	return acct, nil
}

// APIKeyOptions describe a new API key.
type APIKeyOptions struct {
	// Label is the owner's name for the key, up to 100 bytes of UTF-8.
	Label string
	// Note is free text about the key, up to 1,000 bytes of UTF-8.
	Note string
	// BoundIP, if set, is the only client address the key works from: an
	// address ("203.0.113.7") or a prefix ("203.0.113.0/24"). From any
	// other it is refused (401).
	BoundIP string
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
}

// maxNoteBytes bounds an API key's note.
const maxNoteBytes = 1000

// CreateAPIKey makes a new API key for the owner, an existing and enabled
// account, and returns it with its stored record. The key itself is in the
// Secret only: keyward keeps its SHA-256 and cannot show it again.
func (a *Authenticator) CreateAPIKey(ctx context.Context, owner store.AccountRef, opts APIKeyOptions) (Secret, store.APIKey, error) {
	if err := a.made(); err != nil {
		return Secret{}, store.APIKey{}, err
	}
	if len(opts.Label) > maxLabelBytes || !utf8.ValidString(opts.Label) {
		return Secret{}, store.APIKey{}, because(ErrBadRequest, "label too long or not UTF-8")
	}
	if len(opts.Note) > maxNoteBytes || !utf8.ValidString(opts.Note) || strings.IndexByte(opts.Note+opts.Label, 0) >= 0 {
		return Secret{}, store.APIKey{}, because(ErrBadRequest, "note too long or not UTF-8")
	}
	if opts.BoundIP != "" {
		bound, ok := canonicalBound(opts.BoundIP)
		if !ok {
			return Secret{}, store.APIKey{}, because(ErrBadRequest, "BoundIP is not an address or a prefix")
		}
		opts.BoundIP = bound
	}
	now := a.cfg.Now()
	if !opts.ExpiresAt.IsZero() && !opts.ExpiresAt.After(now) {
		return Secret{}, store.APIKey{}, because(ErrBadRequest, "expiry in the past")
	}
	if _, err := a.Account(ctx, owner); err != nil {
		return Secret{}, store.APIKey{}, err
	}
	raw, err := a.random(32)
	if err != nil {
		return Secret{}, store.APIKey{}, err
	}
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	rec, err := a.store.CreateAPIKey(ctx, store.APIKey{
		Hash:      hashCredential(key),
		Prefix:    key[:keyPrefixShown],
		Account:   owner,
		Label:     opts.Label,
		Note:      opts.Note,
		BoundIP:   opts.BoundIP,
		ExpiresAt: opts.ExpiresAt,
		CreatedAt: now,
	})
	if err != nil {
		return Secret{}, store.APIKey{}, storeFailure(err)
	}
	a.Emit(ctx, event.Event{Kind: event.KeyCreated, Account: owner, Time: now})
	return Secret{value: key}, rec, nil
}

// RevokeAPIKey deletes the owner's key with the ID. A key that does not
// exist or is not the owner's is [store.ErrNotFound].
func (a *Authenticator) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	if err := a.made(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx) // made whatever the caller does, as EndSession
	start := time.Now()
	err := a.store.RevokeAPIKey(ctx, owner, id)
	if !errors.Is(err, store.ErrNotFound) {
		after, cancel := a.afterward(ctx, start)
		a.invalidate(after, owner) // revoked, or perhaps
		cancel()
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return err
	case err != nil:
		return storeFailure(err)
	}
	a.Emit(ctx, event.Event{Kind: event.KeyRevoked, Account: owner})
	return nil
}

// APIKeys lists the owner's keys: IDs, prefixes, labels and times, never
// the keys. Usage (requests, last use) is written in the background; the
// list adds what this instance has counted and not yet written, so that
// it shows what is known here, without a write on the request's path.
// While a background write is under way the list shows the store's
// figures alone, which may lag by what that write carries.
func (a *Authenticator) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	if err := a.made(); err != nil {
		return nil, err
	}
	u := &a.usage
	if !u.flushMu.TryLock() {
		keys, err := a.store.APIKeys(ctx, owner)
		if err != nil {
			return nil, storeFailure(err)
		}
		return keys, nil
	}
	defer u.flushMu.Unlock() // no flush moves counts while both are read
	keys, err := a.store.APIKeys(ctx, owner)
	if err != nil {
		return nil, storeFailure(err)
	}
	for i := range keys {
		a.addUnwritten(&keys[i])
	}
	return keys, nil
}

// random returns n bytes from the configured source.
func (a *Authenticator) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.cfg.Rand, b); err != nil {
		return nil, fmt.Errorf("authn: reading random bytes: %w", err)
	}
	return b, nil
}
