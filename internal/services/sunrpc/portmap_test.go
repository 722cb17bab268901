package sunrpc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

// referenceEntries is the registration list of the rpcbind the reference
// replies came from: itself, on every transport it opens.
var referenceEntries = mustEntries(Persona{Registrations: []Registration{
	{Program: 100000, Versions: []uint32{4, 3}, Netids: []string{"tcp6", "udp6"}, Port: 111},
	{Program: 100000, Versions: []uint32{4, 3, 2}, Netids: []string{"tcp", "udp"}, Port: 111},
	{Program: 100000, Versions: []uint32{4, 3}, Netids: []string{"local"}, Path: "/run/rpcbind.sock"},
}})

func mustEntries(p Persona) []entry {
	es, err := p.entries()
	if err != nil {
		panic(err)
	}
	return es
}

var loopback = netip.MustParseAddr("127.0.0.1")

// answer is what the portmapper does with one message: "close" or "none"
// for a message it drops, "none" for a call it does not answer, else the
// reply in hex.
func answer(pm *portmapper, msg []byte, datagram bool) string {
	c, err := parseCall(msg)
	if err != nil {
		if datagram {
			return "none"
		}
		return "close"
	}
	o := pm.handle(c, newTransport(datagram, loopback))
	if o.Reply == nil {
		return "none"
	}
	return hex.EncodeToString(o.Reply)
}

// The portmapper answers as the Linux rpcbind it imitates, byte for byte.
func TestReferenceReplies(t *testing.T) {
	f, err := os.Open("testdata/rpcbind-reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pm := newPortmapper(referenceEntries, time.Now)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("bad reference line %q", line)
		}
		msg, err := hex.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		n++
		got := answer(pm, msg, parts[1] == "udp")
		if got != parts[3] {
			t.Errorf("%s over %s:\n got %s\nwant %s", parts[0], parts[1], got, parts[3])
		}
	}
	if n < 50 {
		t.Fatalf("only %d reference replies read", n)
	}
	t.Logf("%d reference replies", n)
}

func TestProcedures(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::10")
	rpcbArgs := func(prog, vers uint32, netid string) []byte {
		return join(be(prog, vers), xdrString(netid), xdrString(""), xdrString(""))
	}
	sockaddr6 := join([]byte{10, 0, 0x03, 0xe9}, make([]byte, 4), v6.AsSlice(), make([]byte, 4))
	tests := []struct {
		name     string
		profile  string
		datagram bool
		local    netip.Addr
		prog     uint32
		vers     uint32
		proc     uint32
		args     []byte
		reply    []byte // the results after the accept_stat, for success
		status   string
		result   string
		args0    string // the first decoded argument, name=value
	}{
		{"SET refused", service.ProfileLinuxIoT, false, loopback, 100000, 2, 1, be(100232, 10, 17, 4000),
			be(0), "success", "false", "program=100232"},
		{"UNSET refused", service.ProfileLinuxIoT, true, loopback, 100000, 2, 2, be(100000, 2, 6, 111),
			be(0), "success", "false", "program=100000"},
		{"rpcbind SET refused", service.ProfileLinuxIoT, false, loopback, 100000, 3, 1, rpcbArgs(100232, 10, "udp"),
			be(0), "success", "false", "program=100232"},
		{"GETPORT mountd v1 udp", service.ProfileWindows2000, true, loopback, 100000, 2, 3, be(100005, 1, 17, 0),
			be(1048), "success", "port=1048", "program=100005"},
		{"GETPORT mountd v2: another version's port", service.ProfileWindows2000, false, loopback, 100000, 2, 3, be(100005, 2, 6, 0),
			be(1048), "success", "port=1048", "program=100005"},
		{"GETPORT protocol 1", service.ProfileWindows2000, false, loopback, 100000, 2, 3, be(100005, 1, 1, 0),
			be(0), "success", "port=0", "program=100005"},
		{"GETPORT cut short over TCP", service.ProfileWindows2000, false, loopback, 100000, 2, 3, be(100005),
			nil, "garbage_args", "", ""},
		{"GETPORT cut short over UDP reads zeros", service.ProfileWindows2000, true, loopback, 100000, 2, 3, be(100005),
			be(0), "success", "port=0", "program=100005"},
		{"windows serves version 2 only", service.ProfileWindows2000, false, loopback, 100000, 4, 0, nil,
			nil, "prog_mismatch", "", ""},
		{"GETADDR over IPv6", service.ProfileLinuxIoT, false, v6, 100000, 4, 3, rpcbArgs(100024, 1, ""),
			xdrString("2001:db8::10.202.139"), "success", "addr=2001:db8::10.202.139", "program=100024"},
		{"GETADDR for an unknown program", service.ProfileLinuxIoT, true, loopback, 100000, 3, 3, rpcbArgs(100232, 1, "udp"),
			xdrString(""), "success", "addr=", "program=100232"},
		{"UADDR2TADDR over IPv6", service.ProfileLinuxIoT, false, v6, 100000, 3, 7, xdrString("2001:db8::10.3.233"),
			join(be(28, 28), sockaddr6), "success", "taddr=" + hex.EncodeToString(sockaddr6), "uaddr=2001:db8::10.3.233"},
		{"UADDR2TADDR of an IPv4 address over IPv6", service.ProfileLinuxIoT, false, v6, 100000, 3, 7, xdrString("10.0.0.1.0.111"),
			be(0, 0), "success", "taddr=", "uaddr=10.0.0.1.0.111"},
		{"TADDR2UADDR over IPv6", service.ProfileLinuxIoT, true, v6, 100000, 4, 8, join(be(28, 28), sockaddr6),
			xdrString("2001:db8::10.3.233"), "success", "uaddr=2001:db8::10.3.233", "taddr=" + hex.EncodeToString(sockaddr6)},
		{"GETTIME", service.ProfileLinuxIoT, false, loopback, 100000, 4, 6, nil,
			be(uint32(clock.Unix())), "success", "time=2001-09-18T13:20:00Z", ""},
		{"GETADDRLIST over IPv6", service.ProfileLinuxIoT, false, v6, 100000, 4, 11, rpcbArgs(100000, 4, ""),
			join(be(1), xdrString("2001:db8::10.0.111"), xdrString("tcp6"), be(semanticsCOTSOrd), xdrString("inet6"), xdrString("tcp"),
				be(1), xdrString("2001:db8::10.0.111"), xdrString("udp6"), be(semanticsCLTS), xdrString("inet6"), xdrString("udp"), be(0)),
			"success", "entries=2", "program=100000"},
		{"mountd MNT on the portmapper's port", service.ProfileWindows2000, false, loopback, 100005, 3, 1, xdrString("/export/home"),
			nil, "prog_unavail", "", "dirpath=/export/home"},
		{"statd SM_MON", service.ProfileLinuxIoT, true, loopback, 100024, 1, 2, join(xdrString("\x90%n"), xdrString("me")),
			nil, "prog_unavail", "", `mon_name=\x90%n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.profile, nil)
			c, err := parseCall(call2(42, tt.prog, tt.vers, tt.proc, tt.args))
			if err != nil {
				t.Fatal(err)
			}
			o := s.pm.handle(c, newTransport(tt.datagram, tt.local))
			if o.Status != tt.status || o.Result != tt.result {
				t.Errorf("got %s %q; want %s %q", o.Status, o.Result, tt.status, tt.result)
			}
			if tt.reply != nil {
				if want := acceptedReply(42, statSuccess, tt.reply); !bytes.Equal(o.Reply, want) {
					t.Errorf("got reply\n%x\nwant\n%x", o.Reply, want)
				}
			}
			got0 := ""
			if len(o.Args) > 0 {
				got0 = o.Args[0].Name + "=" + o.Args[0].Value
			}
			if got0 != tt.args0 {
				t.Errorf("got first argument %q; want %q", got0, tt.args0)
			}
		})
	}
}

// GETSTAT counts the calls, lookups and remote calls made so far.
func TestGetstat(t *testing.T) {
	s := newTestServer(t, service.ProfileLinuxIoT, nil)
	do := func(datagram bool, vers, proc uint32, args []byte) outcome {
		c, err := parseCall(call2(1, progPortmapper, vers, proc, args))
		if err != nil {
			t.Fatal(err)
		}
		return s.pm.handle(c, newTransport(datagram, loopback))
	}
	do(false, 2, 0, nil)
	do(false, 2, 0, nil)
	do(true, 2, 3, be(100024, 1, 17, 0))  // found
	do(true, 2, 3, be(100232, 10, 17, 0)) // not found
	do(true, 2, 5, join(be(100024, 1, 0), be(0)))
	do(false, 2, 9, nil) // no such procedure: not counted
	r := newXDR(do(false, 4, 12, nil).Reply[replyHeaderLen:])
	var info [rpcbStatProcs]uint32
	for i := range info {
		info[i] = r.uint32()
	}
	if want := [rpcbStatProcs]uint32{2, 0, 0, 2, 0, 1}; info != want {
		t.Errorf("version 2 calls %v; want %v", info, want)
	}
	if set, unset := r.uint32(), r.uint32(); set != 0 || unset != 0 {
		t.Errorf("set %d unset %d; want none", set, unset)
	}
	var lookups []string
	for r.bool() {
		prog, vers, ok, fail, netid := r.uint32(), r.uint32(), r.uint32(), r.uint32(), r.string(10)
		lookups = append(lookups, fmt.Sprintf("%d/%d/%s %d:%d", prog, vers, netid, ok, fail))
	}
	if got, want := strings.Join(lookups, " "), "100232/10/udp 0:1 100024/1/udp 1:0"; got != want {
		t.Errorf("lookups %q; want %q (newest first)", got, want)
	}
	if !r.bool() {
		t.Fatal("no remote call counted")
	}
	if prog, vers, proc, ok, fail, ind := r.uint32(), r.uint32(), r.uint32(), r.uint32(), r.uint32(), r.uint32(); prog != 100024 || vers != 1 || proc != 0 || ok != 1 || fail != 0 || ind != 0 {
		t.Errorf("remote call %d/%d/%d %d:%d indirect %d; want status NULL counted once", prog, vers, proc, ok, fail, ind)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
}

// A DUMP cut to a limit is a prefix of the whole list, as long as fits.
func TestDumpCut(t *testing.T) {
	for _, v2 := range []bool{true, false} {
		pm := newPortmapper(mustEntries(DefaultConfig(service.ProfileLinuxIoT).Persona), time.Now)
		full, _ := pm.dump(1, v2, 0)
		for limit := 1; limit <= len(full)+10; limit++ {
			got, res := pm.dump(1, v2, limit)
			if limit < replyHeaderLen+4 {
				if got != nil {
					t.Fatalf("limit %d: got %d bytes; want none", limit, len(got))
				}
				continue
			}
			if len(got) > limit {
				t.Fatalf("v2 %v limit %d: got %d bytes", v2, limit, len(got))
			}
			body := got[:len(got)-4]
			if !bytes.HasPrefix(full, body) || !bytes.Equal(got[len(got)-4:], be(0)) {
				t.Fatalf("v2 %v limit %d: not a prefix of the whole list", v2, limit)
			}
			if limit >= len(full) && !bytes.Equal(got, full) {
				t.Fatalf("v2 %v limit %d: cut although the whole list fits (%s)", v2, limit, res)
			}
		}
	}
}
