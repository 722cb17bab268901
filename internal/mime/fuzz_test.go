package mime

import (
	"bytes"
	"testing"
)

func parseSeeds() [][]byte {
	return [][]byte{
		[]byte(nimda),
		bomb(12),
		[]byte("Subject: x\r\n\r\n" + uuencode("a.exe", exe)),
		[]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + wrap64([]byte(nimda)) + "--b--\r\n"),
		[]byte("Content-Type: text/plain; name*0=\"a\"; name*1=\".exe\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nMZ=90=00\r\n"),
		[]byte("From nobody Mon Sep 17 00:00:00 2001\nSubject : spaced\n folded\n\nbody"),
	}
}

// FuzzParse: nothing panics, every bound holds, and parsing is a pure
// function of its input.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds() {
		f.Add(s)
	}
	lim := Limits{MaxParts: 20, MaxDepth: 4, MaxHeaderBytes: 512, MaxAttachment: 256}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Parse(raw, lim)
		if m.Parts > lim.MaxParts || len(m.Attachments) > lim.MaxParts {
			t.Fatalf("parts %d attachments %d over the bound %d", m.Parts, len(m.Attachments), lim.MaxParts)
		}
		total := 0
		for _, a := range m.Attachments {
			if len(a.Data) == 0 || len(a.Data) > lim.MaxAttachment {
				t.Fatalf("attachment of %d bytes (bound %d)", len(a.Data), lim.MaxAttachment)
			}
			if a.Truncated && len(a.Data) != lim.MaxAttachment {
				t.Fatalf("truncated attachment of %d bytes, bound %d", len(a.Data), lim.MaxAttachment)
			}
			total += len(a.Data)
		}
		// Decoding never grows data; only an attached message decoded
		// and walked again can count its bytes once per level.
		if total > len(raw)*(lim.MaxDepth+1) {
			t.Fatalf("%d decoded bytes from %d", total, len(raw))
		}
		hb := 0
		for _, h := range m.Header {
			hb += len(h.Name) + len(h.Value)
		}
		if hb > lim.MaxHeaderBytes {
			t.Fatalf("%d header bytes kept, bound %d", hb, lim.MaxHeaderBytes)
		}
		again := Parse(raw, lim)
		if len(again.Attachments) != len(m.Attachments) || again.Parts != m.Parts || again.Subject != m.Subject {
			t.Fatal("two parses of the same input differ")
		}
	})
}

// FuzzDecoders: each decoder stays within its bound and its input's
// size, and base64 agrees with itself when the bound is lifted.
func FuzzDecoders(f *testing.F) {
	f.Add([]byte("TVo=TVo\r\n!!"), 3)
	f.Add([]byte("a=3Db=\r\nc=ZZ="), 100)
	f.Add([]byte(uuencode("x", exe)), 50)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		b, btr := DecodeBase64(in, max)
		if len(b) > max || len(b) > len(in)*3/4+2 {
			t.Fatalf("base64: %d bytes from %d, bound %d", len(b), len(in), max)
		}
		full, ftr := DecodeBase64(in, len(in))
		if ftr || !bytes.HasPrefix(full, b) || btr != (len(full) > max) {
			t.Fatalf("base64 bounded %q (truncated %v) is not a prefix of %q", b, btr, full)
		}
		q, qtr := DecodeQuotedPrintable(in, max)
		if len(q) > max || len(q) > len(in) {
			t.Fatalf("quoted-printable: %d bytes from %d, bound %d", len(q), len(in), max)
		}
		qfull, _ := DecodeQuotedPrintable(in, len(in))
		if !bytes.HasPrefix(qfull, q) || qtr != (len(qfull) > max) {
			t.Fatalf("quoted-printable bounded %q (truncated %v) is not a prefix of %q", q, qtr, qfull)
		}
		for _, u := range FindUUEncoded(in, 4, max) {
			if len(u.Data) > max || len(u.Data) > len(in) {
				t.Fatalf("uuencode: %d bytes from %d, bound %d", len(u.Data), len(in), max)
			}
		}
	})
}
