package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// pgSampler measures the example's PostgreSQL work during one window,
// from PostgreSQL's cumulative statistics for the database of its URL.
//
// What it counts: pg_stat_statements is not assumed (it must be preloaded,
// which a stock server is not), so it counts transactions, from
// pg_stat_database (xact_commit + xact_rollback). A statement sent outside
// BEGIN ... COMMIT, which is how the stores read on the request path, is
// one transaction; a block counts once, whatever it holds. Beside them,
// pg_stat_user_tables gives, per table of the example's prefix, the scans
// (sequential and index) and the rows written: those are the example's
// alone, whoever else uses the server.
//
// How: a backend publishes its counts when it goes idle, at most once a
// second, so under load a reading lags by up to a second of each
// backend's work, and two readings ten seconds apart can be off by a
// tenth. So the sampler reads every pgSampleEvery during the window, with
// the requests answered at that moment, and takes the least-squares slope
// of the counts against the requests: the lag shifts the series, it does
// not tilt it. Its own readings (one transaction each) are taken out.
// Not safe for concurrent use.
type pgSampler struct {
	db   *sql.DB
	conn *sql.Conn // one connection for the window's readings
	// tag is the example's application_name, prefix its table prefix.
	tag, prefix string
	requests    []float64 // answered in the window, at each reading
	snaps       []pgSnap
}

// pgSampleEvery is how often the sampler reads during a window.
const pgSampleEvery = 250 * time.Millisecond

// openPG opens a handle on the database of rawURL, checks that the server
// answers, and returns its version.
func openPG(ctx context.Context, rawURL string) (*sql.DB, string, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var version string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, version, nil
}

// pgSnap is one reading.
type pgSnap struct {
	xacts  int64
	tables map[string][2]int64 // by table name: scans, rows written
}

// pgSnapshotQuery reads, in one transaction, the database's transactions
// (committed and rolled back), and the scans and row writes of the tables
// whose names start with $1.
const pgSnapshotQuery = `
SELECT
  (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
  (SELECT coalesce(json_object_agg(relname, json_build_array(
      coalesce(seq_scan, 0) + coalesce(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del)), '{}')
    FROM pg_stat_user_tables WHERE $1 <> '' AND starts_with(relname, $1))`

// pgActivityQuery counts the database's client backends that are the
// example's (application_name $1), and the others, but this one, that
// were active within the last $2 seconds.
const pgActivityQuery = `
SELECT
  count(*) FILTER (WHERE application_name = $1),
  count(*) FILTER (WHERE application_name <> $1 AND pid <> pg_backend_pid()
    AND (state = 'active' OR state_change > now() - make_interval(secs => $2)
      OR backend_start > now() - make_interval(secs => $2)))
FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`

// begin opens the sampler's connection, finds the example's backends,
// and takes the first reading. It returns the process IDs of the
// example's backends and of the sampler's own.
func (p *pgSampler) begin(ctx context.Context) (backends []int, own int, err error) {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	p.conn = c
	rows, err := c.QueryContext(ctx, `SELECT pid, pid = pg_backend_pid() FROM pg_stat_activity
		WHERE datname = current_database() AND (application_name = $1 OR pid = pg_backend_pid())`, p.tag)
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var pid int
		var self bool
		if err := rows.Scan(&pid, &self); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if self {
			own = pid
		} else {
			backends = append(backends, pid)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return backends, own, p.sample(ctx, 0)
}

// sample takes a reading, at requests answered in the window.
func (p *pgSampler) sample(ctx context.Context, requests int64) error {
	var s pgSnap
	var tables []byte
	if err := p.conn.QueryRowContext(ctx, pgSnapshotQuery, p.prefix).Scan(&s.xacts, &tables); err != nil {
		return fmt.Errorf("reading pg_stat_database: %w", err)
	}
	if err := json.Unmarshal(tables, &s.tables); err != nil {
		return fmt.Errorf("reading pg_stat_user_tables: %w", err)
	}
	p.requests = append(p.requests, float64(requests))
	p.snaps = append(p.snaps, s)
	return nil
}

// end takes the last reading, looks for other clients active during the
// window, and closes the connection.
func (p *pgSampler) end(ctx context.Context, window time.Duration, requests int64) (pgCounts, error) {
	defer p.conn.Close()
	if err := p.sample(ctx, requests); err != nil {
		return pgCounts{}, err
	}
	c := pgRates(p.requests, p.snaps, p.prefix)
	if err := p.conn.QueryRowContext(ctx, pgActivityQuery, p.tag, window.Seconds()).Scan(&c.Tagged, &c.Foreign); err != nil {
		return c, fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	return c, nil
}

// pgCounts are the PostgreSQL work of one window, per request.
type pgCounts struct {
	// Xacts are the database's transactions per request, the sampler's
	// own taken out; those of Foreign clients are in them too.
	Xacts float64
	// Tables are the scans and row writes per request, per table of the
	// example's prefix (the prefix taken out of the names): only the
	// example's.
	Tables map[string]pgTable
	// Samples is how many readings the rates come from.
	Samples int
	// Tagged is how many client backends are the example's; Foreign how
	// many others were active during the window.
	Tagged, Foreign int
}

// pgTable is one table's work per request.
type pgTable struct{ Scans, Writes float64 }

// pgRates turns the readings into work per request: the slope of each
// count against the requests answered. Each reading but the last is one
// transaction of the sampler's, counted by a later one: they are taken
// out.
func pgRates(requests []float64, snaps []pgSnap, prefix string) pgCounts {
	c := pgCounts{Tables: map[string]pgTable{}, Samples: len(snaps)}
	series := func(f func(pgSnap) int64) []float64 {
		ys := make([]float64, len(snaps))
		for i, s := range snaps {
			ys[i] = float64(f(s))
		}
		return ys
	}
	c.Xacts = slope(requests, series(func(s pgSnap) int64 { return s.xacts }))
	if n := len(requests); n > 1 && requests[n-1] > requests[0] {
		c.Xacts -= float64(n-1) / (requests[n-1] - requests[0])
	}
	names := map[string]bool{}
	for _, s := range snaps {
		for name := range s.tables {
			names[name] = true
		}
	}
	for name := range names {
		t := pgTable{
			Scans:  slope(requests, series(func(s pgSnap) int64 { return s.tables[name][0] })),
			Writes: slope(requests, series(func(s pgSnap) int64 { return s.tables[name][1] })),
		}
		if math.Abs(t.Scans) >= 0.0005 || math.Abs(t.Writes) >= 0.0005 {
			c.Tables[strings.TrimPrefix(name, prefix)] = t
		}
	}
	return c
}

// slope is the least-squares slope of ys against xs; 0 when xs do not
// vary.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// pgDropPrefix drops the tables of the current schema whose names start
// with prefix, and reports how many.
func pgDropPrefix(ctx context.Context, db *sql.DB, prefix string) (int, error) {
	if prefix == "" {
		return 0, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`, prefix)
	if err != nil {
		return 0, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		names = append(names, pgx.Identifier{n}.Sanitize())
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, nil
	}
	_, err = db.ExecContext(ctx, "DROP TABLE IF EXISTS "+strings.Join(names, ", ")+" CASCADE")
	return len(names), err
}
