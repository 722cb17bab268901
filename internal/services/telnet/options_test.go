package telnet

import (
	"bytes"
	"reflect"
	"testing"
)

type parseCase struct {
	name string
	in   string
	data string
	ops  []Op
}

var parseCases = []parseCase{
	{"plain data", "root\r\n", "root\r\n", nil},
	{"escaped 0xff", "a\xff\xffb", "a\xffb", nil},
	{"negotiation", "\xff\xfd\x01\xff\xfc\x25x", "x", []Op{{Cmd: cmdDO, Option: optEcho}, {Cmd: cmdWONT, Option: optAuth}}},
	{"naws", "\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0", "",
		[]Op{{Cmd: cmdWILL, Option: optNAWS}, {Cmd: cmdSB, Option: optNAWS, Data: []byte{0, 80, 0, 24}}}},
	{"width 255 escaped in SB", "\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0", "",
		[]Op{{Cmd: cmdSB, Option: optNAWS, Data: []byte{0, 255, 0, 24}}}},
	{"terminal type", "\xff\xfa\x18\x00XTERM\xff\xf0ok", "ok", []Op{{Cmd: cmdSB, Option: optTType, Data: []byte("\x00XTERM")}}},
	{"one-byte commands", "\xff\xf1\xff\xf6\xff\xf4", "", []Op{{Cmd: cmdNOP}, {Cmd: cmdAYT}, {Cmd: cmdIP}}},
	{"SB cut short by a command", "\xff\xfa\x18\x00VT\xff\xfb\x03", "",
		[]Op{{Cmd: cmdSB, Option: optTType, Data: []byte("\x00VT")}, {Cmd: cmdWILL, Option: optSGA}}},
	{"oversized SB", "\xff\xfa\x27" + string(bytes.Repeat([]byte{'A'}, 600)) + "\xff\xf0z", "z",
		[]Op{{Cmd: cmdSB, Option: optNewEnviron, Data: bytes.Repeat([]byte{'A'}, 512), Truncated: true}}},
	{"empty SB", "\xff\xfa\x05\xff\xf0", "", []Op{{Cmd: cmdSB, Option: optStatus}}},
	{"CR NUL is data here", "a\r\x00b", "a\r\x00b", nil},
	{"stray SE", "\xff\xf0", "", []Op{{Cmd: cmdSE}}},
	{"unknown command", "\xff\x10", "", []Op{{Cmd: 0x10}}},
	{"trailing IAC waits", "ab\xff", "ab", nil},
}

func TestParser(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			data, ops := p.Feed([]byte(tc.in), nil, nil)
			if string(data) != tc.data {
				t.Errorf("data %q, want %q", data, tc.data)
			}
			if !reflect.DeepEqual(ops, tc.ops) {
				t.Errorf("ops %+v, want %+v", ops, tc.ops)
			}
			// Byte by byte, the same result.
			var q Parser
			var d2 []byte
			var o2 []Op
			for i := 0; i < len(tc.in); i++ {
				d2, o2 = q.Feed([]byte{tc.in[i]}, d2, o2)
			}
			if string(d2) != tc.data || !reflect.DeepEqual(o2, tc.ops) {
				t.Errorf("byte by byte: data %q ops %+v", d2, o2)
			}
		})
	}
}

func TestOpString(t *testing.T) {
	for _, tt := range []struct {
		op   Op
		want string
	}{
		{Op{Cmd: cmdWONT, Option: optAuth}, "WONT AUTHENTICATION"},
		{Op{Cmd: cmdDO, Option: 200}, "DO 200"},
		{Op{Cmd: cmdSB, Option: optNAWS, Data: []byte{0, 80, 0, 24}}, "SB NAWS 80x24"},
		{Op{Cmd: cmdSB, Option: optTType, Data: []byte("\x00XTERM")}, "SB TERMINAL-TYPE IS XTERM"},
		{Op{Cmd: cmdSB, Option: optTType, Data: []byte{1}}, "SB TERMINAL-TYPE SEND"},
		{Op{Cmd: cmdSB, Option: optTSpeed, Data: []byte("\x0038400,38400")}, "SB TERMINAL-SPEED IS 38400,38400"},
		{Op{Cmd: cmdSB, Option: optNewEnviron, Data: []byte("\x00\x00USER\x01-f root\x03DISPLAY\x01:0")},
			`SB NEW-ENVIRON IS VAR USER VALUE "-f root" USERVAR DISPLAY VALUE :0`},
		{Op{Cmd: cmdSB, Option: optLinemode, Data: []byte{1, 0x13}, Truncated: true}, "SB LINEMODE 01 13 (truncated)"},
		{Op{Cmd: cmdAYT}, "AYT"},
		{Op{Cmd: 0x10}, "IAC 0x10"},
	} {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.op, got, tt.want)
		}
	}
}

func TestParseOption(t *testing.T) {
	for _, tt := range []struct {
		in        string
		verb, opt byte
		ok        bool
	}{
		{"DO AUTHENTICATION", cmdDO, optAuth, true},
		{"will echo", cmdWILL, optEcho, true},
		{"DONT 31", cmdDONT, optNAWS, true},
		{"WONT TERMINAL-TYPE", cmdWONT, optTType, true},
		{"DO", 0, 0, false},
		{"MAYBE ECHO", 0, 0, false},
		{"DO NOPE", 0, 0, false},
		{"DO 300", 0, 0, false},
	} {
		v, o, err := ParseOption(tt.in)
		if (err == nil) != tt.ok || v != tt.verb || o != tt.opt {
			t.Errorf("ParseOption(%q) = %d %d %v", tt.in, v, o, err)
		}
	}
}

// The negotiator answers as RFC 1143 says: once per change, never in a
// loop, and a passive one never.
func TestNegotiator(t *testing.T) {
	n := Negotiator{Will: []byte{optEcho, optSGA}, Do: []byte{optNAWS, optTType}}
	if b := n.Request(cmdWILL, optEcho); !bytes.Equal(b, []byte{cmdIAC, cmdWILL, optEcho}) {
		t.Fatalf("request: % x", b)
	}
	if b := n.Request(cmdWILL, optEcho); b != nil {
		t.Errorf("a second request is sent again: % x", b)
	}
	steps := []struct {
		in      Op
		reply   []byte
		changed bool
	}{
		{Op{Cmd: cmdDO, Option: optEcho}, nil, true}, // the answer to our WILL: no reply
		{Op{Cmd: cmdDO, Option: optEcho}, nil, false},
		{Op{Cmd: cmdDO, Option: optSGA}, []byte{cmdIAC, cmdWILL, optSGA}, true},
		{Op{Cmd: cmdDO, Option: optLinemode}, []byte{cmdIAC, cmdWONT, optLinemode}, false},
		{Op{Cmd: cmdWILL, Option: optNAWS}, []byte{cmdIAC, cmdDO, optNAWS}, true},
		{Op{Cmd: cmdWILL, Option: optNAWS}, nil, false},
		{Op{Cmd: cmdWILL, Option: optXDisplay}, []byte{cmdIAC, cmdDONT, optXDisplay}, false},
		{Op{Cmd: cmdWONT, Option: optNAWS}, []byte{cmdIAC, cmdDONT, optNAWS}, true},
		{Op{Cmd: cmdWONT, Option: optNAWS}, nil, false},
		{Op{Cmd: cmdDONT, Option: optEcho}, []byte{cmdIAC, cmdWONT, optEcho}, true},
		{Op{Cmd: cmdDONT, Option: optEcho}, nil, false},
	}
	for i, s := range steps {
		reply, changed := n.Receive(s.in)
		if !bytes.Equal(reply, s.reply) || changed != s.changed {
			t.Errorf("step %d %s: reply % x changed %v, want % x %v", i, s.in, reply, changed, s.reply, s.changed)
		}
	}
	if n.Us(optEcho) || !n.Us(optSGA) || n.Him(optNAWS) {
		t.Errorf("final states: echo %v sga %v naws %v", n.Us(optEcho), n.Us(optSGA), n.Him(optNAWS))
	}
	p := Negotiator{Passive: true}
	for _, op := range []Op{{Cmd: cmdDO, Option: optEcho}, {Cmd: cmdWILL, Option: optNAWS}, {Cmd: cmdDONT, Option: optSGA}} {
		if reply, _ := p.Receive(op); reply != nil {
			t.Errorf("passive negotiator answered %s with % x", op, reply)
		}
	}
	if !p.Him(optNAWS) {
		t.Error("a passive negotiator does not follow the client's side")
	}
}
