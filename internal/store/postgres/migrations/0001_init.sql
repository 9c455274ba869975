-- Objects: one opaque JSON document per (kind, key), with an optional
-- alternate key unique within its kind. Keys use the "C" collation so that
-- ordering and range scans compare bytes, as SQLite does.
CREATE TABLE objects (
	kind text COLLATE "C" NOT NULL,
	key  text COLLATE "C" NOT NULL,
	alt  text COLLATE "C" NOT NULL DEFAULT '',
	data bytea NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE UNIQUE INDEX objects_alt ON objects (kind, alt) WHERE alt <> '';

-- The change feed: one row per committed write, numbered without gaps.
CREATE TABLE changes (
	seq          bigint PRIMARY KEY,
	kind         text COLLATE "C" NOT NULL,
	key          text COLLATE "C" NOT NULL,
	alt          text COLLATE "C" NOT NULL DEFAULT '',
	data         bytea,
	deleted      boolean NOT NULL,
	committed_at timestamptz NOT NULL
);
CREATE INDEX changes_committed_at ON changes (committed_at);

-- The feed's one-row counter: the last assigned sequence number and the
-- highest sequence number whose change has been pruned.
CREATE TABLE feed_state (
	id             boolean PRIMARY KEY DEFAULT true CHECK (id),
	seq            bigint NOT NULL,
	pruned_through bigint NOT NULL
);
INSERT INTO feed_state (id, seq, pruned_through) VALUES (true, 0, 0);

-- The replica registry: which serving replicas have applied which change,
-- and until when (database time) each may serve from memory.
CREATE TABLE replicas (
	id          text PRIMARY KEY,
	applied_seq bigint NOT NULL,
	lease_until timestamptz NOT NULL,
	lease       interval NOT NULL,
	fenced      boolean NOT NULL,
	started_at  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL
);
