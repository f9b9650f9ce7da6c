package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/store"
)

// The interfaces [Store] implements: every one of package store.
var (
	_ store.Store          = (*Store)(nil)
	_ store.AccountCreator = (*Store)(nil)
	_ store.AccountUpdater = (*Store)(nil)
	_ store.PasswordSetter = (*Store)(nil)
	_ store.TFAStates      = (*Store)(nil)
	_ store.TFAUses        = (*Store)(nil)
	_ store.Challenges     = (*Store)(nil)
	_ store.Tokens         = (*Store)(nil)
	_ store.Generations    = (*Store)(nil)
	_ store.Invalidations  = (*Store)(nil)
)

// Dialect is the SQL database a [Store] talks to.
type Dialect int

const (
	// SQLite is SQLite through modernc.org/sqlite (driver name "sqlite").
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through github.com/jackc/pgx/v5/stdlib
	// (driver name "pgx"), version 11 or later.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// DefaultTablePrefix is the table prefix of a [Config] that names none.
const DefaultTablePrefix = "keyward_"

// DefaultCleanupInterval is how often a [Store] deletes expired rows when
// [Config.CleanupInterval] is zero.
const DefaultCleanupInterval = 5 * time.Minute

// DefaultCleanupTimeout is how long one background cleanup may take when
// [Config.CleanupTimeout] is zero.
const DefaultCleanupTimeout = 30 * time.Second

// maxPrefixLen keeps every table and index name within PostgreSQL's 63
// bytes: the longest suffix is "recovery_codes" or "challenges_expires".
const maxPrefixLen = 32

// Config configures [Open]. The zero value is ready to use.
type Config struct {
	// Dialect is the database behind the *sql.DB. Default (zero): taken
	// from the driver, which must be modernc.org/sqlite or pgx's stdlib.
	Dialect Dialect
	// TablePrefix starts the name of every table and index the store
	// makes, so that it can live in a host's database beside the host's
	// own tables, and several deployments can share one database. It is
	// a letter or underscore, then up to 31 letters, digits and
	// underscores; PostgreSQL folds it to lower case. Default:
	// [DefaultTablePrefix].
	TablePrefix string
	// Now is the clock that decides expiry; the database's clock is never
	// used. Default (nil): [time.Now].
	Now func() time.Time
	// CleanupInterval is how often a background goroutine deletes the
	// rows that have expired (sessions, claims, counters, challenges,
	// tokens, API keys). Expired rows are never returned whether or not they have been
	// deleted; cleaning only keeps the tables small. Default (zero):
	// [DefaultCleanupInterval]. Negative: no goroutine; call
	// [Store.Cleanup] yourself.
	CleanupInterval time.Duration
	// CleanupTimeout bounds each cleanup of the background goroutine: a
	// database that stops answering fails that cleanup (logged, and tried
	// again at the next interval) instead of holding a connection, and on
	// SQLite the store's turn to write, for as long as it stalls. Default
	// (zero): [DefaultCleanupTimeout]. Negative is an error.
	CleanupTimeout time.Duration
	// Logger receives the errors of background cleanup. Default (nil):
	// [slog.Default].
	Logger *slog.Logger
}

// withDefaults returns c with its defaults filled in, validated.
func (c Config) withDefaults() (Config, error) {
	if c.TablePrefix == "" {
		c.TablePrefix = DefaultTablePrefix
	}
	if err := validPrefix(c.TablePrefix); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CleanupInterval == 0 {
		c.CleanupInterval = DefaultCleanupInterval
	}
	if c.CleanupTimeout < 0 {
		return c, fmt.Errorf("sqlstore: cleanup timeout %v is negative", c.CleanupTimeout)
	}
	if c.CleanupTimeout == 0 {
		c.CleanupTimeout = DefaultCleanupTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch c.Dialect {
	case 0, SQLite, Postgres:
	default:
		return c, fmt.Errorf("sqlstore: unknown dialect %v", c.Dialect)
	}
	return c, nil
}

// validPrefix reports whether p can start an SQL identifier unquoted: a
// letter or underscore, then letters, digits and underscores, at most
// [maxPrefixLen] in all. Nothing else is accepted, since the prefix is
// written into SQL text.
func validPrefix(p string) error {
	if len(p) > maxPrefixLen {
		return fmt.Errorf("sqlstore: table prefix %q is longer than %d bytes", p, maxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return fmt.Errorf("sqlstore: table prefix %q: want a letter or underscore, then letters, digits and underscores", p)
		}
	}
	return nil
}

// Store keeps everything package store defines in an SQL database: it
// implements [store.Store] and every optional interface of package store.
//
// Store is safe for concurrent use, and several processes may share one
// database: every operation whose contract is atomic is one SQL statement
// or one transaction. On SQLite, the store's writes take turns within the
// process (SQLite has one writer at a time; taking turns here avoids
// SQLITE_BUSY), and reads go on beside them.
//
// Make one with [Open], [OpenSQLite] or [OpenPostgres], and call
// [Store.Close] when done.
type Store struct {
	db      *sql.DB
	owned   bool // Close closes db
	dialect Dialect
	prefix  string
	now     func() time.Time
	log     *slog.Logger
	q       queries
	hot     hotStatements

	// writeTurn is held by the writer of the moment, on SQLite only
	// (nil on PostgreSQL): a channel rather than a mutex, so that a
	// waiting write gives up when its context ends.
	writeTurn chan struct{}

	// notifies says whether the store carries invalidations (PostgreSQL
	// through pgx's stdlib driver), on channel.
	notifies bool
	channel  string
	watches  watches

	cleanupTimeout time.Duration
	stopCleanup    context.CancelFunc
	cleanupDone    chan struct{} // closed when the cleanup goroutine ends; nil if none
	closeOnce      sync.Once
	closeErr       error
}

// Open returns a store over db, a database the caller opened with the
// modernc.org/sqlite driver ("sqlite") or pgx's stdlib driver ("pgx"). It
// brings the store's tables up to date first (see [Store] and the package
// documentation on migrations), and starts the cleanup goroutine.
//
// [Store.Close] does not close db: the caller still owns it.
//
// For SQLite, open db with a busy timeout, WAL and immediate transactions,
// as [OpenSQLite] does, or another process's writes make this one's fail
// with SQLITE_BUSY:
//
//	db, err := sql.Open("sqlite", "app.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
//
// For PostgreSQL, keep pgx's default context watcher
// (pgconn.DeadlineContextWatcherHandler with no DeadlineDelay), as
// [OpenPostgres] does: a call then returns by its context's deadline even
// when the server stops answering. A handler that sends a cancel request
// first, or waits a DeadlineDelay, holds a stalled call (and the request
// that made it) until that delay has passed.
func Open(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	return open(ctx, db, false, cfg)
}

// OpenSQLite opens the SQLite database file at path, creating it if
// needed, and returns a store over it that closes the database on
// [Store.Close].
//
// The database is opened in WAL mode (readers do not wait for the writer)
// with a busy timeout of 5 seconds and immediate transactions, so that
// processes sharing the file wait for one another instead of failing, and
// with synchronous=NORMAL: a power cut may undo the last few writes (a
// session, a counted failure) but never corrupts the file. The path
// ":memory:" is a database in memory, on a single connection, gone when
// the store closes.
func OpenSQLite(ctx context.Context, path string, cfg Config) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlstore: SQLite path %q contains '?'", path)
	}
	params := "_pragma=busy_timeout(5000)&_txlock=immediate"
	if path != ":memory:" {
		params += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	if path == ":memory:" {
		// Each connection to ":memory:" is a database of its own.
		db.SetMaxOpenConns(1)
	} else {
		// Reads are CPU-bound; more connections than cores do not help.
		n := max(4, runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	if cfg.Dialect == 0 {
		cfg.Dialect = SQLite
	}
	s, err := open(ctx, db, true, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// postgresConns is how many connections [OpenPostgres] keeps open at most,
// and idle.
const postgresConns = 10

// OpenPostgres connects to the PostgreSQL database named by dsn (a URL,
// "postgres://user@host:5432/db?sslmode=disable", or key=value pairs, as pgx
// reads them) and returns a store over it that closes the pool on
// [Store.Close]. The pool keeps at most 10 connections; to size it
// otherwise, open the *sql.DB yourself and call [Open].
//
// The tables go in the connection's current schema (the first of its
// search_path); add search_path=myschema to dsn to choose another.
//
// Every call returns by its context's deadline, even when the server or
// the network stops answering: when a context ends, the connection's
// socket gets a deadline of now, so the read or write it is blocked in
// returns at once, and the connection is closed (see [Open]).
func OpenPostgres(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open PostgreSQL: %w", err)
	}
	// pgx's default, set here so that no change of it can make a stalled
	// call outlast its deadline. A cancel request instead (pgconn's
	// CancelRequestContextWatcherHandler) would go to a server that does
	// not answer either, and the call would return only at the handler's
	// DeadlineDelay.
	pgCfg.BuildContextWatcherHandler = func(conn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: conn.Conn(), DeadlineDelay: 0}
	}
	db := stdlib.OpenDB(*pgCfg)
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresConns)
	if cfg.Dialect == 0 {
		cfg.Dialect = Postgres
	}
	s, err := open(ctx, db, true, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// open is [Open], with owned telling whether Close closes db.
func open(ctx context.Context, db *sql.DB, owned bool, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Dialect == 0 {
		switch db.Driver().(type) {
		case *sqlite.Driver:
			cfg.Dialect = SQLite
		case *stdlib.Driver:
			cfg.Dialect = Postgres
		default:
			return nil, fmt.Errorf("sqlstore: cannot tell the dialect of driver %T; set Config.Dialect", db.Driver())
		}
	}
	s := &Store{
		db:      db,
		owned:   owned,
		dialect: cfg.Dialect,
		prefix:  cfg.TablePrefix,
		now:     cfg.Now,
		log:     cfg.Logger,
		q:       newQueries(cfg.Dialect, cfg.TablePrefix),
	}
	s.cleanupTimeout = cfg.CleanupTimeout
	_, pgxDriver := db.Driver().(*stdlib.Driver)
	s.notifies = s.dialect == Postgres && pgxDriver
	s.channel = invalidationChannel(s.prefix)
	s.watches.set = make(map[*watch]struct{})
	if s.dialect == SQLite {
		s.writeTurn = make(chan struct{}, 1)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.hot.prepare(ctx, db, s.q); err != nil {
		return nil, err
	}
	cleanupCtx, stop := context.WithCancel(context.Background())
	s.stopCleanup = stop
	if cfg.CleanupInterval > 0 {
		s.cleanupDone = make(chan struct{})
		go s.cleanupLoop(cleanupCtx, cfg.CleanupInterval)
	}
	return s, nil
}

// Close stops every invalidation watch ([Store.WatchInvalidations]) and
// the cleanup goroutine, and waits for them to end, then closes the
// database if the store opened it ([OpenSQLite], [OpenPostgres]); a
// *sql.DB given to [Open] stays open. Calls after the first return the
// first's result. The store must not be used after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.watches.stopAll()
		s.stopCleanup()
		if s.cleanupDone != nil {
			<-s.cleanupDone
		}
		s.closeErr = s.hot.close()
		if s.owned {
			s.closeErr = errors.Join(s.closeErr, s.db.Close())
		}
	})
	return s.closeErr
}

// Dialect returns the database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// TablePrefix returns the prefix of the store's table names.
func (s *Store) TablePrefix() string { return s.prefix }

// startWrite waits for the store's turn to write, on SQLite; on PostgreSQL
// it returns at once. It gives up with ctx's error when ctx ends first.
// Every successful call must be followed by one [Store.endWrite].
func (s *Store) startWrite(ctx context.Context) error {
	if s.writeTurn == nil {
		return nil
	}
	select {
	case s.writeTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sqlstore: waiting to write: %w", ctx.Err())
	}
}

// endWrite ends the turn [Store.startWrite] began.
func (s *Store) endWrite() {
	if s.writeTurn != nil {
		<-s.writeTurn
	}
}

// exec runs one writing statement and returns how many rows it changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	if err := s.startWrite(ctx); err != nil {
		return 0, err
	}
	defer s.endWrite()
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, s.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(op, err)
	}
	return n, nil
}

// writeRow runs one writing statement that returns one row (INSERT ...
// RETURNING), scanning it into dest. No row is [store.ErrNotFound].
func (s *Store) writeRow(ctx context.Context, op, query string, args []any, dest ...any) error {
	if err := s.startWrite(ctx); err != nil {
		return err
	}
	defer s.endWrite()
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(dest...); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise. fn must use only tx: on a one-connection pool (SQLite in
// memory) anything else would wait for the connection tx holds.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := s.startWrite(ctx); err != nil {
		return err
	}
	defer s.endWrite()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return s.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// fail maps err from the database to what the store returns: no rows is
// [store.ErrNotFound], a unique violation [store.ErrConflict], and anything
// else a store failure that names op. The two sentinels pass through.
func (s *Store) fail(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case isUniqueViolation(err):
		return store.ErrConflict
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// isUniqueViolation reports whether err is a duplicate key in a unique
// index or primary key, on either database.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Times are stored as Unix nanoseconds, which hold every instant from 1678
// to 2262 exactly; instants outside are clamped to the ends. A zero time is
// NULL where a column may be empty.

// nanos returns t in Unix nanoseconds, clamped to the int64 range.
func nanos(t time.Time) int64 {
	const maxSec = math.MaxInt64 / int64(time.Second)
	switch sec := t.Unix(); {
	case sec < -maxSec:
		return math.MinInt64
	case sec > maxSec-1:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// nullNanos returns t in Unix nanoseconds, or NULL for the zero time.
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

// fromNanos returns the UTC time of Unix nanoseconds n.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// fromNullNanos returns the time of n, or the zero time for NULL.
func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// toHash copies b into a [store.Hash]; b of another length is an error
// (the database holds something this store did not write).
func toHash(b []byte) (store.Hash, error) {
	var h store.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("stored hash has %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}
