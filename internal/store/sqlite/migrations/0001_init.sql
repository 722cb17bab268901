-- Smallpot's first schema: events, session transcripts, samples and their
-- sightings. Times are Unix nanoseconds (UTC).
--
-- Every insert costs a B-tree insert per table and per index, and a busy
-- sensor stores a few events per connection: the events table has one
-- index on every row, and one on the rarer kinds only.

-- Events in time order: time is the rowid, so inserts append to the
-- table's B-tree (whose pages then fill up completely) and the table is
-- its own time index. An event whose nanosecond another event already has
-- takes the next free one. json holds the event exactly as events.jsonl
-- has it, every field included (its exact time too); the other columns
-- are those queries select on.
CREATE TABLE events (
	time    INTEGER PRIMARY KEY,
	id      TEXT NOT NULL,
	session TEXT NOT NULL,
	service TEXT NOT NULL,
	kind    TEXT NOT NULL,
	json    TEXT NOT NULL
);
-- A session's events; an event written again (a sensor resending a
-- batch) is the same id in the same session, and is ignored.
CREATE UNIQUE INDEX events_session ON events (session, id);
-- Events of every kind but the two each connection has: logins,
-- commands, requests, samples... A query on connect or close walks the
-- table instead; queries on a kind that may use this index repeat its
-- WHERE term.
CREATE INDEX events_kind ON events (kind) WHERE kind NOT IN ('connect', 'close');

-- Where a session's transcript is: its bytes (package transcript's
-- framing) are in the file beside the database (smallpot.db-transcripts),
-- at offset, written with the session's close event. The rest of what a
-- session was is in that event.
CREATE TABLE transcripts (
	session TEXT PRIMARY KEY,
	offset  INTEGER NOT NULL,
	length  INTEGER NOT NULL
) WITHOUT ROWID;

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
