//go:build linux

package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Targets for Smallpot against the bare Go server.
const (
	targetCPURatio  = 1.25 // at most, CPU time per connection
	targetRateRatio = 0.8  // at least, connections per second
	targetIdleKiB   = 8.0  // at most, RSS per idle connection
)

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "**FAIL**"
}

// thousands formats n with thin commas: 12345 -> 12,345.
func thousands(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (m *measurement) markdown() string {
	o := m.opts
	var rate, cpu [2]float64
	for i := range 2 {
		var r, c []float64
		for _, res := range m.rounds[i] {
			r = append(r, res.perSecond())
			c = append(c, res.cpuMicros(m.hz))
		}
		rate[i], cpu[i] = median(r), median(c)
	}
	var respBytes [2]float64
	for i := range 2 {
		var b []float64
		for _, res := range m.rounds[i] {
			b = append(b, res.responseBytes())
		}
		respBytes[i] = median(b)
	}
	idleA, idleB := m.idle[0].perConnKiB(), m.idle[1].perConnKiB()
	// Each subject round is paired with the bare round that follows it;
	// the ratios are the medians of the pairs' ratios, so that a burst of
	// load from elsewhere moves both sides of a pair alike.
	var rr, cr []float64
	for r := range min(len(m.rounds[0]), len(m.rounds[1])) {
		a, b := m.rounds[0][r], m.rounds[1][r]
		rr = append(rr, a.perSecond()/b.perSecond())
		cr = append(cr, a.cpuMicros(m.hz)/b.cpuMicros(m.hz))
	}
	rateRatio, cpuRatio := median(rr), median(cr)

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Performance\n\n")
	w("Measured %s with `go run ./bench -out docs/performance.md` (see `bench/README.md`).\n\n", m.date.Format("2006-01-02 15:04 MST"))
	hz := fmt.Sprintf("%d/s from `getconf CLK_TCK`", m.hz)
	if !m.hzRead {
		hz = fmt.Sprintf("%d/s assumed (`getconf CLK_TCK` failed)", m.hz)
	}
	w("- Machine: %s, %d cores, Linux %s, %s/%s; %s.\n", cpuModel(), runtime.NumCPU(), kernelRelease(), runtime.GOOS, runtime.GOARCH, goVersion())
	if m.subject == "Smallpot" {
		w("- Smallpot: the binary built from `./cmd/smallpot`, `smallpot run` with the http service alone on 127.0.0.1 " +
			"(default persona), capture and storage on as by default (SQLite database, `events.jsonl`, samples directory), log level warn.\n")
	} else {
		w("- Subject: a second bare Go server (`-subject bare`): the ratios show the harness's own noise.\n")
	}
	answer := fmt.Sprintf("a fixed %d-byte HTTP/1.0 response", len(bareResponse))
	switch {
	case m.subject == "Smallpot":
		answer = "a fixed response: the bytes Smallpot answered the same request with, fetched once before the rounds " +
			"(so both servers write and close alike)"
	case o.answer != "":
		answer = fmt.Sprintf("a fixed response, the bytes of %s", o.answer)
	}
	w("- Bare Go: a server in its own process that accepts, reads the request once (up to 1 KiB, so that its close is a FIN "+
		"and not a reset for unread data), writes %s and closes; one goroutine per connection.\n", answer)
	w("- Short exchanges: %d client workers in the harness's process, each repeating: new TCP connection, one %d-byte "+
		"`GET / HTTP/1.0` request, read the response to EOF, close with SO_LINGER 0 (a reset, so that no socket waits in TIME-WAIT). "+
		"Responses: %s bytes from %s, %s from bare Go. "+
		"%d rounds of %s (at most %s exchanges) per server, alternating between the servers. "+
		"The table shows each server's median over its rounds and, as ratio, the median of the ratios of each %s round to the bare round that follows it.\n",
		o.workers, len(request), thousands(respBytes[0]), m.subject, thousands(respBytes[1]),
		o.rounds, o.duration, thousands(float64(o.maxConns)), m.subject)
	niceNote := "The harness and both servers ran at the usual priority."
	if m.niced {
		niceNote = fmt.Sprintf("The harness and both servers ran at nice %d, so that other work on the machine disturbs them less.", o.nice)
		if m.autogroup {
			niceNote = fmt.Sprintf("The harness and both servers ran at nice %d, their autogroup (`/proc/self/autogroup`) too, "+
				"so that other work on the machine disturbs them less.", o.nice)
		}
	}
	w("- CPU per connection: the server's utime+stime from `/proc/PID/stat` (clock ticks, %s) over a round, until the server is idle again, "+
		"divided by the exchanges completed. The load generator shares the %d cores, so connections per second depend on it too; "+
		"CPU per connection is the steadier figure. %s Other processes (and hypervisor steal) used %.0f%% of the machine's CPU during the rounds.\n",
		hz, runtime.NumCPU(), niceNote, 100*max(m.otherLoad, 0))
	w("- Idle memory: VmRSS from `/proc/PID/status` before and after opening %s connections that send nothing, "+
		"once the server holds them all; (after − before) / %s.\n\n", thousands(float64(o.idle)), thousands(float64(o.idle)))

	w("| figure | %s | bare Go | ratio | target | result |\n", m.subject)
	w("|---|---:|---:|---:|---|---|\n")
	w("| connections per second | %s | %s | %.2f× | ≥ %.2f× | %s |\n", thousands(rate[0]), thousands(rate[1]),
		rateRatio, targetRateRatio, passFail(rateRatio >= targetRateRatio))
	w("| server CPU per connection | %.1f µs | %.1f µs | %.2f× | ≤ %.2f× | %s |\n", cpu[0], cpu[1],
		cpuRatio, targetCPURatio, passFail(cpuRatio <= targetCPURatio))
	w("| RSS per idle connection (%s open) | %.2f KiB | %.2f KiB | %.2f× | ≤ %.0f KiB | %s |\n\n", thousands(float64(o.idle)),
		idleA, idleB, idleA/idleB, targetIdleKiB, passFail(idleA <= targetIdleKiB))

	w("Rounds (connections per second / CPU µs per connection):\n\n")
	w("| round | %s | bare Go | ratios |\n|---|---:|---:|---:|\n", m.subject)
	for r := range o.rounds {
		w("| %d |", r+1)
		for i := range 2 {
			res := m.rounds[i][r]
			w(" %s / %.1f", thousands(res.perSecond()), res.cpuMicros(m.hz))
			if res.failed > 0 {
				w(" (%d failed)", res.failed)
			}
			w(" |")
		}
		w(" %.2f× / %.2f× |\n", rr[r], cr[r])
	}
	w("\nIdle test: RSS %s → %s KiB (%s), %s → %s KiB (bare Go).\n",
		thousands(float64(m.idle[0].before)), thousands(float64(m.idle[0].after)), m.subject,
		thousands(float64(m.idle[1].before)), thousands(float64(m.idle[1].after)))
	if m.storage != "" {
		w("Stored by Smallpot over the whole run of %s connections: %s.\n", thousands(float64(m.conns[0])), m.storage)
	}
	w("Stopping: %s %s; bare Go %s.\n", m.subject, firstLine(m.stopped[0]), firstLine(m.stopped[1]))
	return b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
