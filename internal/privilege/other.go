//go:build !linux

package privilege

import "runtime"

// CanBindBelow reports whether this process may bind port. Outside Linux
// only root may bind below 1024 on Unix; Windows has no such rule.
func CanBindBelow(port int) bool {
	if runtime.GOOS == "windows" || port >= 1024 {
		return true
	}
	return IsRoot()
}
