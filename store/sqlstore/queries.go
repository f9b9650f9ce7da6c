package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// queries holds every statement the store runs, with the table prefix in
// place. One text serves both dialects: SQLite reads $1 as the first
// argument, as PostgreSQL does, and both have ON CONFLICT and RETURNING.
// The one difference is the row locks a transaction takes on PostgreSQL
// before it decides on what it read (SELECT ... FOR UPDATE): SQLite has no
// such clause and no need of it, since a transaction there holds the
// database's write lock from its BEGIN IMMEDIATE. Every time a statement
// compares is an argument from the store's clock, never the database's.
type queries struct {
	// Accounts.
	account, accountByLogin, insertAccount, insertLogin, deleteLogins    string
	setPassword, rehashPassword, accountExists, lockEmail, updateAccount string
	// Credential generations.
	generation, raiseGeneration string
	// API keys.
	keyByHash, recordKeyUse, dropExpiredKey, insertKey, keysOf, revokeKey string
	// Sessions.
	session, touchSession, createSession, deleteSession, deleteAccountSessions string
	// Claims and counters.
	claim, increment, count, reset, decrement string
	// Second factors.
	tfa, tfaExists, lockTFA, insertTFA, updateTFA, deleteCodes, insertCode, advanceStep string
	// Captcha challenges.
	putChallenge, challenge, takeChallenge string
	// One-time tokens.
	putToken, takeToken string
	// Cleanup: each deletes the rows of one table that expired at $1.
	cleanup []string
}

const (
	// accountCols are read from {p}accounts a LEFT JOIN {p}generations g:
	// an account without a generation row is at generation 0.
	accountCols = `a.id, a.scope, a.username, a.email, a.name, a.first_name, a.last_name, a.password_hash, a.disabled, a.created_at,
		COALESCE(g.generation, 0)`
	withGeneration = ` LEFT JOIN {p}generations g ON g.scope = a.scope AND g.account_id = a.id`
	keyCols        = `id, hash, prefix, account_scope, account_id, label, expires_at, created_at, last_used_at, note, bound_ip, last_used_ip, request_count`
	keyLive        = `(expires_at IS NULL OR expires_at > $%d)`
)

// newQueries returns the statements of the dialect for tables named with
// prefix, which [validPrefix] has accepted.
func newQueries(d Dialect, prefix string) queries {
	p := func(sql string) string { return strings.ReplaceAll(sql, "{p}", prefix) }
	live := func(n string) string { return strings.Replace(keyLive, "%d", n, 1) }
	forUpdate := ""
	if d == Postgres {
		forUpdate = " FOR UPDATE"
	}
	return queries{
		// One statement each, on the request path: the account and its
		// generation are read at one instant.
		account: p(`SELECT ` + accountCols + ` FROM {p}accounts a` + withGeneration + `
			WHERE a.id = $1 AND a.scope = $2`),
		accountByLogin: p(`SELECT ` + accountCols + ` FROM {p}logins l JOIN {p}accounts a ON a.id = l.account_id` +
			withGeneration + ` WHERE l.scope = $1 AND l.login = $2`),
		insertAccount: p(`INSERT INTO {p}accounts
			(scope, username, email, name, first_name, last_name, password_hash, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`),
		insertLogin:  p(`INSERT INTO {p}logins (scope, login, account_id) VALUES ($1, $2, $3)`),
		deleteLogins: p(`DELETE FROM {p}logins WHERE account_id = $1 AND scope = $2`),
		setPassword:  p(`UPDATE {p}accounts SET password_hash = $3 WHERE id = $1 AND scope = $2`),
		// A compare-and-set on the locked row: a hash changed since the
		// caller read it is left alone (no row changed).
		rehashPassword: p(`UPDATE {p}accounts SET password_hash = $4 WHERE id = $1 AND scope = $2 AND password_hash = $3`),
		accountExists:  p(`SELECT 1 FROM {p}accounts WHERE id = $1 AND scope = $2`),
		// The email address an update replaces, read under the row's lock
		// so that no other update changes it before this one writes.
		lockEmail: p(`SELECT email FROM {p}accounts WHERE id = $1 AND scope = $2` + forUpdate),
		// An empty $8 keeps the password hash.
		updateAccount: p(`UPDATE {p}accounts SET username = $3, email = $4, name = $5, first_name = $6, last_name = $7,
				password_hash = CASE WHEN $8 = '' THEN password_hash ELSE $8 END
			WHERE id = $1 AND scope = $2`),

		generation: p(`SELECT generation FROM {p}generations WHERE scope = $1 AND account_id = $2`),
		// One statement: the row lock orders concurrent raises, and each
		// adds one to what the last one left. An account without a row is
		// at 0, so its first raise makes it 1.
		raiseGeneration: p(`INSERT INTO {p}generations (scope, account_id, generation) VALUES ($1, $2, 1)
			ON CONFLICT (scope, account_id) DO UPDATE SET generation = {p}generations.generation + 1`),

		keyByHash: p(`SELECT ` + keyCols + ` FROM {p}api_keys WHERE hash = $1 AND ` + live("2")),
		// One statement: the row lock orders concurrent uses, each adds
		// to the count the last one left, and the time and address move
		// together, only forward. SET reads the row as it was before the
		// UPDATE, so both CASEs test the old last_used_at. A NULL
		// last_used_at is the zero time, $5 (MinInt64, as is a zero $3).
		recordKeyUse: p(`UPDATE {p}api_keys SET request_count = request_count + $2,
			last_used_at = CASE WHEN COALESCE(last_used_at, $5) < $3 THEN $3 ELSE last_used_at END,
			last_used_ip = CASE WHEN COALESCE(last_used_at, $5) < $3 THEN $4 ELSE last_used_ip END
			WHERE id = $1 AND ` + live("6")),
		dropExpiredKey: p(`DELETE FROM {p}api_keys WHERE hash = $1 AND expires_at <= $2`),
		insertKey: p(`INSERT INTO {p}api_keys
			(hash, prefix, account_scope, account_id, label, expires_at, created_at, last_used_at,
				note, bound_ip, last_used_ip, request_count)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`),
		keysOf: p(`SELECT ` + keyCols + ` FROM {p}api_keys
			WHERE account_scope = $1 AND account_id = $2 AND ` + live("3") + ` ORDER BY created_at, id`),
		revokeKey: p(`DELETE FROM {p}api_keys WHERE id = $1 AND account_scope = $2 AND account_id = $3 AND ` + live("4")),

		session: p(`SELECT account_scope, account_id, tfa, method, api_key_hash, created_at, last_seen_at, expires_at,
				switched_by_scope, switched_by_id, switch_privilege, generation, parent
			FROM {p}sessions WHERE hash = $1 AND expires_at > $2`),
		touchSession: p(`UPDATE {p}sessions SET last_seen_at = $2, expires_at = $3 WHERE hash = $1 AND expires_at > $4`),
		// A hash held by an expired session is free: the upsert replaces
		// it, and leaves a live one alone (no row changed: ErrConflict).
		createSession: p(`INSERT INTO {p}sessions
			(hash, account_scope, account_id, tfa, method, api_key_hash, created_at, last_seen_at, expires_at,
				switched_by_scope, switched_by_id, switch_privilege, generation, parent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (hash) DO UPDATE SET account_scope = excluded.account_scope,
				account_id = excluded.account_id, tfa = excluded.tfa, method = excluded.method,
				api_key_hash = excluded.api_key_hash, created_at = excluded.created_at,
				last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at,
				switched_by_scope = excluded.switched_by_scope, switched_by_id = excluded.switched_by_id,
				switch_privilege = excluded.switch_privilege, generation = excluded.generation,
				parent = excluded.parent
			WHERE {p}sessions.expires_at <= $15`),
		deleteSession: p(`DELETE FROM {p}sessions WHERE hash = $1`),
		// Through the (account_scope, account_id) index: other accounts'
		// sessions are not read.
		deleteAccountSessions: p(`DELETE FROM {p}sessions WHERE account_scope = $1 AND account_id = $2 AND hash <> $3
			RETURNING expires_at`),

		// One statement: of concurrent claims, the first inserts (or
		// replaces an ended claim) and the others change no row.
		claim: p(`INSERT INTO {p}claims (k, expires_at) VALUES ($1, $2)
			ON CONFLICT (k) DO UPDATE SET expires_at = excluded.expires_at
			WHERE {p}claims.expires_at <= $3`),
		// One statement: the row lock orders concurrent increments, and
		// each sees the last one's count and window.
		increment: p(`INSERT INTO {p}counters (k, n, reset_at) VALUES ($1, 1, $2)
			ON CONFLICT (k) DO UPDATE SET
				n = CASE WHEN {p}counters.reset_at <= $3 THEN 1 ELSE {p}counters.n + 1 END,
				reset_at = CASE WHEN {p}counters.reset_at <= $3 THEN excluded.reset_at ELSE {p}counters.reset_at END
			RETURNING n, reset_at`),
		count: p(`SELECT n, reset_at FROM {p}counters WHERE k = $1 AND reset_at > $2`),
		reset: p(`DELETE FROM {p}counters WHERE k = $1`),
		// One statement: the row lock orders it with concurrent increments
		// and decrements, and its WHERE is checked on the row as it is when
		// the lock is held (PostgreSQL rechecks it on the newest version).
		// An ended or absent counter matches no row: nothing is written,
		// and reset_at is not touched.
		decrement: p(`UPDATE {p}counters SET n = n - 1 WHERE k = $1 AND reset_at > $2 AND n > 0`),

		// One statement, so the state and its codes are read at one
		// instant; one row per code, or one row with NULL for none.
		tfa: p(`SELECT t.enabled, t.secret, t.pending_secret, t.last_step, t.recovery_salt, t.version, c.hash
			FROM {p}tfa t LEFT JOIN {p}recovery_codes c
				ON c.account_scope = t.account_scope AND c.account_id = t.account_id
			WHERE t.account_scope = $1 AND t.account_id = $2 ORDER BY c.pos`),
		tfaExists: p(`SELECT 1 FROM {p}tfa WHERE account_scope = $1 AND account_id = $2`),
		// Whether 2FA is on before a put, read under the state's row lock
		// so that no other put changes it before this one writes; none
		// (no row) is off.
		lockTFA: p(`SELECT enabled FROM {p}tfa WHERE account_scope = $1 AND account_id = $2` + forUpdate),
		// PutTFA's compare-and-set, one statement each, deciding on the
		// locked row: a row changed means the version matched. At version
		// 0 ($8 is 0) the state is new (inserted), or a row from before
		// versions (still 0: replaced); a row at any other version is
		// left alone.
		// From version n, only a row still at n is replaced. Either way
		// last_step keeps the greater, and the version becomes one more.
		insertTFA: p(`INSERT INTO {p}tfa
			(account_scope, account_id, enabled, secret, pending_secret, last_step, recovery_salt, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
			ON CONFLICT (account_scope, account_id) DO UPDATE SET enabled = excluded.enabled,
				secret = excluded.secret, pending_secret = excluded.pending_secret,
				recovery_salt = excluded.recovery_salt, version = 1,
				last_step = CASE WHEN {p}tfa.last_step > excluded.last_step
					THEN {p}tfa.last_step ELSE excluded.last_step END
			WHERE {p}tfa.version = $8`),
		updateTFA: p(`UPDATE {p}tfa SET enabled = $3, secret = $4, pending_secret = $5, recovery_salt = $7,
				last_step = CASE WHEN last_step > $6 THEN last_step ELSE $6 END, version = version + 1
			WHERE account_scope = $1 AND account_id = $2 AND version = $8`),
		deleteCodes: p(`DELETE FROM {p}recovery_codes WHERE account_scope = $1 AND account_id = $2`),
		insertCode:  p(`INSERT INTO {p}recovery_codes (account_scope, account_id, pos, hash) VALUES ($1, $2, $3, $4)`),
		advanceStep: p(`UPDATE {p}tfa SET last_step = $3 WHERE account_scope = $1 AND account_id = $2 AND last_step < $3`),

		putChallenge: p(`INSERT INTO {p}challenges (id, digits, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET digits = excluded.digits, expires_at = excluded.expires_at
			WHERE {p}challenges.expires_at <= $4`),
		challenge:     p(`SELECT digits, expires_at FROM {p}challenges WHERE id = $1 AND expires_at > $2`),
		takeChallenge: p(`DELETE FROM {p}challenges WHERE id = $1 RETURNING digits, expires_at`),

		// As putChallenge: an expired token's hash is free, a live one's
		// taken (no row changed: ErrConflict).
		putToken: p(`INSERT INTO {p}tokens (hash, account_scope, account_id, purpose, expires_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (hash) DO UPDATE SET account_scope = excluded.account_scope,
				account_id = excluded.account_id, purpose = excluded.purpose, expires_at = excluded.expires_at
			WHERE {p}tokens.expires_at <= $6`),
		// One statement: of concurrent takes, one deletes the row and gets
		// it; the others find none.
		takeToken: p(`DELETE FROM {p}tokens WHERE hash = $1 RETURNING account_scope, account_id, purpose, expires_at`),

		cleanup: []string{
			p(`DELETE FROM {p}sessions WHERE expires_at <= $1`),
			p(`DELETE FROM {p}claims WHERE expires_at <= $1`),
			p(`DELETE FROM {p}counters WHERE reset_at <= $1`),
			p(`DELETE FROM {p}challenges WHERE expires_at <= $1`),
			p(`DELETE FROM {p}api_keys WHERE expires_at <= $1`),
			p(`DELETE FROM {p}tokens WHERE expires_at <= $1`),
		},
	}
}

// hotStatements are the reads on the request path, prepared once when the
// store opens: SQLite would otherwise compile each again on every call.
// (pgx caches its prepared statements by text anyway.)
type hotStatements struct {
	session, keyByHash, account, accountByLogin, generation *sql.Stmt
}

// prepare prepares the statements of q that h holds, on db.
func (h *hotStatements) prepare(ctx context.Context, db *sql.DB, q queries) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&h.session, q.session},
		{&h.keyByHash, q.keyByHash},
		{&h.account, q.account},
		{&h.accountByLogin, q.accountByLogin},
		{&h.generation, q.generation},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			_ = h.close()
			return fmt.Errorf("sqlstore: prepare: %w", err)
		}
		*p.stmt = stmt
	}
	return nil
}

// close closes the statements that are prepared.
func (h *hotStatements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{h.session, h.keyByHash, h.account, h.accountByLogin, h.generation} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
