package ssh

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// Release is what a real SSH server release offers: its identification
// string and, in its order, the algorithms of its SSH_MSG_KEXINIT that
// the server library implements. An algorithm the library lacks is left
// out (README.md lists them per release).
type Release struct {
	Name     string
	Product  string // for the start-up table
	Version  string // identification string, without CR LF
	Kex      []string
	HostKeys []string
	Ciphers  []string
	MACs     []string
	RSABits  int
	// Methods are the authentication methods offered.
	Methods []string
	// Mismatch is sent to a client whose first line is not an
	// identification string, before the connection closes ("" closes
	// silently).
	Mismatch string
	// FailDelay and FailJitter shape the pause before a failed password
	// is answered; MaxTries is the failures after which the server
	// disconnects.
	FailDelay, FailJitter time.Duration
	MaxTries              int
}

// Built-in releases.
const (
	ReleaseWindows  = "openssh-for-windows-8.1"
	ReleaseDebian   = "openssh-7.9p1-debian10"
	ReleaseDropbear = "dropbear-2019.78"
)

// OpenSSH 7.9 to 8.1 share their server's default lists (myproposal.h):
// what differs between these releases is their identification string,
// compression (Win32-OpenSSH offers none) and host keys.
var (
	openSSHKex = []string{"curve25519-sha256", "curve25519-sha256@libssh.org",
		"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
		"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
		// diffie-hellman-group18-sha512 follows here: not implemented.
		"diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1"}
	openSSHCiphers = []string{"chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
		"aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}
	// umac-64-etm, umac-128-etm, hmac-sha1-etm, umac-64 and umac-128
	// are not implemented.
	openSSHMACs     = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"}
	openSSHHostKeys = []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"}
)

var releases = map[string]Release{
	ReleaseWindows: {
		Name: ReleaseWindows, Product: "OpenSSH for Windows 8.1",
		Version: "SSH-2.0-OpenSSH_for_Windows_8.1",
		Kex:     openSSHKex, HostKeys: openSSHHostKeys, Ciphers: openSSHCiphers, MACs: openSSHMACs,
		RSABits:  3072,
		Methods:  []string{"publickey", "password", "keyboard-interactive"},
		Mismatch: "Invalid SSH identification string.\r\n",
		// No PAM on Windows: a refused password is answered quickly.
		FailDelay: 150 * time.Millisecond, FailJitter: 100 * time.Millisecond,
		MaxTries: 6,
	},
	ReleaseDebian: {
		Name: ReleaseDebian, Product: "OpenSSH 7.9p1 Debian",
		// deb10u4 carries the strict key exchange the server library
		// always offers (kex-strict-s-v00@openssh.com).
		Version: "SSH-2.0-OpenSSH_7.9p1 Debian-10+deb10u4",
		Kex:     openSSHKex, HostKeys: openSSHHostKeys, Ciphers: openSSHCiphers, MACs: openSSHMACs,
		RSABits:  2048,
		Methods:  []string{"publickey", "password"},
		Mismatch: "Protocol mismatch.\n",
		// pam_unix's delay on a failed password.
		FailDelay: 2 * time.Second, FailJitter: 250 * time.Millisecond,
		MaxTries: 6,
	},
	ReleaseDropbear: {
		Name: ReleaseDropbear, Product: "Dropbear sshd 2019.78",
		Version: "SSH-2.0-dropbear_2019.78",
		// kexguess2@matt.ucc.asn.au ends the list: not implemented.
		Kex: []string{"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp521",
			"ecdh-sha2-nistp384", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256",
			"diffie-hellman-group14-sha1"},
		// ssh-dss follows: not implemented.
		HostKeys: []string{"ecdsa-sha2-nistp256", "ssh-rsa"},
		// aes256-cbc and 3des-ctr are not implemented.
		Ciphers: []string{"aes128-ctr", "aes256-ctr", "aes128-cbc", "3des-cbc"},
		MACs:    []string{"hmac-sha1-96", "hmac-sha1", "hmac-sha2-256"},
		RSABits: 2048,
		Methods: []string{"publickey", "password"},
		// Dropbear reads one line and closes without a word.
		Mismatch: "",
		// Dropbear pauses 250 to 350 ms before a failure.
		FailDelay: 250 * time.Millisecond, FailJitter: 100 * time.Millisecond,
		MaxTries: 10,
	},
}

// LookupRelease returns a built-in release.
func LookupRelease(name string) (Release, bool) {
	r, ok := releases[name]
	return r, ok
}

// ReleaseNames lists the built-in releases.
func ReleaseNames() []string {
	out := make([]string, 0, len(releases))
	for n := range releases {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// The algorithms the server library implements, by kind.
var (
	knownKex = func() []string {
		a := xssh.SupportedAlgorithms().KeyExchanges
		a = append(a, xssh.InsecureAlgorithms().KeyExchanges...)
		return append(a, "curve25519-sha256@libssh.org")
	}()
	knownCiphers = append(xssh.SupportedAlgorithms().Ciphers, xssh.InsecureAlgorithms().Ciphers...)
	knownMACs    = append(xssh.SupportedAlgorithms().MACs, xssh.InsecureAlgorithms().MACs...)
	// Host key algorithms a generated key can sign with.
	knownHostKeys = []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"}
	knownMethods = []string{"publickey", "password", "keyboard-interactive"}
)

// checkList reports names not in known, or a list that is empty or
// repeats a name.
func checkList(what string, names, known []string) error {
	if len(names) == 0 {
		return fmt.Errorf("%s: the list is empty", what)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return fmt.Errorf("%s: %q is not implemented; known: %s", what, n, strings.Join(known, ", "))
		}
		if seen[n] {
			return fmt.Errorf("%s: %q is listed twice", what, n)
		}
		seen[n] = true
	}
	return nil
}
