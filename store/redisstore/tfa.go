package redisstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/keyward/keyward/store"
)

// tfaKey returns the key of the account's 2FA state: a hash whose fields
// are e (enabled, "0" or "1"), s (secret), p (pending secret), l (last
// step, 20 digits), a (recovery salt), r (the recovery code hashes, 32
// bytes each, in order) and v (the version, 20 digits; absent in a state
// written before versions, which is at version 0).
//
// Second factors are not ephemeral: keep them here only if the Redis
// persists its data (AOF or RDB) as you would a database. The composed
// store in the package documentation keeps them in SQL.
func (s *Store) tfaKey(ref store.AccountRef) string {
	return s.prefix + "t:" + strconv.Itoa(int(ref.Scope)) + ":" + strconv.FormatInt(ref.ID, 10)
}

// TFA returns the account's 2FA state, or [store.ErrNotFound]. It is one
// HGETALL.
func (s *Store) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	m, err := s.c.HGetAll(ctx, s.tfaKey(ref)).Result()
	if err != nil {
		return store.TFA{}, fail("2FA state", err)
	}
	if len(m) == 0 {
		return store.TFA{}, store.ErrNotFound
	}
	step, err := decodeInt(m["l"])
	version, verr := int64(0), error(nil)
	if v, ok := m["v"]; ok {
		version, verr = decodeInt(v)
	}
	codes := m["r"]
	if err != nil || verr != nil || len(codes)%len(store.Hash{}) != 0 {
		return store.TFA{}, errors.New("redisstore: bad stored 2FA state")
	}
	t := store.TFA{
		Account:       ref,
		Enabled:       m["e"] == "1",
		Secret:        bytesOf(m["s"]),
		PendingSecret: bytesOf(m["p"]),
		LastStep:      step,
		RecoverySalt:  bytesOf(m["a"]),
		Version:       version,
	}
	for i := 0; i < len(codes); i += len(store.Hash{}) {
		var h store.Hash
		copy(h[:], codes[i:])
		t.RecoveryCodes = append(t.RecoveryCodes, h)
	}
	return t, nil
}

// bytesOf returns s as a new slice, nil if empty.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// PutTFA stores t as the account's 2FA state, replacing what was there,
// if the stored version is t.Version (0 for an account without state),
// and returns [store.ErrConflict] otherwise; the version becomes one
// more, and LastStep the greater of the stored and the given. One script
// compares and writes, so of concurrent puts from one read exactly one
// succeeds.
func (s *Store) PutTFA(ctx context.Context, t store.TFA) error {
	enabled := "0"
	if t.Enabled {
		enabled = "1"
	}
	codes := make([]byte, 0, len(t.RecoveryCodes)*len(store.Hash{}))
	for _, h := range t.RecoveryCodes {
		codes = append(codes, h[:]...)
	}
	expected := "" // version 0: a state without v
	if t.Version != 0 {
		expected = encodeInt(t.Version)
	}
	n, err := s.s.putTFA.Run(ctx, s.c, []string{s.tfaKey(t.Account)}, enabled, string(t.Secret),
		string(t.PendingSecret), encodeInt(t.LastStep), string(t.RecoverySalt), string(codes),
		expected, encodeInt(t.Version+1)).Int64()
	switch {
	case err != nil:
		return fail("put 2FA state", err)
	case n != 1:
		return store.ErrConflict
	}
	return nil
}

// AdvanceTFAStep sets the account's LastStep to step if step is greater
// than it, and reports whether it did, in one script: of concurrent calls
// with one step, one succeeds. An account without 2FA state is
// [store.ErrNotFound].
func (s *Store) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	n, err := s.s.advanceStep.Run(ctx, s.c, []string{s.tfaKey(ref)}, encodeInt(step)).Int64()
	return used("advance 2FA step", n, err)
}

// UseRecoveryCode removes h from the account's recovery codes if it is
// there, and reports whether it was, in one script: of concurrent uses of
// one code, one succeeds. An account without 2FA state is
// [store.ErrNotFound].
func (s *Store) UseRecoveryCode(ctx context.Context, ref store.AccountRef, h store.Hash) (bool, error) {
	n, err := s.s.useCode.Run(ctx, s.c, []string{s.tfaKey(ref)}, string(h[:])).Int64()
	return used("use recovery code", n, err)
}

// used maps the reply of advanceStepLua and useCodeLua: 1 true, 0 false,
// -1 no state.
func used(op string, n int64, err error) (bool, error) {
	switch {
	case err != nil:
		return false, fail(op, err)
	case n < 0:
		return false, store.ErrNotFound
	}
	return n == 1, nil
}
