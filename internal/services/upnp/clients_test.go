package upnp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/engine"
	"github.com/smallpot/smallpot/internal/event"
	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// upnpc discovers a gateway by a multicast M-SEARCH to
// 239.255.255.250:1900, which 127.0.0.1 does not reach. So this test
// runs the gateway inside a network namespace of its own, where loopback
// carries multicast: the test binary runs itself there as a helper
// (TestHelperGatewayInNetns) on the SSDP group's port 1900 and the
// description port,
// and upnpc runs there too. No traffic leaves the namespace, which is
// deleted when the test ends.

const (
	helperProfileEnv = "SMALLPOT_UPNP_HELPER_PROFILE"
	helperEventsEnv  = "SMALLPOT_UPNP_HELPER_EVENTS"
)

// TestHelperGatewayInNetns is not a test: started by TestUpnpcDiscovery
// inside its network namespace, it serves a profile's gateway on udp
// 239.255.255.250:1900 (with the profile's reply factor) and tcp 127.0.0.1 on
// the description port, says "ready", writes events as JSON lines to a
// file, and stops when its stdin closes.
func TestHelperGatewayInNetns(t *testing.T) {
	profile := os.Getenv(helperProfileEnv)
	if profile == "" {
		t.Skip("helper process of TestUpnpcDiscovery; runs only inside its network namespace")
	}
	cfg := DefaultConfig(profile)
	cfg.Persona.LocationHost = "127.0.0.1"
	// A public address: miniupnpc calls a gateway with a reserved one
	// "not connected".
	cfg.Persona.ExternalIP = "81.2.69.142"
	srv, err := New(cfg, service.Env{Profile: profile, Sensor: "netns"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(os.Getenv(helperEventsEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The engine's socket takes what arrives on port 1900 for any group
	// the host has joined; this one joins the SSDP group on loopback.
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	group, err := net.ListenMulticastUDP("udp4", lo, &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 1901})
	if err != nil {
		t.Fatal(err)
	}
	defer group.Close()
	eng := engine.New(engine.Options{Sensor: "netns", Limits: servicetest.Limits(),
		Emitter: &servicetest.JSONLines{W: f}, Samples: servicetest.NewMemSamples()})
	if _, err := eng.ListenTCP("upnp", "127.0.0.1:"+strconv.Itoa(cfg.DescriptionPort), srv); err != nil {
		t.Fatal(err)
	}
	// Bound to the group itself: an IPv4 socket (a wildcard bind would be
	// a dual-stack IPv6 one, which IPv4 multicast does not reach), whose
	// replies still leave from the address the route picks.
	if _, err := eng.ListenUDP("upnp", "239.255.255.250:1900", srv, cfg.ReplyFactor); err != nil {
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

// netns creates a network namespace whose loopback is up and carries
// multicast, deleted when the test ends.
func netns(t *testing.T) (name, ip string) {
	return servicetest.Netns(t, "smallpot-upnp-", "to create a network namespace where loopback carries upnpc's multicast search",
		[]string{"link", "set", "lo", "multicast", "on"}, []string{"route", "add", "239.0.0.0/8", "dev", "lo"})
}

// TestUpnpcDiscovery: upnpc finds each persona's gateway by multicast
// search, lists it, and maps a port; the search, the description fetch
// and every SOAP action are recorded.
func TestUpnpcDiscovery(t *testing.T) {
	upnpc, err := exec.LookPath("upnpc")
	if err != nil {
		t.Skip("upnpc not installed (Debian package miniupnpc)")
	}
	for _, p := range service.Profiles {
		t.Run(p, func(t *testing.T) {
			ns, ip := netns(t)
			evFile := filepath.Join(t.TempDir(), "events.jsonl")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			helper := exec.CommandContext(ctx, ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperGatewayInNetns$", "-test.v")
			helper.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
			helper.Env = append(os.Environ(), helperProfileEnv+"="+p, helperEventsEnv+"="+evFile)
			stdin, _ := helper.StdinPipe()
			stdout, _ := helper.StdoutPipe()
			helper.Stderr = os.Stderr
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				stdin.Close()
				_ = helper.Wait()
			}()
			ready := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				ok := false
				for sc.Scan() {
					if sc.Text() == "ready" && !ok {
						ok = true
						ready <- true
					}
				}
				if !ok {
					ready <- false
				}
			}()
			select {
			case ok := <-ready:
				if !ok {
					t.Fatal("helper ended before it was ready")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("helper not ready")
			}
			run := func(args ...string) string {
				cmd := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", ns, upnpc, "-m", "lo"}, args...)...)
				cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("upnpc %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			desc := DefaultConfig(p).DescriptionPort
			out := run("-l")
			for _, want := range []string{"Found valid IGD : http://127.0.0.1:" + strconv.Itoa(desc) + "/",
				"Connection Type : IP_Routed", "ExternalIPAddress = 81.2.69.142"} {
				if !strings.Contains(out, want) {
					t.Errorf("upnpc -l lacks %q:\n%s", want, out)
				}
			}
			out = run("-a", "127.0.0.1", "22", "2222", "TCP")
			if !strings.Contains(out, "external 81.2.69.142:2222 TCP is redirected to internal 127.0.0.1:22") {
				t.Errorf("upnpc -a:\n%s", out)
			}
			stdin.Close()
			_ = helper.Wait()
			b, err := os.ReadFile(evFile)
			if err != nil {
				t.Fatal(err)
			}
			var searches, adds int
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e event.Event
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("event %s: %v", line, err)
				}
				d, ok := e.Detail.(*event.Request)
				if !ok {
					continue
				}
				if e.Transport == event.UDP && d.Method == "M-SEARCH" && d.Action == "search:reply" {
					searches++
					if e.Dst.Port() != 1900 || e.Src.Addr() != netip.MustParseAddr("127.0.0.1") {
						t.Errorf("search from %s to %s", e.Src, e.Dst)
					}
				}
				if d.Action == "soap:AddPortMapping" && d.Status == 200 {
					adds++
				}
			}
			if searches < 2 || adds != 1 {
				t.Errorf("%d searches answered, %d AddPortMapping recorded; want one search per upnpc run and one mapping", searches, adds)
			}
		})
	}
}
