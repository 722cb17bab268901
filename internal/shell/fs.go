package shell

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Node is a file or a directory of a fake file system.
type Node struct {
	Name   string
	Dir    bool
	Hidden bool // left out of plain listings (Windows hidden/system files)
	Size   int64
	Mod    time.Time
	// Program names the fake program an executable runs as ("cmd",
	// "tftp"); a copy of cmd.exe under another name is still "cmd".
	Program string
	// Data is the content when it is known; a file described only by its
	// size (a system binary, a fetched file) has none.
	Data []byte
	// Mode holds Unix permission bits (0755); 0 leaves them to the
	// dialect's default for the kind of entry.
	Mode uint32
	// Link is the target of a symbolic link ("busybox" for /bin/ls);
	// the entry otherwise reads as its target's copy.
	Link string

	kids  []*Node          // sorted by folded name; base trees only
	index map[string]*Node // folded name -> child; base trees only
}

// Tree is a base file system: built once, then shared read-only by every
// FS made from it, so a thousand attackers' sessions hold one copy of the
// fake host's files and only their own changes.
type Tree struct {
	root *Node
	fold bool
}

// NewTree returns an empty tree. With fold, names compare without regard
// to case (Windows).
func NewTree(fold bool) *Tree {
	return &Tree{root: &Node{Dir: true, index: map[string]*Node{}}, fold: fold}
}

func (t *Tree) norm(name string) string {
	if t.fold {
		return strings.ToLower(name)
	}
	return name
}

// Add puts n at parts (its last element names it), creating missing
// directories with n's time. Add must not be called once the tree is in
// use by an FS.
func (t *Tree) Add(parts []string, n Node) {
	if len(parts) == 0 {
		return
	}
	dir := t.root
	for _, p := range parts[:len(parts)-1] {
		next := dir.index[t.norm(p)]
		if next == nil {
			next = &Node{Name: p, Dir: true, Mod: n.Mod, index: map[string]*Node{}}
			t.insert(dir, next)
		}
		dir = next
	}
	name := parts[len(parts)-1]
	c := n
	c.Name = name
	if c.Data != nil {
		c.Size = int64(len(c.Data))
	}
	if c.Dir && c.index == nil {
		c.index = map[string]*Node{}
	}
	if old := dir.index[t.norm(name)]; old != nil {
		// Replace in place, keeping children of a directory.
		kids, index := old.kids, old.index
		*old = c
		if old.Dir {
			old.kids, old.index = kids, index
		}
		return
	}
	t.insert(dir, &c)
}

func (t *Tree) insert(dir, n *Node) {
	k := t.norm(n.Name)
	dir.index[k] = n
	i, _ := slices.BinarySearchFunc(dir.kids, k, func(a *Node, k string) int { return strings.Compare(t.norm(a.Name), k) })
	dir.kids = slices.Insert(dir.kids, i, n)
}

func (t *Tree) lookup(parts []string) *Node { return t.Lookup(nil, parts) }

// Lookup returns the entry at parts below dir, an entry of t (t's root
// when nil), or nil. It reads t alone: for an FS without changes of its
// own (Changed), Stat of dir's parts and then parts returns the same.
func (t *Tree) Lookup(dir *Node, parts []string) *Node {
	n := dir
	if n == nil {
		n = t.root
	}
	for _, p := range parts {
		if !n.Dir {
			return nil
		}
		n = t.child(n, p)
		if n == nil {
			return nil
		}
	}
	return n
}

// maxFoldStack is the longest name child folds without allocating.
const maxFoldStack = 64

// child returns dir's entry named name: dir.index[t.norm(name)], without
// the allocation of strings.ToLower for a short ASCII name, whose lower
// case it makes in a buffer on the stack exactly as ToLower would.
func (t *Tree) child(dir *Node, name string) *Node {
	if !t.fold || len(name) > maxFoldStack {
		return dir.index[t.norm(name)]
	}
	var buf [maxFoldStack]byte
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 {
			return dir.index[strings.ToLower(name)]
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return dir.index[string(b)] // no allocation: the compiler looks up the bytes
}

// Errors of FS changes.
var (
	ErrNotFound = errors.New("shell: no such file or directory")
	ErrNotDir   = errors.New("shell: not a directory")
	ErrIsDir    = errors.New("shell: is a directory")
	ErrExists   = errors.New("shell: file exists")
	ErrFull     = errors.New("shell: fake file system full")
)

// FS is one session's (or one attacker's) view of a Tree: reads fall
// through to the tree, changes are kept in a small bounded overlay.
type FS struct {
	tree *Tree
	over map[string]*Node // changed or created entries by key
	gone map[string]bool  // removed entries by key
	data int64

	// MaxEntries and MaxBytes bound the overlay: created entries and the
	// bytes of their content.
	MaxEntries int
	MaxBytes   int64
}

// NewFS returns an FS over t (an empty tree when t is nil).
func NewFS(t *Tree) *FS {
	if t == nil {
		t = NewTree(false)
	}
	return &FS{tree: t, over: map[string]*Node{}, gone: map[string]bool{}, MaxEntries: 256, MaxBytes: 256 << 10}
}

// Fold reports whether names compare without regard to case.
func (f *FS) Fold() bool { return f.tree.fold }

// Changed reports whether f has changes of its own. Until it has, its
// Stat reads its tree alone.
func (f *FS) Changed() bool { return len(f.over) > 0 || len(f.gone) > 0 }

func (f *FS) key(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(f.tree.norm(p))
	}
	return b.String()
}

// Stat returns the entry at parts, or nil. The root is a directory.
func (f *FS) Stat(parts []string) *Node {
	if len(f.over) == 0 && len(f.gone) == 0 {
		return f.tree.lookup(parts) // nothing changed: no key to build
	}
	for i := 1; i <= len(parts); i++ {
		if f.gone[f.key(parts[:i])] {
			return nil
		}
	}
	if n := f.over[f.key(parts)]; n != nil {
		return n
	}
	// An overlay file may hide a base directory of the same name.
	for i := 1; i < len(parts); i++ {
		if n := f.over[f.key(parts[:i])]; n != nil && !n.Dir {
			return nil
		}
	}
	return f.tree.lookup(parts)
}

// List returns the entries of the directory at parts, sorted by name, and
// whether it is a directory.
func (f *FS) List(parts []string) ([]*Node, bool) {
	d := f.Stat(parts)
	if d == nil || !d.Dir {
		return nil, false
	}
	var out []*Node
	seen := map[string]bool{}
	if b := f.tree.lookup(parts); b != nil && b.Dir && f.over[f.key(parts)] == nil {
		for _, k := range b.kids {
			ck := f.key(append(slices.Clip(parts), k.Name))
			if f.gone[ck] {
				continue
			}
			if o := f.over[ck]; o != nil {
				out = append(out, o)
			} else {
				out = append(out, k)
			}
			seen[ck] = true
		}
	}
	pk := f.key(parts)
	for k, n := range f.over {
		if seen[k] || f.gone[k] {
			continue
		}
		if i := strings.LastIndexByte(k, 0); (i < 0 && len(parts) == 0) || (i >= 0 && k[:i] == pk) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *Node) int { return strings.Compare(f.tree.norm(a.Name), f.tree.norm(b.Name)) })
	return out, true
}

func (f *FS) parentDir(parts []string) error {
	if len(parts) == 0 {
		return ErrIsDir
	}
	d := f.Stat(parts[:len(parts)-1])
	if d == nil {
		return ErrNotFound
	}
	if !d.Dir {
		return ErrNotDir
	}
	return nil
}

func (f *FS) put(parts []string, n *Node, grow int64) error {
	k := f.key(parts)
	if _, ok := f.over[k]; !ok && len(f.over) >= f.MaxEntries {
		return ErrFull
	}
	if f.data+grow > f.MaxBytes {
		return ErrFull
	}
	f.data += grow
	delete(f.gone, k)
	f.over[k] = n
	return nil
}

// WriteFile creates or replaces (or, with appendTo, extends) the file at
// parts with data.
func (f *FS) WriteFile(parts []string, data []byte, appendTo bool, mod time.Time) error {
	if err := f.parentDir(parts); err != nil {
		return err
	}
	old := f.Stat(parts)
	if old != nil && old.Dir {
		return ErrIsDir
	}
	var content []byte
	var prev int64
	if o := f.over[f.key(parts)]; o != nil {
		prev = int64(len(o.Data))
	}
	if appendTo && old != nil {
		content = append(slices.Clone(old.Data), data...)
	} else {
		content = slices.Clone(data)
	}
	if content == nil {
		content = []byte{}
	}
	n := &Node{Name: parts[len(parts)-1], Size: int64(len(content)), Mod: mod, Data: content}
	if old != nil {
		n.Mode = old.Mode // a file written again keeps its permissions
	}
	return f.put(parts, n, int64(len(content))-prev)
}

// Touch creates or replaces the file at parts with a size but no known
// content (a file the fake fetched or copied from one without content).
func (f *FS) Touch(parts []string, size int64, mod time.Time) error {
	if err := f.parentDir(parts); err != nil {
		return err
	}
	if old := f.Stat(parts); old != nil && old.Dir {
		return ErrIsDir
	}
	var prev int64
	if o := f.over[f.key(parts)]; o != nil {
		prev = int64(len(o.Data))
	}
	return f.put(parts, &Node{Name: parts[len(parts)-1], Size: size, Mod: mod}, -prev)
}

// Copy copies the file at src to dst, keeping its time and program.
func (f *FS) Copy(src, dst []string, mod time.Time) error {
	s := f.Stat(src)
	if s == nil {
		return ErrNotFound
	}
	if s.Dir {
		return ErrIsDir
	}
	if err := f.parentDir(dst); err != nil {
		return err
	}
	if old := f.Stat(dst); old != nil && old.Dir {
		return ErrIsDir
	}
	var prev int64
	if o := f.over[f.key(dst)]; o != nil {
		prev = int64(len(o.Data))
	}
	n := &Node{Name: dst[len(dst)-1], Size: s.Size, Mod: mod, Data: slices.Clone(s.Data), Program: s.Program}
	return f.put(dst, n, int64(len(n.Data))-prev)
}

// Mkdir creates the directory at parts.
func (f *FS) Mkdir(parts []string, mod time.Time) error {
	if err := f.parentDir(parts); err != nil {
		return err
	}
	if f.Stat(parts) != nil {
		return ErrExists
	}
	return f.put(parts, &Node{Name: parts[len(parts)-1], Dir: true, Mod: mod}, 0)
}

// Remove deletes the file (or, with dir, the empty directory) at parts.
func (f *FS) Remove(parts []string, dir bool) error {
	n := f.Stat(parts)
	if n == nil || len(parts) == 0 {
		return ErrNotFound
	}
	if n.Dir != dir {
		if n.Dir {
			return ErrIsDir
		}
		return ErrNotDir
	}
	if dir {
		if kids, _ := f.List(parts); len(kids) > 0 {
			return ErrExists
		}
	}
	k := f.key(parts)
	if o := f.over[k]; o != nil {
		f.data -= int64(len(o.Data))
		delete(f.over, k)
	}
	if f.tree.lookup(parts) != nil {
		if len(f.gone) >= f.MaxEntries {
			return ErrFull
		}
		f.gone[k] = true
	}
	return nil
}

// Chmod sets the permission bits of the file at parts. A directory of the
// base tree keeps its bits (an overlay copy would hide its entries).
func (f *FS) Chmod(parts []string, mode uint32) error {
	n := f.Stat(parts)
	if n == nil {
		return ErrNotFound
	}
	if len(parts) == 0 {
		return nil
	}
	k := f.key(parts)
	if o := f.over[k]; o != nil {
		o.Mode = mode
		return nil
	}
	if n.Dir {
		return nil
	}
	c := *n
	c.Mode = mode
	c.kids, c.index = nil, nil
	return f.put(parts, &c, int64(len(c.Data)))
}
