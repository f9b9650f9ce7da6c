package redisstore_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
)

// BenchmarkSession measures SessionID resolution, [redisstore.Store.Session]
// (one GET), on a store of 10,000 sessions, serially and in parallel.
func BenchmarkSession(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	s := newStore(b, redisClient(b), redisstore.Config{})
	now := time.Now()
	hashes := make([]store.Hash, n)
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				hashes[i] = store.HashOf([]byte("bench session " + strconv.Itoa(i)))
				err := s.CreateSession(ctx, store.Session{
					Hash: hashes[i], Account: store.AccountRef{Scope: scopes.User, ID: int64(i/4 + 1)},
					Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
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
