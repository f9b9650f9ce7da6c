-- keyward schema, version 2, PostgreSQL. {p} is the table prefix.
-- API keys gain a note, a bound address and usage counts; sessions record
-- the administrator who switched into them; one-time tokens get a table.
-- Each new column has a default, so the rows of version 1 read as keys
-- never used and sessions nobody switched into.

ALTER TABLE {p}api_keys ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE {p}api_keys ADD COLUMN bound_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE {p}api_keys ADD COLUMN last_used_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE {p}api_keys ADD COLUMN request_count BIGINT NOT NULL DEFAULT 0;

ALTER TABLE {p}sessions ADD COLUMN switched_by_scope SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE {p}sessions ADD COLUMN switched_by_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE {p}sessions ADD COLUMN switch_privilege TEXT NOT NULL DEFAULT '';

-- One-time tokens (password reset links), by the SHA-256 of the token.
CREATE TABLE {p}tokens (
	hash          BYTEA    PRIMARY KEY,
	account_scope SMALLINT NOT NULL,
	account_id    BIGINT   NOT NULL,
	purpose       TEXT     NOT NULL,
	expires_at    BIGINT   NOT NULL
);
CREATE INDEX {p}tokens_expires ON {p}tokens (expires_at);
