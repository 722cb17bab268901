package sqlite

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/store"
)

// logFile is one of the logs beside the database, opened for a query.
type logFile struct {
	f    *os.File
	own  bool // opened for this query (a reader's), closed after it
	size int64
}

// openLog returns the log at path: the writer's open file, or the file
// opened for reading.
func (d *DB) openLog(path string, f *os.File) (*logFile, error) {
	l := &logFile{f: f}
	if f == nil {
		var err error
		if l.f, err = os.Open(path); err != nil {
			return nil, err
		}
		l.own = true
	}
	if err := l.stat(); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *logFile) stat() error {
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	l.size = fi.Size()
	return nil
}

func (l *logFile) close() {
	if l.own {
		_ = l.f.Close()
	}
}

// check makes sure n bytes at off are in the file, which may have grown
// since it was opened (the writer appends).
func (l *logFile) check(off, n int64) error {
	if off < 0 || n < 0 || off > math.MaxInt64-n {
		return fmt.Errorf("%s: %d bytes at %d: out of range", l.f.Name(), n, off)
	}
	if off+n <= l.size {
		return nil
	}
	if err := l.stat(); err != nil {
		return err
	}
	if off+n > l.size {
		return fmt.Errorf("%s: %d bytes at %d: beyond its end (%d bytes)", l.f.Name(), n, off, l.size)
	}
	return nil
}

// read reads n bytes at off.
func (l *logFile) read(off, n int64) ([]byte, error) {
	if err := l.check(off, n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := l.f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("%s: %d bytes at %d: %w", l.f.Name(), n, off, err)
	}
	return b, nil
}

// readLine reads the event line of n bytes of JSON at off.
func (l *logFile) readLine(off, n int64) ([]byte, error) {
	if n > maxEventJSON {
		return nil, fmt.Errorf("%s: event of %d bytes at %d: out of range", l.f.Name(), n, off)
	}
	b, err := l.read(off, n+1)
	if err != nil {
		return nil, err
	}
	if b[n] != '\n' {
		return nil, fmt.Errorf("%s: no event line at %d", l.f.Name(), off)
	}
	return b[:n:n], nil
}

// match is an event a query selected: its time, and where its JSON is.
type match struct {
	time, off int64
	n         int64
}

func (a match) before(b match) bool {
	return a.time < b.time || (a.time == b.time && a.off < b.off)
}

// newest keeps the newest matches, at most limit: a heap whose root is
// the oldest kept.
type newest struct {
	m     []match
	limit int
}

func (h *newest) Len() int           { return len(h.m) }
func (h *newest) Less(i, j int) bool { return h.m[i].before(h.m[j]) }
func (h *newest) Swap(i, j int)      { h.m[i], h.m[j] = h.m[j], h.m[i] }
func (h *newest) Push(x any)         { h.m = append(h.m, x.(match)) }
func (h *newest) Pop() any {
	x := h.m[len(h.m)-1]
	h.m = h.m[:len(h.m)-1]
	return x
}

func (h *newest) add(m match) {
	if h.limit <= 0 || len(h.m) < h.limit {
		if h.limit > 0 {
			heap.Push(h, m)
		} else {
			h.m = append(h.m, m)
		}
		return
	}
	if h.m[0].before(m) {
		h.m[0] = m
		heap.Fix(h, 0)
	}
}

// full reports whether no event of a block whose newest event is at last
// can be among the kept ones.
func (h *newest) full(last int64) bool {
	return h.limit > 0 && len(h.m) >= h.limit && h.m[0].time > last
}

// blockMeta is an event_blocks row.
type blockMeta struct {
	first, last, count, kinds, off, length int64
	dir                                    []byte
	tr                                     int64 // where its transcripts start
}

const blockColumns = "first_time, last_time, count, kinds, offset, length, dir, transcripts"

// wideSpan is the span beyond which a block is in event_blocks_wide
// (migrations/0003_event_log.sql).
const wideSpan = 60 * int64(time.Second)

// sessionSlack is how long before its UUIDv7's time a session's first
// event may be stamped (clocks read at different moments).
const sessionSlack = int64(time.Second)

// eventSelector is what a query looks for in a block.
type eventSelector struct {
	f       store.EventFilter
	mask    int64  // kinds bits a block must have one of (0: any)
	code    uint32 // the kind's bit, when it has one
	known   bool
	session []byte // the session's directory form
	lo, hi  int64  // event times, for a session's events
	dir     blockDir
}

func newSelector(f store.EventFilter) *eventSelector {
	s := &eventSelector{f: f, lo: math.MinInt64, hi: math.MaxInt64}
	if f.Kind != "" {
		bit, known := kindBit(event.Kind(f.Kind))
		// A kind given a bit after a block was written is in the block
		// as a kind without one.
		s.mask = 1 << otherKindBit
		if known {
			s.mask |= 1 << bit
			s.code, s.known = uint32(bit), true
		}
	}
	if f.Session != "" {
		s.session = encodeSession(nil, f.Session)
	}
	return s
}

func indexOf(list [][]byte, s []byte) (uint32, bool) {
	for i, x := range list {
		if bytes.Equal(x, s) {
			return uint32(i), true
		}
	}
	return 0, false
}

// selectFrom adds the block's matching events to h.
func (s *eventSelector) selectFrom(b *blockMeta, h *newest) error {
	if b.count < 0 || b.count > maxBlockEvents || b.length < 0 || b.length > maxBlockLen || len(b.dir) > maxDirLen {
		return fmt.Errorf("block %d: %w: %d events, %d bytes", b.first, errDir, b.count, b.length)
	}
	// The lists first: a block without the service, session or kind
	// asked for is skipped without reading its events.
	rest, err := decodeDirHead(&s.dir, b.dir, b.count)
	if err != nil {
		return fmt.Errorf("block %d: %w", b.first, err)
	}
	d := &s.dir
	var svc, sess uint32
	var ok bool
	if s.f.Service != "" {
		if svc, ok = indexOf(d.services, []byte(s.f.Service)); !ok {
			return nil
		}
	}
	if s.session != nil {
		if sess, ok = indexOf(d.sessions, s.session); !ok {
			return nil
		}
	}
	other := uint32(math.MaxUint32)
	if s.f.Kind != "" {
		if i, ok := indexOf(d.others, []byte(s.f.Kind)); ok {
			other = otherKindCode + i
		}
		if !s.known && other == math.MaxUint32 {
			return nil
		}
	}
	if err := decodeDirEvents(d, rest, b.count, b.first, b.length); err != nil {
		return fmt.Errorf("block %d: %w", b.first, err)
	}
	off := b.off
	for _, e := range d.ents {
		at := off
		off += int64(e.n) + 1
		if s.f.Service != "" && e.svc != svc || s.session != nil && e.sess != sess ||
			s.f.Kind != "" && !(s.known && e.code == s.code) && e.code != other {
			continue
		}
		h.add(match{time: e.time, off: at, n: int64(e.n)})
	}
	return nil
}

// events runs a query: see Events.
func (d *DB) events(ctx context.Context, f store.EventFilter) ([]json.RawMessage, error) {
	sel := newSelector(f)
	h := &newest{limit: f.Limit}
	lf, err := d.openLog(eventsPath(d.path), d.evFile)
	if err != nil {
		return nil, err
	}
	defer lf.close()
	visit := func(b *blockMeta) error {
		if err := lf.check(b.off, b.length); err != nil {
			return fmt.Errorf("block %d: %w", b.first, err)
		}
		return sel.selectFrom(b, h)
	}
	if f.Session != "" {
		if err := d.sessionBlocks(ctx, sel, h, visit); err != nil {
			return nil, err
		}
	} else if err := d.walkBlocks(ctx, sel, h, visit); err != nil {
		return nil, err
	}
	return readMatches(lf, h.m)
}

// walkBlocks visits the blocks newest first (by last_time) until h holds
// the newest events any unread block could hold.
func (d *DB) walkBlocks(ctx context.Context, sel *eventSelector, h *newest, visit func(*blockMeta) error) error {
	q, args := walkQuery(sel.mask)
	st, err := d.stmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b blockMeta
	for rows.Next() {
		var dir sql.RawBytes
		if err := rows.Scan(&b.first, &b.last, &b.count, &b.kinds, &b.off, &b.length, &dir, &b.tr); err != nil {
			return err
		}
		if h.full(b.last) {
			return nil
		}
		b.dir = dir
		if err := visit(&b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stmt returns the query q prepared, once for the DB's life: the few
// queries of events are prepared on first use.
func (d *DB) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.stmts[q]; ok {
		return st, nil
	}
	st, err := d.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[q] = st
	return st, nil
}

// walkQuery selects the blocks that have one of the kinds of mask (all
// when 0), newest first: the index event_blocks_last gives them in that
// order, and skips the others without reading their rows.
func walkQuery(mask int64) (string, []any) {
	q := "SELECT " + blockColumns + " FROM event_blocks"
	var args []any
	if mask != 0 {
		q += " WHERE kinds & ? <> 0"
		args = append(args, mask)
	}
	return q + " ORDER BY last_time DESC", args
}

type query struct {
	sql  string
	args []any
}

// rangeQueries select the blocks that may hold events between lo and hi
// and of one of the kinds of mask (any when 0). Blocks spanning a minute
// at most start at most a minute before lo: the table's key takes the
// query to them; the others are few, and in event_blocks_wide. A block
// may be in both answers.
func rangeQueries(lo, hi, mask int64) []query {
	from := lo
	if from > math.MinInt64+wideSpan {
		from -= wideSpan
	}
	cond, maskArgs := "", []any(nil)
	if mask != 0 {
		cond, maskArgs = " AND kinds & ? <> 0", []any{mask}
	}
	return []query{
		{"SELECT " + blockColumns + " FROM event_blocks WHERE first_time BETWEEN ? AND ? AND last_time >= ?" + cond,
			append([]any{from, hi, lo}, maskArgs...)},
		{"SELECT " + blockColumns + " FROM event_blocks WHERE last_time - first_time > 60000000000" +
			" AND last_time >= ? AND first_time <= ?" + cond, append([]any{lo, hi}, maskArgs...)},
	}
}

// sessionBlocks visits the blocks that may hold a session's events:
// those from its start (its UUIDv7's time, less sessionSlack) to its end
// plus lateWindow. The end is its sessions row's, or its close event's
// when it has none (see rowlessSpan) or a row made by a late event; for
// a session still open, all blocks from its start are visited. A session
// id that is not a UUIDv7 has no known start.
func (d *DB) sessionBlocks(ctx context.Context, sel *eventSelector, h *newest, visit func(*blockMeta) error) error {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	end, known, err := d.sessionEnd(ctx, sel.f.Session)
	if err != nil {
		return err
	}
	if start, ok := sessionStart(sel.f.Session); ok {
		lo = start - sessionSlack
	}
	if known && end < math.MaxInt64-int64(lateWindow) {
		hi = end + int64(lateWindow)
	}
	if hi < lo {
		return nil
	}
	blocks, err := d.blocksBetween(ctx, lo, hi, sel.mask)
	if err != nil {
		return err
	}
	slices.SortFunc(blocks, func(a, b blockMeta) int { return cmp.Compare(b.last, a.last) })
	for i := range blocks {
		if h.full(blocks[i].last) {
			break
		}
		if err := visit(&blocks[i]); err != nil {
			return err
		}
	}
	return nil
}

// sessionEnd returns the end of a finished session: its row's end_time,
// and when its row was made by a late event, or it has none, the time of
// its close event if one is found (else the session is taken as open:
// known is false).
func (d *DB) sessionEnd(ctx context.Context, id string) (end int64, known bool, err error) {
	st, err := d.stmt(ctx, "SELECT end_time, close_offset FROM sessions WHERE id = ?")
	if err != nil {
		return 0, false, err
	}
	var closeOff int64
	err = st.QueryRowContext(ctx, id).Scan(&end, &closeOff)
	switch {
	case err == nil && closeOff >= 0:
		return end, true, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return 0, false, err
	}
	c, found, err := d.findClose(ctx, id)
	if err != nil || !found {
		return 0, false, err
	}
	return max(end, c.time), true, nil
}

// blocksBetween returns the blocks that may hold events between lo and
// hi, of a kind of mask (any when 0), each once.
func (d *DB) blocksBetween(ctx context.Context, lo, hi, mask int64) ([]blockMeta, error) {
	var blocks []blockMeta
	seen := map[int64]bool{}
	for _, q := range rangeQueries(lo, hi, mask) {
		st, err := d.stmt(ctx, q.sql)
		if err != nil {
			return nil, err
		}
		rows, err := st.QueryContext(ctx, q.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var b blockMeta
			if err := rows.Scan(&b.first, &b.last, &b.count, &b.kinds, &b.off, &b.length, &b.dir, &b.tr); err != nil {
				rows.Close()
				return nil, err
			}
			if !seen[b.first] {
				seen[b.first] = true
				blocks = append(blocks, b)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

// closeLoc is where a session's close event and transcript are.
type closeLoc struct {
	time       int64
	off, n     int64 // its line in the events file
	trOff, trN int64 // its transcript (trN 0: none)
}

// findClose looks for the close event of a session without a row of its
// own (rowlessSpan) in the blocks written from its start to rowlessSpan
// after it; found is false when there is none there (a session still
// open, one with a row, an unknown id). Should a session have been
// closed twice (a sensor's bug), the later close is its.
func (d *DB) findClose(ctx context.Context, id string) (c closeLoc, found bool, err error) {
	start, ok := sessionStart(id)
	if !ok {
		return c, false, nil
	}
	blocks, err := d.blocksBetween(ctx, start-sessionSlack, start+int64(rowlessSpan), 1<<closeCode)
	if err != nil {
		return c, false, err
	}
	key := encodeSession(nil, id)
	var dir blockDir
	for i := range blocks {
		b := &blocks[i]
		if b.count < 0 || b.count > maxBlockEvents || b.length < 0 || b.length > maxBlockLen || len(b.dir) > maxDirLen {
			return c, false, fmt.Errorf("block %d: %w: %d events, %d bytes", b.first, errDir, b.count, b.length)
		}
		rest, err := decodeDirHead(&dir, b.dir, b.count)
		if err != nil {
			return c, false, fmt.Errorf("block %d: %w", b.first, err)
		}
		sess, ok := indexOf(dir.sessions, key)
		if !ok {
			continue
		}
		if err := decodeDirEvents(&dir, rest, b.count, b.first, b.length); err != nil {
			return c, false, fmt.Errorf("block %d: %w", b.first, err)
		}
		off, tr := b.off, b.tr
		for _, e := range dir.ents {
			if e.code == closeCode && e.sess == sess && (!found || e.time >= c.time) {
				c, found = closeLoc{time: e.time, off: off, n: int64(e.n), trOff: tr, trN: int64(e.tr)}, true
			}
			off += int64(e.n) + 1
			tr += int64(e.tr)
		}
	}
	return c, found, nil
}

// Reads of the selected events: events close together in the file are
// read together, in pieces of at most maxReadSpan bytes (or one event),
// skipping gaps over maxReadGap.
const (
	maxReadSpan = 4 << 20
	maxReadGap  = 64 << 10
)

// readMatches reads the matches' JSON and returns it in event-time order
// (the order written for events of the same time).
func readMatches(lf *logFile, ms []match) ([]json.RawMessage, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	slices.SortFunc(ms, func(a, b match) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ms[a].off, ms[b].off) })
	out := make([]json.RawMessage, len(ms))
	for i := 0; i < len(order); {
		first := ms[order[i]]
		start, end := first.off, first.off+first.n+1
		j := i + 1
		for ; j < len(order); j++ {
			m := ms[order[j]]
			e := m.off + m.n + 1
			if m.off-end > maxReadGap || e-start > maxReadSpan {
				break
			}
			end = max(end, e)
		}
		buf, err := lf.read(start, end-start)
		if err != nil {
			return nil, err
		}
		for _, k := range order[i:j] {
			m := ms[k]
			at := m.off - start
			if buf[at+m.n] != '\n' {
				return nil, fmt.Errorf("%s: no event line at %d", lf.f.Name(), m.off)
			}
			out[k] = json.RawMessage(buf[at : at+m.n : at+m.n])
		}
		i = j
	}
	return out, nil
}
