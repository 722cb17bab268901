-- Short sessions have no sessions row: a session whose close comes at
-- most 10 s after its UUIDv7's time is found by its close event in the
-- blocks of those 10 s (write.go: rowlessSpan). For its transcript, a
-- block's directory (version 2) gives each close event's transcript
-- length, and the block's transcripts lie end to end from this offset in
-- smallpot.db-transcripts. Blocks written before have directories of
-- version 1 and 0 here; their sessions all have rows.
ALTER TABLE event_blocks ADD COLUMN transcripts INTEGER NOT NULL DEFAULT 0;

-- A sessions row with close_offset -1 was made by an analyzer's event
-- stamped late in a session (its end_time) that had no row of its own:
-- the session's close, if any, is in the blocks.
