package service

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// Emitter takes events. The engine's emitter is the pipeline, which never
// blocks: a full queue drops and counts.
type Emitter interface {
	Emit(*event.Event)
}

// Digest names stored bytes.
type Digest struct {
	SHA256, SHA1, MD5 string
}

// DigestOf hashes data.
func DigestOf(data []byte) Digest {
	s2 := sha256.Sum256(data)
	s1 := sha1.Sum(data)
	m := md5.Sum(data)
	return Digest{SHA256: hex.EncodeToString(s2[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m[:])}
}

// SampleStore keeps bytes by content. Put returns whether the bytes were
// new to the store.
type SampleStore interface {
	Put(data []byte, d Digest) (isNew bool, err error)
}

// Recorder fills the envelope of the events one session or datagram emits
// and keeps its samples. Session and Packet embed it.
type Recorder struct {
	Sensor    string
	SessionID string
	Service   string
	Transport event.Transport
	Remote    netip.AddrPort
	Local     netip.AddrPort
	Emitter   Emitter
	Samples   SampleStore
}

// Emit records one event of this session.
func (r *Recorder) Emit(d event.Detail) {
	if r.Emitter == nil {
		return
	}
	r.emit(time.Now(), d)
}

// EmitAt records one event of this session that happened at t, a time
// the caller has just read from the clock (the engine: a session's
// start, its end).
func (r *Recorder) EmitAt(t time.Time, d event.Detail) {
	if r.Emitter == nil {
		return
	}
	r.emit(t, d)
}

// EmitIn records one event of this session, as Emit does, in slot: the
// caller allocates the envelope along with d, in one allocation (a
// struct holding both), where Emit would make one more. The slot must
// be a new one, used for this event only (see event.Slot); nothing of it
// or of d may be written after.
func (r *Recorder) EmitIn(slot *event.Slot, d event.Detail) {
	if r.Emitter == nil {
		return
	}
	r.emitIn(slot, time.Now(), d)
}

// EmitInAt is EmitIn for an event that happened at t (see EmitAt).
func (r *Recorder) EmitInAt(slot *event.Slot, t time.Time, d event.Detail) {
	if r.Emitter == nil {
		return
	}
	r.emitIn(slot, t, d)
}

func (r *Recorder) emit(t time.Time, d event.Detail) {
	r.emitIn(new(event.Slot), t, d)
}

func (r *Recorder) emitIn(slot *event.Slot, t time.Time, d event.Detail) {
	e := slot.Fill(t)
	e.Sensor, e.Session, e.Service, e.Transport = r.Sensor, r.SessionID, r.Service, r.Transport
	e.Src, e.Dst, e.Kind, e.Detail = r.Remote, r.Local, d.Kind(), d
	r.Emitter.Emit(e)
}

// SaveSample keeps data in the sample store, emits a sample event and
// returns its SHA-256. source says what the bytes are ("http.request",
// "ftp.stor"); name is the client's name for them, recorded as data only.
// The caller bounds data.
func (r *Recorder) SaveSample(data []byte, source, name string) (string, error) {
	d := DigestOf(data)
	isNew := false
	if r.Samples != nil {
		var err error
		if isNew, err = r.Samples.Put(data, d); err != nil {
			return d.SHA256, err
		}
	}
	r.Emit(&event.Sample{SHA256: d.SHA256, MD5: d.MD5, SHA1: d.SHA1,
		Size: int64(len(data)), Source: source, Name: name, New: isNew})
	return d.SHA256, nil
}

// Session is one TCP connection as a handler sees it. Reads and writes go
// through the engine's limits (deadlines, byte budgets, transcript).
type Session struct {
	Recorder
	Start time.Time
	Log   *slog.Logger

	conn net.Conn
	rd   Reader
}

// NewSession wraps conn, which the engine has already fitted with its
// limits. bufSize is the read buffer size, allocated on first data.
func NewSession(conn net.Conn, rec Recorder, log *slog.Logger, bufSize int) *Session {
	s := &Session{Recorder: rec}
	s.Init(conn, log, bufSize)
	return s
}

// Init sets up a zero Session whose Recorder the caller has filled in, as
// NewSession does: for an engine that allocates its sessions along with
// the rest of a connection's state.
func (s *Session) Init(conn net.Conn, log *slog.Logger, bufSize int) {
	s.InitAt(time.Now(), conn, log, bufSize)
}

// InitAt is Init for a session that started at start, a time the caller
// has just read from the clock.
func (s *Session) InitAt(start time.Time, conn net.Conn, log *slog.Logger, bufSize int) {
	s.Start, s.Log, s.conn = start, log, conn
	s.rd.src, s.rd.size = conn, bufSize
}

// ClientFirst is implemented by handlers of protocols in which the client
// speaks first (HTTP). The engine then waits for the first bytes itself
// before it calls ServeTCP: an idle connection waits in a shallow stack,
// holding no read buffer. The handler sees no difference as long as it
// reads through its session's Reader, which holds what arrived, or the
// error that ended the wait.
type ClientFirst interface {
	Handler
	ClientFirst()
}

// Reader returns the session's one buffered, bounded reader. Use it for
// every read: mixing it with Conn().Read loses buffered bytes.
func (s *Session) Reader() *Reader { return &s.rd }

// Write sends bytes to the client.
func (s *Session) Write(p []byte) (int, error) { return s.conn.Write(p) }

// WriteString sends a string to the client.
func (s *Session) WriteString(str string) (int, error) { return s.conn.Write([]byte(str)) }

// Conn returns the limited connection, for protocols that need a
// deadline of their own (a tarpit) or to close early.
func (s *Session) Conn() net.Conn { return s.conn }

// Release returns the session's buffers; the engine calls it at the end.
func (s *Session) Release() { s.rd.release() }

// Packet is one UDP datagram as a handler sees it.
type Packet struct {
	Recorder
	Time time.Time
	// Data is the datagram, copied: the handler may keep it.
	Data []byte

	reply func([]byte) error
}

// NewPacket builds a packet; reply sends a datagram back to the source
// under the engine's rules.
func NewPacket(rec Recorder, data []byte, reply func([]byte) error) *Packet {
	return &Packet{Recorder: rec, Time: time.Now(), Data: data, reply: reply}
}

// Reply sends b to the datagram's source. It fails with ErrReplyTooLarge
// or ErrRateLimited when the engine's anti-amplification rules forbid it.
func (p *Packet) Reply(b []byte) error {
	if p.reply == nil {
		return net.ErrClosed
	}
	return p.reply(b)
}
