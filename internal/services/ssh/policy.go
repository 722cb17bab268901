package ssh

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/smallpot/smallpot/internal/authpolicy"
)

// policy decides which login attempts succeed: passwords by the login
// policy the telnet service uses too (an accept list, a source's Nth
// attempt, pairs remembered per source), keys by the key list.
type policy struct {
	*authpolicy.Policy
	keys []cred // Pass holds the key fingerprint
}

type cred = authpolicy.Cred

var parseCreds = authpolicy.ParseCreds

// parseKeys reads key entries: "SHA256:..." (any user), "user:SHA256:..."
// or "*" (any key).
func parseKeys(list []string) ([]cred, error) {
	out := make([]cred, 0, len(list))
	for _, s := range list {
		if s == "*" {
			out = append(out, cred{User: "*", Pass: "*"})
			continue
		}
		user, fp := "*", s
		if u, rest, ok := strings.Cut(s, ":"); ok && u != "SHA256" {
			user, fp = u, rest
		}
		if fp != "*" && (!strings.HasPrefix(fp, "SHA256:") || len(fp) < len("SHA256:")+8) {
			return nil, fmt.Errorf("key %q: want SHA256:fingerprint, user:SHA256:fingerprint or *", s)
		}
		out = append(out, cred{User: user, Pass: fp})
	}
	return out, nil
}

// newPolicy returns the policy. fold: Windows account names, which compare
// without regard to case and name the same account with or without a
// domain ("HOST\user").
func newPolicy(accept, keys []cred, after int, fold bool, max int) *policy {
	same := authpolicy.Exact
	if fold {
		same = func(pat, user string) bool {
			return strings.EqualFold(pat, user) || strings.EqualFold(pat, windowsName(user))
		}
	}
	return &policy{Policy: authpolicy.New(accept, after, same, max), keys: keys}
}

// password decides one password attempt from src.
func (p *policy) password(src netip.Addr, user, pass string) bool {
	return p.Check(src, user, pass)
}

// key decides whether the key with fingerprint fp would let user in.
func (p *policy) key(user, fp string) bool {
	return p.Match(p.keys, user, fp)
}
