// Package corpus builds the deterministic set of files on which Smallpot's
// fuzzy hashes (ssdeep, TLSH) are checked against the reference tools, and
// reads the expected results that scripts/gen-fuzzy-testdata.sh records
// from those tools in internal/fuzzy/testdata.
//
// The files are generated, not stored: the same bytes on every machine and
// every Go release (the generator is a fixed splitmix64 stream, not
// math/rand), from tiny inputs below TLSH's minimum to a few megabytes —
// random bytes, text, repeated patterns, runs of zeros, executable-like
// layouts, HTTP requests in the style of the worms a honeypot sees — plus
// near-duplicates of several of them with a few bytes changed, inserted,
// removed or appended.
package corpus

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// File is one corpus input.
type File struct {
	Name string
	Data []byte
}

// rng is splitmix64: tiny, fast, and its output is fixed by its
// definition, so the corpus never changes under us.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n); the slight bias of the modulo does not
// matter here, only that it never changes.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.next()
		for j := i; j < i+8 && j < n; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

var words = strings.Fields(`
	the of and to in is that for it as was with be by on not he this are or
	his from at which but have an they you were her she there been one all
	would their we him has when who will more no if out so said what up its
	about into than them can only other new some could time these two may
	then do first any my now such like our over man me even most made after
	also did many before must through back years where much your way well
	down should because each just those people how too little state good
	very make world still own see men work long get here between both life
	being under never day same another know while last might us great old
	year off come since against go came right used take three
	GET POST HEAD OPTIONS HTTP/1.0 HTTP/1.1 Host: User-Agent: Accept: Mozilla/4.0
	/scripts/root.exe /MSADC/root.exe /c/winnt/system32/cmd.exe?/c+dir
	/default.ida /_vti_bin/ owssvr.dll wget tftp chmod busybox /tmp/.x
	cd /bin/sh echo enable system shell sh root admin 12345 password
`)

// text returns n bytes of word salad cut into lines.
func text(r *rng, n int) []byte {
	var b bytes.Buffer
	col := 0
	for b.Len() < n {
		w := words[r.intn(len(words))]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.Bytes()[:n]
}

// exeLike returns n bytes laid out like a small executable: a header,
// code-like bytes drawn from a skewed distribution, zero padding, and a
// table of strings.
func exeLike(r *rng, n int) []byte {
	b := make([]byte, 0, n)
	b = append(b, 'M', 'Z', 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff, 0, 0)
	b = append(b, r.bytes(48)...)
	opcodes := []byte{0x8b, 0x89, 0xe8, 0xff, 0x83, 0x55, 0x5d, 0xc3, 0x50, 0x51, 0x6a, 0x00, 0x74, 0x75, 0xeb, 0x0f}
	code := n / 2
	for len(b) < code {
		if r.intn(3) == 0 {
			b = append(b, byte(r.next()))
		} else {
			b = append(b, opcodes[r.intn(len(opcodes))])
		}
	}
	for len(b)%4096 != 0 && len(b) < n*3/4 {
		b = append(b, 0)
	}
	for len(b) < n {
		b = append(b, words[r.intn(len(words))]...)
		b = append(b, 0)
	}
	return b[:n]
}

// wormRequest returns an HTTP request in the shape of an Index Server
// overflow probe: a long filler run, an encoded jump area and a body of
// pseudo-random "payload" bytes.
func wormRequest(r *rng, filler byte, body int) []byte {
	var b bytes.Buffer
	b.WriteString("GET /default.ida?")
	b.Write(bytes.Repeat([]byte{filler}, 224))
	for range 22 {
		fmt.Fprintf(&b, "%%u%04x", r.intn(0x10000))
	}
	b.WriteString("=a HTTP/1.0\r\nContent-type: text/xml\r\nContent-length: ")
	fmt.Fprintf(&b, "%d\r\n\r\n", body)
	b.Write(r.bytes(body))
	return b.Bytes()
}

// flip returns a copy of data with k bytes at pseudo-random places changed.
func flip(r *rng, data []byte, k int) []byte {
	c := bytes.Clone(data)
	for range k {
		c[r.intn(len(c))] ^= byte(1 + r.intn(255))
	}
	return c
}

// splice returns data with ins inserted at offset at.
func splice(data []byte, at int, ins []byte) []byte {
	c := make([]byte, 0, len(data)+len(ins))
	c = append(c, data[:at]...)
	c = append(c, ins...)
	return append(c, data[at:]...)
}

// Files returns the corpus, always the same, in a fixed order. It is
// built once per process; callers must not modify the returned data.
func Files() []File { return slices.Clone(built()) }

var built = sync.OnceValue(build)

func build() []File {
	r := &rng{s: 0x5a11907d}
	var fs []File
	add := func(name string, data []byte) []byte {
		fs = append(fs, File{name, data})
		return data
	}

	// Tiny inputs, around TLSH's 256-byte minimum and ssdeep's first
	// block size.
	add("empty", nil)
	for _, n := range []int{1, 7, 50, 100, 255, 256, 257, 300} {
		add(fmt.Sprintf("random-%d", n), r.bytes(n))
	}

	// Random bytes of growing size.
	rnd4k := add("random-4k", r.bytes(4096))
	rnd64k := add("random-64k", r.bytes(65536))
	add("random-100k", r.bytes(100_000))
	rnd1m := add("random-1m", r.bytes(1<<20))
	add("random-3m", r.bytes(3<<20))

	// Near-duplicates of random data.
	add("random-4k-flip1", flip(r, rnd4k, 1))
	add("random-64k-flip1", flip(r, rnd64k, 1))
	add("random-64k-flip10", flip(r, rnd64k, 10))
	add("random-64k-flip100", flip(r, rnd64k, 100))
	add("random-64k-flip2000", flip(r, rnd64k, 2000))
	add("random-64k-insert", splice(rnd64k, 30000, r.bytes(500)))
	add("random-64k-cut", append(bytes.Clone(rnd64k[:20000]), rnd64k[24000:]...))
	add("random-64k-head", bytes.Clone(rnd64k[:40000]))
	add("random-64k-double", append(bytes.Clone(rnd64k), rnd64k...))
	add("random-1m-flip1000", flip(r, rnd1m, 1000))

	// Text.
	add("text-600", text(r, 600))
	add("text-2k", text(r, 2048))
	txt20k := add("text-20k", text(r, 20_000))
	add("text-200k", text(r, 200_000))
	add("text-20k-line", splice(txt20k, 9001, []byte("\r\nGET /scripts/..%255c../winnt/system32/cmd.exe?/c+dir HTTP/1.0\r\n")))
	add("text-20k-edit", flip(r, txt20k, 30))
	add("text-20k-append", append(bytes.Clone(txt20k), text(r, 5000)...))
	add("text-20k-prefix", splice(txt20k, 0, text(r, 3000)))
	add("text-20k-double", append(bytes.Clone(txt20k), txt20k...))

	// Low variety: single byte runs and short periods, which TLSH refuses.
	add("zeros-1k", make([]byte, 1024))
	add("zeros-1m", make([]byte, 1<<20))
	add("byte-A-5000", bytes.Repeat([]byte{'A'}, 5000))
	add("byte-A-100k", bytes.Repeat([]byte{'A'}, 100_000))
	add("period-9-5000", bytes.Repeat([]byte("abcdefgh\n"), 556)[:5000])
	add("period-100-100k", bytes.Repeat(r.bytes(100), 1000))
	add("period-1000-100k", bytes.Repeat(r.bytes(1000), 100))
	add("two-symbols-10k", twoSymbols(r, 10_000))

	// Inputs ending in a run of zeros, so the rolling hash ends at 0.
	add("random-500-zero-tail", append(r.bytes(500), make([]byte, 16)...))
	add("random-150-zero-tail", append(r.bytes(150), make([]byte, 9)...))
	add("text-30k-zero-tail", append(text(r, 30_000), make([]byte, 64)...))
	for _, n := range []int{180, 185, 190} {
		add(fmt.Sprintf("random-%d-zero-tail", n), append(r.bytes(n), make([]byte, 10)...))
	}

	// Executable-like layouts and variants.
	exe := add("exe-200k", exeLike(r, 200_000))
	add("exe-200k-patch", flip(r, exe, 40))
	v := bytes.Clone(exe)
	copy(v[150_000:], "http://198.51.100.7/x.exe\x00")
	add("exe-200k-string", v)
	add("exe-200k-overlay", append(bytes.Clone(exe), r.bytes(30_000)...))
	add("exe-50k", exeLike(r, 50_000))

	// Worm-style requests.
	worm := add("worm-N", wormRequest(&rng{s: 1}, 'N', 3000))
	add("worm-X", wormRequest(&rng{s: 1}, 'X', 3000))
	add("worm-N-other-payload", wormRequest(&rng{s: 2}, 'N', 3000))
	add("worm-N-flip", flip(r, worm, 5))
	return fs
}

// twoSymbols returns n bytes drawn from two values.
func twoSymbols(r *rng, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "ab"[r.intn(2)]
	}
	return b
}

// Pairs returns the pairs of corpus file names whose similarity the
// expected results record: near-duplicates, inputs a block size apart,
// and unrelated inputs.
func Pairs() [][2]string {
	return [][2]string{
		{"random-4k", "random-4k-flip1"},
		{"random-64k", "random-64k-flip1"},
		{"random-64k", "random-64k-flip10"},
		{"random-64k", "random-64k-flip100"},
		{"random-64k", "random-64k-flip2000"},
		{"random-64k", "random-64k-insert"},
		{"random-64k", "random-64k-cut"},
		{"random-64k", "random-64k-head"},
		{"random-64k", "random-64k-double"},
		{"random-64k-flip10", "random-64k-flip100"},
		{"random-64k", "random-64k"},
		{"random-64k", "random-100k"},
		{"random-1m", "random-1m-flip1000"},
		{"random-1m", "random-3m"},
		{"text-20k", "text-20k-line"},
		{"text-20k", "text-20k-edit"},
		{"text-20k", "text-20k-append"},
		{"text-20k", "text-20k-prefix"},
		{"text-20k", "text-20k-double"},
		{"text-20k-line", "text-20k-edit"},
		{"text-20k", "text-200k"},
		{"text-2k", "text-600"},
		{"text-30k-zero-tail", "text-20k"},
		{"exe-200k", "exe-200k-patch"},
		{"exe-200k", "exe-200k-string"},
		{"exe-200k", "exe-200k-overlay"},
		{"exe-200k-patch", "exe-200k-string"},
		{"exe-200k", "exe-50k"},
		{"exe-200k", "random-100k"},
		{"worm-N", "worm-X"},
		{"worm-N", "worm-N-other-payload"},
		{"worm-N", "worm-N-flip"},
		{"worm-N", "text-2k"},
		{"period-100-100k", "period-1000-100k"},
		{"zeros-1k", "zeros-1m"},
		{"byte-A-5000", "byte-A-100k"},
		{"random-256", "random-257"},
		{"random-300", "random-500-zero-tail"},
		{"empty", "random-1"},
		{"random-150-zero-tail", "random-100"},
	}
}

// Hashes is one line of hashes.tsv: what the reference tools print for a
// file. TLSH is "-" where the tool refuses the input.
type Hashes struct {
	Name   string
	Size   int
	SSDeep string
	TLSH   string
}

// Pair is one line of pairs.tsv: the reference tools' scores for two
// files. The TLSH fields are -1 where either file has no TLSH digest.
type Pair struct {
	A, B         string
	SSDeep       int
	TLSH         int // distance with the length component
	TLSHNoLength int // distance without it (tlsh -xlen)
}

// ReadHashes reads hashes.tsv: file, size, ssdeep, tlsh.
func ReadHashes(path string) ([]Hashes, error) {
	var out []Hashes
	err := readTSV(path, 4, func(f []string) error {
		size, err := strconv.Atoi(f[1])
		if err != nil {
			return err
		}
		out = append(out, Hashes{Name: f[0], Size: size, SSDeep: f[2], TLSH: f[3]})
		return nil
	})
	return out, err
}

// ReadPairs reads pairs.tsv: file a, file b, ssdeep score, TLSH distance,
// TLSH distance without length ("-" for none).
func ReadPairs(path string) ([]Pair, error) {
	var out []Pair
	err := readTSV(path, 5, func(f []string) error {
		var n [3]int
		for i, s := range f[2:] {
			if s == "-" {
				n[i] = -1
				continue
			}
			v, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			n[i] = v
		}
		out = append(out, Pair{A: f[0], B: f[1], SSDeep: n[0], TLSH: n[1], TLSHNoLength: n[2]})
		return nil
	})
	return out, err
}

func readTSV(path string, fields int, row func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fs := strings.Split(text, "\t")
		if len(fs) != fields {
			return fmt.Errorf("corpus: %s:%d: %d fields, want %d", path, line, len(fs), fields)
		}
		if err := row(fs); err != nil {
			return fmt.Errorf("corpus: %s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	return nil
}
