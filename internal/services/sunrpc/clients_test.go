package sunrpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// rpcinfo and nmap's rpcinfo script only ever ask port 111, so these tests
// run the portmapper on 127.0.0.1:111 inside a network namespace of their
// own: the test binary runs itself there as a helper process
// (TestHelperServeInNetns), and the clients run there too. No traffic
// leaves the namespace, which is deleted when the test ends.

const (
	helperProfileEnv = "SMALLPOT_SUNRPC_HELPER_PROFILE"
	helperEventsEnv  = "SMALLPOT_SUNRPC_HELPER_EVENTS"
)

// TestHelperServeInNetns is not a test: started by the tests below inside
// a network namespace, it serves the portmapper of a profile on
// 127.0.0.1:111 (tcp and udp, with the profile's reply factor), says
// "ready" on stdout, writes events as JSON lines to a file, and stops when
// its stdin closes.
func TestHelperServeInNetns(t *testing.T) {
	profile := os.Getenv(helperProfileEnv)
	if profile == "" {
		t.Skip("helper process of the rpcinfo and nmap tests; runs only inside their network namespace")
	}
	cfg := DefaultConfig(profile)
	srv, err := New(cfg, service.Env{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(os.Getenv(helperEventsEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eng := engine.New(engine.Options{Sensor: "netns", Limits: servicetest.Limits(),
		Emitter: &servicetest.JSONLines{W: f}, Samples: servicetest.NewMemSamples()})
	if _, err := eng.ListenTCP("sunrpc", "127.0.0.1:111", srv); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ListenUDP("sunrpc", "127.0.0.1:111", srv, cfg.ReplyFactor); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("engine did not stop")
	}
}

// netns creates the network namespace the portmapper serves in on its
// real port, deleted when the test ends.
func netns(t *testing.T) (name, ip string) {
	return servicetest.Netns(t, "smallpot-rpc-", "rpcinfo always asks port 111, so the portmapper runs on it inside a network namespace")
}

// nsServer is the helper process serving in a namespace.
type nsServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events string
	stderr bytes.Buffer
	once   sync.Once
}

// serveInNetns starts the helper for profile in namespace ns and waits
// until it serves.
func serveInNetns(t *testing.T, ip, ns, profile string) *nsServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := &nsServer{events: filepath.Join(t.TempDir(), "events.jsonl")}
	// Longer than the clients run against it (two nmap runs of up to 2
	// minutes each); stop ends it sooner.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	s.cmd = exec.CommandContext(ctx, ip, "netns", "exec", ns, exe, "-test.run=^TestHelperServeInNetns$", "-test.count=1")
	s.cmd.WaitDelay = 5 * time.Second // a killed helper's children must not hold its pipes open
	s.cmd.Env = append(os.Environ(), helperProfileEnv+"="+profile, helperEventsEnv+"="+s.events)
	s.cmd.Stderr = &s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			s.stop(t)
			t.Fatalf("helper did not start: %q\n%s", line, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.stop(t)
		t.Fatalf("helper not ready after 20s\n%s", s.stderr.String())
	}
	return s
}

// stop ends the helper: closing its stdin, then, if it does not exit,
// killing it.
func (s *nsServer) stop(t *testing.T) {
	s.once.Do(func() {
		_ = s.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("helper: %v\n%s", err, s.stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			t.Errorf("helper did not stop within 15s; killed")
		}
	})
}

// Events stops the helper and returns the events it recorded.
func (s *nsServer) Events(t *testing.T) []*event.Event {
	t.Helper()
	s.stop(t)
	b, err := os.ReadFile(s.events)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e := new(event.Event)
		if err := json.Unmarshal(line, e); err != nil {
			t.Fatalf("event %s: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// inNetns runs a command inside the namespace, bounded in time.
func inNetns(t *testing.T, ip, ns string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", ns}, args...)...)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rpcCalls lists the rpc events as "transport PROGRAM.vN.PROC reply".
func rpcCalls(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		if r, ok := e.Detail.(*event.RPC); ok {
			out = append(out, fmt.Sprintf("%s %s.v%d.%s %s", e.Transport, r.ProgramName, r.Version, r.ProcedureName, r.Reply))
		}
	}
	return out
}

func hasAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

// rpcinfoRun is one more rpcinfo command and what its output holds.
type rpcinfoRun struct {
	args []string
	ok   bool
	want []string
}

// rpcinfo (Debian package rpcbind) against the portmapper of each profile.
func TestRpcinfo(t *testing.T) {
	rpcinfo, err := exec.LookPath("rpcinfo")
	if err != nil {
		t.Skip("rpcinfo is not installed (Debian package rpcbind)")
	}
	ns, ip := netns(t)
	tests := []struct {
		profile string
		dump    string // rpcinfo -p, exactly
		more    []rpcinfoRun
		calls   []string // rpc events expected among the recorded
	}{
		{service.ProfileWindows2000, `   program vers proto   port  service
    100000    2   tcp    111  portmapper
    100000    2   udp    111  portmapper
    100024    1   udp   1039  status
    100024    1   tcp   1039  status
    100021    1   udp   1047  nlockmgr
    100021    3   udp   1047  nlockmgr
    100021    4   udp   1047  nlockmgr
    100021    1   tcp   1047  nlockmgr
    100021    3   tcp   1047  nlockmgr
    100021    4   tcp   1047  nlockmgr
    100005    1   udp   1048  mountd
    100005    3   udp   1048  mountd
    100005    1   tcp   1048  mountd
    100005    3   tcp   1048  mountd
    100003    2   udp   2049  nfs
    100003    3   udp   2049  nfs
    100003    2   tcp   2049  nfs
    100003    3   tcp   2049  nfs
`, []rpcinfoRun{
			// rpcbind versions 3 and 4 are not served: rpcinfo falls back
			// to version 2 where it can.
			{[]string{"127.0.0.1"}, true, []string{"100000    2    tcp       0.0.0.0.0.111          portmapper unknown",
				"100003    3    tcp       0.0.0.0.8.1            nfs        unknown"}},
			{[]string{"-s", "127.0.0.1"}, true, []string{"100021  4,3,1     tcp,udp                          nlockmgr    unknown"}},
			{[]string{"-m", "127.0.0.1"}, false, []string{"Program/version mismatch; low version = 2, high version = 2"}},
		}, []string{"tcp portmapper.v4.GETADDR prog_mismatch", "tcp portmapper.v2.DUMP success",
			"udp portmapper.v2.GETPORT success", "udp portmapper.v2.NULL success"}},
		{service.ProfileLinuxIoT, `   program vers proto   port  service
    100000    4   tcp    111  portmapper
    100000    3   tcp    111  portmapper
    100000    2   tcp    111  portmapper
    100000    4   udp    111  portmapper
    100000    3   udp    111  portmapper
    100000    2   udp    111  portmapper
    100024    1   udp  44127  status
    100024    1   tcp  51851  status
`, []rpcinfoRun{
			{[]string{"127.0.0.1"}, true, []string{
				"100000    4    tcp6      ::.0.111               portmapper superuser",
				"100000    3    local     /run/rpcbind.sock      portmapper superuser",
				"100024    1    tcp       0.0.0.0.202.139        status     superuser"}},
			{[]string{"-s", "127.0.0.1"}, true, []string{"100000  2,3,4     local,udp,tcp,udp6,tcp6          portmapper  superuser"}},
			{[]string{"-m", "127.0.0.1"}, true, []string{"PORTMAP (version 2) statistics", "RPCBIND (version 4) statistics"}},
			{[]string{"-T", "udp", "127.0.0.1", "100000", "4"}, true, []string{"program 100000 version 4 ready and waiting"}},
		}, []string{"tcp portmapper.v4.GETADDR success", "tcp portmapper.v2.DUMP success",
			"udp portmapper.v4.GETADDR success", "udp portmapper.v2.NULL success"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			srv := serveInNetns(t, ip, ns, tt.profile)
			out, err := inNetns(t, ip, ns, 30*time.Second, rpcinfo, "-p", "127.0.0.1")
			if err != nil || out != tt.dump {
				t.Errorf("rpcinfo -p: %v\n got:\n%s\nwant:\n%s", err, out, tt.dump)
			}
			out, err = inNetns(t, ip, ns, 30*time.Second, rpcinfo, "-u", "127.0.0.1", "100000", "2")
			if want := "program 100000 version 2 ready and waiting\n"; err != nil || out != want {
				t.Errorf("rpcinfo -u 127.0.0.1 100000 2: %v\n got: %q\nwant: %q", err, out, want)
			}
			for _, c := range tt.more {
				out, err := inNetns(t, ip, ns, 30*time.Second, append([]string{rpcinfo}, c.args...)...)
				if (err == nil) != c.ok {
					t.Errorf("rpcinfo %s: got error %v; want success %v\n%s", strings.Join(c.args, " "), err, c.ok, out)
				}
				hasAll(t, "rpcinfo "+strings.Join(c.args, " "), out, c.want...)
			}
			calls := strings.Join(rpcCalls(srv.Events(t)), "\n")
			hasAll(t, "events", calls, tt.calls...)
		})
	}
}

// nmap names the portmapper rpcbind and its rpcinfo script reads the
// registration list, over TCP and over UDP. nmap relies on the RPCCheck
// probes of nmap-service-probes (a NULL call to program 100000 with
// version 0x1977c) and their matches
//
//	match rpcbind m|^\x80\0\0.\x72\xfe\x1d\x13\0\0\0\x01\0\0\0\0\0\0\0[\x00-\x03\x06]|  (TCP)
//	match rpcbind m|^\x72\xFE\x1D\x13\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02|  (UDP)
//
// (a PROG_MISMATCH reply), then on its RPC grinder for the version range;
// the rpcinfo script (port 111 only) asks DUMP of versions 4, 3 and 2.
func TestNmap(t *testing.T) {
	if testing.Short() {
		t.Skip("nmap version detection takes seconds; skipped in -short mode")
	}
	nmap, err := exec.LookPath("nmap")
	if err != nil {
		t.Skip("nmap is not installed (Debian package nmap)")
	}
	ns, ip := netns(t)
	tests := []struct {
		profile string
		tcp     []string
		udp     []string
		// udpDump is the rpc event of the script's DUMP over UDP:
		// "version reply refused result".
		udpDump string
	}{
		{service.ProfileWindows2000,
			[]string{"111/tcp open  rpcbind 2 (RPC #100000)", "100000  2            111/tcp   rpcbind",
				"100003  2,3         2049/udp   nfs", "100021  1,3,4       1047/tcp   nlockmgr"},
			[]string{"111/udp open  rpcbind 2 (RPC #100000)", "100000  2            111/udp   rpcbind",
				"100005  1,3         1048/tcp   mountd", "100024  1           1039/udp   status"},
			// Version 2's list of 18 fits the reply factor: all of it.
			"2 success  entries=18"},
		{service.ProfileLinuxIoT,
			[]string{"111/tcp open  rpcbind 2-4 (RPC #100000)", "100000  2,3,4        111/tcp   rpcbind",
				"100000  3,4          111/tcp6  rpcbind", "100024  1          51851/tcp6  status"},
			// Version 4's list is larger than the reply factor allows:
			// what fits of it.
			[]string{"111/udp open  rpcbind 2-4 (RPC #100000)", "100000  3,4          111/tcp6  rpcbind"},
			"4 success too_large entries=3 of 16"},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			srv := serveInNetns(t, ip, ns, tt.profile)
			out, err := inNetns(t, ip, ns, 2*time.Minute, nmap, "-sV", "--script", "rpcinfo", "-Pn", "-n", "-p", "111", "127.0.0.1")
			if err != nil {
				t.Fatalf("nmap: %v\n%s", err, out)
			}
			hasAll(t, "nmap -sV (tcp)", out, tt.tcp...)
			out, err = inNetns(t, ip, ns, 2*time.Minute, nmap, "-sU", "-sV", "--script", "rpcinfo", "-Pn", "-n", "-p", "111", "127.0.0.1")
			if err != nil {
				t.Fatalf("nmap: %v\n%s", err, out)
			}
			hasAll(t, "nmap -sU -sV", out, tt.udp...)
			var dumps []string
			for _, e := range srv.Events(t) {
				if r, ok := e.Detail.(*event.RPC); ok && e.Transport == event.UDP && r.ProcedureName == "DUMP" && r.Reply == "success" {
					dumps = append(dumps, fmt.Sprintf("%d %s %s %s", r.Version, r.Reply, r.Refused, r.Result))
				}
			}
			if len(dumps) != 1 || dumps[0] != tt.udpDump {
				t.Errorf("DUMP over UDP: got %q; want [%q]", dumps, tt.udpDump)
			}
		})
	}
}
