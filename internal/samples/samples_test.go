package samples_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smallpot/smallpot/internal/samples"
	"github.com/smallpot/smallpot/internal/service"
)

func open(t *testing.T) *samples.Store {
	t.Helper()
	s, err := samples.Open(filepath.Join(t.TempDir(), "samples"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// files lists the directory, temporary files included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestPutIdempotent(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("GET /default.ida?NNNN HTTP/1.0\r\n\r\n")},
		{"binary", []byte{0x04, 0x01, 0x01, 0x01, 0x01, 0x00, 0xff, 0x90}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			d := service.DigestOf(tt.data)
			sum := sha256.Sum256(tt.data)
			if d.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("DigestOf got %s; want %x", d.SHA256, sum)
			}
			for i, wantNew := range []bool{true, false, false} {
				isNew, err := s.Put(tt.data, d)
				if err != nil || isNew != wantNew {
					t.Fatalf("Put #%d got new=%v, %v; want new=%v, nil", i+1, isNew, err, wantNew)
				}
			}
			if got := files(t, s.Dir()); !slices.Equal(got, []string{d.SHA256}) {
				t.Fatalf("got files %v; want only %s", got, d.SHA256)
			}
			onDisk, err := os.ReadFile(filepath.Join(s.Dir(), d.SHA256))
			if err != nil || string(onDisk) != string(tt.data) {
				t.Fatalf("file holds %q, %v; want %q", onDisk, err, tt.data)
			}
			got, err := s.Read(d.SHA256)
			if err != nil || string(got) != string(tt.data) {
				t.Fatalf("Read got %q, %v; want %q", got, err, tt.data)
			}
		})
	}
}

func TestPutConcurrentSameBytes(t *testing.T) {
	s := open(t)
	data := []byte(strings.Repeat("MZ\x90\x00", 4096))
	d := service.DigestOf(data)
	const n = 16
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Go(func() {
			isNew, err := s.Put(data, d)
			if err != nil {
				t.Error(err)
			}
			results <- isNew
		})
	}
	wg.Wait()
	close(results)
	news := 0
	for r := range results {
		if r {
			news++
		}
	}
	if news != 1 {
		t.Fatalf("got %d Puts reporting new bytes; want exactly 1", news)
	}
	if got := files(t, s.Dir()); !slices.Equal(got, []string{d.SHA256}) {
		t.Fatalf("got files %v; want only %s (no temporary files)", got, d.SHA256)
	}
}

func TestManySamples(t *testing.T) {
	s := open(t)
	var want []string
	for i := range 20 {
		data := []byte(strings.Repeat("x", i))
		d := service.DigestOf(data)
		if isNew, err := s.Put(data, d); err != nil || !isNew {
			t.Fatalf("Put %d: got new=%v, %v; want new", i, isNew, err)
		}
		want = append(want, d.SHA256)
	}
	slices.Sort(want)
	if got := files(t, s.Dir()); !slices.Equal(got, want) {
		t.Fatalf("got files %v; want %v", got, want)
	}
}

func TestNamesOnlyFromHashes(t *testing.T) {
	s := open(t)
	bad := []string{
		"", "../../etc/passwd", "evil.exe",
		strings.Repeat("A", 64),             // upper case is not how we name files
		strings.Repeat("a", 63),             // too short
		strings.Repeat("a", 65),             // too long
		"../" + strings.Repeat("a", 61),     // traversal of the right length
		strings.Repeat("a", 63) + "\x00",    // NUL
		strings.Repeat("a", 32) + "/" + "b", // a path
	}
	for _, name := range bad {
		if _, err := s.Read(name); err == nil {
			t.Errorf("Read(%q) got no error; want it refused", name)
		}
		if _, err := s.Put([]byte("x"), service.Digest{SHA256: name}); err == nil {
			t.Errorf("Put under %q got no error; want it refused", name)
		}
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Fatalf("got files %v; want none", got)
	}
}

func TestReadMissing(t *testing.T) {
	s := open(t)
	_, err := s.Read(strings.Repeat("0", 64))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "samples: ") {
		t.Fatalf("got %v; want a samples error wrapping fs.ErrNotExist", err)
	}
}

func TestPutFailureLeavesNoTemp(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	s := open(t)
	if err := os.Chmod(s.Dir(), 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(s.Dir(), 0o750)
	data := []byte("payload")
	if _, err := s.Put(data, service.DigestOf(data)); err == nil || !strings.HasPrefix(err.Error(), "samples: ") {
		t.Fatalf("got %v; want a samples error in a read-only directory", err)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Fatalf("got files %v; want none", got)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "samples")
	s, err := samples.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || s.Dir() != dir {
		t.Fatalf("got %v, %v, dir %q; want the directory created", fi, err, s.Dir())
	}
}
