package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/sqlstore"
)

// openStore opens the store the options name: memory (the default),
// SQLite ("sqlite:path"), PostgreSQL ("postgres://..."), each with Redis
// beside it when o.Redis is set: accounts, API keys and second factors
// stay in the first, what every request reads and writes goes to Redis
// (store.Combine). It returns the store, the memory store if that is what
// it is (for tests), and what closes it.
func openStore(ctx context.Context, o options) (store.Store, *store.Memory, func() error, error) {
	var base store.Store
	var mem *store.Memory
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	sqlCfg := sqlstore.Config{TablePrefix: o.Prefix, Now: o.Now}
	switch {
	case o.DB == "":
		mem = store.NewMemory(store.MemoryConfig{Now: o.Now})
		base = mem
	case strings.HasPrefix(o.DB, "sqlite:"):
		s, err := sqlstore.OpenSQLite(ctx, strings.TrimPrefix(o.DB, "sqlite:"), sqlCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		base, closers = s, append(closers, s.Close)
	case strings.HasPrefix(o.DB, "postgres://"), strings.HasPrefix(o.DB, "postgresql://"):
		s, err := sqlstore.OpenPostgres(ctx, o.DB, sqlCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		base, closers = s, append(closers, s.Close)
	default:
		return nil, nil, nil, fmt.Errorf("-db %q: want sqlite:FILE or postgres://URL", o.DB)
	}
	if o.Redis == "" {
		return base, mem, closeAll, nil
	}
	rds, err := redisstore.Open(ctx, o.Redis, redisstore.Config{KeyPrefix: o.Prefix, Now: o.Now})
	if err != nil {
		_ = closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, rds.Close)
	return store.Combine(base, rds), mem, closeAll, nil
}

// keysHelp ends -h: what KEYWARD_KEYS is and how to make it.
const keysHelp = `
Environment:
  KEYWARD_KEYS  the cookie and etoken keys, from which the keys that seal
                TOTP secrets are derived: key pairs "hash:block", each a
                32-byte key in hex (64 hex digits), separated by commas.
                The first pair encodes, all decode: put a new pair first
                to rotate, and keep the old one until its cookies, and
                the second factors sealed with it, have moved on.
                Required with -db or -redis, and shared by all instances
                of one store. Make one with: go run ./example -genkeys
  KEYWARD_ADMIN_PASSWORD, KEYWARD_USER_PASSWORD  the seeded accounts'
                passwords (random and printed once when unset)
  ADMIN_API_KEY a static admin API key
  GOMEMLIMIT    the Go runtime's soft memory limit; 100MiB when unset
                (password hashes make much garbage under login bursts)
`

// newKeysValue returns a fresh KEYWARD_KEYS value: one random pair.
func newKeysValue() (string, error) {
	var hash, block [32]byte
	if _, err := rand.Read(hash[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(block[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(hash[:]) + ":" + hex.EncodeToString(block[:]), nil
}

// parseKeys reads KEYWARD_KEYS: cookie and etoken key pairs, the first to
// encode, as "hash:block" in hex (64 hex digits each), separated by
// commas. Several instances that share a store must share these too.
func parseKeys(s string) ([]authn.KeyPair, error) {
	if s == "" {
		return nil, nil
	}
	var pairs []authn.KeyPair
	for _, p := range strings.Split(s, ",") {
		h, b, ok := strings.Cut(strings.TrimSpace(p), ":")
		hash, err1 := hex.DecodeString(h)
		block, err2 := hex.DecodeString(b)
		if !ok || err1 != nil || err2 != nil {
			return nil, errors.New("KEYWARD_KEYS: want hash:block pairs in hex, separated by commas")
		}
		pairs = append(pairs, authn.KeyPair{Hash: hash, Block: block})
	}
	return pairs, nil
}

// seedTimeout bounds seeding on a slow database.
const seedTimeout = 30 * time.Second
