//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// read once from getconf; 100 on every common Linux build.
func clockTicks() (hz int, measured bool) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n, true
		}
	}
	return 100, false
}

// cpuTicks returns a process's user plus system time, in clock ticks,
// summed over all its threads (fields 14 and 15 of /proc/PID/stat).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	t, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	return t, nil
}

// parseStatCPU returns utime+stime from the text of /proc/PID/stat.
func parseStatCPU(b []byte) (int64, error) {
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command field")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 15-2 {
		return 0, fmt.Errorf("%d fields, want at least 15", len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err2 := strconv.ParseInt(f[15-3], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[14-3], f[15-3])
	}
	return utime + stime, nil
}

// statusKiB returns a "Name:   N kB" line of /proc/PID/status.
func statusKiB(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+":")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/%d/status: %s: %w", pid, name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("bench: /proc/%d/status: no %s line", pid, name)
}

// rssKiB is the resident set size of a process.
func rssKiB(pid int) (int64, error) { return statusKiB(pid, "VmRSS") }

// fdCount is the number of open file descriptors of a process.
func fdCount(pid int) (int, error) {
	d, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return len(d), nil
}

// fdSoftLimit is a process's soft limit on open files.
func fdSoftLimit(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if f[0] == "unlimited" {
					return 1 << 30, nil
				}
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("bench: /proc/%d/limits: no open-files line", pid)
}

// cpuModel is the processor's name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// kernelRelease is the running kernel's version.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// machineTicks returns the machine's busy and total CPU time, in clock
// ticks summed over all cores, from the first line of /proc/stat. Busy is
// everything but idle and iowait, steal (time the hypervisor gave to
// others) included.
func machineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("bench: /proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice],
	// guest time being counted in user already.
	for i, s := range f[1:9] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

// setNice gives every thread of this process the nice value n; threads
// started later, and child processes, inherit it from the thread that
// starts them. (On Linux nice is per thread, so setting it for the
// process id alone would leave the other threads as they were.)
func setNice(n int) error {
	for range 2 { // a thread started during the first pass gets the second
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("bench: nice %d: %w", n, err)
			}
		}
	}
	return nil
}

// setAutogroupNice sets the nice value of this process's autogroup and
// returns the one it had. With autogroups on (kernel.sched_autogroup_enabled),
// the scheduler first shares the CPU between sessions, each session's
// autogroup weighted by its own nice value, and only then between the
// threads of a session by theirs: a thread's nice alone does not shield it
// from another session's work.
func setAutogroupNice(n int) (prev int, err error) {
	const path = "/proc/self/autogroup"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	// "/autogroup-8 nice 0"
	f := strings.Fields(string(b))
	if len(f) != 3 || f[1] != "nice" {
		return 0, fmt.Errorf("bench: %s: unexpected %q", path, b)
	}
	if prev, err = strconv.Atoi(f[2]); err != nil {
		return 0, fmt.Errorf("bench: %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)), 0); err != nil {
		return 0, fmt.Errorf("bench: autogroup nice %d: %w", n, err)
	}
	return prev, nil
}
