package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Syslog sends each alert, and each digest item, as an RFC 5424 message
// over UDP (RFC 5426, one message per datagram) or TCP (RFC 6587,
// octet-counting framing).
type Syslog struct {
	// Network is udp (the default) or tcp.
	Network string `yaml:"network"`
	// Address is the collector's host:port.
	Address string `yaml:"address"`
	// Facility is a facility name: local0 (the default) to local7, user,
	// daemon, auth, security, ...
	Facility string `yaml:"facility"`
	// Hostname is the message's HOSTNAME (default: the alert's sensor).
	Hostname string `yaml:"hostname"`
	// Timeout bounds a connection and a write (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "audit": 13,
	"console": 14, "clock": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

func (l *Syslog) validate() error {
	switch l.Network {
	case "", "udp", "tcp":
	default:
		return fmt.Errorf("network %q: want udp or tcp", l.Network)
	}
	if _, port, err := net.SplitHostPort(l.Address); err != nil || port == "" {
		return fmt.Errorf("address %q: want host:port", l.Address)
	}
	if _, ok := facilities[l.Facility]; !ok && l.Facility != "" {
		return fmt.Errorf("facility %q: want local0..local7, user, daemon, auth, ...", l.Facility)
	}
	if l.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	return nil
}

func (l *Syslog) network() string {
	if l.Network == "" {
		return "udp"
	}
	return l.Network
}

// The parts of every message Smallpot sends.
const (
	appName = "smallpot"
	// sdID names the structured data element. 32473 is the private
	// enterprise number RFC 5612 reserves for documentation and
	// examples; collectors match on the element's name.
	sdID = "smallpot@32473"
	// maxDatagram bounds a UDP message: the size RFC 5426 says every
	// receiver should take.
	maxDatagram = 2048
)

type syslogger struct {
	cfg      Syslog
	net      string
	facility int
	pid      string
	hostname string
	conn     net.Conn
}

func newSyslog(cfg Syslog) *syslogger {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	f, ok := facilities[cfg.Facility]
	if !ok {
		f = facilities["local0"]
	}
	return &syslogger{cfg: cfg, net: cfg.network(), facility: f, pid: strconv.Itoa(os.Getpid()),
		hostname: cfg.Hostname}
}

// severityCode maps an alert severity to a syslog severity.
func severityCode(sev string) int {
	switch sev {
	case "critical":
		return 2 // crit
	case "high":
		return 3 // err
	case "medium":
		return 4 // warning
	case "info":
		return 6 // informational
	}
	return 5 // notice: low, or not given
}

func (l *syslogger) alerts(ctx context.Context, batch []Alert) error {
	var errs []error
	for _, a := range batch {
		msgid := "alert"
		if a.Kind == "detection" {
			msgid = "detection"
		}
		msg := a.Title
		if a.Summary != "" {
			msg += ": " + a.Summary
		}
		line := l.format(severityCode(a.Severity), a.Time, a.Sensor, msgid, [][2]string{
			{"kind", a.Kind}, {"severity", a.Severity}, {"title", a.Title}, {"family", a.Family},
			{"rule", a.Rule}, {"sample", a.Sample}, {"service", a.Service}, {"src", a.Src},
			{"session", a.Session}, {"event", a.Event},
		}, msg)
		if err := l.write(ctx, line); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *syslogger) digest(ctx context.Context, d Digest) error {
	var errs []error
	for _, it := range d.Items {
		line := l.format(severityCode(it.Severity), d.Time, it.Sensor, "digest", [][2]string{
			{"kind", it.Kind}, {"title", it.Title}, {"count", strconv.Itoa(it.Count)},
			{"since", it.Since.UTC().Format(time.RFC3339)},
		}, it.Text(d.Time))
		if err := l.write(ctx, line); err != nil {
			errs = append(errs, err)
		}
	}
	if d.Dropped > 0 {
		line := l.format(4, d.Time, "", "digest", [][2]string{{"dropped", strconv.FormatUint(d.Dropped, 10)}},
			fmt.Sprintf("%s alerts lost: this notifier fell behind", thousands(int(d.Dropped))))
		if err := l.write(ctx, line); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// format writes one RFC 5424 message:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID name="value"...] MSG
//
// Empty parameters are left out. MSG is printable ASCII (other bytes as
// \xNN), so it needs no BOM.
func (l *syslogger) format(sev int, t time.Time, sensor, msgid string, params [][2]string, msg string) []byte {
	host := l.hostname
	if host == "" {
		host = sensor
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s %s %s [%s", l.facility*8+sev, t.UTC().Format("2006-01-02T15:04:05.000000Z"),
		header(host, 255), appName, l.pid, header(msgid, 32), sdID)
	for _, p := range params {
		if p[1] == "" {
			continue
		}
		b.WriteString(" " + p[0] + `="` + paramValue(p[1]) + `"`)
	}
	b.WriteString("] ")
	head := b.Len()
	b.WriteString(ascii(msg))
	out := []byte(b.String())
	if l.net == "udp" && len(out) > maxDatagram {
		out = out[:max(head, maxDatagram)]
	}
	return out
}

// header makes a header field of printable ASCII without spaces, "-" when
// empty.
func header(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// paramValue escapes a PARAM-VALUE: '"', '\' and ']' take a backslash.
func paramValue(s string) string {
	s = clean(s, 256)
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	return r.Replace(s)
}

// ascii writes s as printable ASCII, other bytes as \xNN, bounded.
func ascii(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 1024; i++ {
		c := s[i]
		if c >= ' ' && c < 0x7f {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// write sends one message, connecting first if need be; after a failure
// it connects again and tries once more.
func (l *syslogger) write(ctx context.Context, msg []byte) error {
	if l.net == "tcp" {
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	var err error
	for try := 0; try < 2; try++ {
		if l.conn == nil {
			d := net.Dialer{Timeout: l.cfg.Timeout}
			if l.conn, err = d.DialContext(ctx, l.net, l.cfg.Address); err != nil {
				l.conn = nil
				return fmt.Errorf("notify: syslog: %w", err)
			}
		}
		_ = l.conn.SetWriteDeadline(time.Now().Add(l.cfg.Timeout))
		if _, err = l.conn.Write(msg); err == nil {
			return nil
		}
		l.conn.Close()
		l.conn = nil
	}
	return fmt.Errorf("notify: syslog: %w", err)
}

func (l *syslogger) close() error {
	if l.conn != nil {
		err := l.conn.Close()
		l.conn = nil
		return err
	}
	return nil
}
