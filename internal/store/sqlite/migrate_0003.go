package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/smallpot/smallpot/internal/event"
)

// moveEventsToLog is the Go part of migration 0003: the rows of events,
// in time order, go to the events log and event_blocks, and each
// session's close event and transcript row to sessions; then the old
// tables go. It runs in the step's transaction: should it fail, the
// bytes it wrote are cut off by the next attempt, which starts the log
// afresh.
func moveEventsToLog(ctx context.Context, tx *sql.Tx, env migrateEnv) error {
	f := env.events
	if f == nil {
		return errors.New("no events file to move the events to")
	}
	// Nothing refers to the log yet: what is in it is an earlier attempt's.
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("events file: %w", err)
	}
	insBlock, err := tx.PrepareContext(ctx, insertBlock0003SQL)
	if err != nil {
		return err
	}
	defer insBlock.Close()
	insSession, err := tx.PrepareContext(ctx, insertSessionHead+" VALUES (?, ?, ?, ?, ?, ?, ?, ?)"+insertSessionTail)
	if err != nil {
		return err
	}
	defer insSession.Close()
	transcript, err := tx.PrepareContext(ctx, "SELECT offset, length FROM transcripts WHERE session = ?")
	if err != nil {
		return err
	}
	defer transcript.Close()

	var w writeBuf
	var end int64 // bytes of the log written
	flush := func() error {
		w.endBlock()
		if len(w.ev) == 0 {
			return nil
		}
		if _, err := f.WriteAt(w.ev, end); err != nil {
			return fmt.Errorf("events file: %w", err)
		}
		for i := range w.blocks {
			if err := insertBlock(ctx, insBlock, &w, &w.blocks[i], end, 0, false); err != nil {
				return fmt.Errorf("event block: %w", err)
			}
		}
		end += int64(len(w.ev))
		w.reset()
		return nil
	}
	type closeRow struct {
		session, service string
		time, off, n     int64
		json             []byte
	}
	var closes []closeRow
	addSessions := func() error {
		for _, c := range closes {
			var src struct {
				SrcIP string `json:"src_ip"`
			}
			_ = json.Unmarshal(c.json, &src) // an unreadable close still makes its row
			if a, err := netip.ParseAddr(src.SrcIP); err == nil {
				src.SrcIP = a.Unmap().String()
			}
			var trOff, trN int64
			if err := transcript.QueryRowContext(ctx, c.session).Scan(&trOff, &trN); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("transcript of %s: %w", c.session, err)
			}
			if trN <= 0 {
				trOff, trN = 0, 0
			}
			if _, err := insSession.ExecContext(ctx, c.session, c.time, c.service, src.SrcIP, c.off, c.n, trOff, trN); err != nil {
				return fmt.Errorf("session %s: %w", c.session, err)
			}
		}
		clear(closes)
		closes = closes[:0]
		return nil
	}

	rows, err := tx.QueryContext(ctx, "SELECT time, session, service, kind, json FROM events ORDER BY time")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t int64
		var sess, svc, kind string
		var js []byte
		if err := rows.Scan(&t, &sess, &svc, &kind, &js); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.bb.full(len(js)) {
			if err := flush(); err != nil {
				return err
			}
			if err := addSessions(); err != nil {
				return err
			}
		}
		off := end + int64(len(w.ev))
		w.ev = append(w.ev, js...)
		w.ev = append(w.ev, '\n')
		w.evPos = int64(len(w.ev))
		w.bb.add(t, event.Kind(kind), svc, sess, len(js), 0)
		if kind == string(event.KindClose) && sess != "" {
			closes = append(closes, closeRow{session: sess, service: svc, time: t, off: off, n: int64(len(js)), json: js})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if err := flush(); err != nil {
		return err
	}
	if err := addSessions(); err != nil {
		return err
	}
	var trEnd int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(offset + length), 0) FROM transcripts").Scan(&trEnd); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO log_ends (id, events, transcripts) VALUES (1, ?, ?)", end, trEnd); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "DROP TABLE events; DROP TABLE transcripts")
	return err
}
