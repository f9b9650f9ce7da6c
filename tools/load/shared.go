package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// tagURL sets key=tag in rawURL's query, unless it is set already, and
// returns the URL and the value in effect. An empty URL stays empty.
func tagURL(rawURL, key, tag string) (string, string, error) {
	if rawURL == "" {
		return "", "", nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", key, err)
	}
	q := u.Query()
	if v := q.Get(key); v != "" {
		return rawURL, v, nil
	}
	q.Set(key, tag)
	u.RawQuery = q.Encode()
	return u.String(), tag, nil
}

// storeDownError is a shared store that did not answer.
type storeDownError struct {
	what     string // "PostgreSQL at postgres://..."
	explicit bool   // its flag was given
	err      error
}

func (e *storeDownError) Error() string { return e.what + " does not answer: " + e.err.Error() }
func (e *storeDownError) Unwrap() error { return e.err }

// sharedStores are the counter's handles on the shared example's stores;
// a nil handle is a store the example does not use.
type sharedStores struct {
	pg       *sql.DB
	rds      *redisConn
	redisPID int      // the Redis server's process, if it runs here
	name     string   // "postgres+redis"
	versions []string // "PostgreSQL 15.2"
	// pgTag and redisTag are the example's application_name and
	// client_name; prefix is its table and key prefix.
	pgTag, redisTag, prefix string
}

// openShared connects to the stores the flags name and reads their
// versions; a store that does not answer is a *storeDownError.
func openShared(ctx context.Context, o rpsOptions) (*sharedStores, error) {
	s := &sharedStores{}
	var names []string
	if o.db != "" {
		if !strings.HasPrefix(o.db, "postgres://") && !strings.HasPrefix(o.db, "postgresql://") {
			return nil, fmt.Errorf("-db %q: want a postgres:// URL", o.db)
		}
		db, version, err := openPG(ctx, o.db)
		if err != nil {
			return nil, &storeDownError{"PostgreSQL at " + redact(o.db), o.dbExplicit, err}
		}
		s.pg = db
		s.versions = append(s.versions, "PostgreSQL "+version)
		names = append(names, "postgres")
	} else {
		names = append(names, "memory")
	}
	if o.redis != "" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := dialRedis(ctx, o.redis)
		var version string
		var pid int
		if err == nil {
			if version, pid, err = r.serverInfo(ctx); err != nil {
				r.Close()
			}
		}
		if err != nil {
			s.Close()
			return nil, &storeDownError{"Redis at " + redact(o.redis), o.redisExplicit, err}
		}
		s.rds = r
		if strings.HasPrefix(procName(pid), "redis-server") {
			s.redisPID = pid // a server on this machine, as seen from here
		}
		s.versions = append(s.versions, "Redis "+version)
		names = append(names, "redis")
	}
	s.name = strings.Join(names, "+")
	return s, nil
}

// redact is a URL without its password, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Close closes the handles.
func (s *sharedStores) Close() {
	if s.pg != nil {
		s.pg.Close()
	}
	if s.rds != nil {
		s.rds.Close()
	}
}

// storeCounts are the store round trips of one window; a nil part was
// not counted.
type storeCounts struct {
	Redis *redisCounts
	PG    *pgCounts
}

// sharedSampler measures one window's work on the shared stores: Redis
// commands exactly, from INFO commandstats before and after, and
// PostgreSQL's by sampling (see pgSampler). A nil part is a store the
// example does not use.
type sharedSampler struct {
	rds      *redisConn
	redisTag string
	redisPID int
	before   redisSnap
	pg       *pgSampler
}

// sampler returns a sampler for one window.
func (s *sharedStores) sampler() windowSampler {
	ss := &sharedSampler{rds: s.rds, redisTag: s.redisTag, redisPID: s.redisPID}
	if s.pg != nil {
		ss.pg = &pgSampler{db: s.pg, tag: s.pgTag, prefix: s.prefix}
	}
	return ss
}

// begin reads PostgreSQL first, Redis last, so that the exact count
// starts closest to the window. It returns the store processes that run
// on this machine: the Redis server and the example's PostgreSQL
// backends, and the sampler's own backend.
func (s *sharedSampler) begin(ctx context.Context) (procSet, error) {
	var ps procSet
	if s.pg != nil {
		backends, own, err := s.pg.begin(ctx)
		if err != nil {
			return ps, err
		}
		for _, pid := range backends {
			if procName(pid) == "postgres" {
				ps.stores = append(ps.stores, pid)
			}
		}
		if procName(own) == "postgres" {
			ps.counters = append(ps.counters, own)
		}
	}
	if s.rds != nil {
		if s.redisPID != 0 {
			ps.stores = append(ps.stores, s.redisPID)
		}
		var err error
		if s.before, err = s.rds.snapshot(ctx); err != nil {
			return ps, err
		}
	}
	return ps, nil
}

// sample reads PostgreSQL (Redis needs no sampling: its counts are
// exact).
func (s *sharedSampler) sample(ctx context.Context, requests int64) error {
	if s.pg == nil {
		return nil
	}
	return s.pg.sample(ctx, requests)
}

// end reads Redis first, then PostgreSQL, then who else used them.
func (s *sharedSampler) end(ctx context.Context, window time.Duration, requests int64) (storeCounts, error) {
	var c storeCounts
	if s.rds != nil {
		after, err := s.rds.snapshot(ctx)
		if err != nil {
			return c, err
		}
		rc := redisDelta(s.before, after)
		c.Redis = &rc
	}
	if s.pg != nil {
		pc, err := s.pg.end(ctx, window, requests)
		if err != nil {
			return c, err
		}
		c.PG = &pc
	}
	if s.rds != nil {
		var err error
		if c.Redis.Tagged, c.Redis.Foreign, err = s.rds.clients(ctx, s.redisTag, window); err != nil {
			return c, err
		}
	}
	return c, nil
}

// cleanup drops the shared example's tables and keys, by its prefix (a
// fresh one of this run's, so nobody else's).
func (s *sharedStores) cleanup(ctx context.Context, stderr io.Writer) {
	if s.prefix == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if s.pg != nil {
		n, err := pgDropPrefix(ctx, s.pg, s.prefix)
		if err != nil {
			fmt.Fprintf(stderr, "rps: dropping the tables %s*: %v\n", s.prefix, err)
		} else {
			fmt.Fprintf(stderr, "rps: dropped %d tables %s*\n", n, s.prefix)
		}
	}
	if s.rds != nil {
		n, err := s.rds.deletePrefix(ctx, s.prefix)
		if err != nil {
			fmt.Fprintf(stderr, "rps: deleting the keys %s*: %v\n", s.prefix, err)
		} else {
			fmt.Fprintf(stderr, "rps: deleted %d Redis keys %s*\n", n, s.prefix)
		}
	}
}
