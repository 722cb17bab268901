//go:build !linux

// Command bench measures Smallpot against a bare Go server; it reads
// /proc, so it runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: runs on Linux only (it reads /proc)")
	os.Exit(1)
}
