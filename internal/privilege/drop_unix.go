//go:build unix

package privilege

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// IsRoot reports whether the process runs as root.
func IsRoot() bool { return os.Geteuid() == 0 }

// Drop makes a root process the user name, after making dataDir (and all
// in it) that user's, so the store keeps working. It does nothing when the
// process is not root or name is "" or "root". Call it after binding and
// before reading any network input.
func Drop(name, dataDir string) (string, error) {
	if os.Geteuid() != 0 || name == "" || name == "root" {
		return "", nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("run_as %q: %w — create that user or set run_as to an existing unprivileged user", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("run_as %q: unusable uid/gid %s/%s", name, u.Uid, u.Gid)
	}
	if dataDir != "" {
		err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return "", fmt.Errorf("make data directory writable for %s: %w", name, err)
		}
	}
	if err := syscall.Setgroups(nil); err != nil {
		return "", fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("drop privileges: setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("drop privileges: setuid: %w", err)
	}
	if syscall.Setuid(0) == nil {
		return "", fmt.Errorf("drop privileges: still able to become root after dropping to %s", name)
	}
	return fmt.Sprintf("%s (uid %d, gid %d)", name, uid, gid), nil
}
