package mime

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"slices"
	"strings"
	"testing"
)

// wrap64 base64-encodes b in 76-character lines, as mailers do.
func wrap64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

// uuencode encodes b as a uuencode block, for the tests.
func uuencode(name string, b []byte) string {
	var out strings.Builder
	fmt.Fprintf(&out, "begin 644 %s\r\n", name)
	enc := func(v byte) byte {
		if v == 0 {
			return '`'
		}
		return v + ' '
	}
	for len(b) > 0 {
		n := min(45, len(b))
		chunk := b[:n]
		b = b[n:]
		out.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var t [3]byte
			copy(t[:], chunk[i:])
			out.WriteByte(enc(t[0] >> 2))
			out.WriteByte(enc((t[0]<<4 | t[1]>>4) & 63))
			out.WriteByte(enc((t[1]<<2 | t[2]>>6) & 63))
			out.WriteByte(enc(t[2] & 63))
		}
		out.WriteString("\r\n")
	}
	out.WriteString("`\r\nend\r\n")
	return out.String()
}

// exe is a stand-in for a worm's executable: an MZ header and bytes of
// every value.
var exe = func() []byte {
	b := []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	for i := 0; i < 700; i++ {
		b = append(b, byte(i*7))
	}
	return b
}()

// nimda is shaped like the message Nimda mailed: HTML that runs the
// attachment, and readme.exe declared as a sound.
var nimda = "From: <victim@example.org>\r\n" +
	"Subject: \r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/related;\r\n" +
	"\ttype=\"multipart/alternative\";\r\n" +
	"\tboundary=\"====_ABC1234567890DEF_====\"\r\n" +
	"X-Priority: 3\r\n" +
	"X-MSMail-Priority: Normal\r\n" +
	"X-Unsent: 1\r\n" +
	"\r\n" +
	"--====_ABC1234567890DEF_====\r\n" +
	"Content-Type: multipart/alternative;\r\n" +
	"\tboundary=\"====_ABC0987654321DEF_====\"\r\n" +
	"\r\n" +
	"--====_ABC0987654321DEF_====\r\n" +
	"Content-Type: text/html;\r\n" +
	"\tcharset=\"iso-8859-1\"\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"<HTML><HEAD></HEAD><BODY bgColor=3D#ffffff>\r\n" +
	"<iframe src=3Dcid:EA4DMGBP9p height=3D0 width=3D0>\r\n" +
	"</iframe></BODY></HTML>\r\n" +
	"--====_ABC0987654321DEF_====--\r\n" +
	"\r\n" +
	"--====_ABC1234567890DEF_====\r\n" +
	"Content-Type: audio/x-wav;\r\n" +
	"\tname=\"readme.exe\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-ID: <EA4DMGBP9p>\r\n" +
	"\r\n" +
	wrap64(exe) +
	"\r\n" +
	"--====_ABC1234567890DEF_====--\r\n"

type wantAtt struct {
	name, ctype, enc, path string
	data                   []byte
	trunc, unterm          bool
}

func TestParse(t *testing.T) {
	qpText := "caf\xe9 = ok\r\n" + strings.Repeat("x", 90) + "\r\n"
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	_, _ = w.Write([]byte(qpText))
	_ = w.Close()

	tests := []struct {
		name    string
		in      string
		lim     Limits
		subject string
		atts    []wantAtt
		cut     []string
		parts   int
	}{
		{
			name:    "plain text, no attachment",
			in:      "From: a@b\r\nSubject: hello\r\n\r\njust text\r\n",
			subject: "hello", parts: 1,
		},
		{
			name: "nimda readme.exe as audio/x-wav",
			in:   nimda,
			atts: []wantAtt{{name: "readme.exe", ctype: "audio/x-wav", enc: "base64", path: "2", data: exe}},
			// the message (multipart/related), alternative, html, wav
			parts: 4,
		},
		{
			name: "attachment named by content-disposition, LF line ends",
			in: "Content-Type: multipart/mixed; boundary=XYZ\n\npreamble\n--XYZ\nContent-Type: text/plain\n\nbody\n--XYZ\n" +
				"Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"setup.exe\"\nContent-Transfer-Encoding: base64\n\n" +
				strings.ReplaceAll(wrap64(exe), "\r\n", "\n") + "--XYZ--\nepilogue\n",
			atts:  []wantAtt{{name: "setup.exe", ctype: "application/octet-stream", enc: "base64", path: "2", data: exe}},
			parts: 3,
		},
		{
			name: "RFC 2231 file name",
			in: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''na%C3%AFve.scr\r\n\r\nMZ\r\n--b--\r\n",
			atts:  []wantAtt{{name: "naïve.scr", ctype: "application/octet-stream", enc: "7bit", path: "1", data: []byte("MZ")}},
			parts: 2,
		},
		{
			name: "RFC 2047 name and subject",
			in: "Subject: =?iso-8859-1?Q?r=E9sum=E9?=\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n" +
				"Content-Type: application/msword; name=\"=?iso-8859-1?Q?r=E9sum=E9.doc?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b--\r\n",
			subject: "résumé",
			atts:    []wantAtt{{name: "résumé.doc", ctype: "application/msword", enc: "base64", path: "1", data: []byte("MZ")}},
			parts:   2,
		},
		{
			name: "quoted-printable text file",
			in: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=notes.txt\r\n" +
				"Content-Transfer-Encoding: Quoted-Printable\r\n\r\n" + qp.String() + "\r\n--b--\r\n",
			atts:  []wantAtt{{name: "notes.txt", ctype: "text/plain", enc: "quoted-printable", path: "1", data: []byte(qpText)}},
			parts: 2,
		},
		{
			name:  "uuencoded file in a plain message",
			in:    "Subject: see attached\r\n\r\nhere it is\r\n\r\n" + uuencode("patch.exe", exe) + "bye\r\n",
			atts:  []wantAtt{{name: "patch.exe", enc: "uuencode", data: exe}},
			parts: 2, subject: "see attached",
		},
		{
			name: "attached message carrying a file",
			in: "Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\n" +
				"Subject: inner\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n" +
				"Content-Type: application/x-msdownload; name=\"a.pif\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap64(exe) +
				"--inner--\r\n--outer--\r\n",
			atts:  []wantAtt{{name: "a.pif", ctype: "application/x-msdownload", enc: "base64", path: "1.1.1", data: exe}},
			parts: 4,
		},
		{
			name: "message cut inside an attachment",
			in: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream; name=x.exe\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + wrap64(exe)[:200],
			atts: []wantAtt{{name: "x.exe", ctype: "application/octet-stream", enc: "base64", path: "1",
				data: exe[:147], unterm: true}}, // 196 base64 characters survived the cut
			parts: 2,
		},
		{
			name: "attachment over its bound",
			in: "Content-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				wrap64(exe),
			lim:   Limits{MaxAttachment: 100},
			atts:  []wantAtt{{name: "big.bin", ctype: "application/octet-stream", enc: "base64", data: exe[:100], trunc: true}},
			cut:   []string{CutAttachment},
			parts: 1,
		},
		{
			name:  "header over its bound",
			in:    "Subject: s\r\nX-Pad: " + strings.Repeat("a", 300) + "\r\nX-After: 1\r\n\r\nbody\r\n",
			lim:   Limits{MaxHeaderBytes: 100},
			cut:   []string{CutHeader},
			parts: 1, subject: "s",
		},
		{
			name: "broken content-type parameters still give the boundary",
			in: "Content-Type: multipart/mixed; boundary=\"q\"; boundary=\"dup\";\r\n\r\n--q\r\n" +
				"Content-Type: application/octet-stream; name=\"w.com\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--q--\r\n",
			atts:  []wantAtt{{name: "w.com", ctype: "application/octet-stream", enc: "base64", path: "1", data: []byte("MZ")}},
			parts: 2,
		},
		{
			name: "delimiter-like text inside a part is not a delimiter",
			in: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream; name=t.bin\r\n\r\n" +
				"x--b\r\n--bogus\r\n--b--\r\n",
			atts:  []wantAtt{{name: "t.bin", ctype: "application/octet-stream", enc: "7bit", path: "1", data: []byte("x--b\r\n--bogus")}},
			parts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse([]byte(tt.in), tt.lim)
			if m.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", m.Subject, tt.subject)
			}
			if !slices.Equal(m.Cut, tt.cut) {
				t.Errorf("cut = %v, want %v", m.Cut, tt.cut)
			}
			if m.Parts != tt.parts {
				t.Errorf("parts = %d, want %d", m.Parts, tt.parts)
			}
			if len(m.Attachments) != len(tt.atts) {
				t.Fatalf("got %d attachments, want %d: %+v", len(m.Attachments), len(tt.atts), m.Attachments)
			}
			for i, w := range tt.atts {
				a := m.Attachments[i]
				if a.Name != w.name || a.ContentType != w.ctype || a.Encoding != w.enc || a.Path != w.path ||
					a.Truncated != w.trunc || a.Unterminated != w.unterm {
					t.Errorf("attachment %d = {%q %q %q %q trunc=%v unterm=%v}, want {%q %q %q %q trunc=%v unterm=%v}", i,
						a.Name, a.ContentType, a.Encoding, a.Path, a.Truncated, a.Unterminated,
						w.name, w.ctype, w.enc, w.path, w.trunc, w.unterm)
				}
				if !bytes.Equal(a.Data, w.data) {
					t.Errorf("attachment %d data: got %d bytes %q..., want %d bytes", i, len(a.Data), head(a.Data), len(w.data))
				}
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// bomb builds a multipart message with n attachments.
func bomb(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: bomb\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "--B\r\nContent-Type: application/octet-stream; name=f%d.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVoA%04d\r\n", i, i)
	}
	b.WriteString("--B--\r\n")
	return b.Bytes()
}

func TestThousandPartsBomb(t *testing.T) {
	m := Parse(bomb(1000), Limits{MaxParts: 100})
	if !slices.Equal(m.Cut, []string{CutParts}) {
		t.Fatalf("cut = %v, want [parts]", m.Cut)
	}
	if m.Parts != 100 || len(m.Attachments) != 99 {
		t.Fatalf("parts %d attachments %d, want 100 and 99 (the message itself is a part)", m.Parts, len(m.Attachments))
	}
	if m.Attachments[98].Name != "f98.exe" {
		t.Errorf("last attachment %q, want f98.exe", m.Attachments[98].Name)
	}
}

func TestDeepNesting(t *testing.T) {
	var b strings.Builder
	const levels = 30
	b.WriteString("Content-Type: multipart/mixed; boundary=L0\r\n\r\n")
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&b, "--L%d\r\nContent-Type: multipart/mixed; boundary=L%d\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&b, "--L%d\r\nContent-Type: application/octet-stream; name=deep.exe\r\n\r\nMZ\r\n", levels)
	for i := levels; i >= 0; i-- {
		fmt.Fprintf(&b, "--L%d--\r\n", i)
	}
	m := Parse([]byte(b.String()), Limits{MaxDepth: 8})
	if !slices.Equal(m.Cut, []string{CutDepth}) || len(m.Attachments) != 0 {
		t.Fatalf("cut %v, %d attachments; want [depth] and none", m.Cut, len(m.Attachments))
	}
	m = Parse([]byte(b.String()), Limits{MaxDepth: levels + 1})
	if len(m.Cut) != 0 || len(m.Attachments) != 1 || string(m.Attachments[0].Data) != "MZ" {
		t.Fatalf("within the bound: cut %v, attachments %+v", m.Cut, m.Attachments)
	}
}

// The lenient decoders agree with the standard library on well-formed
// input of every length.
func TestDecodersAgreeWithStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if got, tr := DecodeBase64([]byte(wrap64(data)), len(data)); !bytes.Equal(got, data) || tr {
			t.Fatalf("base64 of %d bytes: got %d bytes, truncated=%v", n, len(got), tr)
		}
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		w.Binary = true
		_, _ = w.Write(data)
		_ = w.Close()
		if got, tr := DecodeQuotedPrintable(qp.Bytes(), len(data)+1); !bytes.Equal(got, data) || tr {
			t.Fatalf("quoted-printable of %d bytes: got %q, want %q", n, got, data)
		}
		bl := FindUUEncoded([]byte(uuencode("f", data)), 1, len(data)+1)
		if n > 0 && (len(bl) != 1 || !bytes.Equal(bl[0].Data, data) || bl[0].Truncated) {
			t.Fatalf("uuencode of %d bytes: %+v", n, bl)
		}
	}
}

func TestDecodeBase64Lenient(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		tr   bool
	}{
		{"TVo=", 10, "MZ", false},
		{"TV\r\no*", 10, "MZ", false},   // junk and line breaks skipped
		{"TVo", 10, "MZ", false},        // padding missing
		{"TVo=TVo=", 10, "MZMZ", false}, // concatenated encodings
		{"aGVsbG8gd29ybGQ=", 5, "hello", true},
		{"aGVsbG8=", 5, "hello", false}, // exactly fills the bound
		{"!!!", 10, "", false},
		{"T", 10, "", false},
	}
	for _, tt := range tests {
		got, tr := DecodeBase64([]byte(tt.in), tt.max)
		if string(got) != tt.want || tr != tt.tr {
			t.Errorf("DecodeBase64(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, tr, tt.want, tt.tr)
		}
	}
}

func TestDecodeQuotedPrintableLenient(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=3Db", "a=b"},
		{"a=3db", "a=b"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft=\nbreak", "softbreak"},
		{"soft=  \r\nbreak", "softbreak"},
		{"bad=ZZ", "bad=ZZ"},
		{"end=", "end="},
	}
	for _, tt := range tests {
		if got, _ := DecodeQuotedPrintable([]byte(tt.in), 100); string(got) != tt.want {
			t.Errorf("DecodeQuotedPrintable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFindUUEncoded(t *testing.T) {
	text := "begin 644 a.exe\r\n" + strings.Split(uuencode("x", []byte("hello world")), "\r\n")[1] + "\r\n`\r\nend\r\n" +
		"begin 9x9 not.a.block\r\nbegin 755 second file.com\r\n#35H`\r\nend\r\nbegin 644 open.bin\r\n#35H`\r\n"
	bl := FindUUEncoded([]byte(text), 10, 100)
	want := []UUBlock{{Name: "a.exe", Data: []byte("hello world")}, {Name: "second file.com", Data: []byte("MZ\x00")},
		{Name: "open.bin", Data: []byte("MZ\x00")}}
	if len(bl) != len(want) {
		t.Fatalf("got %d blocks %+v, want %d", len(bl), bl, len(want))
	}
	for i := range want {
		if bl[i].Name != want[i].Name || !bytes.Equal(bl[i].Data, want[i].Data) {
			t.Errorf("block %d = %q %q, want %q %q", i, bl[i].Name, bl[i].Data, want[i].Name, want[i].Data)
		}
	}
	if got := FindUUEncoded([]byte(text), 1, 100); len(got) != 1 {
		t.Errorf("maxFiles 1: got %d blocks", len(got))
	}
	if got := FindUUEncoded([]byte(text), 10, 4); !got[0].Truncated || string(got[0].Data) != "hell" {
		t.Errorf("maxSize 4: got %q truncated=%v", got[0].Data, got[0].Truncated)
	}
}
