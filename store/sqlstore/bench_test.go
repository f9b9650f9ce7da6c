package sqlstore_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// benchSessions is how many sessions the benchmarked store holds.
const benchSessions = 10_000

// seedSessions creates n sessions in s, for n/4 accounts, expiring in a
// day on the real clock, and returns their hashes.
func seedSessions(b *testing.B, s store.SessionWriter, n int) []store.Hash {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	hashes := make([]store.Hash, n)
	var wg sync.WaitGroup
	var failed atomic.Bool
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				hashes[i] = store.HashOf([]byte("bench session " + strconv.Itoa(i)))
				err := s.CreateSession(ctx, store.Session{
					Hash: hashes[i], Account: store.AccountRef{Scope: scopes.User, ID: int64(i/4 + 1)},
					Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
				})
				if err != nil && !failed.Swap(true) {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		b.FailNow()
	}
	return hashes
}

// benchSession measures Session on s, holding the sessions hashes,
// serially and in parallel.
func benchSession(b *testing.B, s store.SessionFinder, hashes []store.Hash) {
	ctx := context.Background()
	n := len(hashes)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Session(ctx, hashes[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var start atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(int64(n / 16)))
			for pb.Next() {
				if _, err := s.Session(ctx, hashes[i%n]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkSession measures SessionID resolution, [sqlstore.Store.Session],
// on a store of 10,000 sessions: SQLite in a file (as OpenSQLite opens it)
// and PostgreSQL (when KEYWARD_TEST_POSTGRES is set).
func BenchmarkSession(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		s := openSQLite(b, sqlstore.Config{})
		benchSession(b, s, seedSessions(b, s, benchSessions))
	})
	b.Run("PostgreSQL", func(b *testing.B) {
		db := postgresDB(b, postgresSchema(b))
		s, err := sqlstore.Open(context.Background(), db, sqlstore.Config{})
		must(b, err)
		closeStore(b, s)
		benchSession(b, s, seedSessions(b, s, benchSessions))
	})
}
