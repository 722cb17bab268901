-- Novelty (package novelty): the fuzzy hashes, family and nearest
-- relative of each sample, and the probe shapes each sensor has seen.
-- Times are Unix nanoseconds (UTC).

-- One row per sample the novelty analyzer hashed or a detection labelled;
-- it may arrive before or after the sample's row in samples, so it does
-- not reference it. Empty text means unknown; the nearest_* columns are
-- empty (and the scores NULL) when no sample was within the thresholds.
CREATE TABLE sample_fuzzy (
	sha256          TEXT PRIMARY KEY,
	ssdeep          TEXT NOT NULL DEFAULT '',
	tlsh            TEXT NOT NULL DEFAULT '',
	family          TEXT NOT NULL DEFAULT '',
	variant         TEXT NOT NULL DEFAULT '',
	novelty         TEXT NOT NULL DEFAULT '', -- new_hash, new_variant, known
	nearest_sha256  TEXT NOT NULL DEFAULT '',
	nearest_family  TEXT NOT NULL DEFAULT '',
	nearest_variant TEXT NOT NULL DEFAULT '',
	nearest_ssdeep  INTEGER,                  -- ssdeep score
	nearest_tlsh    INTEGER,                  -- TLSH distance
	nearest_seed    INTEGER NOT NULL DEFAULT 0,
	time            INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sample_fuzzy_family ON sample_fuzzy (family) WHERE family <> '';

-- Probe shapes seen, one row per (sensor, service, kind, shape); key is
-- the analyzer's hash of the four. The analyzer loads the most recently
-- seen ones at start.
CREATE TABLE probe_shapes (
	key        TEXT PRIMARY KEY,
	sensor     TEXT NOT NULL,
	service    TEXT NOT NULL,
	kind       TEXT NOT NULL,
	shape      TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	event_id   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX probe_shapes_last_seen ON probe_shapes (last_seen);
