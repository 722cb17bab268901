package ftp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"time"
)

// The fake file system: a small tree in memory, one per session, built
// from the persona's files. What a client changes (uploads, MKD, DELE,
// RNTO) lives only in that session's tree; uploaded bytes go to the sample
// store, and a bounded copy may stay in memory so that a client reading
// back what it wrote gets it.

// node is one file or directory.
type node struct {
	name     string // as created (case kept)
	dir      bool
	size     int64
	mod      time.Time
	readOnly bool
	// content holds the file's bytes when they are known (configured
	// content, or an upload kept for read-back); nil files are generated
	// from their name and size.
	content []byte
	// uploaded marks a file a client wrote; its bytes are content, or
	// unavailable when they were not kept.
	uploaded bool
	// exec marks a program (in a bin directory, or a script).
	exec     bool
	children []*node
}

// fakeFS is a session's tree.
type fakeFS struct {
	root *node
	// fold makes names case-insensitive, as on Windows.
	fold bool
	// created counts entries a client made, bounded by maxCreated.
	created int
}

// maxCreated bounds the entries one session may add (STOR, MKD loops).
const maxCreated = 512

// File is one entry of the persona's fake file system.
type File struct {
	// Path is absolute with "/" separators; a trailing "/" makes a
	// directory. Parent directories are created as needed.
	Path string `yaml:"path"`
	// Size of a file whose Content is empty: its bytes are generated,
	// plausible for its extension (an MZ header for .exe, text for .txt).
	Size int64 `yaml:"size,omitempty"`
	// Content is the file's text, when given.
	Content string `yaml:"content,omitempty"`
	// Time is the modification time (RFC 3339); "" takes the persona's
	// install time.
	Time     string `yaml:"time,omitempty"`
	ReadOnly bool   `yaml:"read_only,omitempty"`
}

func newFS(files []File, installed time.Time, fold bool) (*fakeFS, error) {
	fs := &fakeFS{root: &node{name: "/", dir: true, mod: installed}, fold: fold}
	for _, f := range files {
		mod := installed
		if f.Time != "" {
			t, err := time.Parse(time.RFC3339, f.Time)
			if err != nil {
				return nil, fmt.Errorf("ftp: persona.files %s: time %q: want RFC 3339", f.Path, f.Time)
			}
			mod = t
		}
		p := path.Clean(f.Path)
		if !strings.HasPrefix(f.Path, "/") || p == "/" {
			return nil, fmt.Errorf("ftp: persona.files: path %q: want an absolute path below /", f.Path)
		}
		parent, err := fs.mkdirAll(path.Dir(p), mod)
		if err != nil {
			return nil, err
		}
		name := path.Base(p)
		if fs.child(parent, name) != nil {
			return nil, fmt.Errorf("ftp: persona.files: %q given twice", f.Path)
		}
		n := &node{name: name, mod: mod, readOnly: f.ReadOnly, exec: isExecutable(p)}
		switch {
		case strings.HasSuffix(f.Path, "/"):
			n.dir = true
		case f.Content != "":
			n.content = []byte(f.Content)
			n.size = int64(len(n.content))
		default:
			n.size = f.Size
		}
		parent.children = append(parent.children, n)
	}
	return fs, nil
}

// clone copies the tree for a session. File contents are shared: they
// are never written in place (an upload replaces a node's content).
func (fs *fakeFS) clone() *fakeFS {
	return &fakeFS{root: fs.root.clone(), fold: fs.fold, created: fs.created}
}

func (n *node) clone() *node {
	c := *n
	c.children = make([]*node, len(n.children))
	for i, ch := range n.children {
		c.children[i] = ch.clone()
	}
	return &c
}

func (fs *fakeFS) mkdirAll(p string, mod time.Time) (*node, error) {
	cur := fs.root
	if p == "/" {
		return cur, nil
	}
	for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		next := fs.child(cur, el)
		if next == nil {
			next = &node{name: el, dir: true, mod: mod}
			cur.children = append(cur.children, next)
		}
		if !next.dir {
			return nil, fmt.Errorf("ftp: persona.files: %q is a file and a directory", p)
		}
		cur = next
	}
	return cur, nil
}

func (fs *fakeFS) same(a, b string) bool {
	if fs.fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func (fs *fakeFS) child(dir *node, name string) *node {
	for _, c := range dir.children {
		if fs.same(c.name, name) {
			return c
		}
	}
	return nil
}

// lookup finds a clean absolute path.
func (fs *fakeFS) lookup(p string) *node {
	cur := fs.root
	if p == "/" {
		return cur
	}
	for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if !cur.dir {
			return nil
		}
		if cur = fs.child(cur, el); cur == nil {
			return nil
		}
	}
	return cur
}

// canonical spells a path that exists with its entries' own names (the
// case they were created with).
func (fs *fakeFS) canonical(p string) string {
	if p == "/" {
		return p
	}
	cur, out := fs.root, ""
	for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if cur = fs.child(cur, el); cur == nil {
			return p
		}
		out += "/" + cur.name
	}
	return out
}

// lookupParent finds the directory a new entry at p would go in.
func (fs *fakeFS) lookupParent(p string) (*node, string) {
	dir := fs.lookup(path.Dir(p))
	if dir == nil || !dir.dir {
		return nil, ""
	}
	return dir, path.Base(p)
}

// fsErr is why a file operation failed, as the persona words it.
type fsErr int

const (
	errNone     fsErr = iota
	errNotFound       // the last element is missing
	errNoPath         // a directory on the way is missing
	errDenied         // exists but may not be used that way
	errExists         // the target already exists
	errNotEmpty       // RMD of a directory with entries
	errFull           // the session made too many entries
	errBusy           // an upload whose bytes were not kept
)

func (fs *fakeFS) missing(p string) fsErr {
	if d := fs.lookup(path.Dir(p)); d == nil || !d.dir {
		return errNoPath
	}
	return errNotFound
}

// create adds (or, with truncate, replaces) a file for an upload. It
// returns the node to fill.
func (fs *fakeFS) create(p string, mod time.Time, appendTo bool) (*node, fsErr) {
	if p == "/" {
		return nil, errDenied
	}
	dir, name := fs.lookupParent(p)
	if dir == nil {
		return nil, errNoPath
	}
	if dir.readOnly {
		return nil, errDenied
	}
	if n := fs.child(dir, name); n != nil {
		if n.dir || n.readOnly {
			return nil, errDenied
		}
		if !appendTo {
			n.size, n.content = 0, nil
		}
		n.uploaded, n.mod = true, mod
		return n, errNone
	}
	if fs.created >= maxCreated {
		return nil, errFull
	}
	fs.created++
	n := &node{name: name, mod: mod, uploaded: true}
	dir.children = append(dir.children, n)
	return n, errNone
}

func (fs *fakeFS) mkdir(p string, mod time.Time) fsErr {
	if fs.lookup(p) != nil {
		return errExists
	}
	dir, name := fs.lookupParent(p)
	if dir == nil {
		return errNoPath
	}
	if dir.readOnly {
		return errDenied
	}
	if fs.created >= maxCreated {
		return errFull
	}
	fs.created++
	dir.children = append(dir.children, &node{name: name, dir: true, mod: mod})
	return errNone
}

// remove deletes a file (dir false) or an empty directory (dir true).
func (fs *fakeFS) remove(p string, dir bool) fsErr {
	n := fs.lookup(p)
	switch {
	case n == nil:
		return fs.missing(p)
	case p == "/" || n.readOnly || n.dir != dir:
		return errDenied
	case dir && len(n.children) > 0:
		return errNotEmpty
	}
	parent := fs.lookup(path.Dir(p))
	if parent.readOnly {
		return errDenied
	}
	parent.children = slices.DeleteFunc(parent.children, func(c *node) bool { return c == n })
	return errNone
}

func (fs *fakeFS) rename(from, to string) fsErr {
	n := fs.lookup(from)
	if n == nil {
		return fs.missing(from)
	}
	if from == "/" || n.readOnly {
		return errDenied
	}
	if fs.lookup(to) != nil {
		return errExists
	}
	dir, name := fs.lookupParent(to)
	if dir == nil {
		return errNoPath
	}
	if to == from || strings.HasPrefix(to, from+"/") || dir.readOnly {
		return errDenied
	}
	parent := fs.lookup(path.Dir(from))
	parent.children = slices.DeleteFunc(parent.children, func(c *node) bool { return c == n })
	n.name = name
	dir.children = append(dir.children, n)
	return errNone
}

// entries lists what LIST or NLST shows for a resolved target: a
// directory's entries, one file, or the matches of a wildcard in the last
// element. ok is false when nothing is there.
func (fs *fakeFS) entries(p string) ([]*node, bool) {
	if hasWildcard(p) {
		dir := fs.lookup(path.Dir(p))
		if dir == nil || !dir.dir {
			return nil, false
		}
		pat := path.Base(p)
		var out []*node
		for _, c := range dir.children {
			name, pt := c.name, pat
			if fs.fold {
				name, pt = strings.ToLower(name), strings.ToLower(pt)
			}
			if ok, err := path.Match(pt, name); ok && err == nil {
				out = append(out, c)
			}
		}
		fs.sort(out)
		return out, len(out) > 0
	}
	n := fs.lookup(p)
	if n == nil {
		return nil, false
	}
	if !n.dir {
		return []*node{n}, true
	}
	out := slices.Clone(n.children)
	fs.sort(out)
	return out, true
}

func (fs *fakeFS) sort(ns []*node) {
	slices.SortFunc(ns, func(a, b *node) int {
		x, y := a.name, b.name
		if fs.fold {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y)
	})
}

// Listing formats.

// listMSDOS is IIS's default "MSDOS-like" line:
//
//	06-21-01  09:32AM       <DIR>          pub
//	06-21-01  09:32AM                 1543 readme.txt
func listMSDOS(n *node) string {
	t := n.mod
	h, ampm := t.Hour(), "AM"
	if h >= 12 {
		ampm = "PM"
	}
	if h = h % 12; h == 0 {
		h = 12
	}
	head := fmt.Sprintf("%02d-%02d-%02d  %02d:%02d%s", int(t.Month()), t.Day(), t.Year()%100, h, t.Minute(), ampm)
	if n.dir {
		return head + "       <DIR>          " + n.name
	}
	return fmt.Sprintf("%s %20d %s", head, n.size, n.name)
}

// listIISUnix is IIS's line after SITE DIRSTYLE:
//
//	drwxrwxrwx   1 owner    group               0 Jun 21  2001 pub
func listIISUnix(n *node, now time.Time) string {
	mode := "-rwxrwxrwx"
	switch {
	case n.dir:
		mode = "drwxrwxrwx"
	case n.readOnly:
		mode = "-r-xr-xr-x"
	}
	return fmt.Sprintf("%s   1 owner    group %15d %s %s", mode, n.size, unixDate(n.mod, now, true), n.name)
}

// listBusyBox is BusyBox ls -l's line:
//
//	drwxr-xr-x    2 root     root             0 Jan  1  2000 bin
func listBusyBox(n *node, now time.Time) string {
	mode, links := "-rw-r--r--", 1
	switch {
	case n.dir:
		mode, links = "drwxr-xr-x", 2
	case n.readOnly:
		mode = "-r--r--r--"
	case n.exec:
		mode = "-rwxr-xr-x"
	}
	return fmt.Sprintf("%-10s %4d %-8s %-8s %9d %s %s", mode, links, "root", "root", n.size, unixDate(n.mod, now, false), n.name)
}

// unixDate is ls's date column: "Mon dd hh:mm" for the last six months,
// "Mon dd  yyyy" before. IIS writes the hour without a leading zero.
func unixDate(t, now time.Time, iis bool) string {
	age := now.Sub(t)
	if age < 365*24*time.Hour/2 && age > -15*time.Minute {
		if iis {
			return fmt.Sprintf("%s %2d %2d:%02d", t.Format("Jan"), t.Day(), t.Hour(), t.Minute())
		}
		return t.Format("Jan _2 15:04")
	}
	return fmt.Sprintf("%s %2d %5d", t.Format("Jan"), t.Day(), t.Year())
}

// isExecutable tells programs by where they live or what they are.
func isExecutable(p string) bool {
	switch path.Base(path.Dir(p)) {
	case "bin", "sbin":
		return true
	}
	ext := strings.ToLower(path.Ext(p))
	return ext == ".sh" || ext == ".cgi"
}

// Content.

// contentOf returns a file's bytes: its own when known, else bytes
// generated from its path and size so that a client fetching it gets what
// such a file looks like, the same every time.
func contentOf(p string, n *node, arm bool) []byte {
	if n.content != nil {
		return n.content
	}
	return generate(p, n.size, arm && n.exec)
}

// generate makes size bytes that look like a file named p; elf makes an
// extension-less file an ARM program.
func generate(p string, size int64, elf bool) []byte {
	h := fnv.New64a()
	h.Write([]byte(p))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, uint64(size)))
	out := make([]byte, size)
	ext := strings.ToLower(path.Ext(p))
	switch ext {
	case ".txt", ".log", ".ini", ".msg", ".htm", ".html", ".bat", ".cfg", ".conf", ".sh":
		fillText(out, rng, ext)
		return out
	}
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	var head []byte
	switch ext {
	case ".exe", ".dll", ".sys", ".com", ".ocx", ".scr":
		head = mzHeader()
	case ".zip":
		head = []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")
	case ".gz", ".tgz":
		head = []byte{0x1f, 0x8b, 0x08, 0x00}
	case "":
		if elf {
			head = elfHeader()
		}
	}
	copy(out, head)
	return out
}

var words = strings.Fields(`the server files update service setup version release notes please
contact administrator for access directory upload download support install windows system network
configuration backup data report daily log entry status ok user account changes`)

func fillText(out []byte, rng *rand.Rand, ext string) {
	var b bytes.Buffer
	nl := "\r\n"
	if ext == ".sh" || ext == ".conf" || ext == ".cfg" {
		nl = "\n"
	}
	for b.Len() < len(out) {
		n := 4 + rng.IntN(9)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteString("." + nl)
	}
	copy(out, b.Bytes())
	if len(out) >= len(nl) {
		copy(out[len(out)-len(nl):], nl)
	}
}

// mzHeader is the start of a Windows PE file: DOS header, stub and the
// PE signature of an i386 executable.
func mzHeader() []byte {
	h := make([]byte, 0x98)
	copy(h, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8")
	h[0x18] = 0x40
	binary.LittleEndian.PutUint32(h[0x3c:], 0x80)
	copy(h[0x40:], "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$")
	copy(h[0x80:], "PE\x00\x00\x4c\x01\x03\x00")
	return h
}

// elfHeader is the start of a 32-bit little-endian ARM executable, what
// an embedded box's binaries are.
func elfHeader() []byte {
	h := make([]byte, 0x34)
	copy(h, "\x7fELF\x01\x01\x01\x00")
	binary.LittleEndian.PutUint16(h[0x10:], 2)    // executable
	binary.LittleEndian.PutUint16(h[0x12:], 0x28) // ARM
	binary.LittleEndian.PutUint32(h[0x14:], 1)
	return h
}
