package mssql

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"strings"
	"testing"
)

// slammer is shaped as SQL Slammer's datagram: 0x04 then 375 bytes of
// code (here the 0x01 fill its overflow began with, then filler).
var slammer = append(append([]byte{ssrpInstance}, bytes.Repeat([]byte{0x01}, 96)...), bytes.Repeat([]byte{0x90}, 279)...)

var ssrpCases = []struct {
	name      string
	in        []byte
	kind      string
	instance  string
	malformed bool
}{
	{name: "broadcast", in: []byte{0x02}, kind: "CLNT_BCAST_EX"},
	{name: "unicast", in: []byte{0x03}, kind: "CLNT_UCAST_EX"},
	{name: "instance", in: []byte("\x04MSSQLSERVER\x00"), kind: "CLNT_UCAST_INST", instance: "MSSQLSERVER"},
	{name: "instance no NUL", in: []byte("\x04SQLEXPRESS"), kind: "CLNT_UCAST_INST", instance: "SQLEXPRESS"},
	{name: "instance 32 bytes", in: []byte("\x04" + strings.Repeat("A", 32) + "\x00"), kind: "CLNT_UCAST_INST", instance: strings.Repeat("A", 32)},
	{name: "instance 33 bytes", in: []byte("\x04" + strings.Repeat("A", 33)), kind: "CLNT_UCAST_INST", instance: strings.Repeat("A", 32), malformed: true},
	{name: "slammer", in: slammer, kind: "CLNT_UCAST_INST", malformed: true},
	{name: "empty instance", in: []byte{0x04, 0x00}, kind: "CLNT_UCAST_INST", malformed: true},
	{name: "control bytes", in: []byte("\x04AB\x01CD"), kind: "CLNT_UCAST_INST", instance: "AB", malformed: true},
	{name: "long broadcast", in: []byte{0x02, 0x00}, kind: "CLNT_BCAST_EX", malformed: true},
	{name: "dac", in: []byte("\x0f\x01MSSQLSERVER\x00"), kind: "CLNT_UCAST_DAC", instance: "MSSQLSERVER", malformed: true},
	{name: "response", in: []byte{0x05, 0x00, 0x00}, kind: "SVR_RESP", malformed: true},
	{name: "ping", in: []byte{0x0a}, malformed: true},
	{name: "empty", in: nil, malformed: true},
}

func TestParseSSRP(t *testing.T) {
	for _, tc := range ssrpCases {
		r := ParseSSRP(tc.in)
		if r.Name != tc.kind || r.Instance != tc.instance || (r.Malformed != "") != tc.malformed {
			t.Errorf("%s: got %q %q malformed %q; want %q %q malformed=%v", tc.name, r.Name, r.Instance, r.Malformed,
				tc.kind, tc.instance, tc.malformed)
		}
	}
}

// The answer must be what nmap's ms-sql-m match lines read
// (nmap-service-probes, Probe UDP Sqlping, line "match ms-sql-m
// m|^\x05..ServerName;([\w\-]+);InstanceName;...;tcp;(\d{1,5});;|").
func TestSSRPAnswer(t *testing.T) {
	nmapLine := regexp.MustCompile(`(?s)^\x05..ServerName;([\w\-]+);InstanceName;[\w\-]+;IsClustered;\w{2,3};Version;([\d\.]+);tcp;(\d{1,5});;`)
	nmapNP := regexp.MustCompile(`(?s)^\x05..ServerName;([\w\-]+);InstanceName;[\w\-]+;IsClustered;\w{2,3};Version;([\d\.]+);tcp;(\d{1,5});np;.+;$`)
	bi := DefaultConfig("windows2000").Persona.browser()
	a := bi.answer()
	want := "ServerName;WEBSERVER;InstanceName;MSSQLSERVER;IsClustered;No;Version;8.00.194;tcp;1433;;"
	if string(a[3:]) != want || a[0] != 0x05 || int(binary.LittleEndian.Uint16(a[1:])) != len(want) {
		t.Errorf("answer %q, want 0x05, length %d, %q", a, len(want), want)
	}
	if m := nmapLine.FindSubmatch(a); m == nil || string(m[1]) != "WEBSERVER" || string(m[2]) != "8.00.194" || string(m[3]) != "1433" {
		t.Errorf("nmap's match line does not read %q as WEBSERVER 8.00.194 tcp 1433: %q", a, m)
	}
	bi.NamedPipe = true
	a = bi.answer()
	if !bytes.HasSuffix(a, []byte(`;tcp;1433;np;\\WEBSERVER\pipe\sql\query;;`)) || !nmapNP.Match(a) {
		t.Errorf("answer with named pipe %q", a)
	}
	bi.Instance = "SALES"
	if a := bi.answer(); !bytes.Contains(a, []byte(`np;\\WEBSERVER\pipe\MSSQL$SALES\sql\query;;`)) {
		t.Errorf("named instance pipe: %q", a)
	}
	if !bi.serves("sales") || bi.serves("MSSQLSERVER") {
		t.Error("instance matching")
	}
}
