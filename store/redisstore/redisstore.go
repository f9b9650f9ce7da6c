package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
)

// The interfaces [Store] implements. Accounts, API keys and second factors
// are not among them: keep those in SQL (see the package documentation).
var (
	_ store.SessionFinder = (*Store)(nil)
	_ store.SessionWriter = (*Store)(nil)
	_ store.Claims        = (*Store)(nil)
	_ store.Counters      = (*Store)(nil)
	_ store.Challenges    = (*Store)(nil)
	_ store.Tokens        = (*Store)(nil)
	_ store.Invalidations = (*Store)(nil)
)

// DefaultKeyPrefix is the key prefix of a [Config] that names none.
const DefaultKeyPrefix = "keyward:"

// DefaultExpiryMargin is the [Config.ExpiryMargin] of a Config that gives
// none.
const DefaultExpiryMargin = time.Minute

// maxPrefixLen bounds [Config.KeyPrefix], which starts every key.
const maxPrefixLen = 128

// Config configures [New] and [Open]. The zero value is ready to use.
type Config struct {
	// KeyPrefix starts every key the store writes, so that several
	// deployments (or test runs) share one Redis. It must not contain
	// '{' or '}', which would change the keys' hash slots in a Cluster.
	// At most 128 bytes. Default: [DefaultKeyPrefix].
	KeyPrefix string
	// Now is the clock that decides expiry: every record holds its expiry
	// as a time of this clock, and every operation compares it with Now,
	// in Redis, atomically. Redis's own key expiry only collects garbage.
	// Default (nil): [time.Now].
	Now func() time.Time
	// ExpiryMargin is how long Redis keeps a record past the expiry Now
	// gives it before deleting it: Redis's clock and Now may run apart a
	// little, and a record must never vanish while Now still calls it
	// live (a one-time claim that vanished early would let a replay
	// through). Default (zero): [DefaultExpiryMargin]. Negative is an
	// error.
	ExpiryMargin time.Duration
}

// withDefaults returns c with its defaults filled in, validated.
func (c Config) withDefaults() (Config, error) {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if len(c.KeyPrefix) > maxPrefixLen {
		return c, fmt.Errorf("redisstore: key prefix is longer than %d bytes", maxPrefixLen)
	}
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		return c, fmt.Errorf("redisstore: key prefix %q contains '{' or '}'", c.KeyPrefix)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ExpiryMargin < 0 {
		return c, fmt.Errorf("redisstore: expiry margin %v is negative", c.ExpiryMargin)
	}
	if c.ExpiryMargin == 0 {
		c.ExpiryMargin = DefaultExpiryMargin
	}
	return c, nil
}

// Store keeps sessions, one-time claims, attempt counters, captcha
// challenges and one-time tokens in Redis, and carries invalidations
// between processes over Redis pub/sub. It implements
// [store.SessionFinder], [store.SessionWriter], [store.Claims],
// [store.Counters], [store.Challenges], [store.Tokens] and
// [store.Invalidations]; accounts, API keys and second factors belong in
// SQL.
//
// Store is safe for concurrent use, and any number of processes may share
// one Redis: every operation that changes more than one value, or decides
// on what it reads, is one Lua script, which Redis runs atomically.
// [Store.Session] is one GET.
type Store struct {
	c      redis.UniversalClient
	owned  bool // Close closes c
	prefix string
	now    func() time.Time
	margin time.Duration
	s      scripts

	mu      sync.Mutex          // guards closed and watches
	closed  bool                // Close was called
	watches map[*watch]struct{} // not yet stopped, to stop on Close
}

// New returns a store on client, which may be a single server, a Sentinel
// failover client or a Cluster client. It does no I/O. [Store.Close] does
// not close client.
//
// Make client with ContextTimeoutEnabled set in its options, as [Open]
// does: keyward gives every store call on the request path a deadline, and
// without that option go-redis leaves it out of the socket's deadlines,
// waiting for a Redis that has stopped answering as long as its own
// ReadTimeout and WriteTimeout allow (5 seconds by default in go-redis
// v9.23), and longer where a write that failed is retried. A stalled
// Redis then holds each request for seconds past its deadline instead of
// failing it (503) in time.
//
// Make it with MaxRetries -1 too, as Open does: most of the store's
// operations are not idempotent (a claim, a take, an increment), and
// go-redis retries a command whose connection broke after it was sent.
// When the first run was applied and only its answer lost, the retry
// applies it again and answers for the second run: a reset token taken
// by the first is "invalid" to the second, an etoken "already used". With
// no retries the call fails, the request is refused (503), and the
// client, not the driver, decides to try again. A [redis.ClusterClient]
// needs MaxRedirects -1 as well: it retries such a command itself, on the
// same node and then on another, as many times as MaxRedirects allows.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Store{
		c:       client,
		prefix:  cfg.KeyPrefix,
		now:     cfg.Now,
		margin:  cfg.ExpiryMargin,
		s:       newScripts(),
		watches: make(map[*watch]struct{}),
	}, nil
}

// Open connects to Redis at rawURL, checks that it answers, and returns a
// store that closes the connection on [Store.Close].
//
// A single server: "redis://user:password@host:6379/0", "rediss://..."
// for TLS, "unix:///path/to.sock", with go-redis's options as query
// parameters ([redis.ParseURL]).
//
// A Redis Cluster: "redis+cluster://user:password@host1:7001,host2:7002/"
// ("rediss+cluster://" for TLS): the scheme says it is a cluster, and the
// host is a comma-separated list of seed nodes, each host:port ("[::1]:7001"
// for IPv6), of which one that answers is enough: the client learns the
// others from it. The path, if any, is "/" or "/0" (a cluster has database
// 0 only), and the query takes go-redis's cluster options
// ([redis.ParseClusterURL]). Open checks that every master answers, and the
// store runs on a [redis.ClusterClient].
//
// For Sentinel, or a client of your own, call [New].
//
// The client honours every call's context deadline (ContextTimeoutEnabled,
// whatever rawURL says), so that a Redis that stops answering fails the
// call at its deadline, and never retries a command (MaxRetries -1; on a
// cluster MaxRedirects -1 too, since a cluster client also retries, on
// its own, a command whose connection broke after it was sent): see [New]
// for why. So a cluster that moves a slot (resharding, a failover) fails
// the calls that reach the old node, until the client has reloaded the
// slots, which it starts at the first MOVED answer.
func Open(ctx context.Context, rawURL string, cfg Config) (*Store, error) {
	client, addr, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(client, cfg)
	if err == nil {
		err = ping(ctx, client)
	}
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstore: open %s: %w", addr, err)
	}
	s.owned = true
	return s, nil
}

// Close stops every watch of [Store.WatchInvalidations], waiting for each
// to end, and closes the client if [Open] made it; a client given to [New]
// stays open. After Close, WatchInvalidations fails.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	watches := s.watches
	s.watches = nil
	s.mu.Unlock()
	for w := range watches {
		w.stop()
	}
	if s.owned {
		return s.c.Close()
	}
	return nil
}

// KeyPrefix returns the prefix of the store's keys.
func (s *Store) KeyPrefix() string { return s.prefix }

// fail maps err from Redis to what the store returns: a missing key is
// [store.ErrNotFound], anything else a store failure that names op.
func fail(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return store.ErrNotFound
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// pttl returns the Redis TTL, in milliseconds, of a record that expires at
// expires by a clock that reads now: what is left of it, rounded up, plus
// the margin; at least 1.
func (s *Store) pttl(now, expires time.Time) int64 {
	left := expires.Sub(now) // saturates rather than overflows
	ms := int64(left / time.Millisecond)
	if left%time.Millisecond > 0 {
		ms++
	}
	// Redis refuses a TTL that overflows when added to its clock; a
	// thousand years is beyond any record's life.
	const maxMS = 1000 * 365 * 24 * int64(time.Hour/time.Millisecond)
	ms = min(max(ms, 0), maxMS)
	return max(ms+int64(s.margin/time.Millisecond), 1)
}

// Times go into Redis as 20 decimal digits that sort as the instants do,
// so that Lua compares them as strings: Lua's numbers are doubles, which
// lose the nanoseconds of a Unix time. The digits are the Unix nanoseconds
// plus 2^63 (so that instants before 1970 sort too); the zero time is all
// zeros. Instants outside 1678-2262 are clamped to the ends.

// timeWidth is the length of an encoded time.
const timeWidth = 20

// encodeInt returns v as 20 digits that sort as int64 values do.
func encodeInt(v int64) string {
	var b [timeWidth]byte
	return string(appendInt(b[:0], v))
}

// appendInt appends v as 20 digits that sort as int64 values do.
func appendInt(b []byte, v int64) []byte {
	u := uint64(v) ^ (1 << 63)
	var digits [timeWidth]byte
	for i := timeWidth - 1; i >= 0; i-- {
		digits[i] = byte('0' + u%10)
		u /= 10
	}
	return append(b, digits[:]...)
}

// decodeInt reverses [encodeInt].
func decodeInt(s string) (int64, error) {
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil || len(s) != timeWidth {
		return 0, fmt.Errorf("redisstore: bad stored number %q", s)
	}
	return int64(u ^ (1 << 63)), nil
}

// timeInt returns t as an int64 for [encodeInt]: the zero time is
// MinInt64, and others are clamped to the range above it.
func timeInt(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	const maxSec = math.MaxInt64 / int64(time.Second)
	switch sec := t.Unix(); {
	case sec < -maxSec:
		return math.MinInt64 + 1
	case sec > maxSec-1:
		return math.MaxInt64
	}
	return max(t.UnixNano(), math.MinInt64+1)
}

// intTime reverses [timeInt], in UTC.
func intTime(v int64) time.Time {
	if v == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// encodeTime returns t as 20 digits; see [timeInt].
func encodeTime(t time.Time) string { return encodeInt(timeInt(t)) }

// decodeTime reverses [encodeTime].
func decodeTime(s string) (time.Time, error) {
	v, err := decodeInt(s)
	if err != nil {
		return time.Time{}, err
	}
	return intTime(v), nil
}

// unixMilli returns t in Unix milliseconds, rounded down: now, for
// comparing with index scores.
func unixMilli(t time.Time) int64 {
	v := timeInt(t)
	ms := v / 1e6
	if v%1e6 < 0 {
		ms--
	}
	return ms
}

// scoreMilli returns t in Unix milliseconds, rounded up: the score of an
// index entry of a session that expires at t. An entry whose score is not
// after [unixMilli] of now belongs to a session that has expired.
func scoreMilli(t time.Time) int64 {
	v := timeInt(t)
	ms := v / 1e6
	if v%1e6 > 0 {
		ms++
	}
	return ms
}
