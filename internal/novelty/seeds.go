package novelty

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/smallpot/smallpot/internal/fuzzy/ssdeep"
	"github.com/smallpot/smallpot/internal/fuzzy/tlsh"
)

// builtinSeeds are the fuzzy hashes of reference samples of the seed's
// families (CodeRed I and II, Nimda, SQL Slammer), so that a sensor knows
// them before it has captured any. seeds_test.go makes them from the
// representative payloads of Smallpot's tests; `go test -run
// TestBuiltinSeeds -update` rewrites the file.
//
//go:embed seeds.tsv
var builtinSeeds []byte

// A Seed is a reference sample of a known family, given by its hashes: a
// line of a seed file. Seed files are tab-separated: family, variant,
// SHA-256, ssdeep hash, TLSH digest, name; "-" (or nothing) for a field
// that is not known; lines starting with # are comments. A seed needs a
// family, a SHA-256 and at least one of the fuzzy hashes.
type Seed struct {
	Family  string
	Variant string
	SHA256  string
	SSDeep  string
	TLSH    string
	Name    string
}

// ParseSeeds reads a seed file; name is used in errors.
func ParseSeeds(name string, data []byte) ([]Seed, error) {
	var out []Seed
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		for len(f) < 6 {
			f = append(f, "")
		}
		for i := range f {
			if f[i] = strings.TrimSpace(f[i]); f[i] == "-" {
				f[i] = ""
			}
		}
		s := Seed{Family: f[0], Variant: f[1], SHA256: strings.ToLower(f[2]), SSDeep: f[3], TLSH: f[4], Name: f[5]}
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("novelty: seeds %s:%d: %w", name, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("novelty: seeds %s: %w", name, err)
	}
	return out, nil
}

func (s Seed) check() error {
	if s.Family == "" {
		return fmt.Errorf("no family")
	}
	if _, ok := parseSHA(s.SHA256); !ok {
		return fmt.Errorf("SHA-256 %q is not 64 hex digits", s.SHA256)
	}
	if s.SSDeep == "" && s.TLSH == "" {
		return fmt.Errorf("neither an ssdeep hash nor a TLSH digest")
	}
	if s.SSDeep != "" {
		if _, err := ssdeep.Parse(s.SSDeep); err != nil {
			return err
		}
	}
	if s.TLSH != "" {
		if _, err := tlsh.Parse(s.TLSH); err != nil {
			return err
		}
	}
	return nil
}

// loadSeeds returns the built-in seeds (unless left out) and those of
// the files given.
func loadSeeds(files []string, builtin bool) ([]Seed, error) {
	var out []Seed
	if builtin {
		s, err := ParseSeeds("builtin", builtinSeeds)
		if err != nil {
			return nil, err
		}
		out = s
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("novelty: seeds: %w", err)
		}
		s, err := ParseSeeds(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}
