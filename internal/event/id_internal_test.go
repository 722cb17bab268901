package event

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// refID is how NewID wrote an ID byte by byte before putIDBits: the
// reference for its layout.
func refID(ms, r1, r2 uint64) string {
	var b [16]byte
	b[0], b[1], b[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	b[3], b[4], b[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(r1>>60)&0x0f
	b[7] = byte(r1 >> 52)
	b[8] = 0x80 | byte(r2>>58)&0x3f
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

func TestIDLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		ms, r1, r2 := r.Uint64()>>16, r.Uint64(), r.Uint64()
		switch i {
		case 0:
			ms, r1, r2 = 0, 0, 0
		case 1:
			ms, r1, r2 = 1<<48-1, ^uint64(0), ^uint64(0)
		}
		var s [idLen]byte
		putIDBits(&s, ms, r1, r2)
		if got, want := string(s[:]), refID(ms, r1, r2); got != want {
			t.Fatalf("ms %x r1 %x r2 %x: got %s; want %s", ms, r1, r2, got, want)
		}
	}
}
