package telnet

import (
	"strings"

	"github.com/smallpot/smallpot/internal/authpolicy"
)

// The login policy is the one the SSH service uses too.
type cred = authpolicy.Cred

var parseCreds = authpolicy.ParseCreds

// newPolicy returns the policy; fold compares user names without regard
// to case (Windows).
func newPolicy(accept []cred, after int, fold bool, max int) *authpolicy.Policy {
	same := authpolicy.Exact
	if fold {
		same = strings.EqualFold
	}
	return authpolicy.New(accept, after, same, max)
}
