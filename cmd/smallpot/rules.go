package main

import (
	"fmt"
	"io"

	"github.com/smallpot/smallpot/internal/config"
	"github.com/smallpot/smallpot/internal/detect"
)

func cmdRules(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "test") {
		fmt.Fprintf(stderr, "Usage: smallpot rules list [-config FILE]        the rules, built-in and the config's, with their tests run\n"+
			"       smallpot rules test [-config FILE] FILE   which rules fire on FILE (raw bytes, or events as JSON lines)\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	sub := args[0]
	fs := newFlags("rules "+sub, map[string]string{"list": "[-config FILE]", "test": "[-config FILE] FILE"}[sub], stderr)
	path := fs.String("config", "", "configuration `file` whose detect section adds rules (default: the embedded one)")
	data := fs.String("data", "", "data `directory` whose samples YARA rules may read (default: the config's)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	dc, err := detectConfig(cfg)
	if err != nil {
		return err
	}
	if sub == "list" {
		if fs.NArg() != 0 {
			fs.Usage()
			return errUsage
		}
		return detect.List(stdout, dc)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	n, err := detect.TestFile(stdout, dc, fs.Arg(0))
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no rule fired")
	}
	return nil
}
