package ssh

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// policy decides which login attempts succeed: a password pair from the
// accept list, a source's Nth password attempt (counted across its
// connections) when after is set, or a key from the key list. A pair once
// accepted for a source is accepted again for it, so a bot that got in
// comes back in. Sources are remembered up to a bound, the oldest
// forgotten first.
type policy struct {
	accept []cred
	keys   []cred // pass holds the key fingerprint
	after  int
	// fold: Windows account names, which compare without regard to case
	// and name the same account with or without a domain ("HOST\user").
	fold bool
	max  int

	mu    sync.Mutex
	hosts map[netip.Addr]*hostLogins
	order []netip.Addr
}

type cred struct {
	user, pass string // "*" matches anything
}

type hostLogins struct {
	tries    int
	accepted []cred // pairs accepted for this source, bounded
}

// maxAccepted bounds the pairs remembered per source.
const maxAccepted = 8

// parseCreds reads "user:password" entries; either side may be "*", and
// the password may be empty ("root:").
func parseCreds(list []string) ([]cred, error) {
	out := make([]cred, 0, len(list))
	for _, s := range list {
		u, p, ok := strings.Cut(s, ":")
		if !ok || u == "" {
			return nil, fmt.Errorf("credential %q: want user:password (either may be *)", s)
		}
		out = append(out, cred{u, p})
	}
	return out, nil
}

// parseKeys reads key entries: "SHA256:..." (any user), "user:SHA256:..."
// or "*" (any key).
func parseKeys(list []string) ([]cred, error) {
	out := make([]cred, 0, len(list))
	for _, s := range list {
		if s == "*" {
			out = append(out, cred{"*", "*"})
			continue
		}
		user, fp := "*", s
		if u, rest, ok := strings.Cut(s, ":"); ok && u != "SHA256" {
			user, fp = u, rest
		}
		if fp != "*" && (!strings.HasPrefix(fp, "SHA256:") || len(fp) < len("SHA256:")+8) {
			return nil, fmt.Errorf("key %q: want SHA256:fingerprint, user:SHA256:fingerprint or *", s)
		}
		out = append(out, cred{user, fp})
	}
	return out, nil
}

func newPolicy(accept, keys []cred, after int, fold bool, max int) *policy {
	return &policy{accept: accept, keys: keys, after: after, fold: fold, max: max,
		hosts: map[netip.Addr]*hostLogins{}}
}

func (p *policy) userMatch(pat, user string) bool {
	if pat == "*" {
		return true
	}
	if p.fold {
		return strings.EqualFold(pat, user) || strings.EqualFold(pat, windowsName(user))
	}
	return pat == user
}

func (p *policy) match(list []cred, user, pass string) bool {
	for _, c := range list {
		if p.userMatch(c.user, user) && (c.pass == "*" || c.pass == pass) {
			return true
		}
	}
	return false
}

// password decides one password attempt from src.
func (p *policy) password(src netip.Addr, user, pass string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.host(src)
	h.tries++
	if p.match(p.accept, user, pass) || p.match(h.accepted, user, pass) {
		p.remember(h, user, pass)
		return true
	}
	if p.after > 0 && h.tries >= p.after && len(h.accepted) == 0 {
		p.remember(h, user, pass)
		return true
	}
	return false
}

// key decides whether the key with fingerprint fp would let user in.
func (p *policy) key(user, fp string) bool {
	return p.match(p.keys, user, fp)
}

func (p *policy) remember(h *hostLogins, user, pass string) {
	if len(h.accepted) < maxAccepted && !p.match(h.accepted, user, pass) {
		h.accepted = append(h.accepted, cred{user, pass})
	}
}

func (p *policy) host(src netip.Addr) *hostLogins {
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
