package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/store"
)

// The timing of a watch (see [Store.WatchInvalidations]).
const (
	// confirmEvery is how often the listening connection is confirmed.
	confirmEvery = store.InvalidationBound / 4
	// setupTimeout bounds taking a connection, LISTEN, and the first
	// confirmation.
	setupTimeout = 5 * time.Second
	// reconnectFirst and reconnectMax bound the pause before a new
	// connection: it doubles from the first to the most, with jitter,
	// and starts again from the first once a connection listened.
	reconnectFirst = 100 * time.Millisecond
	reconnectMax   = 5 * time.Second
)

// ListenerName is the application_name of the connections on which a
// [Store] on PostgreSQL listens for invalidations, followed by a space
// and the channel: "keyward-invalidations keyward_invalidate".
const ListenerName = "keyward-invalidations"

// invalidationChannel returns the channel of the tables with prefix: the
// prefix as PostgreSQL folds it (tables named "Auth_..." and "auth_..."
// are the same tables, and so share a channel), then "invalidate". A
// prefix that [validPrefix] accepts makes a name of letters, digits and
// underscores, at most 42 bytes, which SQL text may hold in double or
// single quotes as it is.
func invalidationChannel(prefix string) string { return strings.ToLower(prefix) + "invalidate" }

// watches are the running watches of a [Store], which Close stops.
type watches struct {
	mu     sync.Mutex
	set    map[*watch]struct{}
	closed bool
}

// stopAll stops every watch and refuses new ones.
func (ws *watches) stopAll() {
	ws.mu.Lock()
	ws.closed = true
	running := make([]*watch, 0, len(ws.set))
	for wt := range ws.set {
		running = append(running, wt)
	}
	ws.mu.Unlock()
	for _, wt := range running {
		wt.stop()
	}
}

// watch is one [Store.WatchInvalidations]: a goroutine that tells w what
// the channel carries, one call at a time.
type watch struct {
	s      *Store
	w      store.InvalidationWatcher
	ctx    context.Context // ended by stop
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
}

// Invalidate tells every watcher of the tables, in every process whose
// store has the same database and table prefix, that the account
// changed: SELECT pg_notify(channel, "user:7"), on a connection of the
// pool, committed at once. The channel is the table prefix, lower case,
// then "invalidate" ("keyward_invalidate"); it belongs to the database,
// not to a schema, so deployments in separate schemas of one database
// hear each other's invalidations unless their prefixes differ (which
// costs them cache entries, never a stale one).
//
// On SQLite, or on a *sql.DB whose driver is not pgx's stdlib, it answers
// [store.ErrNotSupported]. A ref whose scope is not valid or whose ID is
// not positive is an error, and nothing is sent.
func (s *Store) Invalidate(ctx context.Context, ref store.AccountRef) error {
	if !s.notifies {
		return store.ErrNotSupported
	}
	payload, err := ref.MarshalText()
	if err != nil {
		return fmt.Errorf("sqlstore: invalidate %v %d: %w", ref.Scope, ref.ID, err)
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, string(payload)); err != nil {
		return s.fail("invalidate", err)
	}
	return nil
}

// WatchInvalidations starts a goroutine that tells w what the store's
// channel carries (see [Store.Invalidate]), and returns at once. The
// goroutine holds a connection of the pool for as long as it listens
// (size the pool for it), its application_name [ListenerName] and the
// channel, and never gives it back: it closes it, when the watch stops
// or the connection fails.
//
// Once LISTEN is in place and confirmed, w is told Listening. The
// goroutine then confirms the connection every quarter of
// [store.InvalidationBound]: a query, which PostgreSQL answers only after
// every notification committed before it, and which checks that the
// channel is still among the connection's (so a pooler that moved the
// session elsewhere is found out). If a confirmation is not answered by
// the bound after the last one was sent, or the connection fails, w is
// told Deaf, and the goroutine connects again, after a pause that grows
// from 100 ms to 5 s, and tells w Listening once it listens again. If it
// cannot connect at first, w's first call is Deaf. A notification that
// is not an account ref (someone else's NOTIFY on the channel, or a
// newer keyward's) names no account that could be dropped alone, so w is
// told Deaf and then Listening: drop everything.
//
// stop, which may be called more than once, ends the watch and returns
// once the goroutine has, so no call to w is running or will be made; it
// must not be called from within one of w's methods. [Store.Close] stops
// every watch. Calls to w come from the goroutine, one at a time: a w
// that takes long delays the confirmations, and is told Deaf if it takes
// too long.
//
// On SQLite, or on a *sql.DB whose driver is not pgx's stdlib, it answers
// [store.ErrNotSupported]. A nil w, or a store that is closed, is an
// error.
func (s *Store) WatchInvalidations(w store.InvalidationWatcher) (stop func(), err error) {
	if !s.notifies {
		return nil, store.ErrNotSupported
	}
	if w == nil {
		return nil, errors.New("sqlstore: watch invalidations: nil watcher")
	}
	ctx, cancel := context.WithCancel(context.Background())
	wt := &watch{s: s, w: w, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	s.watches.mu.Lock()
	defer s.watches.mu.Unlock()
	if s.watches.closed {
		cancel()
		return nil, errors.New("sqlstore: watch invalidations: the store is closed")
	}
	s.watches.set[wt] = struct{}{}
	go wt.run()
	return wt.stop, nil
}

// stop ends the watch and waits for its goroutine.
func (wt *watch) stop() {
	wt.cancel()
	<-wt.done
	ws := &wt.s.watches
	ws.mu.Lock()
	delete(ws.set, wt)
	ws.mu.Unlock()
}

// run listens, on one connection after another, until the watch stops.
func (wt *watch) run() {
	defer close(wt.done)
	pause := reconnectFirst
	deaf := false // whether w was last told Deaf
	for {
		listened, err := wt.session(&deaf)
		if wt.ctx.Err() != nil {
			return
		}
		if !deaf {
			wt.s.log.Warn("invalidation channel down", "channel", wt.s.channel, "error", err)
			wt.w.Deaf()
			deaf = true
		}
		if listened {
			pause = reconnectFirst
		}
		// Jitter, so that instances that lost the server together do
		// not all come back at once.
		t := time.NewTimer(pause/2 + rand.N(pause/2+1))
		select {
		case <-wt.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, reconnectMax)
	}
}

// session takes a connection of the pool and listens on it until it fails
// or the watch stops; the connection is closed, not given back. It tells
// w Listening once LISTEN is confirmed, clearing *deaf, and reports
// whether it did, and the error that ended it.
func (wt *watch) session(deaf *bool) (listened bool, err error) {
	ctx, cancel := context.WithTimeout(wt.ctx, setupTimeout)
	defer cancel()
	conn, err := wt.s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	rawErr := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			err = fmt.Errorf("sqlstore: a connection of driver %T, not pgx's stdlib", dc)
			return driver.ErrBadConn
		}
		pc := sc.Conn()
		nc := pc.PgConn().Conn()
		defer nc.Close() // at once, whatever state the stream is in
		listened, err = wt.listen(pc, nc, deaf)
		// The connection listens, and may be broken: database/sql
		// closes it rather than give it to another caller.
		return driver.ErrBadConn
	})
	if err == nil && !errors.Is(rawErr, driver.ErrBadConn) {
		err = rawErr // f did not run
	}
	return listened, err
}

// listen sets up pc (whose socket is nc) to listen, tells w Listening,
// and then delivers notifications and confirms the channel, until
// something fails or the watch stops. It reports whether it told w
// Listening.
func (wt *watch) listen(pc *pgx.Conn, nc net.Conn, deaf *bool) (bool, error) {
	ctx := wt.ctx
	channel := wt.s.channel
	if err := nc.SetDeadline(time.Now().Add(setupTimeout)); err != nil {
		return false, err
	}
	setup := `SET application_name = '` + ListenerName + ` ` + channel + `'; LISTEN "` + channel + `"`
	if err := pc.PgConn().Exec(ctx, setup).Close(); err != nil {
		return false, fmt.Errorf("sqlstore: listen: %w", err)
	}
	// Every notification committed after LISTEN will come, and those
	// committed before the confirmation was sent have come by its answer:
	// the bound runs from then.
	confirmed := time.Now()
	if err := confirm(ctx, pc, channel); err != nil {
		return false, err
	}
	if *deaf {
		wt.s.log.Info("invalidation channel up again", "channel", channel)
	}
	*deaf = false
	wt.w.Listening()
	next := time.Now().Add(confirmEvery)
	for ctx.Err() == nil {
		if !time.Now().Before(next) {
			// Answered only after every notification committed before
			// it was sent, and by the bound after the last one was.
			sent := time.Now()
			if err := nc.SetDeadline(confirmed.Add(store.InvalidationBound)); err != nil {
				return true, err
			}
			if err := confirm(ctx, pc, channel); err != nil {
				return true, err
			}
			confirmed, next = sent, sent.Add(confirmEvery)
		}
		if err := nc.SetDeadline(next); err != nil {
			return true, err
		}
		n, err := pc.WaitForNotification(ctx)
		switch {
		case err == nil && n == nil:
			// The pool's connections hand notifications to an
			// OnNotification of the host's: this one cannot hear them.
			return true, errors.New("sqlstore: notifications go to the connection config's OnNotification")
		case err == nil:
			wt.deliver(n.Payload)
		case pgconn.Timeout(err) && ctx.Err() == nil:
			// Time to confirm.
		default:
			return true, err
		}
	}
	return true, ctx.Err()
}

// confirm asks whether pc still listens on channel, and fails unless it
// answers yes. Notifications that come before the answer are kept by pc
// for WaitForNotification.
func confirm(ctx context.Context, pc *pgx.Conn, channel string) error {
	res, err := pc.PgConn().Exec(ctx, `SELECT count(*) FROM pg_listening_channels() AS c WHERE c = '`+channel+`'`).ReadAll()
	if err == nil && (len(res) != 1 || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != "1") {
		err = errors.New("the connection does not listen on the channel")
	}
	if err != nil {
		return fmt.Errorf("sqlstore: confirm the invalidation channel: %w", err)
	}
	return nil
}

// deliver tells w what payload says.
func (wt *watch) deliver(payload string) {
	var ref store.AccountRef
	if err := ref.UnmarshalText([]byte(payload)); err != nil {
		// Not an account: whatever it names, drop everything.
		wt.s.log.Warn("invalidation not understood; dropping everything", "channel", wt.s.channel, "error", err)
		wt.w.Deaf()
		wt.w.Listening()
		return
	}
	wt.w.Invalidated(ref)
}
