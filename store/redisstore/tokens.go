package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// tokenKey returns the key of the one-time token whose hash is h: a
// string, its expiry (20 digits, see encodeTime), its account "scope:id",
// '|', then its purpose.
func (s *Store) tokenKey(h store.Hash) string {
	b := make([]byte, 0, len(s.prefix)+2+2*len(h))
	b = append(b, s.prefix...)
	b = append(b, "o:"...)
	b = hex.AppendEncode(b, h[:])
	return string(b)
}

// PutToken stores t. A Hash already stored, in a token that has not
// expired, is [store.ErrConflict]; an expired token's Hash is free again.
// One script checks and sets. A token with no valid account is an error.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if !t.Account.Scope.Valid() || t.Account.ID <= 0 {
		return errors.New("redisstore: token has no valid account")
	}
	now := s.now()
	v := encodeTime(t.ExpiresAt) + ownerString(t.Account) + "|" + t.Purpose
	n, err := s.s.putUnlessLive.Run(ctx, s.c, []string{s.tokenKey(t.Hash)},
		encodeTime(now), v, s.pttl(now, t.ExpiresAt)).Int64()
	if err != nil {
		return fail("put token", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// TakeToken removes the token whose Hash is h and returns it, or
// [store.ErrNotFound] if it is absent or expired (an expired one is removed
// too). It is one GETDEL (Redis 6.2 or later): of concurrent takes, across
// every process that shares the Redis, exactly one gets the value; whether
// it has expired is then decided with [Config.Now].
func (s *Store) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	v, err := s.c.GetDel(ctx, s.tokenKey(h)).Result()
	if err != nil {
		return store.Token{}, fail("take token", err)
	}
	bad := errors.New("redisstore: bad stored token")
	if len(v) < timeWidth {
		return store.Token{}, bad
	}
	expires, err := decodeInt(v[:timeWidth])
	if err != nil {
		return store.Token{}, err
	}
	if expires <= timeInt(s.now()) {
		return store.Token{}, store.ErrNotFound
	}
	owner, purpose, ok := strings.Cut(v[timeWidth:], "|")
	scope, id, ok2 := strings.Cut(owner, ":")
	sc, err1 := strconv.ParseUint(scope, 10, 8)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		return store.Token{}, bad
	}
	return store.Token{
		Hash:      h,
		Account:   store.AccountRef{Scope: scopes.Scope(sc), ID: n},
		Purpose:   purpose,
		ExpiresAt: intTime(expires),
	}, nil
}
