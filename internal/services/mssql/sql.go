package mssql

import (
	"regexp"
	"strings"
)

// This file reads what a SQL batch asks, to the small extent the fake
// answers it: a select of one well-known value, a change of database, and
// the command lines given to xp_cmdshell. Nothing in a batch is ever
// executed or evaluated; the command lines go to the fake cmd.exe of
// package shell.

// Batch is a SQL batch as the fake reads it.
type Batch struct {
	// Scalar names the one value a "select <value>" asks for, lower-case
	// ("@@version", "db_name()"); "" otherwise.
	Scalar string
	// Use is the database a "use <name>" switches to, brackets removed.
	Use string
	// Shell holds the command lines of every xp_cmdshell call with a
	// literal argument, in order; Hidden counts the calls whose argument
	// is a variable or expression.
	Shell  []string
	Hidden int
}

// Bounds of what ParseBatch extracts.
const (
	maxShellCalls = 16
	maxShellLine  = 8 << 10
)

var (
	selectRE = regexp.MustCompile(`(?is)^\s*select\s+(@@[a-z_]+|[a-z_]+\s*\(\s*\)|system_user|current_user|session_user|user)\s*;?\s*$`)
	useRE    = regexp.MustCompile(`(?is)^\s*use\s+(\[[^\]\r\n]{1,128}\]|[a-z_#@][a-z0-9_@$#]{0,127})\s*;?\s*$`)
	spaceRE  = regexp.MustCompile(`\s+`)
)

// ParseBatch reads a batch's text.
func ParseBatch(text string) Batch {
	var b Batch
	if m := selectRE.FindStringSubmatch(text); m != nil {
		b.Scalar = strings.ToLower(spaceRE.ReplaceAllString(m[1], ""))
	}
	if m := useRE.FindStringSubmatch(text); m != nil {
		b.Use = strings.TrimSuffix(strings.TrimPrefix(m[1], "["), "]")
	}
	b.Shell, b.Hidden = shellCalls(text)
	return b
}

// shellCalls finds xp_cmdshell calls: the procedure name (any owner
// prefix: master..xp_cmdshell, master.dbo.xp_cmdshell) followed by an
// optional "@command_string =" and a string literal, '...' or "..." with
// the quote doubled inside, N-prefixed or not.
func shellCalls(text string) (lines []string, hidden int) {
	lower := asciiLower(text)
	const name = "xp_cmdshell"
	for from := 0; len(lines)+hidden < maxShellCalls; {
		i := strings.Index(lower[from:], name)
		if i < 0 {
			break
		}
		at := from + i + len(name)
		from = at
		if at < len(lower) && isIdent(lower[at]) {
			continue // xp_cmdshellx: another name
		}
		j := skipSpace(text, at)
		if strings.HasPrefix(lower[j:], "@command_string") {
			j = skipSpace(text, j+len("@command_string"))
			if j < len(text) && text[j] == '=' {
				j = skipSpace(text, j+1)
			}
		}
		if j < len(text) && (text[j] == 'N' || text[j] == 'n') && j+1 < len(text) && (text[j+1] == '\'' || text[j+1] == '"') {
			j++
		}
		if j >= len(text) || text[j] != '\'' && text[j] != '"' {
			hidden++
			continue
		}
		line, end := literal(text, j)
		lines = append(lines, line)
		from = end
	}
	return lines, hidden
}

// asciiLower lower-cases ASCII letters only, so that indices into the
// result are indices into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isIdent(c byte) bool {
	return c == '_' || c == '@' || c == '#' || c == '$' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// literal reads the string literal whose opening quote is at s[i]; a
// doubled quote stands for one. An unterminated literal runs to the end.
// The value is bounded by maxShellLine.
func literal(s string, i int) (string, int) {
	q := s[i]
	var b strings.Builder
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == q {
			if j+1 < len(s) && s[j+1] == q {
				if b.Len() < maxShellLine {
					b.WriteByte(q)
				}
				j += 2
				continue
			}
			return b.String(), j + 1
		}
		if b.Len() < maxShellLine {
			b.WriteByte(c)
		}
		j++
	}
	return b.String(), j
}

// systemDatabases are the databases of a stock SQL Server 2000 install.
var systemDatabases = []string{"master", "model", "msdb", "tempdb", "pubs", "Northwind"}

// knownDatabase returns the database's name as the server spells it.
func knownDatabase(name string) (string, bool) {
	for _, d := range systemDatabases {
		if strings.EqualFold(d, name) {
			return d, true
		}
	}
	return "", false
}
