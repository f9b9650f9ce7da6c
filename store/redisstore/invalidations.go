package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
)

// Invalidations travel on one pub/sub channel per key prefix, {prefix}
// invalidate, as the text of the account's reference ("user:7"). Classic
// pub/sub (PUBLISH, SUBSCRIBE), not sharded: a Cluster passes every message
// to every node, so a watch listens on any node.
//
// Redis keeps nothing for a subscriber that was away, so a watch tells its
// watcher Deaf whenever it cannot be sure it hears everything, and
// Listening once it can again: the watcher then forgets what it cached.
// It keeps [store.InvalidationBound] with pings on the listening connection,
// every quarter of the bound: Redis answers a ping after every message
// published before the ping reached it, so a pong confirms that the watch
// has heard everything published before its ping was sent. A message
// published just after one ping was sent is confirmed by the next one's
// pong: so each pong is due one bound (less a margin for the timers'
// lateness) after the ping before its own was sent, or, for the first, after
// the subscription was confirmed.
const (
	// pingEvery is how often a watch pings.
	pingEvery = store.InvalidationBound / 4
	// pongMargin is taken from the bound for the lateness of timers and of
	// the watch's goroutine.
	pongMargin = store.InvalidationBound / 20
	// subscribeWithin bounds the setting up of a subscription: the
	// connection, its name and the confirmed SUBSCRIBE.
	subscribeWithin = store.InvalidationBound
	// minBackoff and maxBackoff bound the wait before a watch subscribes
	// again after a failure; it doubles from the first to the second with
	// each failure in a row, and a random part spreads the processes out.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
	// watchName starts the client name of a watch's connection, before
	// the key prefix (CLIENT LIST shows it).
	watchName = "keyward-invalidations:"
	// pingPrefix starts the payload of a watch's pings, before their
	// sequence number.
	pingPrefix = "keyward-ping:"
)

// errPongLate is a pong that did not come in time.
var errPongLate = errors.New("redisstore: invalidations: the channel did not answer a ping in time")

// channel returns the pub/sub channel of the store's invalidations.
func (s *Store) channel() string { return s.prefix + "invalidate" }

// watchClientName returns the client name of the store's watch
// connections: watchName and the key prefix, each byte that a client name
// may not hold (a space, a control character, beyond ASCII) as '_'.
func (s *Store) watchClientName() string {
	b := []byte(watchName + s.prefix)
	for i, c := range b {
		if c < '!' || c > '~' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Invalidate tells every watch of the store's key prefix, in every
// process that shares the Redis (every node of a Cluster), that the
// account changed: one PUBLISH. It returns once Redis has taken the
// message, not once it is heard; a watch that was not listening then has
// called, or will call, Deaf. An invalid ref is an error.
func (s *Store) Invalidate(ctx context.Context, ref store.AccountRef) error {
	text, err := ref.MarshalText()
	if err != nil {
		return fmt.Errorf("redisstore: invalidate: %w", err)
	}
	if err := s.c.Publish(ctx, s.channel(), text).Err(); err != nil {
		return fail("invalidate", err)
	}
	return nil
}

// WatchInvalidations starts telling w what the store's channel carries,
// from a goroutine of its own, on a pub/sub connection of its own named
// "keyward-invalidations:" and the key prefix, until stop is called or the
// store is closed; see [store.Invalidations].
//
// It calls Listening once its SUBSCRIBE is confirmed, and pings every
// quarter of [store.InvalidationBound]. It calls Deaf when a pong is later
// than what is left of the bound, or the connection fails; then it
// subscribes again on a new connection, after a backoff that grows from
// 50 ms to 2 s, and calls Listening again once that is confirmed. A
// message that is not an account reference is ignored. If the client is
// closed it calls Deaf and ends: stop still returns at once.
//
// An error means the store is closed, or w is nil.
func (s *Store) WatchInvalidations(w store.InvalidationWatcher) (stop func(), err error) {
	if w == nil {
		return nil, errors.New("redisstore: watch invalidations: nil watcher")
	}
	ctx, cancel := context.WithCancel(context.Background())
	wt := &watch{s: s, w: w, done: make(chan struct{})}
	wt.stop = sync.OnceFunc(func() {
		cancel()
		<-wt.done
		s.mu.Lock()
		delete(s.watches, wt)
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cancel()
		return nil, errors.New("redisstore: watch invalidations: the store is closed")
	}
	s.watches[wt] = struct{}{}
	go func() { // under s.mu, so that a Close that finds wt waits for a goroutine that runs
		defer close(wt.done)
		wt.run(ctx)
	}()
	return wt.stop, nil
}

// watch is one call of [Store.WatchInvalidations].
type watch struct {
	s    *Store
	w    store.InvalidationWatcher
	done chan struct{} // closed when run has returned
	stop func()        // cancels run, waits for it, and forgets the watch
}

// run subscribes, listens, and after each failure says Deaf (once) and
// subscribes again after a backoff, until ctx ends or the client is
// closed.
func (wt *watch) run(ctx context.Context) {
	deaf := false // Deaf was the last call to w
	backoff := minBackoff
	for {
		listened := false
		err := wt.listen(ctx, func() {
			wt.w.Listening()
			deaf, listened = false, true
		})
		if ctx.Err() != nil {
			return
		}
		if !deaf {
			wt.w.Deaf()
			deaf = true
		}
		if errors.Is(err, redis.ErrClosed) {
			return // the client is closed: nothing will answer again
		}
		if listened {
			backoff = minBackoff
		}
		wait := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen subscribes on a connection of its own, calls listening once the
// subscription is confirmed, and passes on what it hears until the
// connection fails, a pong is late, or ctx ends; it returns why.
func (wt *watch) listen(ctx context.Context, listening func()) error {
	ps := wt.s.c.Subscribe(ctx) // no channel yet: no I/O
	var wg sync.WaitGroup       // the reader and the pings
	quit := make(chan struct{}) // closed when listen returns
	defer func() {
		close(quit)
		_ = ps.Close() // ends a Receive or Ping that waits on the connection
		wg.Wait()
	}()

	if err := wt.subscribe(ctx, ps); err != nil {
		return err
	}
	lastSent := time.Now() // what is published from now on is heard
	listening()

	// The reader passes on what the connection carries; listen alone
	// calls w, one call at a time.
	heard := make(chan any)
	pass := func(v any) bool {
		select {
		case heard <- v:
			return true
		case <-quit:
			return false
		}
	}
	wg.Go(func() {
		for {
			msg, err := ps.Receive(ctx)
			if err != nil {
				pass(err)
				return
			}
			if !pass(msg) {
				return
			}
		}
	})

	// Pings not yet answered, oldest first, each with the time its pong is
	// due, and the timer of the oldest's. A pong answers its ping and
	// every earlier one.
	type sent struct {
		seq uint64
		due time.Time
	}
	var pending []sent
	var seq uint64
	late := time.NewTimer(time.Hour)
	late.Stop()
	defer late.Stop()
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-late.C:
			return errPongLate
		case <-tick.C:
			seq++
			pending = append(pending, sent{seq, lastSent.Add(store.InvalidationBound - pongMargin)})
			lastSent = time.Now()
			if len(pending) == 1 {
				late.Reset(time.Until(pending[0].due))
			}
			payload := pingPrefix + strconv.FormatUint(seq, 10)
			// Each ping on a goroutine of its own: a ping waits for the
			// connection's lock, which go-redis holds while it reconnects,
			// and the late timer must fire meanwhile.
			wg.Go(func() {
				if err := ps.Ping(ctx, payload); err != nil {
					pass(err)
				}
			})
		case v := <-heard:
			switch v := v.(type) {
			case error:
				return v
			case *redis.Message:
				var ref store.AccountRef
				if v.Channel == wt.s.channel() && ref.UnmarshalText([]byte(v.Payload)) == nil {
					wt.w.Invalidated(ref)
				}
			case *redis.Pong:
				num, ours := strings.CutPrefix(v.Payload, pingPrefix)
				n, err := strconv.ParseUint(num, 10, 64)
				if !ours || err != nil {
					continue
				}
				for len(pending) > 0 && pending[0].seq <= n {
					pending = pending[1:]
				}
				late.Stop()
				if len(pending) > 0 {
					late.Reset(time.Until(pending[0].due))
				}
			case *redis.Subscription:
				if v.Kind == "unsubscribe" {
					return errors.New("redisstore: invalidations: unsubscribed")
				}
			}
		}
	}
}

// subscribe names the connection, subscribes to the store's channel, and
// waits for Redis to confirm the subscription, all within
// subscribeWithin.
func (wt *watch) subscribe(ctx context.Context, ps *redis.PubSub) error {
	ctx, cancel := context.WithTimeout(ctx, subscribeWithin)
	defer cancel()
	// The name only helps an operator (CLIENT LIST): a Redis that refuses
	// it (an ACL without CLIENT) is no reason not to listen.
	if err := ps.ClientSetName(ctx, wt.s.watchClientName()); err != nil {
		return err
	}
	if _, err := ps.Receive(ctx); err != nil && !isRedisError(err) {
		return err
	}
	if err := ps.Subscribe(ctx, wt.s.channel()); err != nil {
		return err
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if sub, ok := msg.(*redis.Subscription); ok && sub.Kind == "subscribe" && sub.Channel == wt.s.channel() {
			return nil
		}
	}
}

// isRedisError reports whether err is an error answer from Redis, as
// opposed to a failed connection.
func isRedisError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}
