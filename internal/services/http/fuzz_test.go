package http

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
	"github.com/smallpot/smallpot/internal/service/servicetest"
)

// FuzzParseRequest feeds arbitrary bytes through the parser and both
// personas: nothing may panic, the bytes kept must be exactly the bytes
// read, and every bound must hold.
func FuzzParseRequest(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	for _, in := range servicetest.TranscriptInputs(f, "testdata", "testdata/linux-iot") {
		f.Add(in)
	}
	lim := Limits{MaxLine: 512, MaxHeaderBytes: 1024, MaxHeaders: 16, Capture: 2048}
	iisP, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		f.Fatal(err)
	}
	iot := newGoAhead(DefaultConfig(service.ProfileLinuxIoT))
	local := netip.MustParseAddrPort("192.0.2.1:80")
	remote := netip.MustParseAddrPort("198.51.100.7:4444")
	f.Fuzz(func(t *testing.T, in []byte) {
		src := service.NewReader(bytes.NewReader(in), 64)
		consumed := 0
		for i := 0; i < 64; i++ {
			req, err := ReadRequest(src, lim)
			if req == nil {
				if err == nil {
					t.Fatal("no request and no error")
				}
				return
			}
			if len(req.Raw) > lim.Capture || len(req.Body) > lim.Capture || len(req.Line) > lim.MaxLine {
				t.Fatalf("bounds: raw %d body %d line %d", len(req.Raw), len(req.Body), len(req.Line))
			}
			if !bytes.HasPrefix(in[consumed:], req.Raw) {
				t.Fatalf("raw %q is not what was read at offset %d", req.Raw, consumed)
			}
			if !bytes.HasPrefix(req.Raw, req.Head) {
				t.Fatalf("head %q is not the start of raw %q", req.Head, req.Raw)
			}
			if req.Truncated {
				return // the rest was drained uncounted
			}
			consumed += len(req.Raw)
			for _, p := range []persona{iisP, iot} {
				x := &exchange{req: *req, now: fixedNow, local: local, remote: remote}
				a := p.answer(x)
				if a.hold && len(a.out) > 0 {
					t.Fatalf("a held connection was answered: %q", a.out)
				}
			}
			if err != nil || req.Malformed != "" {
				return
			}
		}
	})
}

// FuzzDecodeIIS checks the IIS path decoder on arbitrary paths: the
// physical path always stays on a drive the directories name.
func FuzzDecodeIIS(f *testing.F) {
	for _, s := range []string{"/", "/scripts/..%255c../winnt/system32/cmd.exe", "/msadc/..%c1%1c..%c0%af/x",
		"/%u002e%u002e/", "/c/../../..", "/\xc0", "/a%"} {
		f.Add(s)
	}
	p, err := newIIS(DefaultConfig(service.ProfileWindows2000))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg := decodeIIS(raw, p.vdirs)
		if tg.vd == nil || len(tg.phys) == 0 {
			t.Fatalf("%q: no directory or physical path", raw)
		}
		if d := tg.phys[0]; d != tg.vd.phys[0] {
			t.Fatalf("%q: physical path %v left drive %s", raw, tg.phys, tg.vd.phys[0])
		}
		for _, part := range tg.phys[1:] {
			if part == "" || part == "." || part == ".." {
				t.Fatalf("%q: unresolved part in %v", raw, tg.phys)
			}
		}
	})
}
