package sunrpc

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smallpot/smallpot/internal/event"
)

// The portmapper (RFC 1833): version 2 (PMAP) and rpcbind versions 3 and
// 4, answering from a fixed registration list. It is pure logic: a call
// in, the reply bytes (or none) and what to record out. Its behaviour
// follows a Linux rpcbind (libtirpc) byte for byte where the two were
// compared (testdata/rpcbind-reference.txt), except that it registers
// nothing (SET and UNSET answer FALSE) and forwards nothing (CALLIT).

const (
	protoTCP = 6
	protoUDP = 17

	// udpBuffer is the receive buffer a Linux rpcbind decodes datagrams
	// in (RPC_MAXDATASIZE): arguments cut short read zeros up to it.
	udpBuffer = 9000
	// maxRPCBString bounds the strings of rpcbind arguments (netid,
	// address, owner), as libtirpc does.
	maxRPCBString = 9000

	// Semantics of transports in GETADDRLIST answers (netconfig).
	semanticsCLTS    = 1 // datagram
	semanticsCOTSOrd = 3 // stream

	// rpcbStatProcs is the size of the per-version call counters of
	// GETSTAT (RPCBSTAT_HIGHPROC).
	rpcbStatProcs = 13
	// maxStatEntries bounds the lookup and remote-call lists GETSTAT
	// keeps per version.
	maxStatEntries = 16
)

// entry is one registration the portmapper answers with.
type entry struct {
	Prog, Vers uint32
	Netid      string // tcp, udp, tcp6, udp6 or local
	Port       uint16 // for tcp, udp, tcp6, udp6
	Path       string // for local
	Owner      string
}

// uaddr is the registered universal address: the port on every address.
func (e entry) uaddr() string {
	switch e.Netid {
	case "tcp", "udp":
		return "0.0.0.0" + portSuffix(e.Port)
	case "tcp6", "udp6":
		return "::" + portSuffix(e.Port)
	}
	return e.Path
}

// proto is the entry's PMAP protocol, 0 for netids version 2 cannot show.
func (e entry) proto() uint32 {
	switch e.Netid {
	case "tcp":
		return protoTCP
	case "udp":
		return protoUDP
	}
	return 0
}

func portSuffix(p uint16) string {
	return "." + strconv.Itoa(int(p>>8)) + "." + strconv.Itoa(int(p&0xff))
}

// uaddrOf is the universal address of a port on a, as a client reaching a
// sees it.
func uaddrOf(a netip.Addr, port uint16) string {
	return a.WithZone("").String() + portSuffix(port)
}

// family is "inet" or "inet6" for a netid, "" for others.
func family(netid string) string {
	switch netid {
	case "tcp", "udp":
		return "inet"
	case "tcp6", "udp6":
		return "inet6"
	}
	return ""
}

// transport is where a call arrived.
type transport struct {
	Netid string     // tcp, udp, tcp6 or udp6
	Local netip.Addr // the address the client reached
}

func newTransport(datagram bool, local netip.Addr) transport {
	local = local.Unmap()
	netid := "tcp"
	if datagram {
		netid = "udp"
	}
	if local.Is6() {
		netid += "6"
	}
	return transport{Netid: netid, Local: local}
}

func (t transport) datagram() bool { return strings.HasPrefix(t.Netid, "udp") }

// outcome is what the portmapper made of one call.
type outcome struct {
	Reply  []byte // the reply message; nil for none
	Status string // the reply's name for events
	Args   []event.RPCArg
	Result string
	Cred   *authSysCred
	// Inner is the argument bytes of CALLIT's inner call; Garbage means
	// the arguments did not decode. Both keep raw bytes in the event.
	Inner   []byte
	Garbage bool
	// cut rebuilds a DUMP reply in at most limit bytes, for a datagram
	// the engine found too large; nil for other replies.
	cut func(limit int) (reply []byte, result string)
}

func (o *outcome) accept(xid, stat uint32, body []byte) {
	o.Reply, o.Status = acceptedReply(xid, stat, body), acceptName(stat)
}

// portmapper answers calls from its registrations. It is safe for
// concurrent use: only its statistics change.
type portmapper struct {
	entries  []entry
	versions []uint32 // of program 100000 served, ascending
	now      func() time.Time
	stats    *stats
}

func newPortmapper(entries []entry, now func() time.Time) *portmapper {
	pm := &portmapper{entries: entries, now: now, stats: &stats{}}
	for _, e := range entries {
		if e.Prog == progPortmapper && !slices.Contains(pm.versions, e.Vers) {
			pm.versions = append(pm.versions, e.Vers)
		}
	}
	slices.Sort(pm.versions)
	return pm
}

// argReader reads a call's arguments as the server would: over UDP, bytes
// missing at the end read as zeros (see xdrReader).
func argReader(c *call, tr transport) *xdrReader {
	r := newXDR(c.Args)
	if tr.datagram() {
		r.size = max(len(c.Args), udpBuffer-c.HeaderLen)
	}
	return r
}

// handle answers one call.
func (pm *portmapper) handle(c *call, tr transport) outcome {
	var o outcome
	st, cred := checkAuth(c.Cred)
	o.Cred = cred
	if st != authOK {
		o.Reply, o.Status = authErrorReply(c.XID, st), authStatName(st)
		return o
	}
	if c.Prog != progPortmapper {
		// Whether or not it is registered, another program is not served
		// on the portmapper's port.
		o.Args = otherArgs(c.Prog, c.Proc, c.Args)
		o.accept(c.XID, statProgUnavail, nil)
		return o
	}
	if !slices.Contains(pm.versions, c.Vers) {
		o.Reply, o.Status = mismatchReply(c.XID, pm.versions[0], pm.versions[len(pm.versions)-1]), acceptName(statProgMismatch)
		return o
	}
	vi := int(c.Vers - 2)
	if c.Proc < rpcbStatProcs && procedureName(c.Prog, c.Vers, c.Proc) != "" {
		pm.stats.call(vi, c.Proc)
	}
	r := argReader(c, tr)
	switch {
	case c.Proc == 0:
		o.accept(c.XID, statSuccess, nil)
	case c.Vers == 2 && c.Proc <= 3:
		prog, vers, prot, port := r.uint32(), r.uint32(), r.uint32(), r.uint32()
		if r.err != nil {
			o.garbage(c)
			return o
		}
		o.Args = []event.RPCArg{argUint("program", prog), argUint("version", vers), arg("protocol", protoName(prot))}
		if c.Proc != 3 {
			// SET and UNSET: only a local, privileged caller may
			// change the list.
			o.Args = append(o.Args, argUint("port", port))
			o.accept(c.XID, statSuccess, boolResult(false))
			o.Result = "false"
			return o
		}
		got := pm.getport(prog, vers, prot)
		pm.stats.lookup(vi, prog, vers, protoName(prot), got != 0)
		var w xdrWriter
		w.uint32(uint32(got))
		o.accept(c.XID, statSuccess, w.b)
		o.Result = "port=" + strconv.Itoa(int(got))
	case c.Proc == 4:
		v2 := c.Vers == 2
		o.cut = func(limit int) ([]byte, string) { return pm.dump(c.XID, v2, limit) }
		o.Reply, o.Result = pm.dump(c.XID, v2, 0)
		o.Status = acceptName(statSuccess)
	case c.Proc == 5 || c.Vers == 4 && c.Proc == 10:
		pm.rmtcall(&o, c, r, tr, c.Proc == 10)
	case c.Vers == 2:
		o.accept(c.XID, statProcUnavail, nil)
	case c.Proc <= 3 || c.Vers == 4 && (c.Proc == 9 || c.Proc == 11):
		pm.rpcb(&o, c, r, tr, vi)
	case c.Proc == 6:
		var w xdrWriter
		now := pm.now()
		w.uint32(uint32(now.Unix()))
		o.accept(c.XID, statSuccess, w.b)
		o.Result = "time=" + now.UTC().Format(time.RFC3339)
	case c.Proc == 7:
		ua := r.string(maxRPCBString)
		if r.err != nil {
			o.garbage(c)
			return o
		}
		o.Args = []event.RPCArg{arg("uaddr", ua)}
		taddr := uaddr2taddr(ua, tr)
		var w xdrWriter
		w.uint32(uint32(len(taddr)))
		w.opaque(taddr)
		o.accept(c.XID, statSuccess, w.b)
		o.Result = fmt.Sprintf("taddr=%x", taddr)
	case c.Proc == 8:
		r.uint32() // maxlen
		taddr := r.opaque(maxRPCBString)
		if r.err != nil {
			o.garbage(c)
			return o
		}
		o.Args = []event.RPCArg{arg("taddr", fmt.Sprintf("%x", taddr))}
		ua := taddr2uaddr(taddr, tr)
		var w xdrWriter
		w.string(ua)
		o.accept(c.XID, statSuccess, w.b)
		o.Result = "uaddr=" + ua
	case c.Vers == 4 && c.Proc == 12:
		o.accept(c.XID, statSuccess, pm.stats.encode())
	default:
		o.accept(c.XID, statProcUnavail, nil)
	}
	return o
}

func (o *outcome) garbage(c *call) {
	o.accept(c.XID, statGarbageArgs, nil)
	o.Garbage = true
}

func boolResult(v bool) []byte {
	var w xdrWriter
	w.bool(v)
	return w.b
}

// find returns the registration of prog on netid for version vers, or
// failing that the last one of prog on netid with another version, as
// rpcbind's lookups do; nil when prog is not on netid.
func (pm *portmapper) find(prog, vers uint32, netid string) *entry {
	var hit *entry
	for i := range pm.entries {
		e := &pm.entries[i]
		if e.Prog != prog || e.Netid != netid {
			continue
		}
		hit = e
		if e.Vers == vers {
			break
		}
	}
	return hit
}

func (pm *portmapper) getport(prog, vers, prot uint32) uint16 {
	var netid string
	switch prot {
	case protoTCP:
		netid = "tcp"
	case protoUDP:
		netid = "udp"
	default:
		return 0
	}
	if e := pm.find(prog, vers, netid); e != nil {
		return e.Port
	}
	return 0
}

// rpcb serves the rpcbind procedures taking an rpcb argument: SET,
// UNSET, GETADDR, GETVERSADDR and GETADDRLIST.
func (pm *portmapper) rpcb(o *outcome, c *call, r *xdrReader, tr transport, vi int) {
	prog, vers := r.uint32(), r.uint32()
	netid, addr, owner := r.string(maxRPCBString), r.string(maxRPCBString), r.string(maxRPCBString)
	if r.err != nil {
		o.garbage(c)
		return
	}
	o.Args = []event.RPCArg{argUint("program", prog), argUint("version", vers), arg("netid", netid),
		arg("addr", addr), arg("owner", owner)}
	var w xdrWriter
	switch c.Proc {
	case 1, 2:
		w.bool(false)
		o.Result = "false"
	case 3, 9:
		// GETADDR takes any version of the program; GETVERSADDR only
		// the one asked. Both look on the netid the call came by.
		ua := ""
		if e := pm.find(prog, vers, tr.Netid); e != nil && (c.Proc == 3 || e.Vers == vers) {
			ua = uaddrOf(tr.Local, e.Port)
		}
		pm.stats.lookup(vi, prog, vers, tr.Netid, ua != "")
		w.string(ua)
		o.Result = "addr=" + ua
	case 11:
		n := 0
		fam := family(tr.Netid)
		for _, e := range pm.entries {
			if e.Prog != prog || e.Vers != vers || family(e.Netid) != fam {
				continue
			}
			w.bool(true)
			w.string(uaddrOf(tr.Local, e.Port))
			w.string(e.Netid)
			if strings.HasPrefix(e.Netid, "udp") {
				w.uint32(semanticsCLTS)
			} else {
				w.uint32(semanticsCOTSOrd)
			}
			w.string(fam)
			w.string(strings.TrimSuffix(e.Netid, "6"))
			n++
		}
		w.bool(false)
		o.Result = "entries=" + strconv.Itoa(n)
	}
	o.accept(c.XID, statSuccess, w.b)
}

// dump encodes the DUMP reply: version 2's pmaplist of tcp and udp
// registrations, or rpcbind's list of them all. With limit > 0 it stops
// adding entries before the reply passes limit bytes, and returns nil if
// not even an empty list fits.
func (pm *portmapper) dump(xid uint32, v2 bool, limit int) ([]byte, string) {
	w := xdrWriter{b: acceptedReply(xid, statSuccess, nil)}
	n, all := 0, 0
	for _, e := range pm.entries {
		if v2 && e.proto() == 0 {
			continue
		}
		all++
		size := 4 + 16
		if !v2 {
			size = 4 + 8 + stringSize(len(e.Netid)) + stringSize(len(e.uaddr())) + stringSize(len(e.Owner))
		}
		if n < all-1 || limit > 0 && len(w.b)+size+4 > limit {
			continue // the list stays a prefix of the registrations
		}
		w.bool(true)
		w.uint32(e.Prog)
		w.uint32(e.Vers)
		if v2 {
			w.uint32(e.proto())
			w.uint32(uint32(e.Port))
		} else {
			w.string(e.Netid)
			w.string(e.uaddr())
			w.string(e.Owner)
		}
		n++
	}
	w.bool(false)
	if limit > 0 && len(w.b) > limit {
		return nil, ""
	}
	if n < all {
		return w.b, fmt.Sprintf("entries=%d of %d", n, all)
	}
	return w.b, "entries=" + strconv.Itoa(n)
}

// rmtcall serves CALLIT (versions 2 and 3), BCAST and INDIRECT (version
// 4). Nothing is ever forwarded: as a Linux rpcbind with remote calls
// turned off, the portmapper answers only the errors INDIRECT reports,
// and calls on streams not at all.
func (pm *portmapper) rmtcall(o *outcome, c *call, r *xdrReader, tr transport, indirect bool) {
	o.Status = "none"
	prog, vers, proc := r.uint32(), r.uint32(), r.uint32()
	args := r.opaque(udpBuffer)
	if r.err != nil {
		o.Garbage = true
		if indirect && tr.datagram() {
			o.garbage(c)
		}
		return
	}
	o.Inner = args
	o.Args = append([]event.RPCArg{argUint("program", prog), argUint("version", vers), argUint("procedure", proc)},
		otherArgs(prog, proc, args)...)
	if name := procedureName(prog, vers, proc); name != "" {
		o.Result = "call=" + strings.TrimSpace(programName(prog)+" "+name)
	}
	if !tr.datagram() {
		return
	}
	vi := int(c.Vers - 2)
	if prog == progPortmapper {
		// rpcbind will not call itself: its own procedures are refused
		// as too weakly authenticated, NULL is dropped.
		pm.stats.rmtcall(vi, prog, vers, proc, tr.Netid, false, indirect)
		switch {
		case proc != 0:
			o.Reply, o.Status = authErrorReply(c.XID, authTooWeak), authStatName(authTooWeak)
		case indirect:
			o.accept(c.XID, statSystemErr, nil)
		}
		return
	}
	e := pm.find(prog, vers, tr.Netid)
	pm.stats.rmtcall(vi, prog, vers, proc, tr.Netid, e != nil && e.Vers == vers, indirect)
	if !indirect {
		return
	}
	switch {
	case e == nil:
		o.accept(c.XID, statProgUnavail, nil)
	case e.Vers != vers:
		low, high := ^uint32(0), uint32(0)
		for _, x := range pm.entries {
			if x.Prog == prog && x.Netid == tr.Netid {
				low, high = min(low, x.Vers), max(high, x.Vers)
			}
		}
		o.Reply, o.Status = mismatchReply(c.XID, low, high), acceptName(statProgMismatch)
	}
}

// uaddr2taddr turns a universal address of the call's address family
// into the transport address (a Linux struct sockaddr) rpcbind returns;
// nil when it does not parse.
func uaddr2taddr(ua string, tr transport) []byte {
	i := strings.LastIndexByte(ua, '.')
	if i < 0 {
		return nil
	}
	j := strings.LastIndexByte(ua[:i], '.')
	if j < 0 {
		return nil
	}
	hi, err1 := strconv.ParseUint(ua[j+1:i], 10, 8)
	lo, err2 := strconv.ParseUint(ua[i+1:], 10, 8)
	a, err3 := netip.ParseAddr(ua[:j])
	if err1 != nil || err2 != nil || err3 != nil || a.Zone() != "" {
		return nil
	}
	inet := family(tr.Netid) == "inet"
	if inet != a.Is4() {
		return nil
	}
	ip := a.AsSlice()
	if inet {
		b := make([]byte, 16) // sockaddr_in
		b[0] = 2              // AF_INET, host byte order
		b[2], b[3] = byte(hi), byte(lo)
		copy(b[4:], ip)
		return b
	}
	b := make([]byte, 28) // sockaddr_in6
	b[0] = 10             // AF_INET6
	b[2], b[3] = byte(hi), byte(lo)
	copy(b[8:], ip)
	return b
}

// taddr2uaddr is the reverse of uaddr2taddr; "" when the bytes are too
// short for the call's address family.
func taddr2uaddr(b []byte, tr transport) string {
	port := uint16(0)
	if len(b) >= 4 {
		port = uint16(b[2])<<8 | uint16(b[3])
	}
	if family(tr.Netid) == "inet" {
		if len(b) < 16 {
			return ""
		}
		return uaddrOf(netip.AddrFrom4([4]byte(b[4:8])), port)
	}
	if len(b) < 28 {
		return ""
	}
	return uaddrOf(netip.AddrFrom16([16]byte(b[8:24])), port)
}

// stats are the counters GETSTAT reports, per portmapper version (2, 3,
// 4): calls per procedure, lookups and remote calls. SET and UNSET never
// succeed, so their counters stay at zero.
type stats struct {
	mu   sync.Mutex
	info [3][rpcbStatProcs]uint32
	addr [3][]addrStat // newest first
	rmt  [3][]rmtStat
}

type addrStat struct {
	prog, vers       uint32
	netid            string
	success, failure uint32
}

type rmtStat struct {
	prog, vers, proc           uint32
	netid                      string
	success, failure, indirect uint32
}

func (s *stats) call(vi int, proc uint32) {
	s.mu.Lock()
	s.info[vi][proc]++
	s.mu.Unlock()
}

func (s *stats) lookup(vi int, prog, vers uint32, netid string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.addr[vi]
	i := slices.IndexFunc(list, func(a addrStat) bool { return a.prog == prog && a.vers == vers && a.netid == netid })
	if i < 0 {
		if len(list) == maxStatEntries {
			return
		}
		list = slices.Insert(list, 0, addrStat{prog: prog, vers: vers, netid: netid})
		i = 0
	}
	if ok {
		list[i].success++
	} else {
		list[i].failure++
	}
	s.addr[vi] = list
}

func (s *stats) rmtcall(vi int, prog, vers, proc uint32, netid string, ok, indirect bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.rmt[vi]
	i := slices.IndexFunc(list, func(r rmtStat) bool {
		return r.prog == prog && r.vers == vers && r.proc == proc && r.netid == netid
	})
	if i < 0 {
		if len(list) == maxStatEntries {
			return
		}
		list = slices.Insert(list, 0, rmtStat{prog: prog, vers: vers, proc: proc, netid: netid})
		i = 0
	}
	if ok {
		list[i].success++
	} else {
		list[i].failure++
	}
	if indirect {
		list[i].indirect++
	}
	s.rmt[vi] = list
}

// encode writes rpcb_stat_byvers.
func (s *stats) encode() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w xdrWriter
	for vi := range 3 {
		for _, n := range s.info[vi] {
			w.uint32(n)
		}
		w.uint32(0) // setinfo
		w.uint32(0) // unsetinfo
		for _, a := range s.addr[vi] {
			w.bool(true)
			w.uint32(a.prog)
			w.uint32(a.vers)
			w.uint32(a.success)
			w.uint32(a.failure)
			w.string(a.netid)
		}
		w.bool(false)
		for _, r := range s.rmt[vi] {
			w.bool(true)
			w.uint32(r.prog)
			w.uint32(r.vers)
			w.uint32(r.proc)
			w.uint32(r.success)
			w.uint32(r.failure)
			w.uint32(r.indirect)
			w.string(r.netid)
		}
		w.bool(false)
	}
	return w.b
}
