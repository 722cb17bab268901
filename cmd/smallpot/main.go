// Command smallpot is the Smallpot honeypot: it fakes Internet services,
// records everything attackers and worms send, and keeps what they upload.
//
//	smallpot run      run every enabled fake service
//	smallpot events   print stored events
//	smallpot samples  list and show captured samples
//	smallpot session  show one session and its transcript
//	smallpot rules    list the classification rules, or test them on a file
//	smallpot config   print the default or the effective configuration
//	smallpot version  print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	// The fake protocols; each registers itself from its init.
	_ "github.com/smallpot/smallpot/internal/services/ftp"
	_ "github.com/smallpot/smallpot/internal/services/generic"
	_ "github.com/smallpot/smallpot/internal/services/http"
	_ "github.com/smallpot/smallpot/internal/services/mssql"
	_ "github.com/smallpot/smallpot/internal/services/netbus"
	_ "github.com/smallpot/smallpot/internal/services/pop3"
	_ "github.com/smallpot/smallpot/internal/services/smtp"
	_ "github.com/smallpot/smallpot/internal/services/ssh"
	_ "github.com/smallpot/smallpot/internal/services/subseven"
	_ "github.com/smallpot/smallpot/internal/services/sunrpc"
	_ "github.com/smallpot/smallpot/internal/services/telnet"
	_ "github.com/smallpot/smallpot/internal/services/upnp"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"run", "run every enabled fake service", cmdRun},
		{"events", "print stored events", cmdEvents},
		{"samples", "list (ls) or show captured samples", cmdSamples},
		{"session", "show one session with its transcript", cmdSession},
		{"rules", "list the classification rules, or test them on a file", cmdRules},
		{"config", "print the default or the effective configuration", cmdConfig},
		{"version", "print the version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Smallpot — a honeypot that fakes Internet services and keeps what attackers send.\n\n")
	fmt.Fprintf(w, "Usage: smallpot COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'smallpot COMMAND -h' for a command's flags.\n")
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			fmt.Fprintf(stderr, "smallpot %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "smallpot: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports a usage error already printed.
var errUsage = errors.New("usage")

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("smallpot "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: smallpot %s %s\n\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning a usage error into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		if v != "" && v != "(devel)" {
			return v
		}
	}
	return "devel"
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "smallpot %s\n", versionString())
	return nil
}
