// Package samples is the content-addressed store of captured bytes:
// DIR/samples/<sha256>, each written once, atomically (a temporary file
// then a rename), named only by its hash — never by anything an attacker
// sent. Counts, first and last seen and the sessions a sample came from
// live in the database, fed by the sample events.
package samples

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sync"

	"github.com/smallpot/smallpot/internal/service"
)

// Store keeps samples under one directory. It works through an os.Root
// opened at start, so it goes on working after the process drops its
// privileges and cannot be led outside the directory.
type Store struct {
	root *os.Root
	dir  string
	// mu makes the check for an existing sample and the rename one step,
	// so of two Puts of the same bytes only one reports them new.
	mu sync.Mutex
}

var _ service.SampleStore = (*Store)(nil)

var hashName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Open opens (creating if needed) the sample directory.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	return &Store{root: r, dir: dir}, nil
}

// Dir returns the directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

// Put stores data under d.SHA256 unless it is there already. It reports
// whether the bytes were new.
func (s *Store) Put(data []byte, d service.Digest) (bool, error) {
	if !hashName.MatchString(d.SHA256) {
		return false, fmt.Errorf("samples: bad digest %q", d.SHA256)
	}
	if _, err := s.root.Stat(d.SHA256); err == nil {
		return false, nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".tmp-" + d.SHA256[:16] + "-" + hex.EncodeToString(rnd[:])
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return false, fmt.Errorf("samples: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = s.root.Remove(tmp)
		return false, fmt.Errorf("samples: write: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.root.Stat(d.SHA256); err == nil {
		_ = s.root.Remove(tmp)
		return false, nil
	}
	if err := s.root.Rename(tmp, d.SHA256); err != nil {
		_ = s.root.Remove(tmp)
		return false, fmt.Errorf("samples: %w", err)
	}
	return true, nil
}

// Read returns a stored sample's bytes.
func (s *Store) Read(sha256 string) ([]byte, error) {
	if !hashName.MatchString(sha256) {
		return nil, fmt.Errorf("samples: %q is not a SHA-256", sha256)
	}
	b, err := s.root.ReadFile(sha256)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("samples: no sample %s: %w", sha256, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	return b, nil
}
