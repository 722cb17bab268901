package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/smallpot/smallpot/internal/config"
)

// The runtime section sets the collector, unless GOGC or GOMEMLIMIT
// (the operator's environment) did.
func TestTuneRuntime(t *testing.T) {
	gc, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	defer func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(lim) }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := config.Runtime{GCPercent: 321, MemoryLimit: 123 << 20}

	tuneRuntime(r, func(string) string { return "" }, log)
	if got := debug.SetGCPercent(100); got != 321 {
		t.Errorf("GC percent %d, want 321", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 123<<20 {
		t.Errorf("memory limit %d, want %d", got, 123<<20)
	}

	env := map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}
	tuneRuntime(r, func(k string) string { return env[k] }, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC set; want it left (100)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d with GOMEMLIMIT set; want it left", got)
	}

	tuneRuntime(config.Runtime{GCPercent: 200}, func(string) string { return "" }, log)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d for memory_limit 0; want none", got)
	}
}
