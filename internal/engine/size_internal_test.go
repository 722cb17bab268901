package engine

import (
	"testing"
	"unsafe"
)

// A session's state is one allocation, held as long as its connection
// lives, idle ones included: it fits the 704-byte size class, malloc
// header (8 bytes, for an object with pointers past 512 bytes) and all.
// A field more, or one placed where it pads, moves every session to the
// 768-byte class.
func TestSessionFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(tcpSession{}); n+8 > 704 {
		t.Errorf("tcpSession is %d bytes; want at most %d", n, 704-8)
	}
}
