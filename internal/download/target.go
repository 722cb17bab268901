package download

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// refusal is the error of a target the policy does not allow. A fetch
// that ends in one is recorded as refused, not failed.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "refused: " + r.reason }

func refused(format string, args ...any) error {
	return &refusal{reason: fmt.Sprintf(format, args...)}
}

// refusedReason returns the reason of a refusal in err's chain.
func refusedReason(err error) (string, bool) {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason, true
	}
	return "", false
}

var (
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
	thisNet  = netip.MustParsePrefix("0.0.0.0/8")
	reserved = netip.MustParsePrefix("240.0.0.0/4") // and the broadcast address
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
)

// policy decides which addresses a fetch may reach.
type policy struct {
	allowPrivate  bool
	allowLoopback bool
}

// check returns a refusal when a may not be dialled. self is the
// sensor's own address the named file came to (a fetch from the sensor
// itself is never useful, and could loop); it may be the zero Addr.
func (p policy) check(a, self netip.Addr) error {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		// A NAT64 address reaches the IPv4 address it embeds.
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:16]))
	}
	switch {
	case !a.IsValid():
		return refused("no address")
	case a.IsUnspecified() || thisNet.Contains(a):
		return refused("unspecified address %s", a)
	case a.IsMulticast() || a.IsInterfaceLocalMulticast() || a.IsLinkLocalMulticast():
		return refused("multicast address %s", a)
	case a.Is4() && reserved.Contains(a):
		return refused("reserved address %s", a)
	case self.IsValid() && a == self.Unmap():
		return refused("the sensor's own address %s", a)
	case a.IsLoopback():
		if !p.allowLoopback {
			return refused("loopback address %s", a)
		}
	case a.IsLinkLocalUnicast():
		if !p.allowPrivate {
			return refused("link-local address %s", a)
		}
	case a.IsPrivate():
		if !p.allowPrivate {
			return refused("private address %s", a)
		}
	case cgnat.Contains(a):
		if !p.allowPrivate {
			return refused("shared (CGNAT) address %s", a)
		}
	}
	return nil
}

// target is a file to fetch, parsed from the URL that named it.
type target struct {
	url   string // as named, the dedupe key and the event's url
	proto string // http, https, ftp, tftp
	host  string // name or address, without brackets or port
	port  int
	path  string // http: path and query as sent; ftp, tftp: the file name, unescaped
	user  string // ftp only
	pass  string
	u     *url.URL
}

var defaultPorts = map[string]int{"http": 80, "https": 443, "ftp": 21, "tftp": 69}

// maxURL bounds the length of a URL taken from attacker input.
const maxURL = 2048

// parseTarget reads a URL of an allowed protocol. ports overrides the
// default port of a protocol (tests).
func parseTarget(raw string, allowed map[string]bool, ports map[string]int) (target, error) {
	if len(raw) > maxURL {
		return target{}, errors.New("url too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, err
	}
	t := target{url: raw, proto: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), u: u}
	if !allowed[t.proto] {
		return target{}, fmt.Errorf("protocol %q not enabled", u.Scheme)
	}
	if t.host == "" {
		return target{}, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return target{}, fmt.Errorf("bad port %q", p)
		}
		t.port = n
	} else if p, ok := ports[t.proto]; ok {
		t.port = p
	} else {
		t.port = defaultPorts[t.proto]
	}
	switch t.proto {
	case "http", "https":
		u.Fragment, u.RawFragment = "", ""
		if u.User != nil {
			return target{}, errors.New("credentials in an http url")
		}
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(t.port))
			if t.port == defaultPorts[t.proto] {
				u.Host = bracket(u.Hostname())
			}
		}
		t.path = u.RequestURI()
	default:
		p, err := url.PathUnescape(u.EscapedPath())
		if err != nil {
			return target{}, err
		}
		p = strings.TrimPrefix(p, "/")
		if p == "" || strings.ContainsAny(p, "\x00\r\n") {
			return target{}, errors.New("no usable file name")
		}
		t.path = p
		if u.User != nil {
			t.user = u.User.Username()
			t.pass, _ = u.User.Password()
		}
		if strings.ContainsAny(t.user+t.pass, "\x00\r\n") {
			return target{}, errors.New("bad credentials")
		}
	}
	return t, nil
}

func bracket(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// key names the file the target fetches, whatever way the URL was
// written (tftp://h/f and tftp://h:69/f are one file).
func (t target) key() string {
	var b strings.Builder
	b.WriteString(t.proto)
	b.WriteString("://")
	if t.user != "" {
		b.WriteString(t.user)
		b.WriteString(":")
		b.WriteString(t.pass)
		b.WriteString("@")
	}
	b.WriteString(t.addr())
	if !strings.HasPrefix(t.path, "/") {
		b.WriteString("/")
	}
	b.WriteString(t.path)
	return b.String()
}

// addr is host:port for dialling.
func (t target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// fetchState follows one fetch through its dials.
type fetchState struct {
	self      netip.Addr
	dialed    netip.AddrPort // the last address allowed and dialled
	redirects int
	final     string // the URL the last redirect named
}

type stateKey struct{}

func withState(ctx context.Context, st *fetchState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateOf(ctx context.Context) *fetchState {
	st, _ := ctx.Value(stateKey{}).(*fetchState)
	if st == nil {
		st = &fetchState{}
	}
	return st
}

// dial connects to address (host:port), checking each address the name
// resolves to just before it is dialled: the check sees the address
// really connected to, so neither DNS rebinding nor a redirect gets
// around it, and a refused address is never sent a packet.
func (s *Sink) dial(ctx context.Context, network, address string) (net.Conn, error) {
	st := stateOf(ctx)
	d := net.Dialer{Control: func(_, addr string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return refused("unparsable address %q", addr)
		}
		if err := s.policy.check(ap.Addr(), st.self); err != nil {
			return err
		}
		st.dialed = ap
		if s.dialed != nil {
			s.dialed(ap)
		}
		return nil
	}}
	return d.DialContext(ctx, network, address)
}

// resolve returns the first address of host the policy allows, for the
// protocols that do not dial (TFTP over UDP); when none is allowed, the
// refusal of the first.
func (s *Sink) resolve(ctx context.Context, host string, self netip.Addr) (netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return netip.Addr{}, err
		}
	}
	var first error
	for _, a := range addrs {
		err := s.policy.check(a, self)
		if err == nil {
			return a.Unmap(), nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no address for %s", host)
	}
	return netip.Addr{}, first
}
