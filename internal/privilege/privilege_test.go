package privilege

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestBindHint(t *testing.T) {
	for _, tc := range []struct {
		port int
		err  error
		want []string
	}{
		{80, syscall.EACCES, []string{"bind :80: permission denied", "run as root", "CAP_NET_BIND_SERVICE", "-port-offset"}},
		{8080, syscall.EADDRINUSE, []string{"bind :8080: address already in use", "-port-offset"}},
		{8080, syscall.EADDRNOTAVAIL, []string{"not available", "-bind"}},
		{8080, fmt.Errorf("other"), []string{"bind :8080: other"}},
	} {
		got := BindHint(fmt.Sprintf(":%d", tc.port), tc.port, tc.err).Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("BindHint(%d, %v) = %q, lacks %q", tc.port, tc.err, got, w)
			}
		}
	}
}

func TestCanBindHighPorts(t *testing.T) {
	if !CanBindBelow(40000) {
		t.Error("CanBindBelow(40000) = false; any process may bind a high port")
	}
	if os.Geteuid() == 0 && !CanBindBelow(80) {
		t.Error("root cannot bind port 80?")
	}
}

func TestDropIsANoOpWithoutRootOrUser(t *testing.T) {
	who, err := Drop("", t.TempDir())
	if err != nil || who != "" {
		t.Errorf(`Drop("") = %q, %v; want no change`, who, err)
	}
	if os.Geteuid() != 0 {
		who, err := Drop("nobody", t.TempDir())
		if err != nil || who != "" {
			t.Errorf(`Drop("nobody") as non-root = %q, %v; want no change`, who, err)
		}
	}
}

func TestDropUnknownUserNamesTheFix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root looks the user up")
	}
	_, err := Drop("no-such-user-smallpot", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "run_as") {
		t.Errorf("Drop(unknown user) = %v, want an error naming run_as", err)
	}
}
