package sunrpc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

// referenceCalls returns the calls of testdata/rpcbind-reference.txt.
func referenceCalls(f *testing.F) [][]byte {
	file, err := os.Open("testdata/rpcbind-reference.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var out [][]byte
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 4 {
			continue
		}
		if b, err := hex.DecodeString(parts[2]); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// chunks hands out data in pieces of at most n bytes per Read, as a
// network connection does.
type chunks struct {
	data []byte
	n    int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.n, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// FuzzRecord reads any stream, split in any way, as records of any bound,
// and checks every record against the stream: what was read is a prefix
// of the stream, each payload is its fragments joined and within the
// bound, and only a whole stream ends with io.EOF.
func FuzzRecord(f *testing.F) {
	for _, tt := range recordTests {
		f.Add(tt.in, uint16(tt.max), uint8(7))
	}
	for _, c := range referenceCalls(f)[:8] {
		f.Add(frame(c), uint16(9000), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint16, chunk uint8) {
		src := &chunks{data: bytes.Clone(in), n: int(chunk)%64 + 1}
		pos := 0
		for range len(in) + 2 {
			rc, err := readRecord(src, int(max))
			if !bytes.HasPrefix(in[pos:], rc.Wire) {
				t.Fatalf("at %d record bytes %x are not the stream's %x", pos, rc.Wire, in[pos:])
			}
			// Parse the wire bytes again, plainly.
			var want []byte
			for w := rc.Wire; len(w) >= 4; {
				n := int(binary.BigEndian.Uint32(w) &^ lastFragment)
				w = w[4:]
				n = min(n, len(w))
				want, w = append(want, w[:n]...), w[n:]
			}
			if msg := rc.Msg(); !bytes.Equal(msg, want) {
				t.Fatalf("payload %x; want the fragments %x", msg, want)
			}
			pos += len(rc.Wire)
			switch {
			case err == nil:
				if len(rc.Msg()) > int(max) {
					t.Fatalf("record of %d bytes over the bound %d", len(rc.Msg()), max)
				}
				continue
			case errors.Is(err, io.EOF):
				if pos != len(in) {
					t.Fatalf("io.EOF at %d of %d bytes", pos, len(in))
				}
			case errors.Is(err, io.ErrUnexpectedEOF):
				if pos != len(in) || len(rc.Wire) == 0 {
					t.Fatalf("io.ErrUnexpectedEOF at %d of %d bytes, %d in the record", pos, len(in), len(rc.Wire))
				}
			case errors.Is(err, errRecordTooLarge):
				if rc.Announced <= int(max)-len(rc.Msg()) {
					t.Fatalf("fragment of %d bytes refused with %d of %d used", rc.Announced, len(rc.Msg()), max)
				}
			case errors.Is(err, errFragments):
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		t.Fatalf("no end after %d records", len(in)+2)
	})
}

// FuzzParseCall decodes any message and checks that a served call's
// header and arguments make up the message, within the credential bounds.
func FuzzParseCall(f *testing.F) {
	for _, tt := range callTests {
		f.Add(tt.msg)
	}
	for _, c := range referenceCalls(f) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := parseCall(msg)
		if c == nil {
			if err == nil {
				t.Fatal("no call and no error")
			}
			return
		}
		if binary.BigEndian.Uint32(msg[4:]) != msgCall {
			t.Fatalf("a call from a message of type %d", binary.BigEndian.Uint32(msg[4:]))
		}
		if err != nil {
			return
		}
		if c.RPCVers != rpcVersion || len(c.Cred.Body) > maxAuthBytes || len(c.Verf.Body) > maxAuthBytes {
			t.Fatalf("served a call of RPC version %d with bodies of %d and %d bytes", c.RPCVers, len(c.Cred.Body), len(c.Verf.Body))
		}
		if c.HeaderLen+len(c.Args) != len(msg) || !bytes.Equal(msg[c.HeaderLen:], c.Args) {
			t.Fatalf("header of %d and %d argument bytes do not make the %d-byte message", c.HeaderLen, len(c.Args), len(msg))
		}
		checkAuth(c.Cred)
	})
}

// FuzzPortmapper answers any call, over TCP and UDP, on both profiles:
// a reply is always a reply to that call, and a DUMP cut to a limit stays
// within it.
func FuzzPortmapper(f *testing.F) {
	for _, c := range referenceCalls(f) {
		f.Add(c, false, false)
		f.Add(c, true, true)
	}
	servers := map[bool]*Server{}
	for _, linux := range []bool{false, true} {
		p := service.ProfileWindows2000
		if linux {
			p = service.ProfileLinuxIoT
		}
		cfg := DefaultConfig(p)
		s, err := newServer(cfg, service.Env{}, func() time.Time { return clock })
		if err != nil {
			f.Fatal(err)
		}
		servers[linux] = s
	}
	f.Fuzz(func(t *testing.T, msg []byte, datagram, linux bool) {
		c, err := parseCall(msg)
		if err != nil {
			return
		}
		o := servers[linux].pm.handle(c, newTransport(datagram, loopback))
		if o.Reply != nil {
			if len(o.Reply) < 20 || binary.BigEndian.Uint32(o.Reply) != c.XID || binary.BigEndian.Uint32(o.Reply[4:]) != msgReply {
				t.Fatalf("reply %x is not a reply to xid %d", o.Reply, c.XID)
			}
			if len(o.Reply) > 64<<10 {
				t.Fatalf("reply of %d bytes", len(o.Reply))
			}
		}
		if o.Status == "" {
			t.Fatal("no reply status for the event")
		}
		if o.cut != nil {
			for _, limit := range []int{len(msg), 2 * len(msg), len(o.Reply) - 1} {
				if b, _ := o.cut(limit); b != nil && len(b) > limit {
					t.Fatalf("DUMP cut to %d bytes is %d", limit, len(b))
				}
			}
		}
	})
}
