// Package authpolicy decides which login attempts a fake service lets
// in: a pair from an accept list, or a source's Nth attempt (counted
// across its connections). A pair once accepted for a source is accepted
// again for it, so a bot that got in comes back in. Sources are
// remembered up to a bound, the oldest forgotten first. The telnet and
// SSH services share it.
package authpolicy

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Cred is a user and password pattern; "*" matches anything.
type Cred struct {
	User, Pass string
}

// ParseCreds reads "user:password" entries; either side may be "*", and
// the password may be empty ("root:").
func ParseCreds(list []string) ([]Cred, error) {
	out := make([]Cred, 0, len(list))
	for _, s := range list {
		u, p, ok := strings.Cut(s, ":")
		if !ok || u == "" {
			return nil, fmt.Errorf("credential %q: want user:password (either may be *)", s)
		}
		out = append(out, Cred{u, p})
	}
	return out, nil
}

// SameUser compares a user pattern (not "*") with a user name.
type SameUser func(pattern, user string) bool

// Exact compares user names as they are (Unix).
func Exact(pattern, user string) bool { return pattern == user }

// maxAccepted bounds the pairs remembered per source.
const maxAccepted = 8

// Policy is safe for concurrent use.
type Policy struct {
	accept []Cred
	after  int
	same   SameUser
	max    int

	mu    sync.Mutex
	hosts map[netip.Addr]*hostLogins
	order []netip.Addr
}

type hostLogins struct {
	tries    int
	accepted []Cred // pairs accepted for this source, bounded
}

// New returns a policy accepting the pairs of accept and, when after > 0,
// a source's after-th attempt; it remembers at most max sources.
func New(accept []Cred, after int, same SameUser, max int) *Policy {
	if same == nil {
		same = Exact
	}
	return &Policy{accept: accept, after: after, same: same, max: max, hosts: map[netip.Addr]*hostLogins{}}
}

// Match reports whether user and pass match a pair of list.
func (p *Policy) Match(list []Cred, user, pass string) bool {
	for _, c := range list {
		if (c.User == "*" || p.same(c.User, user)) && (c.Pass == "*" || c.Pass == pass) {
			return true
		}
	}
	return false
}

// Check decides one attempt from src.
func (p *Policy) Check(src netip.Addr, user, pass string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.host(src)
	h.tries++
	if p.Match(p.accept, user, pass) || p.Match(h.accepted, user, pass) {
		p.remember(h, user, pass)
		return true
	}
	if p.after > 0 && h.tries >= p.after && len(h.accepted) == 0 {
		p.remember(h, user, pass)
		return true
	}
	return false
}

func (p *Policy) remember(h *hostLogins, user, pass string) {
	if len(h.accepted) < maxAccepted && !p.Match(h.accepted, user, pass) {
		h.accepted = append(h.accepted, Cred{user, pass})
	}
}

func (p *Policy) host(src netip.Addr) *hostLogins {
	if h := p.hosts[src]; h != nil {
		return h
	}
	if len(p.order) >= p.max && len(p.order) > 0 {
		delete(p.hosts, p.order[0])
		p.order = p.order[1:]
	}
	h := &hostLogins{}
	p.hosts[src] = h
	p.order = append(p.order, src)
	return h
}
