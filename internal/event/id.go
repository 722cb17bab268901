package event

import (
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// NewID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then 74
// random bits, so ids sort by time and do not collide across a fleet of
// sensors. The random bits come from the runtime's per-thread ChaCha8
// generator, seeded from the OS: no lock and no system call per id.
func NewID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	b[0], b[1], b[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	b[3], b[4], b[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	r1, r2 := rand.Uint64(), rand.Uint64()
	b[6] = 0x70 | byte(r1>>60)&0x0f // version 7
	b[7] = byte(r1 >> 52)
	b[8] = 0x80 | byte(r2>>58)&0x3f // variant 10
	for i := 9; i < 16; i++ {
		b[i] = byte(r2 >> (8 * (i - 9)))
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
