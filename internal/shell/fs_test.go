package shell

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func names(ns []*Node) string {
	var b []string
	for _, n := range ns {
		b = append(b, n.Name)
	}
	return strings.Join(b, ",")
}

func TestFSOverlay(t *testing.T) {
	tree := NewTree(true)
	mod := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	tree.Add([]string{"C:", "WINNT", "win.ini"}, Node{Mod: mod, Data: []byte("x")})
	tree.Add([]string{"C:", "WINNT", "system32", "cmd.exe"}, Node{Mod: mod, Size: 10, Program: "cmd"})
	a, b := NewFS(tree), NewFS(tree)

	if err := a.WriteFile([]string{"c:", "winnt", "new.txt"}, []byte("hi"), false, mod); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove([]string{"c:", "WINNT", "WIN.INI"}, false); err != nil {
		t.Fatal(err)
	}
	if got := names(mustList(t, a, "c:", "winnt")); got != "new.txt,system32" {
		t.Errorf("a lists %s", got)
	}
	if got := names(mustList(t, b, "c:", "winnt")); got != "system32,win.ini" {
		t.Errorf("b, untouched, lists %s", got)
	}
	if n := tree.lookup([]string{"c:", "winnt", "win.ini"}); n == nil {
		t.Error("the shared tree lost win.ini")
	}
	if err := a.WriteFile([]string{"c:", "nosuch", "x"}, nil, false, mod); !errors.Is(err, ErrNotFound) {
		t.Errorf("write into a missing directory: %v", err)
	}
	if err := a.Copy([]string{"c:", "winnt", "system32", "cmd.exe"}, []string{"c:", "root.exe"}, mod); err != nil {
		t.Fatal(err)
	}
	if n := a.Stat([]string{"C:", "ROOT.EXE"}); n == nil || n.Program != "cmd" || n.Size != 10 {
		t.Errorf("copy of cmd.exe: %+v", n)
	}
	if err := a.Mkdir([]string{"c:", "d"}, mod); err != nil {
		t.Fatal(err)
	}
	_ = a.WriteFile([]string{"c:", "d", "f"}, []byte("1"), false, mod)
	if err := a.Remove([]string{"c:", "d"}, true); !errors.Is(err, ErrExists) {
		t.Errorf("removing a full directory: %v", err)
	}
	_ = a.Remove([]string{"c:", "d", "f"}, false)
	if err := a.Remove([]string{"c:", "d"}, true); err != nil {
		t.Errorf("removing an empty directory: %v", err)
	}
	// Removing a base directory hides what is under it.
	if err := a.Remove([]string{"c:", "winnt", "system32", "cmd.exe"}, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove([]string{"c:", "winnt", "system32"}, true); err != nil {
		t.Fatal(err)
	}
	if a.Stat([]string{"c:", "winnt", "system32", "cmd.exe"}) != nil {
		t.Error("a file under a removed directory is still there")
	}
}

func mustList(t *testing.T, f *FS, parts ...string) []*Node {
	t.Helper()
	ns, ok := f.List(parts)
	if !ok {
		t.Fatalf("%v is not a directory", parts)
	}
	return ns
}

func TestFSBounds(t *testing.T) {
	f := NewFS(NewTree(false))
	f.MaxEntries, f.MaxBytes = 3, 10
	mod := time.Time{}
	if err := f.Mkdir([]string{"tmp"}, mod); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile([]string{"tmp", "a"}, []byte("12345678"), false, mod); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile([]string{"tmp", "a"}, []byte("123"), true, mod); !errors.Is(err, ErrFull) {
		t.Errorf("past MaxBytes: %v", err)
	}
	if err := f.WriteFile([]string{"tmp", "a"}, []byte("1"), false, mod); err != nil {
		t.Errorf("replacing a file frees its bytes: %v", err)
	}
	_ = f.WriteFile([]string{"tmp", "b"}, nil, false, mod)
	if err := f.WriteFile([]string{"tmp", "c"}, nil, false, mod); !errors.Is(err, ErrFull) {
		t.Errorf("past MaxEntries: %v", err)
	}
	// Case matters on a tree that does not fold.
	if f.Stat([]string{"TMP"}) != nil {
		t.Error("TMP found on a case-sensitive tree")
	}
}

// child finds what indexing by the folded name finds, for names on its
// stack path and off it (non-ASCII, over long).
func TestTreeChildFolds(t *testing.T) {
	names := []string{"", "a", "A", "iisstart.htm", "IISSTART.HTM", "Inetpub", "C:", "c:", "Program Files",
		"\u212a", "k", "K", "\u0130", "i", "İnetpub", "ÉTÉ", "été", "\xff", "a\xffB", "\x00",
		strings.Repeat("a", maxFoldStack), strings.Repeat("A", maxFoldStack), strings.Repeat("A", maxFoldStack+1),
		strings.Repeat("a", maxFoldStack+1), strings.Repeat("é", 40)}
	for _, fold := range []bool{true, false} {
		tree := NewTree(fold)
		for i, n := range names {
			if i%2 == 0 {
				tree.Add([]string{n}, Node{Data: []byte(n)})
			}
		}
		for _, n := range names {
			if got, want := tree.child(tree.root, n), tree.root.index[tree.norm(n)]; got != want {
				t.Errorf("fold %v: child(%q) = %v, want %v", fold, n, got, want)
			}
		}
	}
}
