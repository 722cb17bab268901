// Package sasl runs the server side of the SASL mechanisms mail clients
// and password guessers use — PLAIN, LOGIN and NTLM — far enough to learn
// the credentials offered. It does no I/O: a protocol (SMTP's AUTH,
// POP3's AUTH) moves the base64 lines and feeds the decoded responses to
// an Exchange step by step.
//
// NTLM is answered with a well-formed challenge naming the persona's
// host, so real clients go on to send their response; that response is
// recorded in the form password crackers read (NetNTLMv1/v2), never
// verified.
package sasl

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Mechanisms.
const (
	Plain = "PLAIN"
	Login = "LOGIN"
	NTLM  = "NTLM"
)

// Errors.
var (
	// ErrMalformed: a response could not be read.
	ErrMalformed = errors.New("sasl: malformed response")
	// ErrUnknown: the mechanism is not one this package runs.
	ErrUnknown = errors.New("sasl: unknown mechanism")
)

// Credentials are what one exchange learnt.
type Credentials struct {
	// User as sent; for NTLM "DOMAIN\user" when a domain was sent.
	User string
	// Password as sent; for NTLM the response in hashcat's NetNTLMv1 or
	// NetNTLMv2 form ("" for an anonymous response).
	Password string
	// Method is the mechanism in lower case: plain, login, ntlm.
	Method string
}

// Host names the server in NTLM challenges.
type Host struct {
	Computer    string // NetBIOS computer name, "WEBSERVER"
	Domain      string // NetBIOS domain name, "CORP"
	DNSComputer string // "webserver.corp.local"
	DNSDomain   string // "corp.local"
}

// HostFromFQDN derives the NTLM names of a host from its fully qualified
// name, as Windows would report them.
func HostFromFQDN(fqdn string) Host {
	first, rest, _ := strings.Cut(fqdn, ".")
	dom, _, _ := strings.Cut(rest, ".")
	if dom == "" {
		dom = first
	}
	return Host{Computer: strings.ToUpper(first), Domain: strings.ToUpper(dom), DNSComputer: strings.ToLower(fqdn),
		DNSDomain: strings.ToLower(rest)}
}

// Exchange is one authentication in progress.
type Exchange struct {
	mech      string
	step      int
	host      Host
	challenge [8]byte
	flags     uint32 // NTLM flags negotiated
	creds     Credentials
	auth      *Authenticate // the NTLM response
}

// Start begins an exchange for mech (any case). challenge is the NTLM
// server challenge, fresh random bytes for each exchange.
func Start(mech string, host Host, challenge [8]byte) (*Exchange, error) {
	m := strings.ToUpper(mech)
	switch m {
	case Plain, Login, NTLM:
	default:
		return nil, ErrUnknown
	}
	return &Exchange{mech: m, host: host, challenge: challenge}, nil
}

// Mechanism returns the mechanism's name, upper case.
func (x *Exchange) Mechanism() string { return x.mech }

// Next takes the client's next response, decoded; have is false on the
// first call when the command carried no initial response. It returns
// the challenge to send, or done and the credentials learnt.
func (x *Exchange) Next(resp []byte, have bool) (challenge []byte, done bool, err error) {
	defer func() { x.step++ }()
	switch x.mech {
	case Plain:
		if x.step == 0 && !have {
			return []byte{}, false, nil
		}
		_, user, pass, err := ParsePlain(resp)
		if err != nil {
			return nil, true, err
		}
		x.creds = Credentials{User: user, Password: pass, Method: "plain"}
		return nil, true, nil
	case Login:
		// Steps: [initial user] Username: -> Password: -> done.
		switch {
		case x.step == 0 && !have:
			return []byte("Username:"), false, nil
		case x.creds.Method == "":
			x.creds = Credentials{User: string(resp), Method: "login"}
			return []byte("Password:"), false, nil
		default:
			x.creds.Password = string(resp)
			return nil, true, nil
		}
	default: // NTLM
		if x.step == 0 && !have {
			return []byte{}, false, nil
		}
		if x.flags == 0 {
			neg, err := parseNegotiate(resp)
			if err != nil {
				return nil, true, err
			}
			x.flags = answerFlags(neg)
			return challengeMessage(x.flags, x.challenge, x.host), false, nil
		}
		a, err := ParseAuthenticate(resp)
		if err != nil {
			return nil, true, err
		}
		x.auth = a
		x.creds = Credentials{User: a.QualifiedUser(), Password: a.Hashcat(x.challenge), Method: "ntlm"}
		return nil, true, nil
	}
}

// Credentials returns what the exchange learnt once Next reported done
// without error.
func (x *Exchange) Credentials() Credentials { return x.creds }

// Verify reports whether the exchange proved knowledge of password: the
// password sent (PLAIN, LOGIN), or an NTLM response computed from it.
func (x *Exchange) Verify(password string) bool {
	if x.mech == NTLM {
		return x.auth != nil && x.auth.Verify(password, x.challenge, x.flags)
	}
	return x.creds.Method != "" && x.creds.Password == password
}

// Account returns the user name to match against accounts: for NTLM
// the user without its domain.
func (x *Exchange) Account() string {
	if x.auth != nil {
		return x.auth.User
	}
	return x.creds.User
}

// ParsePlain reads a PLAIN response: authzid NUL user NUL password. A
// response with a single NUL is read as user NUL password, as some
// guessers send it.
func ParsePlain(b []byte) (authzid, user, pass string, err error) {
	f := strings.Split(string(b), "\x00")
	switch len(f) {
	case 3:
		return f[0], f[1], f[2], nil
	case 2:
		return "", f[0], f[1], nil
	}
	return "", "", "", ErrMalformed
}

// DecodeResponse reads one base64 response line. "=" is an empty
// response (RFC 4954); missing padding is tolerated.
func DecodeResponse(line string) ([]byte, error) {
	line = strings.TrimSpace(line)
	if line == "=" || line == "" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(line, "="))
	}
	if err != nil {
		return nil, ErrMalformed
	}
	return b, nil
}

// EncodeChallenge is the base64 form of a challenge.
func EncodeChallenge(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
