package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/event"
)

// FuzzSyslog checks that whatever an alert's text holds, the message is
// one well-formed RFC 5424 line whose parameters read back as sent.
func FuzzSyslog(f *testing.F) {
	f.Add("CodeRed II", "IIS .ida overflow", "pot-1", "critical")
	f.Add(`a"b]c\d`, "line\nbreak\x00ü", "host name", "high")
	f.Add(strings.Repeat("x", 300), strings.Repeat("é", 900), "", "")
	f.Fuzz(func(t *testing.T, title, summary, sensor, sev string) {
		d, _ := json.Marshal(map[string]string{"kind": "new_probe", "title": title, "summary": summary, "severity": sev})
		r := record("alert", event.Raw{K: "alert", JSON: d})
		r.Event.Sensor = sensor
		b, _ := r.Event.MarshalJSON()
		r.JSON = b
		a := alertOf(r)
		for _, network := range []string{"udp", "tcp"} {
			l := newSyslog(Syslog{Network: network, Address: "127.0.0.1:514"})
			line := string(l.format(severityCode(a.Severity), a.Time, a.Sensor, "alert",
				[][2]string{{"title", a.Title}, {"kind", a.Kind}}, a.Title+": "+a.Summary))
			if network == "udp" && len(line) > maxDatagram {
				t.Fatalf("%d-byte datagram", len(line))
			}
			_, _, _, _, params, _ := parseSyslog(t, line)
			if params["title"] != clean(a.Title, 256) {
				t.Errorf("title %q read back as %q", a.Title, params["title"])
			}
		}
	})
}
