-- Events move out of the database into a log beside it
-- (smallpot.db-events: each event's JSON on a line, as in events.jsonl);
-- the database keeps an index of its blocks. The Go part of this step
-- (migrate_0003.go) moves the events and transcripts rows there, then
-- drops the events and transcripts tables. Times are Unix nanoseconds.

-- One block of a batch's events: up to 1024 events (or 1 MiB of JSON),
-- whose lines lie end to end at offset in the events file. first_time is
-- the block's smallest event time (the next free nanosecond when another
-- block has it), last_time its largest; kinds has a bit per kind present
-- (eventlog.go: kindBit); dir is the directory of its events (time,
-- kind, service, session, line length; eventlog.go).
CREATE TABLE event_blocks (
	first_time INTEGER PRIMARY KEY,
	last_time  INTEGER NOT NULL,
	count      INTEGER NOT NULL,
	kinds      INTEGER NOT NULL,
	offset     INTEGER NOT NULL,
	length     INTEGER NOT NULL,
	dir        BLOB NOT NULL
);
-- Queries walk the blocks newest first, skipping by kind in the index.
CREATE INDEX event_blocks_last ON event_blocks (last_time, kinds);
-- The rare blocks spanning more than a minute, so that a query over a
-- time range walks the table by first_time from a minute before it, and
-- these besides.
CREATE INDEX event_blocks_wide ON event_blocks (last_time) WHERE last_time - first_time > 60000000000;

-- One finished session, written with its close event: session ids are
-- UUIDv7s, so id order is start order. end_time is the close event's
-- time (later when an analyzer's event about the session came later);
-- close_* is where the close event's line is in the events file, and
-- transcript_* where its transcript is in smallpot.db-transcripts (0, 0
-- when none). The rest of what a session was is in its close event.
CREATE TABLE sessions (
	id                TEXT PRIMARY KEY,
	end_time          INTEGER NOT NULL,
	service           TEXT NOT NULL,
	src_ip            TEXT NOT NULL,
	close_offset      INTEGER NOT NULL,
	close_length      INTEGER NOT NULL,
	transcript_offset INTEGER NOT NULL,
	transcript_length INTEGER NOT NULL
) WITHOUT ROWID;

-- How many bytes of each log committed rows refer to: a batch writes
-- there, and the writer cuts bytes past them (a batch that never
-- committed) when it opens the database.
CREATE TABLE log_ends (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	events      INTEGER NOT NULL,
	transcripts INTEGER NOT NULL
);
