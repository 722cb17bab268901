package event

import (
	"math/bits"
	"math/rand/v2"
	"time"
	"unsafe"
)

// NewID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then 74
// random bits, so ids sort by time and do not collide across a fleet of
// sensors. The random bits come from the runtime's per-thread ChaCha8
// generator, seeded from the OS: no lock and no system call per id.
func NewID(t time.Time) string {
	var s [idLen]byte
	putID(&s, t)
	return string(s[:])
}

// New returns an event of time t with a new ID (see NewID) whose bytes
// are allocated along with the event: one allocation, not two.
func New(t time.Time) *Event {
	return new(Slot).Fill(t)
}

// Slot is the memory of one event and of its ID's bytes. New allocates
// one; a caller that allocates the event's detail too (a struct holding
// a Slot and the detail) makes one allocation of the three, not two.
// A slot is filled once, as its ID's bytes are the ID string's from then
// on: a slot is never reused, and lives as long as its event.
type Slot struct {
	e  Event
	id [idLen]byte
}

// Fill makes the slot's event one of time t with a new ID (see NewID)
// and returns it. It panics when the slot was filled before: writing the
// ID's bytes again would change a string that an event already holds.
func (s *Slot) Fill(t time.Time) *Event {
	if s.e.ID != "" {
		panic("event: Slot filled twice")
	}
	putID(&s.id, t)
	// The bytes are never written again: they are the string's.
	s.e.ID = unsafe.String(&s.id[0], idLen)
	s.e.Time = t
	return &s.e
}

// idLen is the length of an ID's text.
const idLen = 36

// putID writes a new ID for time t into s.
func putID(s *[idLen]byte, t time.Time) {
	putIDBits(s, uint64(t.UnixMilli()), rand.Uint64(), rand.Uint64())
}

// putIDBits writes the ID of Unix milliseconds ms and random bits r1 and
// r2 into s.
func putIDBits(s *[idLen]byte, ms, r1, r2 uint64) {
	// The 16 bytes, as two big-endian halves: 48 bits of milliseconds,
	// version 7 and 12 random bits; variant 10 and 62 random bits.
	hi := ms<<16 | 0x7000 | (r1>>60&0x0f)<<8 | r1>>52&0xff
	// Bytes 9 to 15 are r2's first seven, least significant first.
	lo := (0x80|r2>>58&0x3f)<<56 | bits.ReverseBytes64(r2)>>8
	put := func(at int, v uint64) { // two hex digits of v's low byte
		i := (v & 0xff) * 2
		s[at], s[at+1] = hexPairs[i], hexPairs[i+1]
	}
	put(0, hi>>56)
	put(2, hi>>48)
	put(4, hi>>40)
	put(6, hi>>32)
	s[8] = '-'
	put(9, hi>>24)
	put(11, hi>>16)
	s[13] = '-'
	put(14, hi>>8)
	put(16, hi)
	s[18] = '-'
	put(19, lo>>56)
	put(21, lo>>48)
	s[23] = '-'
	put(24, lo>>40)
	put(26, lo>>32)
	put(28, lo>>24)
	put(30, lo>>16)
	put(32, lo>>8)
	put(34, lo)
}

// hexPairs holds the two lower-case hex digits of every byte value.
const hexPairs = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
