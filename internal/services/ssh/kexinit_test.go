package ssh

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestHASSHPublishedVector(t *testing.T) {
	// The example of the HASSH method's description: the Cyberduck 6.7.1
	// client, whose hassh is 8a8ae540028bf433cd68356c1b9e8d5b.
	k := &KexInit{
		Kex: "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384," +
			"ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1," +
			"diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512," +
			"diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com," +
			"diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com," +
			"diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com," +
			"diffie-hellman-group18-sha512@ssh.com",
		CiphersC2S: "aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc," +
			"cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc," +
			"serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc," +
			"twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256",
		MACsC2S:        "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512",
		CompressionC2S: "zlib@openssh.com,zlib,none",
		// The server-to-client lists do not enter the client's hassh.
		CiphersS2C: "x", MACsS2C: "y", CompressionS2C: "z",
	}
	if got, want := k.HASSH(), "8a8ae540028bf433cd68356c1b9e8d5b"; got != want {
		t.Errorf("HASSH() got %s; want %s", got, want)
	}
	if got := k.HASSHServerAlgorithms(); !strings.HasSuffix(got, ";x;y;z") {
		t.Errorf("HASSHServerAlgorithms() got %q; want the server-to-client lists", got)
	}
}

func TestParseKexInit(t *testing.T) {
	good := kexInitPayload(openSSHClientLists, true)
	k, ok := ParseKexInit(good)
	if !ok {
		t.Fatal("ParseKexInit(OpenSSH client's KEXINIT) failed")
	}
	if k.Kex != openSSHClientLists[0] || k.CompressionS2C != openSSHClientLists[7] || !k.FirstKexFollows {
		t.Errorf("ParseKexInit got %+v; want the lists as built", k)
	}
	if got := k.HASSH(); got != openSSHClientHASSH {
		t.Errorf("HASSH() got %s; want %s", got, openSSHClientHASSH)
	}
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"other message", append([]byte{21}, good[1:]...)},
		{"cut in the cookie", good[:10]},
		{"cut in a list", good[:40]},
		{"no reserved field", good[:len(good)-3]},
		{"list longer than the packet", append(append([]byte{msgKexInit}, make([]byte, 16)...), 0xff, 0xff, 0xff, 0xff)},
	} {
		if k, ok := ParseKexInit(tc.p); ok {
			t.Errorf("ParseKexInit(%s) got %+v; want failure", tc.name, k)
		}
	}
}

func TestHello(t *testing.T) {
	kex := framePacket(kexInitPayload(openSSHClientLists, false), 6)
	big := make([]byte, 5)
	big[0] = 0x7f // packet_length far over the bound
	tests := []struct {
		name      string
		in        string
		done      bool // before End
		version   string
		notSSH    bool
		kex       bool
		malformed string
	}{
		{"client", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n" + string(kex) + "more", true,
			"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", false, true, ""},
		{"LF only", "SSH-2.0-libssh2_1.4.3\n" + string(kex), true, "SSH-2.0-libssh2_1.4.3", false, true, ""},
		{"CR inside kept", "SSH-2.0-a\rb\r\n" + string(kex), true, "SSH-2.0-a\rb", false, true, ""},
		{"not ssh", "GET / HTTP/1.0\r\n\r\n", true, "GET / HTTP/1.0", true, false, MalformedNotSSH},
		{"empty line", "\r\nSSH-2.0-x\r\n", true, "", true, false, MalformedNotSSH},
		{"version only", "SSH-2.0-Go\r\n", false, "SSH-2.0-Go", false, false, MalformedNoKexInit},
		{"half a line", "SSH-2.0-Go", false, "SSH-2.0-Go", false, false, MalformedNoKexInit},
		{"half a line not ssh", "\x16\x03\x01\x02\x00", false, "\x16\x03\x01\x02\x00", true, false, MalformedNotSSH},
		{"long version", "SSH-2.0-" + strings.Repeat("x", 300), true, "SSH-2.0-" + strings.Repeat("x", MaxVersionLine-8),
			false, false, MalformedLongVersion},
		{"line at the bound", "SSH-2.0-" + strings.Repeat("x", MaxVersionLine-8), false,
			"SSH-2.0-" + strings.Repeat("x", MaxVersionLine-8), false, false, MalformedLongVersion},
		{"long not ssh", strings.Repeat("A", 300), true, strings.Repeat("A", MaxVersionLine), true, false, MalformedNotSSH},
		{"too large", "SSH-2.0-x\r\n" + string(big), true, "SSH-2.0-x", false, false, MalformedTooLarge},
		{"padding past length", "SSH-2.0-x\r\n\x00\x00\x00\x05\x09abcd", true, "SSH-2.0-x", false, false, MalformedBadPacket},
		{"zero length", "SSH-2.0-x\r\n\x00\x00\x00\x00\x00", true, "SSH-2.0-x", false, false, MalformedBadPacket},
		{"another message first", "SSH-2.0-x\r\n" + string(framePacket([]byte{2, 0, 0, 0, 0}, 4)), true, "SSH-2.0-x",
			false, false, MalformedNotKexInit},
		{"bad kexinit", "SSH-2.0-x\r\n" + string(framePacket([]byte{msgKexInit, 1, 2, 3}, 4)), true, "SSH-2.0-x",
			false, false, MalformedBadKexInit},
		{"cut packet", "SSH-2.0-x\r\n" + string(kex[:30]), false, "SSH-2.0-x", false, false, MalformedNoKexInit},
	}
	for _, tc := range tests {
		for _, step := range []int{1, 7, len(tc.in) + 1} {
			var h Hello
			in := []byte(tc.in)
			for len(in) > 0 {
				n := min(step, len(in))
				h.Feed(in[:n])
				in = in[n:]
			}
			if h.Done() != tc.done {
				t.Errorf("%s (step %d): Done() got %v; want %v", tc.name, step, h.Done(), tc.done)
			}
			h.End()
			if h.Version != tc.version || h.NotSSH != tc.notSSH || (h.KexInit != nil) != tc.kex || h.Malformed != tc.malformed {
				t.Errorf("%s (step %d): got version %q notSSH %v kex %v malformed %q; want %q %v %v %q", tc.name, step,
					h.Version, h.NotSSH, h.KexInit != nil, h.Malformed, tc.version, tc.notSSH, tc.kex, tc.malformed)
			}
		}
	}
}

func TestHelloIgnoresWhatFollows(t *testing.T) {
	var h Hello
	kex := framePacket(kexInitPayload(openSSHClientLists, false), 4)
	if !h.Feed([]byte("SSH-2.0-x\r\n" + string(kex))) {
		t.Fatal("Feed: not done after a whole KEXINIT")
	}
	h.Feed(bytes.Repeat([]byte{0xff}, 100))
	if h.KexInit == nil || h.Malformed != "" {
		t.Errorf("bytes after the offer changed it: %+v", h)
	}
}

// serverKexInit reads a server's identification string and KEXINIT.
func serverKexInit(t *testing.T, c net.Conn) (string, *KexInit) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n")) }()
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the server's identification: %v", err)
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, int(head[0])<<24|int(head[1])<<16|int(head[2])<<8|int(head[3])-1)
	if _, err := io.ReadFull(br, rest); err != nil {
		t.Fatal(err)
	}
	payload, n, reason := PacketPayload(append(head, rest...), MaxKexPacket)
	if n == 0 {
		t.Fatalf("server's first packet: %s", reason)
	}
	k, ok := ParseKexInit(payload)
	if !ok {
		t.Fatalf("server's first packet is no KEXINIT: % x", payload[:min(16, len(payload))])
	}
	return strings.TrimRight(line, "\r\n"), k
}

// libraryDefaultKexInit is what the SSH library's server offers when
// left to its defaults: the fingerprint public detectors look for.
func libraryDefaultKexInit(t *testing.T) (string, *KexInit) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &xssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	srv, cl := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _, _ = xssh.NewServerConn(srv, cfg)
	}()
	v, k := serverKexInit(t, cl)
	cl.Close()
	<-done
	return v, k
}

func TestServerOffersThePersonasLists(t *testing.T) {
	defVersion, def := libraryDefaultKexInit(t)
	if defVersion != "SSH-2.0-Go" {
		t.Fatalf("the library's default identification got %q; this test expects SSH-2.0-Go", defVersion)
	}
	for _, profile := range service.Profiles {
		t.Run(profile, func(t *testing.T) {
			s := newServer(t, profile, nil)
			h := servicetest.Start(t, "ssh", s, nil)
			version, k := serverKexInit(t, h.Dial(t))
			p := s.persona
			if version != p.Version {
				t.Errorf("identification got %q; want %q", version, p.Version)
			}
			// The library always adds strict key exchange to the
			// server's list (OpenSSH 9.6's Terrapin countermeasure).
			wantKex := strings.Join(p.Kex, ",") + ",kex-strict-s-v00@openssh.com"
			if k.Kex != wantKex {
				t.Errorf("kex got %s; want %s", k.Kex, wantKex)
			}
			if k.CiphersS2C != strings.Join(p.Ciphers, ",") || k.CiphersC2S != k.CiphersS2C {
				t.Errorf("ciphers got %s; want %s", k.CiphersS2C, strings.Join(p.Ciphers, ","))
			}
			if k.MACsS2C != strings.Join(p.MACs, ",") || k.MACsC2S != k.MACsS2C {
				t.Errorf("MACs got %s; want %s", k.MACsS2C, strings.Join(p.MACs, ","))
			}
			if k.CompressionS2C != "none" {
				t.Errorf("compression got %s; want none", k.CompressionS2C)
			}
			for _, a := range p.HostKeys {
				if !strings.Contains(","+k.HostKeys+",", ","+a+",") {
					t.Errorf("host keys %s lack %s", k.HostKeys, a)
				}
			}
			if got := len(Names(k.HostKeys)); got != len(p.HostKeys) {
				t.Errorf("host keys got %s; want exactly %v", k.HostKeys, p.HostKeys)
			}
			if k.HASSHServer() == def.HASSHServer() {
				t.Errorf("hasshServer %s is the library default's (%s)", k.HASSHServer(), def.HASSHServerAlgorithms())
			}
			t.Logf("hasshServer %s (%s); library default %s", k.HASSHServer(), k.HASSHServerAlgorithms(), def.HASSHServer())
		})
	}
}
