package sunrpc

import (
	"encoding/binary"
	"errors"
)

// XDR (RFC 4506): big-endian 32-bit units; variable-length data carries
// its length first and is padded to a multiple of four bytes.

var (
	errShort   = errors.New("sunrpc: message too short")
	errTooLong = errors.New("sunrpc: length over its bound")
)

// xdrReader decodes XDR from a byte slice. The first error sticks: every
// later read returns a zero value, so a decoder checks err once at the
// end.
//
// A reader whose size is larger than its data reads zeros past the end of
// the data, up to size: an RPC server decoding a datagram does that, as it
// decodes from its whole receive buffer rather than from the bytes that
// arrived (a short GETPORT over UDP is answered, a short one over TCP is
// GARBAGE_ARGS).
type xdrReader struct {
	b    []byte
	off  int
	size int
	err  error
}

func newXDR(b []byte) *xdrReader { return &xdrReader{b: b, size: len(b)} }

// take returns the next n bytes. Bytes past the data (but within size)
// are zeros in a new slice; bytes within it alias the data.
func (r *xdrReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.size-r.off {
		r.err = errShort
		r.off = r.size
		return nil
	}
	start := r.off
	r.off += n
	if r.off <= len(r.b) {
		return r.b[start:r.off:r.off]
	}
	out := make([]byte, n)
	if start < len(r.b) {
		copy(out, r.b[start:])
	}
	return out
}

func (r *xdrReader) uint32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

// opaque reads variable-length opaque data of at most bound bytes.
func (r *xdrReader) opaque(bound int) []byte {
	n := r.uint32()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(bound) {
		r.err = errTooLong
		return nil
	}
	p := r.take(int(n))
	r.take(pad4(int(n)))
	if r.err != nil {
		return nil
	}
	return p
}

// string reads a string of at most bound bytes, as sent (not checked for
// UTF-8).
func (r *xdrReader) string(bound int) string { return string(r.opaque(bound)) }

// bool reads an XDR boolean; like the C decoders, any non-zero value is
// true.
func (r *xdrReader) bool() bool { return r.uint32() != 0 }

// rest returns the bytes of the data not read yet.
func (r *xdrReader) rest() []byte {
	if r.off >= len(r.b) {
		return nil
	}
	return r.b[r.off:]
}

func pad4(n int) int { return (4 - n%4) % 4 }

// xdrWriter encodes XDR.
type xdrWriter struct{ b []byte }

func (w *xdrWriter) uint32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

func (w *xdrWriter) bool(v bool) {
	if v {
		w.uint32(1)
	} else {
		w.uint32(0)
	}
}

func (w *xdrWriter) opaque(p []byte) {
	w.uint32(uint32(len(p)))
	w.b = append(w.b, p...)
	w.b = append(w.b, make([]byte, pad4(len(p)))...)
}

func (w *xdrWriter) string(s string) {
	w.uint32(uint32(len(s)))
	w.b = append(w.b, s...)
	w.b = append(w.b, make([]byte, pad4(len(s)))...)
}

// stringSize is the encoded size of a string of n bytes.
func stringSize(n int) int { return 4 + n + pad4(n) }
