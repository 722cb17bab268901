package transcript_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/transcript"
)

// FuzzDecode feeds Decode anything: it never panics, every chunk it
// returns lies inside the input, and what decodes cleanly encodes back to
// the same bytes.
func FuzzDecode(f *testing.F) {
	r := transcript.New(time.Now(), 100, nil)
	r.Add(transcript.Out, []byte("220 ready\r\n"))
	r.Add(transcript.In, []byte("HELO x\r\n"))
	f.Add(r.Finish())
	f.Add([]byte{})
	f.Add([]byte("<\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte(">\x00\x00\x00\x01\x00\x00\x00\x01z<"))
	f.Fuzz(func(t *testing.T, b []byte) {
		chunks, err := transcript.Decode(b)
		total := 0
		var re []byte
		for _, c := range chunks {
			if c.Dir != transcript.In && c.Dir != transcript.Out {
				t.Fatalf("got direction %q", c.Dir)
			}
			total += 9 + len(c.Data)
			var h [9]byte
			h[0] = c.Dir
			binary.BigEndian.PutUint32(h[1:5], uint32(c.Offset/time.Millisecond))
			binary.BigEndian.PutUint32(h[5:9], uint32(len(c.Data)))
			re = append(append(re, h[:]...), c.Data...)
		}
		if total > len(b) {
			t.Fatalf("chunks cover %d bytes of a %d-byte input", total, len(b))
		}
		if !bytes.Equal(re, b[:total]) {
			t.Fatalf("chunks re-encode to %q; want %q", re, b[:total])
		}
		if err == nil && total != len(b) {
			t.Fatalf("no error but %d of %d bytes decoded", total, len(b))
		}
	})
}
