package shell

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// LinuxOptions shape the fake disk of an embedded Linux box.
type LinuxOptions struct {
	// Release is the date of the firmware's files.
	Release time.Time
	// Arch is the processor: mipsel (the default), mips, armv5l, armv7l,
	// aarch64, i686 or x86_64. It decides the ELF header of the system
	// binaries (droppers read it with `cat /bin/echo` to pick their
	// build) and /proc/cpuinfo.
	Arch string
	// Hostname goes to /etc/hostname and /proc/sys/kernel/hostname.
	Hostname string
	// Kernel is the release in /proc/version ("2.6.36").
	Kernel string
	// KernelBuild is the build string of uname -v ("#1 Mon Jun 17 ...").
	KernelBuild string
}

func (o *LinuxOptions) defaults() {
	if o.Release.IsZero() {
		o.Release = time.Date(2013, 6, 17, 10, 45, 24, 0, time.UTC)
	}
	if o.Arch == "" {
		o.Arch = "mipsel"
	}
	if o.Hostname == "" {
		o.Hostname = "(none)"
	}
	if o.Kernel == "" {
		o.Kernel = "2.6.36"
	}
	if o.KernelBuild == "" {
		o.KernelBuild = "#1 Mon Jun 17 10:49:02 CST 2013"
	}
}

// UnameMachine is what `uname -m` prints for an Arch.
func UnameMachine(arch string) string {
	switch arch {
	case "", "mipsel", "mips":
		return "mips"
	}
	return arch
}

// KnownArch reports whether LinuxTree knows arch.
func KnownArch(arch string) bool {
	switch arch {
	case "mipsel", "mips", "armv5l", "armv7l", "aarch64", "i686", "x86_64":
		return true
	}
	return false
}

// BusyBox's applets, by the directory their link lives in.
var busyboxLinks = map[string][]string{
	"bin": {"ash", "cat", "chmod", "cp", "date", "dd", "df", "dmesg", "echo", "egrep", "false", "fgrep",
		"grep", "hostname", "kill", "ln", "login", "ls", "mkdir", "mknod", "mount", "mv", "netstat", "ping",
		"ps", "pwd", "rm", "rmdir", "sed", "sh", "sleep", "sync", "touch", "true", "umount", "uname", "vi"},
	"sbin": {"halt", "ifconfig", "init", "insmod", "klogd", "lsmod", "poweroff", "reboot", "rmmod",
		"route", "syslogd", "udhcpc"},
	"usr/bin": {"[", "[[", "awk", "basename", "cut", "dirname", "env", "expr", "free", "ftpget", "ftpput",
		"head", "id", "killall", "md5sum", "nslookup", "printf", "tail", "test", "tftp", "top", "tr",
		"uptime", "wc", "wget", "which", "whoami", "xargs"},
	"usr/sbin": {"brctl", "chroot", "telnetd"},
}

// Applets lists the applets of the fake BusyBox, sorted.
func Applets() []string {
	var out []string
	for _, l := range busyboxLinks {
		out = append(out, l...)
	}
	out = append(out, "busybox")
	slices.Sort(out)
	return out
}

// linuxFile is one entry of the fake disk: a directory when size < 0.
type linuxFile struct {
	path string
	size int64
	mode uint32
}

var linuxFiles = []linuxFile{
	{"/dev/console", 0, 0600}, {"/dev/null", 0, 0666}, {"/dev/zero", 0, 0666}, {"/dev/ptmx", 0, 0666},
	{"/dev/tty", 0, 0666}, {"/dev/ttyS0", 0, 0660}, {"/dev/urandom", 0, 0666}, {"/dev/random", 0, 0666},
	{"/dev/mtd0", 0, 0644}, {"/dev/mtd1", 0, 0644}, {"/dev/mtd2", 0, 0644}, {"/dev/mtd3", 0, 0644},
	{"/dev/mtdblock0", 0, 0644}, {"/dev/mtdblock1", 0, 0644}, {"/dev/mtdblock2", 0, 0644}, {"/dev/mtdblock3", 0, 0644},
	{"/dev/watchdog", 0, 0600}, {"/dev/pts", -1, 0755}, {"/dev/shm", -1, 01777},
	{"/etc/config", -1, 0755}, {"/etc/init.d/rcS", 612, 0755}, {"/etc/ppp", -1, 0755},
	{"/home", -1, 0755}, {"/lib/ld-uClibc.so.0", 21968, 0755}, {"/lib/libc.so.0", 405572, 0755},
	{"/lib/libcrypt.so.0", 16984, 0755}, {"/lib/libgcc_s.so.1", 73364, 0644}, {"/lib/libm.so.0", 65796, 0755},
	{"/lib/libpthread.so.0", 71472, 0755}, {"/lib/modules", -1, 0755}, {"/mnt", -1, 0755},
	{"/proc/1", -1, 0555}, {"/proc/net", -1, 0555}, {"/proc/sys/kernel", -1, 0555}, {"/root", -1, 0700},
	{"/sys/class", -1, 0755}, {"/sys/devices", -1, 0755}, {"/sys/kernel", -1, 0755},
	{"/tmp", -1, 01777}, {"/usr/lib", -1, 0755}, {"/usr/share/udhcpc/default.script", 1012, 0755},
	{"/var/lock", -1, 0755}, {"/var/log", -1, 0755}, {"/var/run", -1, 0755}, {"/var/tmp", -1, 01777},
	{"/usr/sbin/iptables", 67024, 0755}, {"/usr/sbin/dropbear", 248400, 0755}, {"/usr/sbin/goahead", 412336, 0755},
}

func linuxText(o LinuxOptions) map[string]string {
	return map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
			"bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" +
			"admin:x:1000:1000:admin:/home:/bin/sh\n",
		"/etc/shadow": "root:$1$mT3pX9qa$Kx0Fd7eVbqZr2L8YcNw1J.:15873:0:99999:7:::\ndaemon:*:15873:0:99999:7:::\n" +
			"bin:*:15873:0:99999:7:::\nsys:*:15873:0:99999:7:::\nnobody:*:15873:0:99999:7:::\n" +
			"admin:$1$Qe8rZ2vh$3uYw5BnA0cLpRt6Hs9DkM/:15873:0:99999:7:::\n",
		"/etc/group":       "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\nnogroup:x:65534:\nadmin:x:1000:\n",
		"/etc/hostname":    o.Hostname + "\n",
		"/etc/hosts":       "127.0.0.1\tlocalhost\n",
		"/etc/resolv.conf": "nameserver 192.168.1.1\n",
		"/etc/fstab": "proc\t/proc\tproc\tdefaults\t0\t0\nsysfs\t/sys\tsysfs\tdefaults\t0\t0\n" +
			"tmpfs\t/tmp\ttmpfs\tdefaults\t0\t0\ntmpfs\t/var\ttmpfs\tdefaults\t0\t0\n",
		"/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:-/bin/sh\ntty2::askfirst:-/bin/sh\n" +
			"::ctrlaltdel:/bin/umount -a -r\n::shutdown:/bin/umount -a -r\n",
		"/etc/profile": "PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PATH\nulimit -c 0\n",
		"/etc/shells":  "/bin/sh\n/bin/ash\n",
		"/proc/mounts": "rootfs / rootfs rw 0 0\n/dev/root / squashfs ro,relatime 0 0\nproc /proc proc rw,relatime 0 0\n" +
			"sysfs /sys sysfs rw,relatime 0 0\ntmpfs /tmp tmpfs rw,relatime 0 0\ntmpfs /var tmpfs rw,relatime 0 0\n" +
			"tmpfs /dev tmpfs rw,relatime 0 0\ndevpts /dev/pts devpts rw,relatime,mode=600 0 0\n" +
			"/dev/mtdblock3 /etc/config jffs2 rw,relatime 0 0\n",
		"/proc/version": "Linux version " + o.Kernel + " (builder@buildhost) (gcc version 4.6.3 (Buildroot 2012.11.1) ) " +
			o.KernelBuild + "\n",
		"/proc/cpuinfo": cpuinfo(o.Arch),
		"/proc/meminfo": "MemTotal:          29164 kB\nMemFree:            3380 kB\nBuffers:            1932 kB\n" +
			"Cached:             8720 kB\nSwapCached:            0 kB\nActive:             9796 kB\nInactive:           5272 kB\n" +
			"SwapTotal:             0 kB\nSwapFree:              0 kB\n",
		"/proc/uptime":              "352841.27 345201.83\n",
		"/proc/loadavg":             "0.08 0.03 0.01 1/43 4511\n",
		"/proc/cmdline":             "console=ttyS1,57600n8 root=/dev/mtdblock2 rootfstype=squashfs\n",
		"/proc/1/cmdline":           "init\x00",
		"/proc/sys/kernel/hostname": o.Hostname + "\n",
		"/proc/net/tcp": "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
			"   0: 00000000:0017 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1372 1 81e7e000 300 0 0 2 -1\n" +
			"   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1401 1 81e7e380 300 0 0 2 -1\n",
	}
}

func cpuinfo(arch string) string {
	switch arch {
	case "armv5l":
		return "Processor\t: ARM926EJ-S rev 5 (v5l)\nBogoMIPS\t: 218.72\nFeatures\t: swp half thumb fastmult edsp java \n" +
			"CPU implementer\t: 0x41\nCPU architecture: 5TEJ\nCPU variant\t: 0x0\nCPU part\t: 0x926\nCPU revision\t: 5\n\n" +
			"Hardware\t: hi3518\nRevision\t: 0000\nSerial\t\t: 0000000000000000\n"
	case "armv7l":
		return "Processor\t: ARMv7 Processor rev 1 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 1594.16\n\n" +
			"Features\t: swp half thumb fastmult vfp edsp neon vfpv3 tls \nCPU implementer\t: 0x41\nCPU architecture: 7\n" +
			"CPU variant\t: 0x4\nCPU part\t: 0xc09\nCPU revision\t: 1\n\nHardware\t: Broadcom BCM5301x\nRevision\t: 0000\nSerial\t\t: 0000000000000000\n"
	case "aarch64":
		return "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n" +
			"CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n\n"
	case "i686", "x86_64":
		return "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 28\nmodel name\t: Intel(R) Atom(TM) CPU D410   @ 1.66GHz\n" +
			"stepping\t: 10\ncpu MHz\t\t: 1666.000\ncache size\t: 512 KB\nbogomips\t: 3333.52\n\n"
	}
	return "system type\t\t: MT7620\nmachine\t\t\t: Ralink MT7620A evaluation board\nprocessor\t\t: 0\n" +
		"cpu model\t\t: MIPS 24KEc V5.0\nBogoMIPS\t\t: 385.02\nwait instruction\t: yes\nmicrosecond timers\t: yes\n" +
		"tlb_entries\t\t: 32\nextra interrupt vector\t: yes\nhardware watchpoint\t: yes, count: 4, address/irw mask: [0x0ffc, 0x0ffc, 0x0ffb, 0x0ffb]\n" +
		"isa\t\t\t: mips1 mips2 mips32r1 mips32r2\nASEs implemented\t: mips16 dsp\nshadow register sets\t: 1\n" +
		"kscratch registers\t: 0\ncore\t\t\t: 0\nVCED exceptions\t\t: not available\nVCEI exceptions\t\t: not available\n\n"
}

// ELFHeader returns the ELF file header of a program built for arch: what
// `cat /bin/echo` shows a dropper that reads it to pick its build.
func ELFHeader(arch string) []byte {
	class, le := byte(1), true
	var machine uint16
	var flags uint32
	switch arch {
	case "mips":
		machine, flags, le = 8, 0x00001007, false
	case "armv5l":
		machine, flags = 40, 0x05000202
	case "armv7l":
		machine, flags = 40, 0x05000402
	case "aarch64":
		machine, class = 183, 2
	case "i686":
		machine = 3
	case "x86_64":
		machine, class = 62, 2
	default: // mipsel
		machine, flags = 8, 0x00001007
	}
	var bo binary.AppendByteOrder = binary.LittleEndian
	data := byte(1)
	if !le {
		bo, data = binary.BigEndian, 2
	}
	h := []byte{0x7f, 'E', 'L', 'F', class, data, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	h = bo.AppendUint16(h, 2) // ET_EXEC
	h = bo.AppendUint16(h, machine)
	h = bo.AppendUint32(h, 1)
	if class == 1 {
		h = bo.AppendUint32(h, 0x00404f40) // entry
		h = bo.AppendUint32(h, 52)         // program headers
		h = bo.AppendUint32(h, 0)          // no section headers
		h = bo.AppendUint32(h, flags)
		h = bo.AppendUint16(h, 52)
		h = bo.AppendUint16(h, 32)
		h = bo.AppendUint16(h, 7)
		h = bo.AppendUint16(h, 40)
	} else {
		h = bo.AppendUint64(h, 0x00403f10)
		h = bo.AppendUint64(h, 64)
		h = bo.AppendUint64(h, 0)
		h = bo.AppendUint32(h, flags)
		h = bo.AppendUint16(h, 64)
		h = bo.AppendUint16(h, 56)
		h = bo.AppendUint16(h, 7)
		h = bo.AppendUint16(h, 64)
	}
	h = bo.AppendUint16(h, 0)
	h = bo.AppendUint16(h, 0)
	return h
}

// busyboxSize is the size ls shows for /bin/busybox.
const busyboxSize = 867864

// LinuxTree returns the disk of a BusyBox-based router: the squashfs
// root with /bin/busybox and its applet links, /etc, /lib, and the
// virtual /proc, /dev and /sys an intruder reads first. Callers may Add
// their own files before handing the tree to FSs.
func LinuxTree(o LinuxOptions) *Tree {
	o.defaults()
	t := NewTree(false)
	mod := o.Release
	t.root.Mod, t.root.Mode = mod, 0755
	elf := ELFHeader(o.Arch)
	add := func(path string, n Node) {
		parts := UnixSplit(path)
		for i := 1; i < len(parts); i++ {
			if t.lookup(parts[:i]) == nil {
				t.Add(parts[:i], Node{Dir: true, Mod: mod, Mode: 0755})
			}
		}
		n.Mod = mod
		t.Add(parts, n)
	}
	add("/bin/busybox", Node{Program: "busybox", Data: elf, Mode: 0755})
	t.lookup([]string{"bin", "busybox"}).Size = busyboxSize
	for dir, names := range busyboxLinks {
		target := strings.Repeat("../", strings.Count(dir, "/")+1) + "bin/busybox"
		if dir == "bin" {
			target = "busybox"
		}
		for _, name := range names {
			add("/"+dir+"/"+name, Node{Program: "busybox", Data: elf, Mode: 0777, Link: target})
			t.lookup(UnixSplit("/" + dir + "/" + name)).Size = int64(len(target))
		}
	}
	for _, f := range linuxFiles {
		n := Node{Size: max(f.size, 0), Mode: f.mode}
		if f.size < 0 {
			n = Node{Dir: true, Mode: f.mode}
		}
		if strings.HasPrefix(f.path, "/usr/sbin/") || strings.HasPrefix(f.path, "/lib/") {
			n.Data = elf
		}
		add(f.path, n)
		if n.Data != nil {
			t.lookup(UnixSplit(f.path)).Size = f.size
		}
	}
	for path, text := range linuxText(o) {
		mode := uint32(0644)
		if strings.HasPrefix(path, "/proc/") {
			mode = 0444
		}
		if path == "/etc/shadow" {
			mode = 0600
		}
		add(path, Node{Data: []byte(text), Mode: mode})
		if strings.HasPrefix(path, "/proc/") {
			// Files under /proc list with size 0.
			t.lookup(UnixSplit(path)).Size = 0
		}
	}
	return t
}

// UnixSplit splits an absolute Unix path into FS parts.
func UnixSplit(p string) []string {
	return UnixResolve(nil, p)
}

// UnixResolve resolves name against the directory cwd (FS parts): "." and
// ".." are applied ("/.." is "/"), repeated slashes collapse, and a name
// starting with "/" is absolute.
func UnixResolve(cwd []string, name string) []string {
	var parts []string
	if !strings.HasPrefix(name, "/") {
		parts = append(parts, cwd...)
	}
	for _, seg := range strings.Split(name, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
			continue
		}
		parts = append(parts, seg)
	}
	return parts
}

// UnixJoin renders FS parts as a Unix path.
func UnixJoin(parts []string) string {
	return "/" + strings.Join(parts, "/")
}
