package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Sessions live in 256 buckets, by the first byte of their hash. A
// session's key and its bucket's index share the bucket's hash tag,
// {sNN}, so that a Cluster keeps them in one slot and one script changes
// them together; and the key is found from the hash alone, so that
// [Store.Session] is one GET.
//
//	{prefix}{sNN}:<hash in hex>   the session (a string, see encodeSession)
//	{prefix}{sNN}:owners          index: "scope:id:<hash in hex>", score 0
//	{prefix}{sNN}:expiry          the same entries, scored by expiry (ms)
//
// An account's sessions are found through its entries in each bucket's
// owners set, by lexical range: the sessions of other accounts are not
// read. Each write to a bucket forgets up to 100 of its expired entries;
// Redis deletes the expired sessions themselves.
const buckets = 256

// sessionHeader is the length of an encoded session before its owner:
// three times, the TFA flag and the API key hash.
const sessionHeader = 3*timeWidth + 1 + len(store.Hash{})

// sessionKey returns the key of the session whose hash is h.
func (s *Store) sessionKey(h store.Hash) string {
	b := make([]byte, 0, len(s.prefix)+5+2*len(h))
	b = append(b, s.prefix...)
	b = append(b, "{s"...)
	b = hex.AppendEncode(b, h[:1])
	b = append(b, "}:"...)
	b = hex.AppendEncode(b, h[:])
	return string(b)
}

// bucketKeys returns the two index keys of the bucket.
func (s *Store) bucketKeys(bucket byte) (owners, expiry string) {
	tag := s.prefix + "{s" + hex.EncodeToString([]byte{bucket}) + "}:"
	return tag + "owners", tag + "expiry"
}

// ownerString returns "scope:id", how index entries and session values
// name an account.
func ownerString(ref store.AccountRef) string {
	return strconv.Itoa(int(ref.Scope)) + ":" + strconv.FormatInt(ref.ID, 10)
}

// genMark starts the generation part of an encoded session, and
// switchMark its switch part; see [encodeSession].
const (
	genMark    = '\x01'
	switchMark = '\x00'
)

// genPart is the length of the generation part: its mark, the generation
// (20 digits, see encodeInt) and the parent's hash (32 bytes).
const genPart = 1 + timeWidth + len(store.Hash{})

// encodeSession returns the value stored for sess: expiry, last-seen and
// creation times (20 digits each, see encodeTime), the TFA flag ('0' or
// '1'), the API key hash (32 bytes), the owner "scope:id", '|', then the
// generation part, then the switch part, and last the method. The scripts
// read the expiry and the owner at these places, and keep the rest as it
// is.
//
// The generation part is the byte 0x01, the session's generation (20
// digits) and its parent's hash (32 bytes). The switch part is a NUL byte,
// then "scope:id:n:" of the administrator who switched and the length n
// of the privilege, then the privilege.
//
// A session at generation 0 has no generation part, and one nobody
// switched into no switch part, so that such a session is encoded as
// earlier versions did, and values written by either read the same in
// the other. (An empty part is written before a method that itself starts
// with its mark, so that the method is not read as one: the generation
// part before a method that starts with 0x01 when there is no switch
// part, the switch part before one that starts with NUL.) An earlier
// version reads a session with a generation part with that part in its
// method.
func encodeSession(sess store.Session) string {
	b := make([]byte, 0, sessionHeader+24+genPart+len(sess.Method)+48+len(sess.SwitchPrivilege))
	b = appendInt(b, timeInt(sess.ExpiresAt))
	b = appendInt(b, timeInt(sess.LastSeenAt))
	b = appendInt(b, timeInt(sess.CreatedAt))
	if sess.TFA {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, sess.APIKeyHash[:]...)
	b = strconv.AppendInt(b, int64(sess.Account.Scope), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, sess.Account.ID, 10)
	b = append(b, '|')
	switched := sess.SwitchedBy != (store.AccountRef{}) || sess.SwitchPrivilege != "" ||
		(sess.Method != "" && sess.Method[0] == switchMark)
	if sess.Generation != 0 || sess.Parent != (store.Hash{}) ||
		(!switched && sess.Method != "" && sess.Method[0] == genMark) {
		b = append(b, genMark)
		b = appendInt(b, sess.Generation)
		b = append(b, sess.Parent[:]...)
	}
	if switched {
		b = append(b, switchMark)
		b = strconv.AppendInt(b, int64(sess.SwitchedBy.Scope), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, sess.SwitchedBy.ID, 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(len(sess.SwitchPrivilege)), 10)
		b = append(b, ':')
		b = append(b, sess.SwitchPrivilege...)
	}
	b = append(b, sess.Method...)
	return string(b)
}

// decodeGeneration reads the generation part at the start of rest, the
// encoded session after its owner's '|', into sess, and returns what
// follows it. A rest without a generation part is returned as it is.
func decodeGeneration(sess *store.Session, rest string) (string, bool) {
	if rest == "" || rest[0] != genMark {
		return rest, true
	}
	if len(rest) < genPart {
		return "", false
	}
	g, err := decodeInt(rest[1 : 1+timeWidth])
	if err != nil {
		return "", false
	}
	sess.Generation = g
	copy(sess.Parent[:], rest[1+timeWidth:genPart])
	return rest[genPart:], true
}

// decodeSwitch reads the switch part at the start of rest, what follows
// the generation part, into sess, and returns what follows it: the
// method. A rest without a switch part is all method.
func decodeSwitch(sess *store.Session, rest string) (string, bool) {
	if rest == "" || rest[0] != switchMark {
		return rest, true
	}
	rest = rest[1:]
	var fields [3]int64
	for i := range fields {
		num, after, ok := strings.Cut(rest, ":")
		n, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return "", false
		}
		fields[i], rest = n, after
	}
	scope, id, n := fields[0], fields[1], fields[2]
	if scope < 0 || scope > 255 || n < 0 || n > int64(len(rest)) {
		return "", false
	}
	sess.SwitchedBy = store.AccountRef{Scope: scopes.Scope(scope), ID: id}
	sess.SwitchPrivilege = rest[:n]
	return rest[n:], true
}

// sessionExpiry returns the expiry of an encoded session, as [timeInt].
func sessionExpiry(v string) (int64, error) {
	if len(v) < sessionHeader {
		return 0, errors.New("redisstore: stored session too short")
	}
	return decodeInt(v[:timeWidth])
}

// decodeSession reverses [encodeSession] for the session whose hash is h.
func decodeSession(h store.Hash, v string) (store.Session, error) {
	bad := func() (store.Session, error) { return store.Session{}, errors.New("redisstore: bad stored session") }
	if len(v) < sessionHeader {
		return bad()
	}
	var times [3]int64
	for i := range times {
		t, err := decodeInt(v[i*timeWidth : (i+1)*timeWidth])
		if err != nil {
			return bad()
		}
		times[i] = t
	}
	sess := store.Session{
		Hash:       h,
		ExpiresAt:  intTime(times[0]),
		LastSeenAt: intTime(times[1]),
		CreatedAt:  intTime(times[2]),
		TFA:        v[3*timeWidth] == '1',
	}
	copy(sess.APIKeyHash[:], v[3*timeWidth+1:sessionHeader])
	owner, rest, ok := strings.Cut(v[sessionHeader:], "|")
	if !ok {
		return bad()
	}
	rest, ok = decodeGeneration(&sess, rest)
	if !ok {
		return bad()
	}
	method, ok := decodeSwitch(&sess, rest)
	if !ok {
		return bad()
	}
	scope, id, ok := strings.Cut(owner, ":")
	sc, err1 := strconv.ParseUint(scope, 10, 8)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return bad()
	}
	sess.Account = store.AccountRef{Scope: scopes.Scope(sc), ID: n}
	sess.Method = method
	return sess, nil
}

// Session returns the session whose Hash is h, or [store.ErrNotFound], also
// when its ExpiresAt is not after now. It is one GET.
func (s *Store) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	v, err := s.c.Get(ctx, s.sessionKey(h)).Result()
	if err != nil {
		return store.Session{}, fail("session", err)
	}
	expires, err := sessionExpiry(v)
	if err != nil {
		return store.Session{}, err
	}
	if expires <= timeInt(s.now()) {
		return store.Session{}, store.ErrNotFound
	}
	return decodeSession(h, v)
}

// TouchSession sets the session's LastSeenAt and ExpiresAt. An absent or
// expired session is [store.ErrNotFound] and is not brought back. One
// script: the check and the write are one step.
func (s *Store) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	now := s.now()
	owners, expiry := s.bucketKeys(h[0])
	n, err := s.s.touchSession.Run(ctx, s.c, []string{s.sessionKey(h), owners, expiry},
		encodeTime(now), encodeTime(expires), encodeTime(lastSeen), s.pttl(now, expires),
		hex.EncodeToString(h[:]), scoreMilli(expires), unixMilli(now)).Int64()
	if err != nil {
		return fail("touch session", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSession stores sess and indexes it under its account, in one
// script. A Hash already stored, in a session that has not expired, is
// [store.ErrConflict]; an expired session's hash is free again. A session
// with no valid account is an error.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if !sess.Account.Scope.Valid() || sess.Account.ID <= 0 {
		return errors.New("redisstore: session has no valid account")
	}
	now := s.now()
	owners, expiry := s.bucketKeys(sess.Hash[0])
	hexHash := hex.EncodeToString(sess.Hash[:])
	n, err := s.s.createSession.Run(ctx, s.c, []string{s.sessionKey(sess.Hash), owners, expiry},
		encodeTime(now), encodeSession(sess), s.pttl(now, sess.ExpiresAt),
		ownerString(sess.Account)+":"+hexHash, scoreMilli(sess.ExpiresAt), unixMilli(now), hexHash).Int64()
	if err != nil {
		return fail("create session", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// DeleteSession removes the session whose Hash is h, and its index entry,
// in one script. An absent session is not an error.
func (s *Store) DeleteSession(ctx context.Context, h store.Hash) error {
	owners, expiry := s.bucketKeys(h[0])
	err := s.s.deleteSession.Run(ctx, s.c, []string{s.sessionKey(h), owners, expiry},
		hex.EncodeToString(h[:]), unixMilli(s.now())).Err()
	if err != nil {
		return fail("delete session", err)
	}
	return nil
}

// DeleteAccountSessions removes every session of the account except the
// one whose Hash is keep (the zero Hash keeps none) and returns how many it
// removed that had not expired.
//
// It takes two round trips, each a pipeline over the buckets: the first
// reads the account's index entries (a lexical range per bucket: other
// accounts' sessions are not read); the second runs, in each bucket where
// the account has any, one script that deletes the sessions the account
// still owns and their entries. Each bucket's step is atomic; the whole is
// not: a session the account makes meanwhile may stay, as it would had it
// been made just after.
func (s *Store) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	const op = "delete account sessions"
	who := ownerString(owner)
	byLex := &redis.ZRangeBy{Min: "[" + who + ":", Max: "(" + who + ";"} // ';' follows ':'
	pipe := s.c.Pipeline()
	found := make([]*redis.StringSliceCmd, buckets)
	for b := range buckets {
		owners, _ := s.bucketKeys(byte(b))
		found[b] = pipe.ZRangeByLex(ctx, owners, byLex)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fail(op, err)
	}

	now := s.now()
	keepHex := hex.EncodeToString(keep[:])
	pipe = s.c.Pipeline()
	var deletes []*redis.Cmd
	for b, cmd := range found {
		entries := cmd.Val()
		if len(entries) == 0 {
			continue
		}
		owners, expiry := s.bucketKeys(byte(b))
		keys := []string{owners, expiry}
		args := []any{encodeTime(now), who, keepHex, unixMilli(now)}
		for _, e := range entries {
			hexHash := e[len(who)+1:]
			var h store.Hash
			if n, err := hex.Decode(h[:], []byte(hexHash)); err != nil || n != len(h) {
				return 0, fmt.Errorf("redisstore: %s: bad index entry %q", op, e)
			}
			keys = append(keys, s.sessionKey(h))
			args = append(args, hexHash)
		}
		// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
		deletes = append(deletes, s.s.deleteSessions.Eval(ctx, pipe, keys, args...))
	}
	if len(deletes) == 0 {
		return 0, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fail(op, err)
	}
	removed := 0
	for _, d := range deletes {
		n, err := d.Int()
		if err != nil {
			return 0, fail(op, err)
		}
		removed += n
	}
	return removed, nil
}

// Cleanup forgets the index entries of expired sessions in every bucket,
// up to 100 a bucket, and returns how many entries are left. The store
// does this as it goes (each write to a bucket forgets up to 100 of its
// expired entries) and Redis deletes expired sessions by itself, so
// Cleanup is needed only by a deployment whose buckets see few writes;
// call it from a timer.
func (s *Store) Cleanup(ctx context.Context) (int, error) {
	nowMS := unixMilli(s.now())
	pipe := s.c.Pipeline()
	cmds := make([]*redis.Cmd, buckets)
	for b := range buckets {
		owners, expiry := s.bucketKeys(byte(b))
		cmds[b] = s.s.gcSessions.Eval(ctx, pipe, []string{owners, expiry}, nowMS)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fail("cleanup", err)
	}
	left := 0
	for _, c := range cmds {
		n, err := c.Int()
		if err != nil {
			return 0, fail("cleanup", err)
		}
		left += n
	}
	return left, nil
}
