-- keyward schema, version 3, SQLite. {p} is the table prefix.
-- 2FA states gain a version, bumped by every PutTFA, which writes only if
-- the version is the one its caller read (a compare-and-set), so that two
-- read-modify-writes of one state cannot lose one's update. The rows of
-- version 2 read as version 0, as an absent state does, and a put at
-- version 0 replaces them.

ALTER TABLE {p}tfa ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
