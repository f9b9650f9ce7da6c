-- keyward schema, version 1, SQLite. {p} is the table prefix.
-- Times are Unix nanoseconds (INTEGER); a NULL time is the zero time.
-- Hashes are 32-byte BLOBs; one-time claim, counter and challenge keys are
-- BLOBs too, since they come from requests and may hold any byte. There are
-- no foreign keys, so that a host may keep its accounts elsewhere and the
-- rest here.

CREATE TABLE {p}accounts (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	scope         INTEGER NOT NULL,
	username      TEXT    NOT NULL,
	email         TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	first_name    TEXT    NOT NULL,
	last_name     TEXT    NOT NULL,
	password_hash TEXT    NOT NULL,
	disabled      INTEGER NOT NULL,
	created_at    INTEGER
);

-- Every normalized username and non-empty email address of a scope, one
-- namespace, so that a login names at most one account.
CREATE TABLE {p}logins (
	scope      INTEGER NOT NULL,
	login      TEXT    NOT NULL,
	account_id INTEGER NOT NULL,
	PRIMARY KEY (scope, login)
);
CREATE INDEX {p}logins_account ON {p}logins (account_id);

CREATE TABLE {p}api_keys (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	hash          BLOB    NOT NULL UNIQUE,
	prefix        TEXT    NOT NULL,
	account_scope INTEGER NOT NULL,
	account_id    INTEGER NOT NULL,
	label         TEXT    NOT NULL,
	expires_at    INTEGER,
	created_at    INTEGER,
	last_used_at  INTEGER
);
CREATE INDEX {p}api_keys_account ON {p}api_keys (account_scope, account_id);
CREATE INDEX {p}api_keys_expires ON {p}api_keys (expires_at);

CREATE TABLE {p}sessions (
	hash          BLOB    PRIMARY KEY,
	account_scope INTEGER NOT NULL,
	account_id    INTEGER NOT NULL,
	tfa           INTEGER NOT NULL,
	method        TEXT    NOT NULL,
	api_key_hash  BLOB    NOT NULL,
	created_at    INTEGER,
	last_seen_at  INTEGER,
	expires_at    INTEGER NOT NULL
);
CREATE INDEX {p}sessions_account ON {p}sessions (account_scope, account_id);
CREATE INDEX {p}sessions_expires ON {p}sessions (expires_at);

CREATE TABLE {p}claims (
	k          BLOB    PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX {p}claims_expires ON {p}claims (expires_at);

CREATE TABLE {p}counters (
	k        BLOB    PRIMARY KEY,
	n        INTEGER NOT NULL,
	reset_at INTEGER NOT NULL
);
CREATE INDEX {p}counters_reset ON {p}counters (reset_at);

CREATE TABLE {p}tfa (
	account_scope  INTEGER NOT NULL,
	account_id     INTEGER NOT NULL,
	enabled        INTEGER NOT NULL,
	secret         BLOB,
	pending_secret BLOB,
	last_step      INTEGER NOT NULL,
	recovery_salt  BLOB,
	PRIMARY KEY (account_scope, account_id)
);

-- The unused recovery codes of each account, in their order.
CREATE TABLE {p}recovery_codes (
	account_scope INTEGER NOT NULL,
	account_id    INTEGER NOT NULL,
	pos           INTEGER NOT NULL,
	hash          BLOB    NOT NULL,
	PRIMARY KEY (account_scope, account_id, pos)
);

CREATE TABLE {p}challenges (
	id         BLOB    PRIMARY KEY,
	digits     BLOB    NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX {p}challenges_expires ON {p}challenges (expires_at);
