//go:build linux

package prealloc

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// blocks returns the bytes the file system gives f.
func blocks(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no block counts here")
	}
	return int64(st.Blocks) * 512
}

// Space is reserved ahead of the end without changing the file's size or
// contents, and given back by Release; after a truncation it is reserved
// again.
func TestReserve(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := New(f)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	p.Reserve(int64(len(data)))
	if p.off {
		t.Skip("this file system cannot reserve space")
	}
	if got := blocks(t, f); got < Step {
		t.Fatalf("%d bytes allocated after Reserve, want at least %d", got, Step)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Size() != int64(len(data)) {
		t.Fatalf("size %d, want %d: reserving must not grow the file", fi.Size(), len(data))
	}
	before := p.reserved
	p.Reserve(int64(len(data)) * 2) // within what is reserved: nothing to do
	if p.reserved != before {
		t.Errorf("reserved %d, then %d for an end within it", before, p.reserved)
	}
	p.Reserve(before + 1)
	if p.reserved != before+1+Step {
		t.Errorf("reserved up to %d past %d, want %d", p.reserved, before+1, before+1+Step)
	}
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	p.Truncated(10)
	if p.reserved != 10 {
		t.Errorf("reserved %d after a truncation to 10", p.reserved)
	}
	p.Reserve(100)
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if got := blocks(t, f); got >= Step {
		t.Errorf("%d bytes still allocated after Release", got)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, data[:10]) {
		t.Errorf("file holds %q, %v; want %q", got, err, data[:10])
	}
}

// A file that cannot take a reservation (here: opened read-only) turns
// reserving off instead of failing each time.
func TestReserveUnsupported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := New(f)
	p.Reserve(1 << 20)
	if !p.off || p.reserved != 0 {
		t.Errorf("after a failed reservation: off %v, reserved %d", p.off, p.reserved)
	}
}
