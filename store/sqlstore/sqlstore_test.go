package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
	"github.com/keyward/keyward/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		// A new file for each case.
		return openSQLite(t, sqlstore.Config{Now: now, CleanupInterval: -1})
	})
}

func TestPostgresConformance(t *testing.T) {
	t.Parallel()
	// One schema for the run, dropped at its end; tables with a prefix of
	// their own for each case. The prefixes are random too, since
	// invalidation channels belong to the database, not to a schema.
	db := postgresDB(t, postgresSchema(t))
	var cases atomic.Int64
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		prefix := randomName(fmt.Sprintf("c%d_", cases.Add(1))) + "_"
		// Dropped with each case, not all with the schema: one DROP of
		// every case's tables takes more locks than the server has.
		t.Cleanup(func() { dropTables(t, db, prefix) })
		s, err := sqlstore.Open(context.Background(), db, sqlstore.Config{TablePrefix: prefix, Now: now, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		closeStore(t, s)
		return s
	})
}

// migrationRows returns the versions recorded in the store's migrations
// table, with when each was applied.
func migrationRows(t *testing.T, db *sql.DB, prefix string) map[int]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM ` + prefix + `schema_migrations`)
	must(t, err)
	defer rows.Close()
	got := make(map[int]int64)
	for rows.Next() {
		var v int
		var at int64
		must(t, rows.Scan(&v, &at))
		got[v] = at
	}
	must(t, rows.Err())
	return got
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			clock := clocktest.New()
			first, err := sqlstore.Open(ctx, db, sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
			must(t, err)
			alice, err := first.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
			must(t, err)
			must(t, first.Close())
			applied := migrationRows(t, db, sqlstore.DefaultTablePrefix)
			if len(applied) != sqlstore.SchemaVersion() || sqlstore.SchemaVersion() < 1 {
				t.Fatalf("after the first Open: versions %v, want 1..%d", applied, sqlstore.SchemaVersion())
			}

			clock.Advance(time.Hour)
			for range 2 {
				again, err := sqlstore.Open(ctx, db, sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
				must(t, err)
				closeStore(t, again)
				got, err := again.AccountByLogin(ctx, scopes.User, "alice")
				if err != nil || got.ID != alice.ID {
					t.Fatalf("alice after a second Open: %+v, %v", got, err)
				}
			}
			if again := migrationRows(t, db, sqlstore.DefaultTablePrefix); fmt.Sprint(again) != fmt.Sprint(applied) {
				t.Fatalf("a second Open changed the migrations table: %v, was %v", again, applied)
			}
		})
	}
}

func TestMigrationFromVersion1(t *testing.T) {
	t.Parallel()
	// A database that an older keyward made (schema version 1) and used:
	// Open adds the columns and the table of version 2, once, and the old
	// rows read as keys never used and sessions nobody switched into.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			dialect := map[string]sqlstore.Dialect{"SQLite": sqlstore.SQLite, "PostgreSQL": sqlstore.Postgres}[d.name]
			const prefix = "old_"
			must(t, sqlstore.MigrateTo(ctx, db, dialect, prefix, 1))
			if got := migrationRows(t, db, prefix); len(got) != 1 {
				t.Fatalf("after migrating to version 1: versions %v", got)
			}
			clock := clocktest.New()
			now := clock.Now()
			keyHash, sessHash := store.HashOf([]byte("old key")), store.HashOf([]byte("old session"))
			_, err := db.Exec(`INSERT INTO old_api_keys
				(hash, prefix, account_scope, account_id, label, expires_at, created_at, last_used_at)
				VALUES ($1, 'kw_old', $2, 7, 'old', NULL, $3, $3)`, keyHash[:], int64(scopes.User), now.UnixNano())
			must(t, err)
			_, err = db.Exec(`INSERT INTO old_sessions
				(hash, account_scope, account_id, tfa, method, api_key_hash, created_at, last_seen_at, expires_at)
				VALUES ($1, $2, 7, $3, 'password', $4, $5, $5, $6)`,
				sessHash[:], int64(scopes.User), true, make([]byte, 32), now.UnixNano(), now.Add(time.Hour).UnixNano())
			must(t, err)

			s, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: prefix, Now: clock.Now, CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			applied := migrationRows(t, db, prefix)
			if len(applied) != sqlstore.SchemaVersion() || sqlstore.SchemaVersion() < 2 {
				t.Fatalf("after Open: versions %v, want 1..%d", applied, sqlstore.SchemaVersion())
			}
			k, err := s.APIKeyByHash(ctx, keyHash)
			if err != nil || k.Label != "old" || !k.LastUsedAt.Equal(now) || k.Note != "" || k.BoundIP != "" ||
				k.LastUsedIP != "" || k.RequestCount != 0 {
				t.Fatalf("a version 1 key after the upgrade: %+v, %v", k, err)
			}
			must(t, s.RecordAPIKeyUse(ctx, k.ID, now.Add(time.Second), "192.0.2.1", 3))
			if k, err = s.APIKeyByHash(ctx, keyHash); err != nil || k.RequestCount != 3 || k.LastUsedIP != "192.0.2.1" {
				t.Fatalf("a version 1 key after a recorded use: %+v, %v", k, err)
			}
			sess, err := s.Session(ctx, sessHash)
			if err != nil || !sess.TFA || sess.Method != "password" || sess.SwitchedBy != (store.AccountRef{}) || sess.SwitchPrivilege != "" {
				t.Fatalf("a version 1 session after the upgrade: %+v, %v", sess, err)
			}
			tok := store.Token{Hash: store.HashOf([]byte("token")), Account: store.AccountRef{Scope: scopes.User, ID: 7},
				Purpose: "password-reset", ExpiresAt: now.Add(30 * time.Minute)}
			must(t, s.PutToken(ctx, tok))
			if got, err := s.TakeToken(ctx, tok.Hash); err != nil || got.Account != tok.Account {
				t.Fatalf("TakeToken after the upgrade: %+v, %v", got, err)
			}

			// Opening again applies nothing; a keyward that knows only
			// version 1 refuses the upgraded database.
			again, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: prefix, Now: clock.Now, CleanupInterval: -1})
			must(t, err)
			closeStore(t, again)
			if got := migrationRows(t, db, prefix); fmt.Sprint(got) != fmt.Sprint(applied) {
				t.Fatalf("a second Open changed the migrations table: %v, was %v", got, applied)
			}
			newest := fmt.Sprintf("schema version %d;", sqlstore.SchemaVersion())
			if err := sqlstore.MigrateTo(ctx, db, dialect, prefix, 1); err == nil || !strings.Contains(err.Error(), newest) {
				t.Fatalf("a version 1 keyward on a version %d database: %v, want it refused", sqlstore.SchemaVersion(), err)
			}
		})
	}
}

func TestMigrationFromVersion2(t *testing.T) {
	t.Parallel()
	// A 2FA state that a keyward of schema version 2 wrote has no version:
	// after the upgrade it reads as version 0, as an absent state does,
	// and a put at version 0 replaces it (not refused as if it were new:
	// that would lock the account's 2FA state for good). Then it is
	// versioned like any other.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			dialect := map[string]sqlstore.Dialect{"SQLite": sqlstore.SQLite, "PostgreSQL": sqlstore.Postgres}[d.name]
			const prefix = "v2_"
			must(t, sqlstore.MigrateTo(ctx, db, dialect, prefix, 2))
			ref := store.AccountRef{Scope: scopes.User, ID: 7}
			code := store.HashOf([]byte("old code"))
			_, err := db.Exec(`INSERT INTO v2_tfa
				(account_scope, account_id, enabled, secret, pending_secret, last_step, recovery_salt)
				VALUES ($1, $2, $3, $4, NULL, 500, $5)`, int64(ref.Scope), ref.ID, true, []byte("secret"), []byte("salt"))
			must(t, err)
			_, err = db.Exec(`INSERT INTO v2_recovery_codes (account_scope, account_id, pos, hash) VALUES ($1, $2, 0, $3)`,
				int64(ref.Scope), ref.ID, code[:])
			must(t, err)

			s, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: prefix, CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			old, err := s.TFA(ctx, ref)
			if err != nil || !old.Enabled || string(old.Secret) != "secret" || old.LastStep != 500 ||
				len(old.RecoveryCodes) != 1 || old.RecoveryCodes[0] != code || old.Version != 0 {
				t.Fatalf("a version 2 state after the upgrade: %+v, %v", old, err)
			}
			next := old
			next.RecoveryCodes = []store.Hash{store.HashOf([]byte("new code"))}
			must(t, s.PutTFA(ctx, next))
			got, err := s.TFA(ctx, ref)
			if err != nil || got.Version != 1 || got.RecoveryCodes[0] != next.RecoveryCodes[0] || got.LastStep != 500 {
				t.Fatalf("after a put at version 0: %+v, %v", got, err)
			}
			if err := s.PutTFA(ctx, old); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("a second put at version 0: %v, want store.ErrConflict", err)
			}
		})
	}
}

func TestMigrationFromVersion3(t *testing.T) {
	t.Parallel()
	// A database of schema version 3 has no generations: after the
	// upgrade its accounts are at generation 0 and its sessions were made
	// at generation 0 by nobody's switch, so they stay valid until the
	// account's first credential change, which raises it to 1.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			dialect := map[string]sqlstore.Dialect{"SQLite": sqlstore.SQLite, "PostgreSQL": sqlstore.Postgres}[d.name]
			const prefix = "v3_"
			must(t, sqlstore.MigrateTo(ctx, db, dialect, prefix, 3))
			clock := clocktest.New()
			now := clock.Now()
			var id int64
			must(t, db.QueryRow(`INSERT INTO v3_accounts
				(scope, username, email, name, first_name, last_name, password_hash, disabled, created_at)
				VALUES ($1, 'alice', 'alice@example.com', '', '', '', 'old hash', $2, $3) RETURNING id`,
				int64(scopes.User), false, now.UnixNano()).Scan(&id))
			_, err := db.Exec(`INSERT INTO v3_logins (scope, login, account_id) VALUES ($1, 'alice', $2), ($1, 'alice@example.com', $2)`,
				int64(scopes.User), id)
			must(t, err)
			alice := store.AccountRef{Scope: scopes.User, ID: id}
			sessHash := store.HashOf([]byte("old session"))
			_, err = db.Exec(`INSERT INTO v3_sessions
				(hash, account_scope, account_id, tfa, method, api_key_hash, created_at, last_seen_at, expires_at)
				VALUES ($1, $2, $3, $4, 'password', $5, $6, $6, $7)`,
				sessHash[:], int64(scopes.User), id, false, make([]byte, 32), now.UnixNano(), now.Add(time.Hour).UnixNano())
			must(t, err)

			s, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: prefix, Now: clock.Now, CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			if got := migrationRows(t, db, prefix); len(got) != sqlstore.SchemaVersion() || sqlstore.SchemaVersion() < 4 {
				t.Fatalf("after Open: versions %v, want 1..%d", got, sqlstore.SchemaVersion())
			}
			a, err := s.AccountByLogin(ctx, scopes.User, "alice")
			if err != nil || a.ID != id || a.PasswordHash != "old hash" || a.Generation != 0 {
				t.Fatalf("a version 3 account after the upgrade: %+v, %v", a, err)
			}
			sess, err := s.Session(ctx, sessHash)
			if err != nil || sess.Account != alice || sess.Generation != 0 || sess.Parent != (store.Hash{}) {
				t.Fatalf("a version 3 session after the upgrade: %+v, %v", sess, err)
			}
			must(t, s.SetPassword(ctx, alice, "new hash"))
			if a, err := s.Account(ctx, alice); err != nil || a.Generation != 1 || a.PasswordHash != "new hash" {
				t.Fatalf("after SetPassword: %+v, %v; want generation 1", a, err)
			}
			// New sessions keep their generation and parent.
			next := store.Session{Hash: store.HashOf([]byte("new session")), Account: alice, Method: "switch",
				Generation: 1, Parent: sessHash, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			must(t, s.CreateSession(ctx, next))
			if got, err := s.Session(ctx, next.Hash); err != nil || got.Generation != 1 || got.Parent != sessHash {
				t.Fatalf("a new session: %+v, %v", got, err)
			}
		})
	}
}

func TestGenerationsAcrossPools(t *testing.T) {
	t.Parallel()
	// Two pools on one database act as two processes. Goroutines on both
	// change one account's password and turn its 2FA on and off (read,
	// flip, put, and read again on a conflict): each change raises the
	// generation once, in its own transaction, and no raise is lost.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			newPool := d.open(t)
			var stores [2]*sqlstore.Store
			for i := range stores {
				s, err := sqlstore.Open(ctx, newPool(), sqlstore.Config{CleanupInterval: -1})
				must(t, err)
				closeStore(t, s)
				stores[i] = s
			}
			alice, err := stores[0].CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
			must(t, err)
			ref := alice.Ref()
			const perStore = 10
			var wg sync.WaitGroup
			var changes atomic.Int64
			for _, s := range stores {
				for g := range perStore {
					wg.Go(func() {
						if g%2 == 0 {
							if err := s.SetPassword(ctx, ref, fmt.Sprint("hash ", g)); err != nil {
								t.Error(err)
								return
							}
							changes.Add(1)
							return
						}
						for {
							st, err := s.TFA(ctx, ref)
							switch {
							case errors.Is(err, store.ErrNotFound):
								st = store.TFA{Account: ref}
							case err != nil:
								t.Error(err)
								return
							}
							st.Enabled = !st.Enabled
							err = s.PutTFA(ctx, st)
							if err == nil {
								changes.Add(1)
								return
							}
							if !errors.Is(err, store.ErrConflict) {
								t.Error(err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			got, err := stores[1].Account(ctx, ref)
			must(t, err)
			if got.Generation != changes.Load() {
				t.Fatalf("generation %d after %d credential changes across two pools", got.Generation, changes.Load())
			}
		})
	}
}

func TestTFACompareAndSetAcrossPools(t *testing.T) {
	t.Parallel()
	// Two pools on one database act as two processes. Goroutines on both
	// add a recovery code each to one 2FA state, by read, change, put,
	// and read again on a conflict: no addition is lost, because each put
	// is refused unless the state is still the one its caller read.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			newPool := d.open(t)
			var stores [2]*sqlstore.Store
			for i := range stores {
				s, err := sqlstore.Open(ctx, newPool(), sqlstore.Config{CleanupInterval: -1})
				must(t, err)
				closeStore(t, s)
				stores[i] = s
			}
			ref := store.AccountRef{Scope: scopes.User, ID: 1}
			must(t, stores[0].PutTFA(ctx, store.TFA{Account: ref}))
			const perStore = 20
			var wg sync.WaitGroup
			var conflicts atomic.Int64
			for _, s := range stores {
				for g := range perStore {
					wg.Go(func() {
						add := store.HashOf(fmt.Appendf(nil, "%p/%d", s, g))
						for {
							st, err := s.TFA(ctx, ref)
							if err != nil {
								t.Error(err)
								return
							}
							st.RecoveryCodes = append(st.RecoveryCodes, add)
							err = s.PutTFA(ctx, st)
							if err == nil {
								return
							}
							if !errors.Is(err, store.ErrConflict) {
								t.Error(err)
								return
							}
							conflicts.Add(1)
						}
					})
				}
			}
			wg.Wait()
			got, err := stores[1].TFA(ctx, ref)
			must(t, err)
			if len(got.RecoveryCodes) != 2*perStore || got.Version != 1+2*perStore {
				t.Fatalf("%d codes at version %d after %d additions, want %d at version %d",
					len(got.RecoveryCodes), got.Version, 2*perStore, 2*perStore, 1+2*perStore)
			}
			t.Logf("%d conflicts, each retried", conflicts.Load())
		})
	}
}

func TestDialectsHaveTheSameMigrations(t *testing.T) {
	t.Parallel()
	lite, err := sqlstore.MigrationNames(sqlstore.SQLite)
	must(t, err)
	pg, err := sqlstore.MigrationNames(sqlstore.Postgres)
	must(t, err)
	if len(lite) == 0 || fmt.Sprint(lite) != fmt.Sprint(pg) || len(lite) != sqlstore.SchemaVersion() {
		t.Fatalf("SQLite migrations %v, PostgreSQL %v, SchemaVersion %d", lite, pg, sqlstore.SchemaVersion())
	}
}

func TestConcurrentOpens(t *testing.T) {
	t.Parallel()
	// Several processes start at once on a database: one migrates, the
	// others wait and find it done, and all then share one store. Twice:
	// on new tables, and on tables an older keyward made (here, none but
	// the migrations table), where each process first reads which
	// versions are missing and must not act on a stale answer.
	const processes = 4
	for _, d := range dialects() {
		for _, upgrade := range []bool{false, true} {
			name := d.name + map[bool]string{false: "/New", true: "/Upgrade"}[upgrade]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				concurrentOpens(t, d.open(t), upgrade, processes)
			})
		}
	}
}

// concurrentOpens opens stores on processes pools of newPool at once.
func concurrentOpens(t *testing.T, newPool func() *sql.DB, upgrade bool, processes int) {
	ctx := context.Background()
	pools := make([]*sql.DB, processes)
	for i := range pools {
		pools[i] = newPool()
		must(t, pools[i].Ping())
	}
	if upgrade {
		_, err := pools[0].Exec(`CREATE TABLE kw_schema_migrations
			(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		must(t, err)
	}
	stores := make([]*sqlstore.Store, processes)
	errs := make([]error, processes)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range processes {
		wg.Go(func() {
			start.Wait()
			stores[i], errs[i] = sqlstore.Open(ctx, pools[i], sqlstore.Config{TablePrefix: "kw_", CleanupInterval: -1})
		})
	}
	start.Done()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d at once: %v", i+1, processes, err)
		}
		closeStore(t, stores[i])
	}
	if got := migrationRows(t, pools[0], "kw_"); len(got) != sqlstore.SchemaVersion() {
		t.Fatalf("migrations recorded: %v, want 1..%d", got, sqlstore.SchemaVersion())
	}
	// One store: an account made through one is found through all.
	a, err := stores[0].CreateAccount(ctx, store.Account{Scope: scopes.Admin, Username: "root"})
	must(t, err)
	for i, s := range stores {
		if got, err := s.Account(ctx, a.Ref()); err != nil || got.Username != "root" {
			t.Fatalf("store %d: %+v, %v", i, got, err)
		}
	}
}

func TestConcurrentWritersAcrossPools(t *testing.T) {
	t.Parallel()
	// Two pools on one database act as two processes: their writes wait
	// for each other (SQLite's busy timeout and immediate transactions)
	// and none is lost or fails.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			newPool := d.open(t)
			var stores [2]*sqlstore.Store
			for i := range stores {
				s, err := sqlstore.Open(ctx, newPool(), sqlstore.Config{CleanupInterval: -1})
				must(t, err)
				closeStore(t, s)
				stores[i] = s
			}
			key, err := stores[0].CreateAPIKey(ctx, store.APIKey{Hash: store.HashOf([]byte("shared")), Account: store.AccountRef{Scope: scopes.User, ID: 1}})
			must(t, err)
			tok := store.Token{Hash: store.HashOf([]byte("shared")), Account: key.Account, ExpiresAt: time.Now().Add(time.Hour)}
			must(t, stores[1].PutToken(ctx, tok))
			const perStore = 100
			var wg sync.WaitGroup
			var failed, taken atomic.Int64
			for _, s := range stores {
				for g := range 4 {
					wg.Go(func() {
						switch _, err := s.TakeToken(ctx, tok.Hash); {
						case err == nil:
							taken.Add(1)
						case !errors.Is(err, store.ErrNotFound):
							failed.Add(1)
							t.Error(err)
							return
						}
						for i := range perStore / 4 {
							if _, _, err := s.Increment(ctx, "shared", time.Hour); err != nil {
								failed.Add(1)
								t.Error(err)
								return
							}
							if err := s.RecordAPIKeyUse(ctx, key.ID, time.Now(), "192.0.2.1", 1); err != nil {
								failed.Add(1)
								t.Error(err)
								return
							}
							name := fmt.Sprintf("%p/%d/%d", s, g, i)
							if _, err := s.Claim(ctx, name, time.Minute); err != nil {
								failed.Add(1)
								t.Error(err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			if failed.Load() > 0 {
				return
			}
			if n, _, err := stores[1].Count(ctx, "shared"); err != nil || n != 2*perStore {
				t.Fatalf("Count = %d, %v; want %d", n, err, 2*perStore)
			}
			if k, err := stores[1].APIKeyByHash(ctx, key.Hash); err != nil || k.RequestCount != 2*perStore {
				t.Fatalf("RequestCount = %d, %v; want %d", k.RequestCount, err, 2*perStore)
			}
			if n := taken.Load(); n != 1 {
				t.Fatalf("%d of 8 takes of one token across two pools got it, want 1", n)
			}
		})
	}
}

// rowCount returns how many rows the table has.
func rowCount(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	must(t, db.QueryRow(`SELECT COUNT(*) FROM `+table).Scan(&n))
	return n
}

func TestCleanupGoroutineDeletesExpiredRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			clock := clocktest.New()
			s, err := sqlstore.Open(ctx, db, sqlstore.Config{Now: clock.Now, CleanupInterval: 5 * time.Millisecond})
			must(t, err)
			closeStore(t, s)

			owner := store.AccountRef{Scope: scopes.User, ID: 1}
			now := clock.Now()
			for i, ttl := range []time.Duration{time.Minute, time.Hour} {
				name := fmt.Sprint(i)
				h := store.HashOf([]byte(name))
				must(t, s.CreateSession(ctx, store.Session{Hash: h, Account: owner, CreatedAt: now, ExpiresAt: now.Add(ttl)}))
				_, err := s.Claim(ctx, name, ttl)
				must(t, err)
				_, _, err = s.Increment(ctx, name, ttl)
				must(t, err)
				must(t, s.PutChallenge(ctx, store.Challenge{ID: name, Digits: []byte{1}, ExpiresAt: now.Add(ttl)}))
				must(t, s.PutToken(ctx, store.Token{Hash: h, Account: owner, Purpose: "password-reset", ExpiresAt: now.Add(ttl)}))
				_, err = s.CreateAPIKey(ctx, store.APIKey{Hash: h, Account: owner, ExpiresAt: now.Add(ttl)})
				must(t, err)
			}
			_, err = s.CreateAPIKey(ctx, store.APIKey{Hash: store.HashOf([]byte("forever")), Account: owner})
			must(t, err)
			tables := map[string]int{"sessions": 1, "claims": 1, "counters": 1, "challenges": 1, "api_keys": 2, "tokens": 1}
			for table := range tables {
				if n := rowCount(t, db, sqlstore.DefaultTablePrefix+table); n != tables[table]+1 {
					t.Fatalf("%s has %d rows before expiry, want %d", table, n, tables[table]+1)
				}
			}

			clock.Advance(time.Minute) // the one-minute rows expire
			deadline := time.Now().Add(30 * time.Second)
			for table, want := range tables {
				for {
					n := rowCount(t, db, sqlstore.DefaultTablePrefix+table)
					if n == want {
						break
					}
					if n < want || time.Now().After(deadline) {
						t.Fatalf("%s has %d rows, want %d: the expired ones deleted, the live ones kept", table, n, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			if _, err := s.Session(ctx, store.HashOf([]byte("1"))); err != nil {
				t.Fatalf("the live session after cleanup: %v", err)
			}
			if _, err := s.TakeToken(ctx, store.HashOf([]byte("1"))); err != nil {
				t.Fatalf("the live token after cleanup: %v", err)
			}
		})
	}
}

func TestCleanupDeletesOnlyExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := clocktest.New()
	s := openSQLite(t, sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
	if CleanupDone := sqlstore.CleanupDone(s); CleanupDone != nil {
		t.Fatal("a negative CleanupInterval started a goroutine")
	}
	_, err := s.Claim(ctx, "short", time.Second)
	must(t, err)
	_, err = s.Claim(ctx, "long", time.Hour)
	must(t, err)
	n, err := s.Cleanup(ctx)
	if err != nil || n != 0 {
		t.Fatalf("Cleanup before anything expired: %d, %v", n, err)
	}
	clock.Advance(time.Second)
	n, err = s.Cleanup(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Cleanup after one claim expired: %d, %v; want 1", n, err)
	}
	if won, err := s.Claim(ctx, "long", time.Hour); err != nil || won {
		t.Fatalf("the live claim after Cleanup: %v, %v", won, err)
	}
}

func TestCloseStopsCleanupAndKeepsCallersDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqliteDB(t, filepath.Join(t.TempDir(), "k.db"))
	s, err := sqlstore.Open(ctx, db, sqlstore.Config{CleanupInterval: time.Millisecond})
	must(t, err)
	done := sqlstore.CleanupDone(s)
	if done == nil {
		t.Fatal("no cleanup goroutine")
	}
	select {
	case <-done:
		t.Fatal("the cleanup goroutine ended before Close")
	default:
	}
	must(t, s.Close())
	select {
	case <-done: // Close waited for it
	default:
		t.Fatal("Close returned before the cleanup goroutine ended")
	}
	must(t, s.Close()) // a second Close is harmless
	if err := db.Ping(); err != nil {
		t.Fatalf("Close closed the caller's *sql.DB: %v", err)
	}

	// A store that opened its database closes it.
	owned := openSQLite(t, sqlstore.Config{})
	must(t, owned.Close())
	<-sqlstore.CleanupDone(owned)
	if err := sqlstore.DB(owned).Ping(); !isClosed(err) {
		t.Fatalf("Ping after Close of OpenSQLite's store: %v, want closed", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	cfg := postgresSchema(t)
	ctx := context.Background()
	// The opener takes a DSN; search_path puts the tables in the test's
	// schema.
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable search_path=%s",
		cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.RuntimeParams["search_path"])
	if cfg.Password != "" {
		dsn += " password=" + cfg.Password
	}
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Config{TablePrefix: "opener_"})
	must(t, err)
	if s.Dialect() != sqlstore.Postgres || s.TablePrefix() != "opener_" {
		t.Fatalf("Dialect %v, TablePrefix %q", s.Dialect(), s.TablePrefix())
	}
	won, err := s.Claim(ctx, "x", time.Minute)
	if err != nil || !won {
		t.Fatalf("Claim: %v, %v", won, err)
	}
	must(t, s.Close())
	if err := sqlstore.DB(s).Ping(); !isClosed(err) {
		t.Fatalf("Ping after Close of OpenPostgres's store: %v, want closed", err)
	}
	if _, err := sqlstore.OpenPostgres(ctx, "postgres://127.0.0.1:1/none?sslmode=disable&connect_timeout=2", sqlstore.Config{}); err == nil {
		t.Fatal("OpenPostgres of a port nobody listens on succeeded")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqliteDB(t, filepath.Join(t.TempDir(), "k.db"))
	for _, prefix := range []string{
		"1kw_",          // starts with a digit
		"kw-",           // a hyphen
		"kw ",           // a space
		"kw;DROP TABLE", // SQL
		`kw"`,           // a quote
		"kwé_",          // not ASCII
		strings.Repeat("k", 33),
	} {
		if _, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: prefix}); err == nil {
			t.Errorf("Open with TablePrefix %q succeeded", prefix)
		}
	}
	if _, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: 7}); err == nil {
		t.Error("Open with an unknown dialect succeeded")
	}
	if _, err := sqlstore.Open(ctx, db, sqlstore.Config{CleanupTimeout: -time.Second}); err == nil {
		t.Error("Open with a negative cleanup timeout succeeded")
	}
	if _, err := sqlstore.Open(ctx, nil, sqlstore.Config{}); err == nil {
		t.Error("Open of a nil *sql.DB succeeded")
	}
	if _, err := sqlstore.OpenSQLite(ctx, "a?b.db", sqlstore.Config{}); err == nil {
		t.Error("OpenSQLite of a path with '?' succeeded")
	}

	// Defaults: the driver's dialect, keyward_ tables, a cleanup goroutine.
	s, err := sqlstore.Open(ctx, db, sqlstore.Config{})
	must(t, err)
	closeStore(t, s)
	if s.Dialect() != sqlstore.SQLite || s.TablePrefix() != sqlstore.DefaultTablePrefix || sqlstore.CleanupDone(s) == nil {
		t.Fatalf("Config{}: dialect %v, prefix %q, cleanup %v", s.Dialect(), s.TablePrefix(), sqlstore.CleanupDone(s) != nil)
	}
	// Prefixes keep stores apart in one database.
	other, err := sqlstore.Open(ctx, db, sqlstore.Config{TablePrefix: "Host_KW2_"})
	must(t, err)
	closeStore(t, other)
	_, err = s.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"})
	must(t, err)
	if _, err := other.AccountByLogin(ctx, scopes.User, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an account of keyward_ tables found in Host_KW2_ tables: %v", err)
	}
}

func TestUnstorableLoginIsNotFound(t *testing.T) {
	t.Parallel()
	// A login from a request that PostgreSQL's TEXT cannot hold names no
	// account; it is not a store failure (which would answer 503).
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlstore.Open(ctx, d.open(t)(), sqlstore.Config{CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			for _, login := range []string{"a\x00b", "\xff\xfe", "bob\x00"} {
				if _, err := s.AccountByLogin(ctx, scopes.User, login); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("AccountByLogin(%q): %v, want ErrNotFound", login, err)
				}
			}
			// Keys from requests are bytes: any will do.
			for _, key := range []string{"ip:\x00", "user:\xff"} {
				if won, err := s.Claim(ctx, key, time.Minute); err != nil || !won {
					t.Errorf("Claim(%q): %v, %v", key, won, err)
				}
				if n, _, err := s.Increment(ctx, key, time.Minute); err != nil || n != 1 {
					t.Errorf("Increment(%q): %v, %v", key, n, err)
				}
			}
		})
	}
}

func TestFailsClosed(t *testing.T) {
	t.Parallel()
	// A store that cannot answer returns an error that is neither
	// ErrNotFound nor ErrConflict, so keyward refuses the request.
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			s, err := sqlstore.Open(ctx, db, sqlstore.Config{CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			h := store.HashOf([]byte("s"))
			checks := map[string]error{}
			_, checks["Session, canceled"] = s.Session(canceled, h)
			_, checks["Claim, canceled"] = s.Claim(canceled, "k", time.Minute)
			must(t, db.Close())
			_, checks["Session, closed pool"] = s.Session(ctx, h)
			_, checks["APIKeyByHash, closed pool"] = s.APIKeyByHash(ctx, h)
			_, _, checks["Increment, closed pool"] = s.Increment(ctx, "k", time.Minute)
			checks["Decrement, closed pool"] = s.Decrement(ctx, "k")
			checks["RecordAPIKeyUse, closed pool"] = s.RecordAPIKeyUse(ctx, 1, time.Now(), "", 1)
			checks["PutToken, closed pool"] = s.PutToken(ctx, store.Token{Hash: h, Account: store.AccountRef{Scope: scopes.User, ID: 1}})
			_, checks["TakeToken, closed pool"] = s.TakeToken(ctx, h)
			checks["CreateSession, closed pool"] = s.CreateSession(ctx, store.Session{Hash: h, Account: store.AccountRef{Scope: scopes.User, ID: 1}})
			for name, err := range checks {
				if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
					t.Errorf("%s: %v, want a store failure", name, err)
				}
			}
		})
	}
}

func TestDeleteAccountSessionsUsesTheAccountIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)()
			s, err := sqlstore.Open(ctx, db, sqlstore.Config{CleanupInterval: -1})
			must(t, err)
			closeStore(t, s)
			query := sqlstore.DeleteAccountSessionsSQL(s)
			args := []any{int64(1), int64(1), make([]byte, 32)}
			var plan strings.Builder
			if d.name == "SQLite" {
				rows, err := db.Query(`EXPLAIN QUERY PLAN `+query, args...)
				must(t, err)
				for rows.Next() {
					var id, parent, unused int
					var detail string
					must(t, rows.Scan(&id, &parent, &unused, &detail))
					plan.WriteString(detail + "\n")
				}
				must(t, rows.Err())
				rows.Close()
			} else {
				// On a near-empty table the planner may prefer a scan;
				// forbid it, and the plan must still need no scan.
				tx, err := db.Begin()
				must(t, err)
				defer tx.Rollback()
				_, err = tx.Exec(`SET LOCAL enable_seqscan = off`)
				must(t, err)
				rows, err := tx.Query(`EXPLAIN `+query, args...)
				must(t, err)
				for rows.Next() {
					var line string
					must(t, rows.Scan(&line))
					plan.WriteString(line + "\n")
				}
				must(t, rows.Err())
				rows.Close()
			}
			if !strings.Contains(plan.String(), "sessions_account") || strings.Contains(plan.String(), "Seq Scan") {
				t.Fatalf("DeleteAccountSessions does not go through the account index:\n%s", plan.String())
			}
		})
	}
}
