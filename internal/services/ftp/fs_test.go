package ftp

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

var (
	t2001 = time.Date(2000, 7, 2, 16, 5, 41, 0, time.UTC)
	t0am  = time.Date(2001, 9, 5, 0, 45, 0, 0, time.UTC)
)

func TestListingFormats(t *testing.T) {
	now := fixedNow
	dir := &node{name: "pub", dir: true, mod: t2001}
	file := &node{name: "readme.txt", size: 1543, mod: t2001}
	recent := &node{name: "new.exe", size: 94208, mod: t0am}
	ro := &node{name: "ro.dat", size: 7, mod: t2001, readOnly: true}
	prog := &node{name: "busybox", size: 617216, mod: t2001, exec: true}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"msdos dir", listMSDOS(dir), "07-02-00  04:05PM       <DIR>          pub"},
		{"msdos file", listMSDOS(file), "07-02-00  04:05PM                 1543 readme.txt"},
		{"msdos midnight", listMSDOS(recent), "09-05-01  12:45AM                94208 new.exe"},
		{"iis unix dir", listIISUnix(dir, now), "drwxrwxrwx   1 owner    group               0 Jul  2  2000 pub"},
		{"iis unix recent", listIISUnix(recent, now), "-rwxrwxrwx   1 owner    group           94208 Sep  5  0:45 new.exe"},
		{"iis unix read-only", listIISUnix(ro, now), "-r-xr-xr-x   1 owner    group               7 Jul  2  2000 ro.dat"},
		{"busybox dir", listBusyBox(dir, now), "drwxr-xr-x    2 root     root             0 Jul  2  2000 pub"},
		{"busybox recent", listBusyBox(recent, now), "-rw-r--r--    1 root     root         94208 Sep  5 00:45 new.exe"},
		{"busybox program", listBusyBox(prog, now), "-rwxr-xr-x    1 root     root        617216 Jul  2  2000 busybox"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
}

func testFS(t *testing.T, fold bool) *fakeFS {
	t.Helper()
	fs, err := newFS([]File{
		{Path: "/pub/"}, {Path: "/pub/a.txt", Size: 10}, {Path: "/pub/B.exe", Size: 100},
		{Path: "/pub/sub/c.zip", Size: 5}, {Path: "/ro/", ReadOnly: true}, {Path: "/ro/locked.txt", Content: "x", ReadOnly: true},
	}, t2001, fold)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func names(ns []*node) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.name)
	}
	return strings.Join(s, ",")
}

func TestEntries(t *testing.T) {
	win := testFS(t, true)
	unix := testFS(t, false)
	tests := []struct {
		fs   *fakeFS
		p    string
		want string
		ok   bool
	}{
		{win, "/", "pub,ro", true},
		{win, "/pub", "a.txt,B.exe,sub", true},
		{unix, "/pub", "B.exe,a.txt,sub", true},
		{win, "/PUB/*.EXE", "B.exe", true},
		{unix, "/pub/*.EXE", "", false},
		{win, "/pub/?.txt", "a.txt", true},
		{win, "/pub/a.txt", "a.txt", true},
		{win, "/pub/[", "", false},
		{win, "/nosuch", "", false},
		{win, "/nosuch/*", "", false},
	}
	for _, tt := range tests {
		ns, ok := tt.fs.entries(tt.p)
		if names(ns) != tt.want || ok != tt.ok {
			t.Errorf("entries(%q, fold=%v) = %q %v, want %q %v", tt.p, tt.fs.fold, names(ns), ok, tt.want, tt.ok)
		}
	}
}

func TestFSChanges(t *testing.T) {
	fs := testFS(t, true)
	now := fixedNow
	steps := []struct {
		name string
		do   func() fsErr
		want fsErr
	}{
		{"mkdir", func() fsErr { return fs.mkdir("/pub/new", now) }, errNone},
		{"mkdir again, other case", func() fsErr { return fs.mkdir("/PUB/NEW", now) }, errExists},
		{"mkdir without parent", func() fsErr { return fs.mkdir("/x/y", now) }, errNoPath},
		{"mkdir in read-only", func() fsErr { return fs.mkdir("/ro/d", now) }, errDenied},
		{"rmdir non-empty", func() fsErr { return fs.remove("/pub", true) }, errNotEmpty},
		{"rmdir a file", func() fsErr { return fs.remove("/pub/a.txt", true) }, errDenied},
		{"delete a dir", func() fsErr { return fs.remove("/pub/new", false) }, errDenied},
		{"delete missing", func() fsErr { return fs.remove("/pub/zzz", false) }, errNotFound},
		{"delete missing path", func() fsErr { return fs.remove("/zzz/a", false) }, errNoPath},
		{"delete read-only", func() fsErr { return fs.remove("/ro/locked.txt", false) }, errDenied},
		{"delete root", func() fsErr { return fs.remove("/", true) }, errDenied},
		{"rename", func() fsErr { return fs.rename("/pub/a.txt", "/pub/new/a2.txt") }, errNone},
		{"rename onto existing", func() fsErr { return fs.rename("/pub/B.exe", "/pub/sub/c.zip") }, errExists},
		{"rename dir into itself", func() fsErr { return fs.rename("/pub", "/pub/new/pub") }, errDenied},
		{"rename missing", func() fsErr { return fs.rename("/nope", "/n") }, errNotFound},
		{"rmdir empty", func() fsErr { return fs.remove("/pub/sub/c.zip", false) }, errNone},
		{"rmdir now empty", func() fsErr { return fs.remove("/pub/sub", true) }, errNone},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	if fs.lookup("/pub/new/a2.txt") == nil || fs.lookup("/pub/a.txt") != nil {
		t.Error("rename did not move the file")
	}
	if _, e := fs.create("/pub/new", now, false); e != errDenied {
		t.Errorf("STOR onto a directory: %v", e)
	}
	if _, e := fs.create("/nodir/x", now, false); e != errNoPath {
		t.Errorf("STOR into a missing directory: %v", e)
	}
	for i := fs.created; i < maxCreated; i++ {
		if e := fs.mkdir("/d"+strconv.Itoa(i), now); e != errNone {
			t.Fatalf("mkdir %d: %v", i, e)
		}
	}
	if e := fs.mkdir("/one-too-many", now); e != errFull {
		t.Errorf("past maxCreated: %v, want errFull", e)
	}
}

func TestGenerate(t *testing.T) {
	exe := generate("/pub/update.exe", 4096, false)
	if len(exe) != 4096 || !bytes.HasPrefix(exe, []byte("MZ")) || !bytes.Contains(exe, []byte("PE\x00\x00")) {
		t.Errorf("exe starts %q", exe[:16])
	}
	if !bytes.Equal(exe, generate("/pub/update.exe", 4096, false)) {
		t.Error("the same file generated twice differs")
	}
	if bytes.Equal(exe, generate("/pub/other.exe", 4096, false)) {
		t.Error("two files generated the same bytes")
	}
	txt := generate("/pub/readme.txt", 300, false)
	if len(txt) != 300 || !bytes.HasSuffix(txt, []byte("\r\n")) || bytes.ContainsFunc(txt, func(r rune) bool { return r != '\r' && r != '\n' && (r < ' ' || r > '~') }) {
		t.Errorf("text %q", txt)
	}
	if elf := generate("/bin/busybox", 100, true); !bytes.HasPrefix(elf, []byte("\x7fELF\x01\x01\x01")) || elf[0x12] != 0x28 {
		t.Errorf("ARM program starts %q", elf[:20])
	}
	if z := generate("/x.zip", 2, false); len(z) != 2 || string(z) != "PK" {
		t.Errorf("a short file keeps its size: %q", z)
	}
	if len(generate("/empty.exe", 0, false)) != 0 {
		t.Error("an empty file is not empty")
	}
}

func TestDefaultFilesFit(t *testing.T) {
	for _, p := range service.Profiles {
		c := DefaultConfig(p)
		if _, err := newFS(c.Persona.Files, c.installed(), c.fold()); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
