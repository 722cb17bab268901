package ftp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixedNow is the tests' clock: the day Nimda spread.
var fixedNow = time.Date(2001, 9, 18, 13, 45, 7, 0, time.UTC)

func newServer(t testing.TB, profile string, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig(profile)
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, service.Env{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}

func TestTranscriptsIIS(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata", "ftp", func() any {
		return newServer(t, service.ProfileWindows2000, nil)
	}, servicetest.TranscriptOptions{})
}

func TestTranscriptsLinuxIoT(t *testing.T) {
	servicetest.RunTranscripts(t, "testdata/linux-iot", "ftp", func() any {
		return newServer(t, service.ProfileLinuxIoT, nil)
	}, servicetest.TranscriptOptions{})
}

// client is a minimal FTP client for the tests: one reply per command,
// multi-line replies read whole.
type client struct {
	t  testing.TB
	c  net.Conn
	r  *bufio.Reader
	h  *servicetest.Harness
	mu sync.Mutex
}

func dial(t testing.TB, h *servicetest.Harness) *client {
	t.Helper()
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, c: c, r: bufio.NewReader(c), h: h}
	if g := cl.read(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q", g)
	}
	return cl
}

// read reads one reply, all its lines.
func (cl *client) read() string {
	cl.t.Helper()
	var all strings.Builder
	first := ""
	for {
		l, err := cl.r.ReadString('\n')
		all.WriteString(l)
		if err != nil {
			cl.t.Fatalf("reading reply: %v (so far %q)", err, all.String())
		}
		if first == "" {
			first = l
			if len(l) < 4 || l[3] != '-' {
				return all.String()
			}
			continue
		}
		if len(l) >= 4 && l[:3] == first[:3] && l[3] == ' ' {
			return all.String()
		}
	}
}

func (cl *client) cmd(line string) string {
	cl.t.Helper()
	if _, err := cl.c.Write([]byte(line + "\r\n")); err != nil {
		cl.t.Fatal(err)
	}
	return cl.read()
}

// want reads a reply and checks its start.
func (cl *client) want(prefix string) string {
	cl.t.Helper()
	r := cl.read()
	if !strings.HasPrefix(r, prefix) {
		cl.t.Fatalf("got %q, want a reply starting %q", r, prefix)
	}
	return r
}

// expect sends a command and checks its reply's start.
func (cl *client) expect(line, prefix string) string {
	cl.t.Helper()
	r := cl.cmd(line)
	if !strings.HasPrefix(r, prefix) {
		cl.t.Fatalf("%s: got %q, want a reply starting %q", line, r, prefix)
	}
	return r
}

var pasvRe = regexp.MustCompile(`\((\d+,\d+,\d+,\d+,\d+,\d+)\)`)

// pasv asks for a passive port and returns its address.
func (cl *client) pasv() netip.AddrPort {
	cl.t.Helper()
	r := cl.expect("PASV", "227 ")
	m := pasvRe.FindStringSubmatch(r)
	if m == nil {
		cl.t.Fatalf("PASV reply %q", r)
	}
	ap, err := ParsePORT(m[1], true)
	if err != nil {
		cl.t.Fatal(err)
	}
	return ap
}

func dialData(t testing.TB, ap netip.AddrPort) net.Conn {
	t.Helper()
	d, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	_ = d.SetDeadline(time.Now().Add(20 * time.Second))
	return d
}

func login(cl *client, user, pass string) {
	cl.t.Helper()
	cl.expect("USER "+user, "331 ")
	cl.expect("PASS "+pass, "230")
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func uploads(evs []*event.Event) []*event.Upload {
	var out []*event.Upload
	for _, e := range servicetest.OfKind(evs, event.KindUpload) {
		out = append(out, e.Detail.(*event.Upload))
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

func logins(evs []*event.Event) []*event.Login {
	var out []*event.Login
	for _, e := range servicetest.OfKind(evs, event.KindLogin) {
		out = append(out, e.Detail.(*event.Login))
	}
	return out
}

// A passive upload arrives whole, is kept as a sample under its hash,
// shows in the listing and reads back as sent.
func TestPassiveUploadListAndReadBack(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "guest@example.com")
	cl.expect("TYPE I", "200 Type set to I.")
	payload := bytes.Repeat([]byte("MZ\x90\x00worm"), 5000)
	ap := cl.pasv()
	d := dialData(t, ap)
	cl.expect("STOR incoming/../incoming/msblast.exe", "125 Data connection already open; Transfer starting.")
	if _, err := d.Write(payload); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	if r := cl.read(); r != "226 Transfer complete.\r\n" {
		t.Fatalf("after upload: %q", r)
	}

	cl.expect("CWD /incoming", "250 CWD command successful.")
	d = dialData(t, cl.pasv())
	cl.expect("LIST", "125 ")
	listing, _ := io.ReadAll(d)
	cl.want("226 Transfer complete.")
	if want := fmt.Sprintf("09-18-01  01:45PM %20d msblast.exe\r\n", len(payload)); string(listing) != want {
		t.Errorf("listing %q, want %q", listing, want)
	}
	d = dialData(t, cl.pasv())
	cl.expect("RETR msblast.exe", "125 ")
	back, _ := io.ReadAll(d)
	if !bytes.Equal(back, payload) {
		t.Errorf("read back %d bytes, want the %d uploaded", len(back), len(payload))
	}
	cl.read()
	cl.expect("QUIT", "221 ")

	evs := h.WaitClosed(t, 1)
	ups := uploads(evs)
	if len(ups) != 1 {
		t.Fatalf("got %d uploads, want 1: %s", len(ups), servicetest.Summary(evs))
	}
	u := ups[0]
	if u.Name != "incoming/../incoming/msblast.exe" || u.Size != int64(len(payload)) || u.SHA256 != sum(payload) || u.Truncated || u.Via != "stor" {
		t.Errorf("upload %+v", *u)
	}
	if got, ok := h.Samples.Get(u.SHA256); !ok || !bytes.Equal(got, payload) {
		t.Error("the sample store does not hold the upload")
	}
	smp := servicetest.OfKind(evs, event.KindSample)
	if len(smp) != 1 || smp[0].Detail.(*event.Sample).Source != "ftp.stor" || smp[0].Detail.(*event.Sample).Name != u.Name {
		t.Errorf("sample events: %s", servicetest.Summary(smp))
	}
	var stor *event.Command
	for _, c := range commands(evs) {
		if strings.HasPrefix(c.Line, "STOR ") {
			stor = c
		}
	}
	if stor == nil || stor.Output != "125 Data connection already open; Transfer starting.\r\n226 Transfer complete.\r\n" || !stor.Known || stor.Truncated {
		t.Errorf("STOR command event %+v", stor)
	}
}

// An upload past max_upload is cut there and kept, marked truncated; the
// session goes on.
func TestUploadCutAtMaxUpload(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.MaxUpload = 1000
	}), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	d := dialData(t, cl.pasv())
	cl.expect("STOR big.bin", "125 ")
	payload := bytes.Repeat([]byte{0xcc}, 50000)
	go func() { _, _ = d.Write(payload); _ = d.Close() }()
	if r := cl.read(); r != "426 Connection closed; transfer aborted.\r\n" {
		t.Fatalf("after a cut upload: %q", r)
	}
	cl.expect("NOOP", "200 NOOP command successful.")
	cl.expect("QUIT", "221")
	evs := h.WaitClosed(t, 1)
	ups := uploads(evs)
	if len(ups) != 1 || ups[0].Size != 1000 || !ups[0].Truncated || ups[0].SHA256 != sum(payload[:1000]) {
		t.Fatalf("uploads %+v", ups)
	}
	if got, _ := h.Samples.Get(ups[0].SHA256); len(got) != 1000 {
		t.Errorf("sample holds %d bytes, want 1000", len(got))
	}
	for _, c := range commands(evs) {
		if c.Line == "STOR big.bin" && !c.Truncated {
			t.Errorf("STOR event not marked truncated: %+v", c)
		}
	}
}

// The shared upload memory bounds what all sessions hold: an upload that
// finds it spent is cut.
func TestUploadMemoryBound(t *testing.T) {
	srv := newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.MaxUpload = 4096
		c.UploadMemory = 4096
	})
	srv.memory.Store(4096 - 100) // other sessions hold the rest
	h := servicetest.Start(t, "ftp", srv, nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	d := dialData(t, cl.pasv())
	cl.expect("STOR x.bin", "125 ")
	go func() { _, _ = d.Write(bytes.Repeat([]byte("A"), 4000)); _ = d.Close() }()
	cl.want("426 ")
	cl.expect("QUIT", "221")
	ups := uploads(h.WaitClosed(t, 1))
	if len(ups) != 1 || !ups[0].Truncated || ups[0].Size > 100 {
		t.Fatalf("uploads %+v, want one cut at the 100 bytes left", ups)
	}
	if got := srv.memory.Load(); got != 4096-100 {
		t.Errorf("memory held after the session: %d, want %d", got, 4096-100)
	}
}

// A stalled data channel is cut at data_timeout, recorded as such, and
// other sessions are served meanwhile.
func TestStalledUploadIsCut(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.DataTimeout = 300 * time.Millisecond
	}), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	d := dialData(t, cl.pasv())
	cl.expect("STOR slow.bin", "125 ")
	if _, err := d.Write([]byte("first bytes, then nothing")); err != nil {
		t.Fatal(err)
	}
	// Meanwhile another client is served.
	other := dial(t, h)
	login(other, "anonymous", "y@z")
	other.expect("PWD", `257 "/" is current directory.`)
	if r := cl.read(); r != "426 Connection closed; transfer aborted.\r\n" {
		t.Fatalf("after the stall: %q", r)
	}
	cl.expect("QUIT", "221")
	other.expect("QUIT", "221")
	evs := h.WaitClosed(t, 2)
	ups := uploads(evs)
	if len(ups) != 1 || !ups[0].Truncated || ups[0].Size != 25 {
		t.Fatalf("uploads %+v", ups)
	}
	for _, c := range commands(evs) {
		if c.Line == "STOR slow.bin" && (!c.Truncated || !strings.Contains(c.Output, "426 ")) {
			t.Errorf("STOR event %+v, want it truncated with its 426", c)
		}
	}
}

// A download the client does not read is cut at data_timeout too.
func TestStalledDownloadIsCut(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.DataTimeout = 300 * time.Millisecond
		c.Persona.MaxDownload = 8 << 20
		c.Persona.Files = append(c.Persona.Files, File{Path: "/pub/big.zip", Size: 8 << 20})
	}), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	d := dialData(t, cl.pasv())
	if c, ok := d.(*net.TCPConn); ok {
		_ = c.SetReadBuffer(4096)
	}
	cl.expect("RETR pub/big.zip", "125 ")
	if r := cl.read(); r != "426 Connection closed; transfer aborted.\r\n" {
		t.Fatalf("after the stall: %q", r)
	}
	cl.expect("QUIT", "221")
	for _, c := range commands(h.WaitClosed(t, 1)) {
		if c.Line == "RETR pub/big.zip" && !c.Truncated {
			t.Errorf("RETR event %+v, want truncated", c)
		}
	}
}

// A passive port nobody connects to is given up at data_timeout.
func TestPassiveNeverConnected(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.DataTimeout = 200 * time.Millisecond
	}), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	ap := cl.pasv()
	cl.expect("LIST", "425 Can't open data connection.")
	// The listener is gone.
	if c, err := net.DialTimeout("tcp", ap.String(), time.Second); err == nil {
		_ = c.Close()
		t.Error("the passive port still accepts after its timeout")
	}
	cl.expect("QUIT", "221")
}

// Only the client's own address may use its passive port: another one is
// closed at once, and the client still gets through.
func TestPassiveRefusesStrangers(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	ap := cl.pasv()
	stranger, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}).Dial("tcp", ap.String())
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
	}
	_ = stranger.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := stranger.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("stranger's connection: %d bytes, %v; want it closed", n, err)
	}
	_ = stranger.Close()
	d := dialData(t, ap)
	cl.expect("NLST", "125 ")
	names, _ := io.ReadAll(d)
	if string(names) != "incoming\r\npub\r\n" {
		t.Errorf("NLST %q", names)
	}
	cl.read()
	cl.expect("QUIT", "221")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// PORT to any address but the client's own is refused (no FTP bounce);
// to the client itself the data connection is made.
func TestActiveMode(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	cl.expect("PORT 127,0,0,2,31,144", "500 Invalid PORT command.")
	cl.expect("PORT 192,0,2,80,0,80", "500 Invalid PORT command.")
	cl.expect("PORT 127,0,0,1,0,25", "500 Invalid PORT command.") // a privileged port
	cl.expect("PORT 127,0,0,1,x", "500 'PORT 127,0,0,1,x': command not understood")

	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	cl.expect("PORT "+FormatPASV(ap), "200 PORT command successful.")
	got := make(chan []byte, 1)
	go func() {
		_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	cl.expect("RETR pub/readme.txt", "150 Opening ASCII mode data connection for pub/readme.txt(1543 bytes).")
	cl.want("226 Transfer complete.")
	b := <-got
	if len(b) != 1543 || !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Errorf("readme.txt: %d bytes %q...", len(b), b[:min(len(b), 40)])
	}
	cl.expect("QUIT", "221")
}

// With active_mode off, PORT is taken but no connection is ever made, as
// behind a firewall.
func TestActiveModeOff(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) { c.ActiveMode = false }), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl.expect("PORT "+FormatPASV(netip.MustParseAddrPort(ln.Addr().String())), "200 ")
	cl.expect("LIST", "150 ")
	if r := cl.read(); r != "425 Can't open data connection.\r\n" {
		t.Fatalf("LIST: %q", r)
	}
	_ = ln.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if c, err := ln.Accept(); err == nil {
		_ = c.Close()
		t.Error("a connection was made with active_mode off")
	}
	cl.expect("QUIT", "221")
}

// BusyBox ignores PORT's address and connects back to the client: a
// bounce attempt lands on the client itself.
func TestBusyBoxPortGoesToThePeer(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileLinuxIoT, nil), nil)
	cl := dial(t, h)
	login(cl, "admin", "admin")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	cl.expect("PORT "+FormatPASV(netip.AddrPortFrom(netip.MustParseAddr("192.0.2.99"), port)), "200 Operation successful")
	got := make(chan []byte, 1)
	go func() {
		_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	cl.expect("RETR /etc/passwd", "150 Opening BINARY connection for /etc/passwd (")
	cl.want("226 Operation successful")
	if b := <-got; !bytes.HasPrefix(b, []byte("root:x:0:0:")) {
		t.Errorf("passwd over the data connection: %q", b)
	}
	// PORT is used once: the next transfer needs a new one.
	cl.expect("LIST", "425 Use PORT/PASV first")
	cl.expect("QUIT", "221 Operation successful")
}

// EPRT and EPSV, when the persona answers them: EPRT elsewhere than the
// client is refused.
func TestExtendedCommands(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.Persona.EPSV, c.Persona.EPRT, c.Persona.FEAT = true, true, true
	}), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	cl.expect("FEAT", "211-FEAT\r\n SIZE\r\n MDTM\r\n EPSV\r\n EPRT\r\n211 END\r\n")
	cl.expect("EPRT |1|127.0.0.2|5000|", "500 Invalid PORT command.")
	cl.expect("EPRT |3|x|5000|", "522 ")
	cl.expect("EPRT |1|127.0.0.1|5000", "501 ")
	r := cl.expect("EPSV", "229 Entering Extended Passive Mode (|||")
	port, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(r), "229 Entering Extended Passive Mode (|||"), "|)"))
	if err != nil {
		t.Fatalf("EPSV reply %q", r)
	}
	d := dialData(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	cl.expect("NLST pub", "125 ")
	names, _ := io.ReadAll(d)
	if string(names) != "readme.txt\r\nupdate.exe\r\n" {
		t.Errorf("NLST pub: %q", names)
	}
	cl.read()
	cl.expect("QUIT", "221")
}

// Fake files read as what their names promise, the same each time.
func TestRetrPlausibleBytes(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, nil), nil)
	cl := dial(t, h)
	login(cl, "anonymous", "x@y")
	cl.expect("TYPE I", "200 ")
	fetch := func(name string) []byte {
		d := dialData(t, cl.pasv())
		cl.expect("RETR "+name, "125 ")
		b, _ := io.ReadAll(d)
		cl.want("226 ")
		return b
	}
	exe := fetch("pub/update.exe")
	if len(exe) != 94208 || !bytes.HasPrefix(exe, []byte("MZ")) || !bytes.Contains(exe[:256], []byte("This program cannot be run in DOS mode.")) {
		t.Errorf("update.exe: %d bytes, starts %q", len(exe), exe[:min(len(exe), 16)])
	}
	if again := fetch("/PUB/UPDATE.EXE"); !bytes.Equal(again, exe) {
		t.Error("a second fetch (names fold case, as on Windows) gave other bytes")
	}
	cl.expect("REST 94200", "350 Restarting at 94200.")
	if tail := fetch("pub/update.exe"); !bytes.Equal(tail, exe[94200:]) {
		t.Errorf("after REST: %d bytes, want the last 8", len(tail))
	}
	cl.expect("QUIT", "221")
}

// The endless command line: cut at max_line, recorded as such, the
// connection closed, and the service keeps serving others.
func TestEndlessLine(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) { c.MaxLine = 512 }), nil)
	c := h.Dial(t)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("A"), 4096)
		for range 256 { // 1 MiB, no newline
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	out, _ := io.ReadAll(c)
	<-done
	if want := "220 WEBSERVER Microsoft FTP Service (Version 5.0).\r\n"; string(out) != want {
		t.Errorf("got %q, want only the greeting", out)
	}
	other := dial(t, h)
	other.expect("USER anonymous", "331 ")
	other.expect("QUIT", "221")
	evs := h.WaitClosed(t, 2)
	cmds := commands(evs)
	if len(cmds) < 1 || len(cmds[0].Line) != 512 || !cmds[0].Truncated || cmds[0].Known {
		t.Fatalf("first command event: %+v", cmds[0])
	}
}

// A long line that does end is cut and answered as an unknown command.
func TestLongLineAnswered(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) { c.MaxLine = 256 }), nil)
	cl := dial(t, h)
	long := "STOR " + strings.Repeat("B", 1000)
	r := cl.cmd(long)
	if want := "500 '" + long[:256] + "': command not understood\r\n"; r != want {
		t.Errorf("got %q, want %q", r, want)
	}
	cl.expect("NOOP", "200 ")
	cl.expect("QUIT", "221")
	cmds := commands(h.WaitClosed(t, 1))
	if cmds[0].Line != long[:256] || !cmds[0].Truncated {
		t.Errorf("command event %+v", cmds[0])
	}
}

// Logins: every attempt is an event, the connection closes after
// max_login_failures, and the accounts of accept get in.
func TestLoginPolicy(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.Anonymous = false
		c.Accept = []Credential{{User: "backup", Password: "backup2001"}}
		c.MaxLoginFailures = 3
	}), nil)
	cl := dial(t, h)
	cl.expect("USER anonymous", "331 Anonymous access allowed")
	cl.expect("PASS a@b", "530 User anonymous cannot log in.")
	cl.expect("USER BACKUP", "331 Password required for BACKUP.")
	cl.expect("PASS backup2001", "230 User BACKUP logged in.")
	cl.expect("PASS again", "503 Login with USER first.")
	cl.expect("USER backup", "331 ")
	cl.expect("PASS nope", "530 User backup cannot log in.")
	cl.expect("USER root", "331 ")
	cl.expect("PASS toor", "530 User root cannot log in.")
	if _, err := cl.r.ReadByte(); err != io.EOF {
		t.Errorf("after the third failure: %v, want the connection closed", err)
	}
	got := logins(h.WaitClosed(t, 1))
	want := []event.Login{
		{User: "anonymous", Password: "a@b", Method: "password"},
		{User: "BACKUP", Password: "backup2001", Method: "password", Success: true},
		{User: "backup", Password: "nope", Method: "password"},
		{User: "root", Password: "toor", Method: "password"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d logins, want %d", len(got), len(want))
	}
	for i := range want {
		if *got[i] != want[i] {
			t.Errorf("login %d: %+v, want %+v", i, *got[i], want[i])
		}
	}
}

// When the session ends, its pending passive listener closes with it.
func TestSessionEndClosesDataListener(t *testing.T) {
	srv := newServer(t, service.ProfileWindows2000, nil)
	server, clientSide := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := service.NewSession(server, service.Recorder{
		Remote: netip.MustParseAddrPort("127.0.0.1:40000"), Local: netip.MustParseAddrPort("127.0.0.1:21"),
	}, nil, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTCP(ctx, s)
	}()
	cl := &client{t: t, c: clientSide, r: bufio.NewReader(clientSide)}
	_ = clientSide.SetDeadline(time.Now().Add(10 * time.Second))
	cl.read()
	login(cl, "anonymous", "x@y")
	ap := cl.pasv()
	cancel()
	_ = server.Close() // what the engine does when a session's context ends
	<-done
	if c, err := net.DialTimeout("tcp", ap.String(), time.Second); err == nil {
		_ = c.Close()
		t.Error("the passive port outlived its session")
	}
	_ = clientSide.Close()
}

func TestDefaultConfigs(t *testing.T) {
	for _, p := range service.Profiles {
		c := DefaultConfig(p)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if c.Ports[0] != 21 || !c.Enabled {
			t.Errorf("%s: ports %v enabled %v", p, c.Ports, c.Enabled)
		}
	}
	if g := greeting(&DefaultConfig(service.ProfileWindows2000).Persona); g != "WEBSERVER Microsoft FTP Service (Version 5.0)." {
		t.Errorf("IIS greeting %q", g)
	}
	m, ok := service.Lookup("ftp")
	if !ok {
		t.Fatal("ftp is not registered")
	}
	for _, p := range service.Profiles {
		if _, err := m.New(m.Config(p), service.Env{Profile: p}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if d := DefaultConfig(service.ProfileLinuxIoT).Describe(); d != "BusyBox ftpd" {
		t.Errorf("Describe %q", d)
	}
}

// No default greeting is a known honeypot's.
func TestGreetingsAreNotHoneypotTells(t *testing.T) {
	tells := []string{"Welcome to the ftp service", "FTP server ready", "(vsFTPd 2.3.4)", "ProFTPD 1.3.1 Server (Debian)"}
	for _, p := range service.Profiles {
		g := greeting(&DefaultConfig(p).Persona)
		for _, tell := range tells {
			if strings.Contains(strings.ToLower(g), strings.ToLower(tell)) {
				t.Errorf("%s greeting %q contains %q", p, g, tell)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind", func(c *Config) { c.Persona.Kind = "proftpd" }, "persona.kind"},
		{"dir style", func(c *Config) { c.Persona.DirStyle = "vms" }, "dir_style"},
		{"banner line", func(c *Config) { c.Persona.Banner = "x\r\n230 in" }, "single lines"},
		{"installed", func(c *Config) { c.Persona.Installed = "2001" }, "persona.installed"},
		{"file path", func(c *Config) { c.Persona.Files = []File{{Path: "relative.txt"}} }, "absolute"},
		{"file dots", func(c *Config) { c.Persona.Files = []File{{Path: "/a/../b"}} }, ".."},
		{"file size", func(c *Config) { c.Persona.Files = []File{{Path: "/a", Size: 2 << 20}} }, "max_download"},
		{"file twice", func(c *Config) { c.Persona.Files = []File{{Path: "/a"}, {Path: "/A"}} }, "twice"},
		{"file and dir", func(c *Config) { c.Persona.Files = []File{{Path: "/a", Size: 1}, {Path: "/a/b"}} }, "file and a directory"},
		{"file time", func(c *Config) { c.Persona.Files = []File{{Path: "/a", Time: "now"}} }, "RFC 3339"},
		{"accept", func(c *Config) { c.Accept = []Credential{{Password: "x"}} }, "accept"},
		{"passive range", func(c *Config) { c.PassiveMin, c.PassiveMax = 2000, 1999 }, "passive_min"},
		{"passive low", func(c *Config) { c.PassiveMin = 20 }, "passive_min"},
		{"passive address", func(c *Config) { c.PassiveAddress = "::1" }, "passive_address"},
		{"data timeout", func(c *Config) { c.DataTimeout = 0 }, "data_timeout"},
		{"transfer timeout", func(c *Config) { c.TransferTimeout = time.Second }, "transfer_timeout"},
		{"max upload", func(c *Config) { c.MaxUpload = 0 }, "max_upload"},
		{"data budget", func(c *Config) { c.DataBudget = 1 }, "data_budget"},
		{"upload memory", func(c *Config) { c.UploadMemory = 1 }, "upload_memory"},
		{"max line", func(c *Config) { c.MaxLine = 10 }, "max_line"},
		{"failures", func(c *Config) { c.MaxLoginFailures = 0 }, "max_login_failures"},
	}
	for _, tt := range tests {
		c := DefaultConfig(service.ProfileWindows2000)
		tt.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

// The section decodes strictly over the profile defaults.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte(`profile: windows2000
services:
  ftp:
    ports: [2121]
    max_upload: 1MiB
    accept: [{user: web, password: w3b}]
    persona:
      hostname: FILESRV01
      files:
        - path: /outgoing/
        - {path: /outgoing/report.txt, content: "hello\r\n"}
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfg.ResolveServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Module.Name != "ftp" {
			continue
		}
		c := r.Config.(*Config)
		if c.Ports[0] != 2121 || c.MaxUpload != 1<<20 || c.Persona.Hostname != "FILESRV01" ||
			c.Persona.Version != "5.0" || len(c.Persona.Files) != 2 || c.Accept[0].User != "web" {
			t.Errorf("decoded %+v", c)
		}
		return
	}
	t.Fatal("ftp section not resolved")
}

func TestConfigRejectsUnknownKey(t *testing.T) {
	cfg, err := config.Parse([]byte("services:\n  ftp:\n    persona:\n      motd: x\n"))
	if err == nil {
		_, err = cfg.ResolveServices()
	}
	if err == nil || !strings.Contains(err.Error(), "motd") {
		t.Fatalf("got %v, want an unknown-key error naming motd", err)
	}
}

// What one session changes, another does not see: each has its own tree.
func TestSessionsDoNotShareChanges(t *testing.T) {
	h := servicetest.Start(t, "ftp", newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.Persona.Files = append(c.Persona.Files, File{Path: "/pub/note.txt", Content: "hello\r\n"})
	}), nil)
	a := dial(t, h)
	login(a, "anonymous", "a@a")
	d := dialData(t, a.pasv())
	a.expect("APPE pub/note.txt", "125 ")
	_, _ = d.Write([]byte("appended by a\r\n"))
	_ = d.Close()
	a.want("226 ")
	a.expect("DELE pub/update.exe", "250 ")
	a.expect("SIZE pub/note.txt", "213 22")

	b := dial(t, h)
	login(b, "anonymous", "b@b")
	b.expect("SIZE pub/note.txt", "213 7")
	b.expect("SIZE pub/update.exe", "213 94208")
	d = dialData(t, b.pasv())
	b.expect("RETR pub/note.txt", "125 ")
	got, _ := io.ReadAll(d)
	b.want("226 ")
	if string(got) != "hello\r\n" {
		t.Errorf("b reads %q, want the persona's content", got)
	}
	d = dialData(t, a.pasv())
	a.expect("RETR pub/note.txt", "125 ")
	got, _ = io.ReadAll(d)
	a.want("226 ")
	if string(got) != "hello\r\nappended by a\r\n" {
		t.Errorf("a reads %q, want its appended file", got)
	}
	a.expect("QUIT", "221")
	b.expect("QUIT", "221")
	ups := uploads(h.WaitClosed(t, 2))
	if len(ups) != 1 || ups[0].Via != "appe" || ups[0].Size != 15 {
		t.Errorf("uploads %+v", ups)
	}
}
