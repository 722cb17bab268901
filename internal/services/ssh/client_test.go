package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// dialGo logs in with the Go client.
func dialGo(t *testing.T, h *servicetest.Harness, user string, auth ...xssh.AuthMethod) (*xssh.Client, error) {
	t.Helper()
	cfg := &xssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: xssh.InsecureIgnoreHostKey(),
		Timeout: 5 * time.Second}
	return xssh.Dial("tcp", h.Addr.String(), cfg)
}

// goRun runs a command on a new session of cl with stdin as its input.
func goRun(t *testing.T, cl *xssh.Client, command string, stdin io.Reader) (string, error) {
	t.Helper()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// Two buffers: the client copies each stream on its own goroutine.
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &out, &errOut, stdin
	err = sess.Run(command)
	return out.String() + errOut.String(), err
}

func TestExecStdinKept(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	bin := append([]byte("\x7fELF\x01\x01\x01"), bytes.Repeat([]byte{0x90}, 5000)...)
	// The dropper's usual way without scp: the binary on the input of cat.
	if out, err := goRun(t, cl, "cat > /tmp/.d; chmod +x /tmp/.d", bytes.NewReader(bin)); err != nil {
		t.Fatalf("cat > file: %v %q", err, out)
	}
	// The file is on the connection's fake disk afterwards.
	out, err := goRun(t, cl, "ls -l /tmp/.d", nil)
	if err != nil || !strings.Contains(out, "-rwxr-xr-x") || !strings.Contains(out, "5007") {
		t.Errorf("ls -l /tmp/.d got %q %v; want the 5007-byte executable", out, err)
	}
	// A command whose input stays silent runs after stdin_wait.
	if out, err := goRun(t, cl, "echo ok", nil); err != nil || out != "ok\n" {
		t.Errorf("echo ok got %q %v", out, err)
	}
	// A shell reading its commands from the input runs each line.
	out, err = goRun(t, cl, "sh", strings.NewReader("cd /tmp\npwd\nexit 3\necho never\n"))
	var exit *xssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 || out != "/tmp\n" {
		t.Errorf("sh with a script got %q %v; want /tmp and exit status 3", out, err)
	}
	// A script in one request runs line by line.
	out, err = goRun(t, cl, "cd /tmp\necho $PWD\nexit 4\necho never\n", nil)
	if !errors.As(err, &exit) || exit.ExitStatus() != 4 || out != "/tmp\n" {
		t.Errorf("a script in one exec got %q %v; want /tmp and exit status 4", out, err)
	}
	// An unknown command fails as BusyBox's ash fails it.
	out, err = goRun(t, cl, "nosuchtool -x", nil)
	if !errors.As(err, &exit) || exit.ExitStatus() != 127 || !strings.Contains(out, "not found") {
		t.Errorf("nosuchtool got %q %v; want not found, status 127", out, err)
	}
	cl.Close()
	evs := h.WaitClosed(t, 1)
	ups := uploads(evs)
	if len(ups) != 1 || ups[0].Via != "stdin" || ups[0].Name != "/tmp/.d" || ups[0].Size != int64(len(bin)) {
		t.Fatalf("uploads %+v; want /tmp/.d via stdin", ups)
	}
	if got, _ := h.Samples.Get(ups[0].SHA256); !bytes.Equal(got, bin) {
		t.Error("the piped binary is not the sample kept")
	}
	var lines []string
	for _, c := range commands(evs) {
		lines = append(lines, c.Line)
	}
	want := []string{"cat > /tmp/.d; chmod +x /tmp/.d", "ls -l /tmp/.d", "echo ok", "sh", "cd /tmp", "pwd", "exit 3",
		"cd /tmp", "echo $PWD", "exit 4", "nosuchtool -x"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("commands %q; want %q", lines, want)
	}
}

func TestKeyboardInteractive(t *testing.T) {
	s := newServer(t, service.ProfileWindows2000, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	var prompts []string
	answer := func(pass string) xssh.AuthMethod {
		return xssh.KeyboardInteractive(func(name, instr string, qs []string, echos []bool) ([]string, error) {
			prompts = append(prompts, qs...)
			return []string{pass}, nil
		})
	}
	if _, err := dialGo(t, h, "administrator", answer("letmein")); err == nil {
		t.Fatal("a wrong password logged in")
	}
	cl, err := dialGo(t, h, `WEBSERVER\Administrator`, answer("password"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := goRun(t, cl, "echo %USERPROFILE%", nil)
	cl.Close()
	if err != nil || out != "C:\\Documents and Settings\\Administrator\r\n" {
		t.Errorf("echo %%USERPROFILE%% got %q %v", out, err)
	}
	evs := h.WaitClosed(t, 2)
	ls := logins(evs)
	if len(ls) != 2 || ls[0].Method != "keyboard-interactive" || ls[0].Password != "letmein" || ls[0].Success ||
		ls[1].User != `WEBSERVER\Administrator` || !ls[1].Success {
		t.Errorf("logins %+v", ls)
	}
	if len(prompts) == 0 || prompts[0] != "Password: " {
		t.Errorf("prompts %q; want Password: ", prompts)
	}
}

func TestFailedPasswordIsSlow(t *testing.T) {
	const delay = 300 * time.Millisecond
	s := newServer(t, service.ProfileLinuxIoT, func(c *Config) {
		c.Login.Accept, c.Login.AcceptAfter, c.Login.FailDelay = nil, 0, delay
	})
	h := servicetest.Start(t, "ssh", s, nil)
	start := time.Now()
	if _, err := dialGo(t, h, "root", xssh.Password("nope")); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if took := time.Since(start); took < delay {
		t.Errorf("refusal came after %v; want at least the %v delay", took, delay)
	}
}

func TestPauseEndsWithTheSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &conn{ctx: ctx, srv: &Server{delay: time.Hour}}
	done := make(chan struct{})
	go func() { c.pause(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pause went on after the session ended")
	}
}

func TestMaxTriesEndsTheConnection(t *testing.T) {
	s := newServer(t, service.ProfileWindows2000, func(c *Config) {
		c.Login.Accept, c.Login.AcceptAfter, c.Login.MaxTries = nil, 0, 3
	})
	h := servicetest.Start(t, "ssh", s, nil)
	n := 0
	_, err := dialGo(t, h, "Administrator", xssh.RetryableAuthMethod(xssh.PasswordCallback(func() (string, error) {
		n++
		return "try" + string(rune('0'+n)), nil
	}), 10))
	if err == nil {
		t.Fatal("logged in")
	}
	evs := h.WaitClosed(t, 1)
	if ls := logins(evs); len(ls) != 3 {
		t.Errorf("%d login events; want the 3 tries the persona allows", len(ls))
	}
}

func TestMalformedPacketsEndThatSessionOnly(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kex := framePacket(kexInitPayload(openSSHClientLists, false), 6)
	for _, junk := range [][]byte{
		append([]byte("SSH-2.0-x\r\n"), 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3),
		append([]byte("SSH-2.0-x\r\n"), bytes.Repeat([]byte{0}, 64)...),
		append(append([]byte("SSH-2.0-x\r\n"), kex...), bytes.Repeat([]byte{0x41}, 200)...),
		bytes.Repeat([]byte{0xff}, 4096),
	} {
		h.Exchange(t, junk, 5*time.Second)
	}
	h.WaitClosed(t, 4)
	// The session logged in before is untouched.
	if out, err := goRun(t, cl, "echo still here", nil); err != nil || out != "still here\n" {
		t.Errorf("after malformed connections: %q %v", out, err)
	}
	evs := h.Events.Events()
	var malformed []string
	for _, e := range servicetest.OfKind(evs, event.KindSSH) {
		malformed = append(malformed, e.Detail.(*event.SSH).Malformed)
	}
	want := []string{"", "too_large", "bad_packet", "", "not_ssh"}
	if strings.Join(malformed, ",") != strings.Join(want, ",") {
		t.Errorf("ssh events' malformed %q; want %q", malformed, want)
	}
}

func TestChannelsBounded(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.MaxChannels = 2 })
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var open []*xssh.Session
	for range 2 {
		sess, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, sess)
	}
	if _, err := cl.NewSession(); err == nil {
		t.Error("a third session opened; want it refused")
	}
	open[0].Close()
	// The place is given back once the channel is gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		sess, err := cl.NewSession()
		if err == nil {
			sess.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	open[1].Close()
}

func TestGoClientForwardingRefused(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Dial("tcp", "203.0.113.9:25"); err == nil {
		t.Error("direct-tcpip to port 25 opened")
	}
	if _, err := cl.Listen("tcp", "0.0.0.0:8080"); err == nil {
		t.Error("tcpip-forward accepted")
	}
	ch, _, err := cl.OpenChannel("x11", nil)
	if err == nil {
		ch.Close()
		t.Error("an x11 channel opened")
	}
	cl.Close()
	evs := h.WaitClosed(t, 1)
	var got []string
	for _, e := range servicetest.OfKind(evs, event.KindRequest) {
		r := e.Detail.(*event.Request)
		got = append(got, r.Method+" "+r.URI+" "+r.Action)
	}
	want := []string{"direct-tcpip 203.0.113.9:25 refused", "tcpip-forward 0.0.0.0:8080 refused", "x11  refused"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q; want %q", got, want)
	}
}

func TestShellWithoutPty(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	sess.Stdin = strings.NewReader("cd /tmp; pwd\n/bin/busybox ECCHI\n")
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	// A bot's shell: no terminal, so no banner, prompt or echo.
	want := "/tmp\nECCHI: applet not found\n"
	var exit *xssh.ExitError
	if out.String() != want || !errors.As(err, &exit) || exit.ExitStatus() != 127 {
		t.Errorf("shell got %q %v; want %q and the last command's status 127", out.String(), err, want)
	}
}

func TestShellResizeRecorded(t *testing.T) {
	s := newServer(t, service.ProfileLinuxIoT, nil)
	h := servicetest.Start(t, "ssh", s, nil)
	cl, err := dialGo(t, h, "root", xssh.Password("xc3511"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 100, xssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := sess.WindowChange(50, 120); err != nil {
		t.Fatal(err)
	}
	// window-change asks for no reply, and the server handles channel
	// requests apart from channel data: give it a moment before the input,
	// or the exit may overtake the resize.
	time.Sleep(300 * time.Millisecond)
	_, _ = io.WriteString(in, "echo hi\rexit\r")
	if err := sess.Wait(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	cl.Close()
	evs := h.WaitClosed(t, 1)
	casts := samplesOf(evs, "ssh.asciicast")
	if len(casts) != 1 {
		t.Fatalf("%d recordings; want 1", len(casts))
	}
	data, _ := h.Samples.Get(casts[0].SHA256)
	screen, typed := checkCast(t, data)
	head := strings.SplitN(string(data), "\n", 2)[0]
	if !strings.Contains(head, `"width":100,"height":40`) || !strings.Contains(head, `"TERM":"xterm-256color"`) {
		t.Errorf("header %s; want the pty's size and terminal", head)
	}
	if !strings.Contains(string(data), `,"r","120x50"]`) {
		t.Errorf("no resize event in\n%s", data)
	}
	if typed != "echo hi\rexit\r" || !strings.Contains(screen, "# echo hi\r\nhi\r\n# exit\r\n") {
		t.Errorf("recorded input %q screen %q", typed, screen)
	}
	if screen != out.String() {
		t.Errorf("the recording %q is not what the client saw %q", screen, out.String())
	}
}

// refusingSigner offers a key but cannot sign with it, as a client
// probing which keys a server takes does.
type refusingSigner struct{ xssh.Signer }

func (refusingSigner) Sign(io.Reader, []byte) (*xssh.Signature, error) {
	return nil, errors.New("no private key")
}

func TestKeyAcceptedButNotProven(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	fp := xssh.FingerprintSHA256(signer.PublicKey())
	s := newServer(t, service.ProfileLinuxIoT, func(c *Config) { c.Login.AcceptKeys = []string{"*"} })
	h := servicetest.Start(t, "ssh", s, nil)
	if _, err := dialGo(t, h, "root", xssh.PublicKeys(refusingSigner{signer})); err == nil {
		t.Fatal("logged in without a signature")
	}
	cl, err := dialGo(t, h, "root", xssh.PublicKeys(signer))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	// The two connections end in either order: one event each.
	bySession := map[string]*event.Login{}
	for _, e := range servicetest.OfKind(h.WaitClosed(t, 2), event.KindLogin) {
		if bySession[e.Session] != nil {
			t.Errorf("two login events in one connection")
		}
		bySession[e.Session] = e.Detail.(*event.Login)
	}
	ok, refused := 0, 0
	for _, l := range bySession {
		if l.Key != fp || l.Method != "publickey" {
			t.Errorf("login %+v; want the key %s", l, fp)
		}
		if l.Success {
			ok++
		} else {
			refused++
		}
	}
	if ok != 1 || refused != 1 {
		t.Errorf("%d accepted, %d refused; want the unproven key refused, the proven one accepted", ok, refused)
	}
}
