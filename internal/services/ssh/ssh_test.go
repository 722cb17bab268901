package ssh

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// dropServerPackets keeps the server's text (its identification string
// and what it says to a client that is not one) and drops its binary
// packets: its KEXINIT carries a random cookie and padding, and it is not
// sent at all when the client's input ends first. Its content is checked
// by TestServerOffersThePersonasLists.
func dropServerPackets(out []byte) []byte {
	i := bytes.Index(out, []byte("\r\n"))
	if i < 0 {
		return out
	}
	head, rest := out[:i+2], out[i+2:]
	if _, n, _ := PacketPayload(rest, MaxKexPacket); n > 0 && rest[5] == msgKexInit {
		rest = rest[n:]
	}
	return append(bytes.Clone(head), rest...)
}

func TestTranscripts(t *testing.T) {
	opts := servicetest.TranscriptOptions{Normalize: dropServerPackets}
	servicetest.RunTranscripts(t, "testdata", "ssh", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, opts)
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	opts := servicetest.TranscriptOptions{Normalize: dropServerPackets}
	servicetest.RunTranscripts(t, filepath.Join("testdata", "linux-iot"), "ssh", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, opts)
}

func TestDefaultConfigs(t *testing.T) {
	for _, tc := range []struct{ profile, describe, version string }{
		{service.ProfileWindows2000, "OpenSSH for Windows 8.1", "SSH-2.0-OpenSSH_for_Windows_8.1"},
		{service.ProfileLinuxIoT, "Dropbear sshd 2019.78", "SSH-2.0-dropbear_2019.78"},
	} {
		c := DefaultConfig(tc.profile)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: default config: %v", tc.profile, err)
		}
		if got := c.Describe(); got != tc.describe {
			t.Errorf("%s: Describe() got %q; want %q", tc.profile, got, tc.describe)
		}
		p, _, _ := c.resolved()
		if p.Version != tc.version {
			t.Errorf("%s: version %q; want %q", tc.profile, p.Version, tc.version)
		}
	}
	// Every built-in release offers only what the library implements.
	for _, name := range ReleaseNames() {
		c := DefaultConfig(service.ProfileLinuxIoT)
		c.Persona.Release = name
		if err := c.Validate(); err != nil {
			t.Errorf("release %s: %v", name, err)
		}
	}
	// No default is the banner of a known honeypot or of the library.
	for _, name := range ReleaseNames() {
		r, _ := LookupRelease(name)
		for _, known := range []string{"SSH-2.0-Go", "SSH-2.0-OpenSSH_6.0p1 Debian-4+deb7u2", "SSH-2.0-OpenSSH_5.1p1 Debian-5",
			"SSH-2.0-sshesame"} {
			if r.Version == known {
				t.Errorf("release %s announces %q", name, known)
			}
		}
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unknown release", func(c *Config) { c.Persona.Release = "openssh-9.9" }, "persona.release"},
		{"library banner style", func(c *Config) { c.Persona.Version = "OpenSSH_8.1" }, "persona.version"},
		{"control character", func(c *Config) { c.Persona.Version = "SSH-2.0-x\r\nSSH-2.0-y" }, "printable"},
		{"cipher not implemented", func(c *Config) { c.Persona.Ciphers = []string{"aes128-ctr", "blowfish-cbc"} }, "blowfish-cbc"},
		{"kex not implemented", func(c *Config) { c.Persona.Kex = []string{"sntrup761x25519-sha512"} }, "persona.kex"},
		{"host key not implemented", func(c *Config) { c.Persona.HostKeys = []string{"ssh-dss"} }, "ssh-dss"},
		{"MAC twice", func(c *Config) { c.Persona.MACs = []string{"hmac-sha1", "hmac-sha1"} }, "twice"},
		{"unknown method", func(c *Config) { c.Persona.Methods = []string{"hostbased"} }, "persona.methods"},
		{"tiny RSA key", func(c *Config) { c.Persona.RSABits = 512 }, "rsa_bits"},
		{"unknown shell", func(c *Config) { c.Persona.Shell = "powershell" }, "persona.shell"},
		{"unknown arch", func(c *Config) { c.Persona.Arch = "sparc" }, "persona.arch"},
		{"bad credential", func(c *Config) { c.Login.Accept = []string{"nocolon"} }, "login.accept"},
		{"bad key", func(c *Config) { c.Login.AcceptKeys = []string{"MD5:aa:bb"} }, "login.accept_keys"},
		{"max tries", func(c *Config) { c.Login.MaxTries = 1000 }, "max_tries"},
		{"channels", func(c *Config) { c.MaxChannels = 0 }, "max_channels"},
		{"upload bound", func(c *Config) { c.MaxUpload = 1 << 30 }, "max_upload"},
		{"line bound", func(c *Config) { c.MaxLine = 10 }, "max_line"},
	} {
		c := DefaultConfig(service.ProfileLinuxIoT)
		tc.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ssh: ") {
			t.Errorf("%s: Validate() got %v; want an ssh error naming %q", tc.name, err, tc.want)
		}
	}
}

func TestHostKeysMadeOnceAndKept(t *testing.T) {
	data := t.TempDir()
	cfg := DefaultConfig(service.ProfileLinuxIoT)
	s1, err := New(cfg, service.Env{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "ssh")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v %v; want mode 0700", fi.Mode(), err)
	}
	for _, f := range []string{"ssh_host_ecdsa_key", "ssh_host_rsa_key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v; want a file of mode 0600", f, err)
		}
	}
	s2, err := New(cfg, service.Env{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.keys) != 2 || len(s2.keys) != 2 {
		t.Fatalf("keys %d and %d; want 2", len(s1.keys), len(s2.keys))
	}
	for i := range s1.keys {
		a, b := s1.keys[i].PublicKey(), s2.keys[i].PublicKey()
		if !bytes.Equal(a.Marshal(), b.Marshal()) {
			t.Errorf("key %s changed on the second start", a.Type())
		}
	}
	// The RSA key signs with ssh-rsa only, as Dropbear 2019.78 does.
	if ms, ok := s1.keys[1].(interface{ Algorithms() []string }); !ok || strings.Join(ms.Algorithms(), ",") != "ssh-rsa" {
		t.Errorf("RSA host key algorithms: %v", ms)
	}
	// A damaged key is an error that says what to do, never replaced.
	bad := filepath.Join(dir, "ssh_host_ecdsa_key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, service.Env{DataDir: data}); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("New with a damaged key got %v; want an error", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a key" {
		t.Error("the damaged key was overwritten")
	}
}

func TestPolicy(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.7")
	other := netip.MustParseAddr("198.51.100.8")
	accept, _ := parseCreds([]string{"root:xc3511", "admin:*", "*:letmein"})
	keys, _ := parseKeys([]string{"SHA256:abcdefghijklmnop", "git:SHA256:qrstuvwxyz012345"})
	p := newPolicy(accept, keys, 3, false, 2)
	steps := []struct {
		src        netip.Addr
		user, pass string
		want       bool
	}{
		{src, "root", "xc3511", true},
		{src, "root", "wrong", false},
		{src, "admin", "anything", true},
		{src, "nobody", "letmein", true},
		{other, "x", "1", false},
		{other, "x", "2", false},
		{other, "x", "3", true}, // the third attempt of that source
		{other, "x", "3", true}, // and the pair it got in with again
		{other, "y", "4", false},
	}
	for i, st := range steps {
		if got := p.password(st.src, st.user, st.pass); got != st.want {
			t.Errorf("step %d: %s %s:%s got %v; want %v", i, st.src, st.user, st.pass, got, st.want)
		}
	}
	for _, tc := range []struct {
		user, fp string
		want     bool
	}{
		{"root", "SHA256:abcdefghijklmnop", true}, {"git", "SHA256:qrstuvwxyz012345", true},
		{"root", "SHA256:qrstuvwxyz012345", false}, {"root", "SHA256:other", false},
	} {
		if got := p.key(tc.user, tc.fp); got != tc.want {
			t.Errorf("key(%s, %s) got %v; want %v", tc.user, tc.fp, got, tc.want)
		}
	}
	// Windows names: any case, with or without a domain.
	win := newPolicy([]cred{{User: "Administrator", Pass: ""}}, nil, 0, true, 8)
	for _, u := range []string{"administrator", `WEBSERVER\ADMINISTRATOR`, "Administrator@webserver"} {
		if !win.password(src, u, "") {
			t.Errorf("windows policy refused %q", u)
		}
	}
	// Sources are remembered up to the bound, the oldest forgotten.
	small := newPolicy(nil, nil, 2, false, 1)
	small.password(src, "a", "1")
	small.password(other, "a", "1")
	if small.password(src, "a", "2") {
		t.Error("a forgotten source kept its count")
	}
}

func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte(`profile: linux-iot
services:
  ssh:
    ports: [2222]
    stdin_wait: 250ms
    max_upload: 2MiB
    persona:
      release: openssh-7.9p1-debian10
      hostname: cam01
    login:
      accept: ["admin:admin"]
      accept_keys: ["*"]
      fail_delay: 0s
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	var c *Config
	for _, r := range rs {
		if r.Module.Name == "ssh" {
			c = r.Config.(*Config)
		}
	}
	if c == nil {
		t.Fatal("no ssh section resolved")
	}
	p, r, err := c.resolved()
	if err != nil || r.Name != ReleaseDebian || p.Version != "SSH-2.0-OpenSSH_7.9p1 Debian-10+deb10u4" ||
		p.Shell != ShellBusyBox || p.Hostname != "cam01" || c.StdinWait != 250*time.Millisecond ||
		c.MaxUpload != 2<<20 || c.Login.FailDelay != 0 || c.Login.FailJitter != -1 || c.Ports[0] != 2222 {
		t.Errorf("resolved %+v %+v %v; want the section over linux-iot's defaults", c, p, err)
	}
	if c.Describe() != "OpenSSH 7.9p1 Debian" {
		t.Errorf("Describe() got %q", c.Describe())
	}
	bad, _ := config.Parse([]byte("services:\n  ssh:\n    persona:\n      banner_text: x\n"))
	if _, err := bad.ResolveServices(); err == nil {
		t.Error("an unknown key was accepted")
	}
}
