//go:build !unix

package privilege

// IsRoot reports whether the process runs as root; never on this system.
func IsRoot() bool { return false }

// Drop does nothing where there is no root to give up.
func Drop(name, dataDir string) (string, error) { return "", nil }
