// Command gencorpus writes the fuzzy-hash test corpus (package corpus) to a
// directory, one file per corpus entry, for scripts/gen-fuzzy-testdata.sh
// to run the reference ssdeep and tlsh tools over. With -pairs it prints
// the pairs to score instead, one "a<TAB>b" line each.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smallpot/smallpot/internal/fuzzy/corpus"
)

func main() {
	out := flag.String("out", "", "directory to write the corpus files into")
	pairs := flag.Bool("pairs", false, "print the pairs to score and exit")
	flag.Parse()
	if *pairs {
		for _, p := range corpus.Pairs() {
			fmt.Printf("%s\t%s\n", p[0], p[1])
		}
		return
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gencorpus: -out DIR or -pairs is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
	for _, f := range corpus.Files() {
		if err := os.WriteFile(filepath.Join(*out, f.Name), f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gencorpus:", err)
			os.Exit(1)
		}
		fmt.Println(f.Name)
	}
}
