package http

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/smallpot/smallpot/internal/shell"
)

// IIS 5.0 before MS00-078 and MS01-026 decoded a URL path in steps with
// a security check in the wrong place, and the worms of 2001 lived in the
// gap:
//
//  1. one %xx (and %uXXXX) decode of the path;
//  2. the check: the path, split at '/' and '\', may not climb above its
//     root with "..";
//  3. UTF-8 decoding that accepted over-long forms, so %c0%af, %c0%2f,
//     %c1%1c and %c1%9c became '/' or '\' after the check (MS00-078);
//  4. for a CGI program (.exe, .com) or ISAPI extension (.dll) in an
//     executable directory, a second %xx decode of the path, so %255c
//     became '\' after the check (MS01-026);
//  5. the physical path is the virtual directory's folder plus the rest,
//     whose ".." Windows applies, stopping at the drive's root.
//
// decodeIIS models those steps.

// vdir is a virtual directory.
type vdir struct {
	name string      // lower case, "" for the root
	phys []string    // folder as FS parts
	exec bool        // scripts and executables may run
	read bool        // files may be read
	node *shell.Node // the folder in the base tree; nil when there is none
	// index is node's entry named as the default document (of any kind),
	// nil when there is none or no node; indexPage is its page, nil when
	// it has none (see iis.staticPages).
	index     *shell.Node
	indexPage *staticPage
}

// target is a decoded request path.
type target struct {
	url     string   // the decoded URL path, as the event shows it
	vd      *vdir    // the virtual directory it falls in
	phys    []string // physical path as FS parts; never changed (it may be a vdir's)
	ext     string   // lower-case extension of the last segment
	slash   bool     // the path ended with '/'
	climbs  bool     // the check refused it: ".." above the root
	program bool     // a CGI program or ISAPI extension in an exec directory
}

// char is one decoded byte; hidden bytes came from an over-long UTF-8
// form and so were invisible to the check.
type char struct {
	b      byte
	hidden bool
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode decodes %xx once, and %uXXXX to UTF-8 when u is set. A
// '%' not starting a valid escape stays as it is.
func percentDecode(s string, u bool) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if u && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			var r rune
			ok := true
			for j := 2; j < 6; j++ {
				h, good := unhex(s[i+j])
				ok = ok && good
				r = r<<4 | rune(h)
			}
			if ok {
				b = utf8.AppendRune(b, r)
				i += 5
				continue
			}
		}
		if i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// overlong decodes UTF-8 as IIS 5.0 did: a lead byte and its followers
// make a character even when the followers are not continuation bytes,
// and a character below 0x80 written long is kept — hidden.
func overlong(s string) []char {
	out := make([]char, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0xc0 && c <= 0xdf && i+1 < len(s):
			if cp := rune(c&0x1f)<<6 | rune(s[i+1]&0x3f); cp < 0x80 {
				out = append(out, char{byte(cp), true})
				i++
				continue
			}
		case c >= 0xe0 && c <= 0xef && i+2 < len(s):
			if cp := rune(c&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f); cp < 0x80 {
				out = append(out, char{byte(cp), true})
				i += 2
				continue
			}
		}
		out = append(out, char{c, false})
	}
	return out
}

// segment is a path segment between visible separators.
type segment []char

func (s segment) String() string {
	b := make([]byte, len(s))
	for i, c := range s {
		b[i] = c.b
	}
	return string(b)
}

// visible returns the segment as the check saw it: "" unless every byte
// was visible.
func (s segment) visible() string {
	for _, c := range s {
		if c.hidden {
			return ""
		}
	}
	return s.String()
}

// decodeIIS decodes a raw URL path (no query) against the virtual
// directories.
func decodeIIS(raw string, vdirs []vdir) target {
	if t, ok := decodePlain(raw, vdirs); ok {
		return t
	}
	return decodeSteps(raw, vdirs)
}

// decodePlain is decodeIIS for the common plain path: '/' then segments
// of printable ASCII other than '%' and '\', none empty (but for a final
// '/'), "." or "..". No step of decodeSteps changes such a path: there
// is nothing to decode, no over-long form, nothing for the check to
// refuse. So its URL is the path itself, its segments are pieces of it,
// and the physical path is its one allocation (none for a virtual
// directory's own folder). It reports false for any other path.
func decodePlain(raw string, vdirs []vdir) (target, bool) {
	if raw == "" || raw[0] != '/' {
		return target{}, false
	}
	segs, start := 0, 1
	for i := 1; i <= len(raw); i++ {
		if i < len(raw) {
			if c := raw[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '\\' {
				return target{}, false
			} else if c != '/' {
				continue
			}
		}
		switch raw[start:i] {
		case "":
			if i < len(raw) {
				return target{}, false // an empty segment: "//"
			}
		case ".", "..":
			return target{}, false
		default:
			segs++
		}
		start = i + 1
	}
	t := target{url: raw, vd: &vdirs[0], slash: raw[len(raw)-1] == '/'}
	rest := raw[1:] // the segments after the virtual directory's name
	if segs > 0 {
		first, after, _ := strings.Cut(rest, "/")
		for i := range vdirs {
			if vdirs[i].name != "" && strings.EqualFold(vdirs[i].name, first) {
				t.vd = &vdirs[i]
				rest = after
				segs--
				break
			}
		}
		last := strings.TrimSuffix(raw, "/")
		last = last[strings.LastIndexByte(last, '/')+1:]
		// Windows ignores trailing dots and blanks of a file name.
		last = strings.TrimRight(last, ". ")
		if i := strings.LastIndexByte(last, '.'); i >= 0 {
			t.ext = strings.ToLower(last[i:])
		}
	}
	t.program = t.vd.exec && (t.ext == ".exe" || t.ext == ".com" || t.ext == ".dll")
	if rest == "" {
		// The directory's own folder: its parts, shared.
		t.phys = slices.Clip(t.vd.phys)
		return t, true
	}
	// Room for one more part: a directory's default document.
	phys := make([]string, len(t.vd.phys), len(t.vd.phys)+segs+1)
	copy(phys, t.vd.phys)
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, "/")
		// Windows drops a name's trailing dots; what is left of "..." is
		// no name at all.
		if p = strings.TrimRight(p, ". "); p != "" {
			phys = append(phys, p)
		}
	}
	t.phys = phys
	return t, true
}

// decodeSteps is decodeIIS for any path, step by step.
func decodeSteps(raw string, vdirs []vdir) target {
	var t target
	chars := overlong(percentDecode(raw, true))
	// Split at visible separators and apply "." and ".." as the check did.
	var segs []segment
	var cur segment
	flush := func(last bool) {
		switch cur.visible() {
		case ".":
		case "..":
			if len(segs) == 0 {
				t.climbs = true
			} else {
				segs = segs[:len(segs)-1]
			}
		case "":
			if len(cur) > 0 {
				segs = append(segs, cur)
			}
		default:
			segs = append(segs, cur)
		}
		cur = nil
	}
	for _, c := range chars {
		if !c.hidden && (c.b == '/' || c.b == '\\') {
			flush(false)
			continue
		}
		cur = append(cur, c)
	}
	t.slash = len(cur) == 0 && len(chars) > 0
	flush(true)
	names := make([]string, len(segs))
	for i, s := range segs {
		names[i] = s.String()
	}
	// The virtual directory is named by the first segment.
	t.vd = &vdirs[0]
	rest := names
	if len(names) > 0 {
		for i := range vdirs {
			if vdirs[i].name != "" && strings.EqualFold(vdirs[i].name, names[0]) {
				t.vd = &vdirs[i]
				rest = names[1:]
				break
			}
		}
	}
	if len(names) > 0 {
		last := names[len(names)-1]
		// Windows ignores trailing dots and blanks of a file name.
		last = strings.TrimRight(last, ". ")
		if i := strings.LastIndexByte(last, '.'); i >= 0 && !strings.ContainsAny(last[i:], `/\`) {
			t.ext = strings.ToLower(last[i:])
		}
	}
	t.program = t.vd.exec && (t.ext == ".exe" || t.ext == ".com" || t.ext == ".dll")
	if t.program {
		// MS01-026: the path of a program is decoded once more.
		for i := range rest {
			rest[i] = percentDecode(rest[i], false)
		}
	}
	shown := rest
	if t.vd.name != "" {
		shown = append([]string{names[0]}, rest...)
	}
	t.url = "/" + strings.Join(shown, "/")
	if t.slash && len(shown) > 0 {
		t.url += "/"
	}
	// The physical path: the folder, then every piece of the rest split
	// at either separator, ".." applied by Windows.
	phys := append([]string(nil), t.vd.phys...)
	for _, r := range rest {
		for _, p := range strings.FieldsFunc(r, func(c rune) bool { return c == '/' || c == '\\' }) {
			p = strings.TrimRight(p, " ")
			if p == ".." {
				if len(phys) > 1 {
					phys = phys[:len(phys)-1]
				}
				continue
			}
			// Windows drops a name's trailing dots and blanks; what is
			// left of ".", "..." or " ." is no name at all.
			if p = strings.TrimRight(p, ". "); p != "" {
				phys = append(phys, p)
			}
		}
	}
	t.phys = phys
	return t
}

// physString renders FS parts as IIS prints a physical path.
func physString(parts []string) string {
	return strings.ToLower(shell.WinJoin(parts))
}
