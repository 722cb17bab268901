package ssh

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/service"
)

// keyDir holds the host keys of every test's server: made once, as on a
// sensor's first start, and reused (an RSA key takes a while to make).
var keyDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smallpot-ssh-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keyDir = dir
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixedNow is the clock of the tests.
var fixedNow = time.Date(2016, 10, 21, 11, 10, 0, 0, time.UTC)

// newServer builds a server for profile with the test's edits; failure
// delays are off unless the edit sets them.
func newServer(t testing.TB, profile string, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	cfg.Login.FailDelay, cfg.Login.FailJitter = 0, 0
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: profile, DataDir: filepath.Join(keyDir, profile)})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}

// kexInitPayload builds an SSH_MSG_KEXINIT payload from its ten
// name-lists.
func kexInitPayload(lists [10]string, follows bool) []byte {
	p := []byte{msgKexInit}
	p = append(p, make([]byte, 16)...) // cookie
	for _, l := range lists {
		p = binary.BigEndian.AppendUint32(p, uint32(len(l)))
		p = append(p, l...)
	}
	f := byte(0)
	if follows {
		f = 1
	}
	return append(p, f, 0, 0, 0, 0)
}

// framePacket frames a payload as an unencrypted binary packet with pad
// bytes of padding.
func framePacket(payload []byte, pad int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

// openSSHClientLists are the KEXINIT lists of the OpenSSH client
// "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", whose HASSH is
// openSSHClientHASSH.
var openSSHClientLists = [10]string{
	"sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
	"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
	"none,zlib@openssh.com,zlib", "none,zlib@openssh.com,zlib", "", "",
}

const openSSHClientHASSH = "472b5de333ad665af5cbf10ff892c4df"
