package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// The events log (smallpot.db-events) and its index (event_blocks): see
// the package doc. This file is the block directory's format and the
// kinds' bits; both are stored, so neither ever changes meaning.

// kindBit is the bit of a kind in event_blocks.kinds and its code in a
// block's directory. A kind missing here (one a newer sensor sends, or
// one added to package event without a bit) takes otherKindBit, and its
// name is kept in the block's directory. Bits once given are never given
// again; a new kind takes the next free one (16, 17...).
func kindBit(k event.Kind) (uint, bool) {
	switch k {
	case event.KindConnect:
		return 0, true
	case event.KindClose:
		return 1, true
	case event.KindRequest:
		return 2, true
	case event.KindLogin:
		return 3, true
	case event.KindCommand:
		return 4, true
	case event.KindPayload:
		return 5, true
	case event.KindUpload:
		return 6, true
	case event.KindDownload:
		return 7, true
	case event.KindSample:
		return 8, true
	case event.KindMail:
		return 9, true
	case event.KindRPC:
		return 10, true
	case event.KindSSH:
		return 11, true
	case event.KindDetection:
		return 12, true
	case event.KindAlert:
		return 13, true
	case event.KindFetch:
		return 14, true
	}
	return otherKindBit, false
}

// otherKindBit marks a block holding events of kinds without a bit of
// their own.
const otherKindBit = 15

// otherKindCode is the first directory code of a kind without a bit:
// code otherKindCode+i is the block's i-th such kind, by name.
const otherKindCode = 64

// stageKinds are the kinds an analyzer or the downloader emits about an
// event of a session, stamped when they run, so possibly after the
// session's close (see lateWindow). Kinds without a bit count as such.
const stageKinds = 1<<12 | 1<<13 | 1<<14 | 1<<otherKindBit

// Blocks: a batch's events are cut into blocks of at most maxBlockEvents
// events, or maxBlockJSON bytes of JSON (a single larger event makes a
// block alone).
const (
	maxBlockEvents = 1024
	maxBlockJSON   = 1 << 20
)

// Read bounds, so that a corrupt row cannot make a reader allocate
// gigabytes: an event's JSON (the pipeline caps the bytes an event
// carries far below it), a block and its directory.
const (
	maxEventJSON = 64 << 20
	maxBlockLen  = maxBlockJSON + maxEventJSON
	maxDirLen    = 1 << 20
)

// dirVersion is the first byte of every directory written: version 2
// adds the close events' transcript lengths to version 1, which blocks
// written before migration 0004 have and readers still take.
const (
	dirVersion   = 2
	dirVersionV1 = 1
)

// closeCode is the directory code of a close event (its kind's bit).
const closeCode = 1

// A block's directory, stored in event_blocks.dir, lets a query select a
// block's events without reading their JSON. It is:
//
//	byte     dirVersion
//	uvarint  number of services, then each: uvarint length, bytes
//	uvarint  number of sessions, then each: uvarint tag, bytes: tag 0 is
//	         a canonical lower-case UUID as its 16 bytes, tag n+1 is n
//	         bytes of text
//	uvarint  number of kinds without a bit, then each: uvarint length, bytes
//	then, for each event in the order written:
//	varint   its time minus the previous event's (the first's minus the
//	         block's first_time), in ns
//	uvarint  its kind's code: the kind's bit, or otherKindCode+i
//	uvarint  index of its service (absent when the block has one service)
//	uvarint  index of its session (absent when the block has one session)
//	uvarint  length of its JSON; the events' lines (JSON and '\n') lie
//	         end to end from the block's offset in the events file
//	uvarint  (version 2, close events only) length of its session's
//	         transcript, 0 when none; the block's transcripts lie end to
//	         end from event_blocks.transcripts in the transcripts file
//
// Sessions are UUIDv7s: 17 bytes once per block, not 36 per event.

// dirEntry is one event of a block being built or read.
type dirEntry struct {
	time int64
	code uint32 // kind code
	svc  uint32 // index in the block's services
	sess uint32 // index in the block's sessions
	n    uint32 // JSON length, without the '\n'
	tr   uint32 // a close event's transcript length
}

// encodeSession appends the directory form of a session id.
func encodeSession(b []byte, s string) []byte {
	if u, ok := parseUUID(s); ok {
		b = append(b, 0)
		return append(b, u[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(s))+1)
	return append(b, s...)
}

// parseUUID reads a UUID in the canonical lower-case form
// (8-4-4-4-12 hex digits), the one event.NewID writes; any other text
// is not taken for one, so that it reads back exactly as written.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte
	for j, i := range uuidDigits {
		hi, lo := unhex[s[i]], unhex[s[i+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
	}
	return u, bad&0xf0 == 0
}

// uuidDigits are the offsets of a canonical UUID's byte pairs.
var uuidDigits = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// unhex is the value of a lower-case hex digit; 0xff for any other byte.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// uuidMillis is the Unix millisecond timestamp of a UUIDv7 in canonical
// form; ok is false for any other id.
func uuidMillis(s string) (int64, bool) {
	u, ok := parseUUID(s)
	if !ok || u[6]>>4 != 7 {
		return 0, false
	}
	var ms int64
	for _, c := range u[:6] {
		ms = ms<<8 | int64(c)
	}
	return ms, true
}

// sessionStart is the time, in Unix ns, of a session whose id is a
// UUIDv7: the millisecond its id was made.
func sessionStart(id string) (int64, bool) {
	ms, ok := uuidMillis(id)
	if !ok || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, false
	}
	return ms * int64(time.Millisecond), true
}

// blockBuilder collects one block of a batch: its events' directory
// entries and the lists they index. It is reused from block to block.
type blockBuilder struct {
	ents     []dirEntry
	services []string
	sessions []string
	sessIdx  map[string]uint32
	others   []string
	kinds    uint64
	first    int64 // smallest event time
	last     int64 // largest
	length   int64 // bytes of the block's lines
}

func (b *blockBuilder) reset() {
	clear(b.services)
	clear(b.sessions)
	clear(b.others)
	b.ents, b.services, b.sessions, b.others = b.ents[:0], b.services[:0], b.sessions[:0], b.others[:0]
	if len(b.sessIdx) > 0 {
		clear(b.sessIdx)
	}
	b.kinds, b.length = 0, 0
}

// full reports whether an event of n bytes of JSON starts a new block.
func (b *blockBuilder) full(n int) bool {
	return len(b.ents) >= maxBlockEvents || (len(b.ents) > 0 && b.length+int64(n)+1 > maxBlockJSON)
}

// add puts one event in the block and returns its kind's bit; tr is the
// length of a close event's transcript.
func (b *blockBuilder) add(t int64, kind event.Kind, service, session string, n, tr int) uint {
	bit, known := kindBit(kind)
	code := uint32(bit)
	if !known {
		code = otherKindCode + lookup(&b.others, string(kind))
	}
	b.kinds |= 1 << bit
	svc := lookup(&b.services, service)
	var sess uint32
	if len(b.sessions) > 0 && b.sessions[len(b.sessions)-1] == session {
		sess = uint32(len(b.sessions) - 1)
	} else {
		if b.sessIdx == nil {
			b.sessIdx = make(map[string]uint32, 256)
		}
		i, ok := b.sessIdx[session]
		if !ok {
			i = uint32(len(b.sessions))
			b.sessions = append(b.sessions, session)
			b.sessIdx[session] = i
		}
		sess = i
	}
	if len(b.ents) == 0 || t < b.first {
		b.first = t
	}
	if len(b.ents) == 0 || t > b.last {
		b.last = t
	}
	if code != closeCode {
		tr = 0
	}
	b.ents = append(b.ents, dirEntry{time: t, code: code, svc: svc, sess: sess, n: uint32(n), tr: uint32(tr)})
	b.length += int64(n) + 1
	return bit
}

// lookup returns the index of s in *list, adding it when missing (the
// lists it serves have a few entries).
func lookup(list *[]string, s string) uint32 {
	for i, x := range *list {
		if x == s {
			return uint32(i)
		}
	}
	*list = append(*list, s)
	return uint32(len(*list) - 1)
}

// encode appends the block's directory, its times relative to base (the
// block's first_time: its smallest time, or a few ns more when that key
// was taken).
func (b *blockBuilder) encode(dst []byte, base int64) []byte {
	dst = append(dst, dirVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.services)))
	for _, s := range b.services {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.sessions)))
	for _, s := range b.sessions {
		dst = encodeSession(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.others)))
	for _, s := range b.others {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	oneSvc, oneSess := len(b.services) == 1, len(b.sessions) == 1
	prev := base
	for _, e := range b.ents {
		dst = binary.AppendVarint(dst, e.time-prev)
		prev = e.time
		dst = binary.AppendUvarint(dst, uint64(e.code))
		if !oneSvc {
			dst = binary.AppendUvarint(dst, uint64(e.svc))
		}
		if !oneSess {
			dst = binary.AppendUvarint(dst, uint64(e.sess))
		}
		dst = binary.AppendUvarint(dst, uint64(e.n))
		if e.code == closeCode {
			dst = binary.AppendUvarint(dst, uint64(e.tr))
		}
	}
	return dst
}

// reencodeBase returns a copy of dir, a directory whose times are
// relative to oldBase, with times relative to newBase: only the first
// event's delta changes.
func reencodeBase(dir []byte, oldBase, newBase int64) []byte {
	r := dirReader{b: dir[1:]}
	r.list(nil, false)
	r.list(nil, true)
	r.list(nil, false)
	head := len(dir) - len(r.b)
	delta := r.varint()
	if r.err != nil {
		return dir // no events: nothing is relative to the base
	}
	out := make([]byte, 0, len(dir)+binary.MaxVarintLen64)
	out = append(out, dir[:head]...)
	out = binary.AppendVarint(out, delta+oldBase-newBase)
	return append(out, r.b...)
}

// blockDir is a block's directory as read: the lists are slices of the
// directory's bytes (sessions in their encoded form).
type blockDir struct {
	version  byte
	services [][]byte
	sessions [][]byte
	others   [][]byte
	ents     []dirEntry
}

var errDir = errors.New("corrupt block directory")

// dirReader reads a directory's varints, remembering the first error.
type dirReader struct {
	b   []byte
	err error
}

func (r *dirReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errDir
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *dirReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errDir
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *dirReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errDir
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// list reads a counted list of strings; session lists (sess) have their
// tagged form, kept whole.
func (r *dirReader) list(dst [][]byte, sess bool) [][]byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) { // every entry takes a byte at least
		r.err = errDir
		return dst
	}
	for range n {
		if r.err != nil {
			break
		}
		if !sess {
			dst = append(dst, r.bytes(r.uvarint()))
			continue
		}
		start := r.b
		tag := r.uvarint()
		if tag == 0 {
			r.bytes(16)
		} else {
			r.bytes(tag - 1)
		}
		if r.err == nil {
			dst = append(dst, start[:len(start)-len(r.b)])
		}
	}
	return dst
}

// decodeDir reads a block's directory of count events whose times are
// relative to base, checking it against the block's length (the bytes
// its lines take). It reuses d's slices.
func decodeDir(d *blockDir, b []byte, count, base, length int64) error {
	rest, err := decodeDirHead(d, b, count)
	if err != nil {
		return err
	}
	return decodeDirEvents(d, rest, count, base, length)
}

// decodeDirHead reads a directory's lists and returns the rest: its
// events.
func decodeDirHead(d *blockDir, b []byte, count int64) ([]byte, error) {
	d.services, d.sessions, d.others, d.ents = d.services[:0], d.sessions[:0], d.others[:0], d.ents[:0]
	if len(b) == 0 || b[0] != dirVersion && b[0] != dirVersionV1 {
		return nil, fmt.Errorf("%w: unknown version", errDir)
	}
	d.version = b[0]
	if count < 0 || count > int64(len(b)) { // every event takes 3 bytes at least
		return nil, fmt.Errorf("%w: %d events", errDir, count)
	}
	r := dirReader{b: b[1:]}
	d.services = r.list(d.services, false)
	d.sessions = r.list(d.sessions, true)
	d.others = r.list(d.others, false)
	return r.b, r.err
}

// decodeDirEvents reads the events of a directory whose lists d holds.
func decodeDirEvents(d *blockDir, b []byte, count, base, length int64) error {
	r := dirReader{b: b}
	oneSvc, oneSess := len(d.services) == 1, len(d.sessions) == 1
	t := base
	var total int64
	for range count {
		var e dirEntry
		t += r.varint()
		e.time = t
		code := r.uvarint()
		var svc, sess uint64
		if !oneSvc {
			svc = r.uvarint()
		}
		if !oneSess {
			sess = r.uvarint()
		}
		n := r.uvarint()
		var tr uint64
		if code == closeCode && d.version != dirVersionV1 {
			tr = r.uvarint()
		}
		if r.err != nil {
			return r.err
		}
		if (code >= otherKindCode && code-otherKindCode >= uint64(len(d.others))) || svc >= uint64(len(d.services)) ||
			sess >= uint64(len(d.sessions)) || n > maxEventJSON || tr > maxTranscript {
			return fmt.Errorf("%w: event %d out of range", errDir, len(d.ents))
		}
		e.code, e.svc, e.sess, e.n, e.tr = uint32(code), uint32(svc), uint32(sess), uint32(n), uint32(tr)
		total += int64(n) + 1
		d.ents = append(d.ents, e)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes left over", errDir, len(r.b))
	}
	if total != length {
		return fmt.Errorf("%w: lines of %d bytes in a block of %d", errDir, total, length)
	}
	return nil
}
