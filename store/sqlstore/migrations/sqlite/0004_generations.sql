-- keyward schema, version 4, SQLite. {p} is the table prefix.
-- Credential generations: each account's generation goes up by one in the
-- same transaction as every change of its credentials (a new password, a
-- new email address, 2FA turned on or off), and a session records the
-- generation it was made under, so that one write ends every session made
-- before the change. Generations have a table of their own, by account,
-- beside the accounts: a 2FA change raises the generation of an account
-- whose record a host keeps in its own table. An account without a row is
-- at generation 0.
-- Sessions gain their generation and, for a switched session, the hash of
-- the administrator's session that made it (32 zero bytes for none). The
-- rows of version 3 read as sessions made at generation 0 by nobody's
-- switch, so they live on until their account's first credential change.

CREATE TABLE {p}generations (
	scope      INTEGER NOT NULL,
	account_id INTEGER NOT NULL,
	generation INTEGER NOT NULL,
	PRIMARY KEY (scope, account_id)
);

ALTER TABLE {p}sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {p}sessions ADD COLUMN parent BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000';
