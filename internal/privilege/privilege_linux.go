//go:build linux

package privilege

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// CanBindBelow reports whether this process may bind TCP/UDP port.
func CanBindBelow(port int) bool {
	if os.Geteuid() == 0 || hasBindCap() {
		return true
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if start, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return port >= start
		}
	}
	return port >= 1024
}

// hasBindCap reads CAP_NET_BIND_SERVICE (bit 10) from the effective set.
func hasBindCap() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<10) != 0
		}
	}
	return false
}
