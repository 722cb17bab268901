-- Smallpot's first schema: events, sessions, samples and their sightings.
-- Times are Unix nanoseconds (UTC).

CREATE TABLE events (
	id        TEXT PRIMARY KEY,
	time      INTEGER NOT NULL,
	sensor    TEXT NOT NULL,
	session   TEXT NOT NULL,
	service   TEXT NOT NULL,
	transport TEXT NOT NULL,
	kind      TEXT NOT NULL,
	src_ip    TEXT NOT NULL,
	src_port  INTEGER NOT NULL,
	dst_ip    TEXT NOT NULL,
	dst_port  INTEGER NOT NULL,
	json      TEXT NOT NULL -- the event exactly as the JSON-lines file has it
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_session ON events (session, time);
CREATE INDEX events_service_time ON events (service, time);
CREATE INDEX events_kind_time ON events (kind, time);

CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	sensor      TEXT NOT NULL,
	service     TEXT NOT NULL,
	transport   TEXT NOT NULL,
	src_ip      TEXT NOT NULL,
	src_port    INTEGER NOT NULL,
	dst_ip      TEXT NOT NULL,
	dst_port    INTEGER NOT NULL,
	start_time  INTEGER NOT NULL,
	end_time    INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL,
	bytes_in    INTEGER NOT NULL,
	bytes_out   INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	transcript  BLOB
);
CREATE INDEX sessions_start ON sessions (start_time);

CREATE TABLE samples (
	sha256       TEXT PRIMARY KEY,
	md5          TEXT NOT NULL,
	sha1         TEXT NOT NULL,
	size         INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	count        INTEGER NOT NULL,
	first_source TEXT NOT NULL
);
CREATE INDEX samples_last_seen ON samples (last_seen);

CREATE TABLE sample_sightings (
	event_id TEXT PRIMARY KEY,
	sha256   TEXT NOT NULL REFERENCES samples (sha256) DEFERRABLE INITIALLY DEFERRED,
	session  TEXT NOT NULL,
	time     INTEGER NOT NULL,
	service  TEXT NOT NULL,
	src_ip   TEXT NOT NULL,
	source   TEXT NOT NULL,
	name     TEXT NOT NULL
);
CREATE INDEX sample_sightings_sha256 ON sample_sightings (sha256, time);
