// Package privilege decides whether Smallpot may bind the well-known ports
// and, once they are bound, gives up root.
package privilege

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// BindHint explains a failed bind of port and names the fixes.
func BindHint(addr string, port int, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission):
		if port < 1024 {
			return fmt.Errorf("bind %s: permission denied — run as root, grant CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep ./smallpot), or use -port-offset 10000", addr)
		}
		return fmt.Errorf("bind %s: permission denied — check the address and any firewall or SELinux policy, or choose another port", addr)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("bind %s: address already in use — another program listens there: stop it, disable this service in the config, or move Smallpot's ports with -port-offset", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("bind %s: address not available on this host — check -bind", addr)
	}
	return fmt.Errorf("bind %s: %w", addr, err)
}
