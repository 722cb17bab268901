package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// Email sends alerts through the user's own SMTP server: alerts that pass
// the rate limit at once (those queued together in one mail), the rest in
// a digest mail per digest interval.
type Email struct {
	// Server is the SMTP server's host:port.
	Server string `yaml:"server"`
	// TLS speaks TLS from the start (port 465); StartTLS upgrades the
	// connection and fails if the server does not offer it.
	TLS      bool `yaml:"tls"`
	StartTLS bool `yaml:"starttls"`
	// Username and Password authenticate with AUTH PLAIN, which is only
	// sent over TLS or to a server on loopback.
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	// Subject starts every subject (default "[smallpot]").
	Subject string `yaml:"subject"`
	// Helo is the name given in EHLO (default "localhost").
	Helo string `yaml:"helo"`
	// Timeout bounds one mail's whole exchange (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

func (e *Email) validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(e.Server); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("server %q: want host:port", e.Server))
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		errs = append(errs, fmt.Errorf("from %q: %w", e.From, err))
	}
	if len(e.To) == 0 {
		errs = append(errs, errors.New("to: at least one address"))
	}
	for _, t := range e.To {
		if _, err := mail.ParseAddress(t); err != nil {
			errs = append(errs, fmt.Errorf("to %q: %w", t, err))
		}
	}
	if e.TLS && e.StartTLS {
		errs = append(errs, errors.New("tls and starttls: choose one"))
	}
	if e.Password != "" && e.Username == "" {
		errs = append(errs, errors.New("password without username"))
	}
	if strings.ContainsAny(e.Subject+e.Helo, "\r\n") {
		errs = append(errs, errors.New("subject and helo: no line breaks"))
	}
	if e.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	return errors.Join(errs...)
}

type mailer struct {
	cfg  Email
	host string
	from *mail.Address
	to   []*mail.Address
}

func newMailer(cfg Email) *mailer {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Subject == "" {
		cfg.Subject = "[smallpot]"
	}
	m := &mailer{cfg: cfg}
	m.host, _, _ = net.SplitHostPort(cfg.Server)
	m.from, _ = mail.ParseAddress(cfg.From) // validated
	for _, t := range cfg.To {
		a, _ := mail.ParseAddress(t)
		m.to = append(m.to, a)
	}
	return m
}

func (m *mailer) alerts(ctx context.Context, batch []Alert) error {
	var subject string
	if len(batch) == 1 {
		subject = batch[0].Title
		if batch[0].Severity != "" {
			subject += " (" + batch[0].Severity + ")"
		}
	} else {
		titles := make([]string, 0, len(batch))
		for _, a := range batch {
			if len(titles) < 5 && !contains(titles, a.Title) {
				titles = append(titles, a.Title)
			}
		}
		subject = fmt.Sprintf("%d alerts: %s", len(batch), strings.Join(titles, ", "))
	}
	var b strings.Builder
	for i, a := range batch {
		if i > 0 {
			b.WriteString("\n")
		}
		writeAlert(&b, a)
	}
	return m.send(ctx, subject, b.String())
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func writeAlert(b *strings.Builder, a Alert) {
	b.WriteString(a.Title + "\n")
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(b, "  %-9s %s\n", name+":", v)
		}
	}
	field("severity", a.Severity)
	field("kind", a.Kind)
	field("time", a.Time.UTC().Format(time.RFC3339))
	field("sensor", a.Sensor)
	field("service", a.Service)
	field("source", a.Src)
	field("family", a.Family)
	field("rule", a.Rule)
	field("sample", a.Sample)
	field("session", a.Session)
	field("event", a.Event)
	if a.Summary != "" {
		b.WriteString("\n  " + a.Summary + "\n")
	}
}

func (m *mailer) digest(ctx context.Context, d Digest) error {
	n := 0
	for _, it := range d.Items {
		n += it.Count
	}
	span := time.Duration(0)
	for _, it := range d.Items {
		span = max(span, d.Time.Sub(it.Since))
	}
	subject := fmt.Sprintf("digest: %s alerts held back in the last %s", thousands(n), ago(span))
	if n == 0 {
		subject = fmt.Sprintf("digest: %s alerts lost", thousands(int(d.Dropped)))
	}
	body := "Alerts held back by the rate limit, by kind:\n\n" + strings.Join(d.Lines(), "\n") + "\n"
	return m.send(ctx, subject, body)
}

// send delivers one mail.
func (m *mailer) send(ctx context.Context, subject, body string) error {
	if err := m.exchange(ctx, m.message(subject, body)); err != nil {
		return fmt.Errorf("notify: email: %w", err)
	}
	return nil
}

func (m *mailer) exchange(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.cfg.Server)
	if err != nil {
		return err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if m.cfg.TLS {
		conn = tls.Client(conn, &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12})
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return err
	}
	defer c.Close()
	helo := m.cfg.Helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	if m.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS")
		}
		if err := c.StartTLS(&tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if m.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	for _, t := range m.to {
		if err := c.Rcpt(t.Address); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message writes the mail: plain text, UTF-8, quoted-printable, so that
// no line of the alert's text (which may quote an attacker) can break the
// message's structure.
func (m *mailer) message(subject, body string) []byte {
	var b bytes.Buffer
	to := make([]string, len(m.to))
	for i, a := range m.to {
		to[i] = a.String()
	}
	domain := "smallpot"
	if i := strings.LastIndexByte(m.from.Address, '@'); i >= 0 {
		domain = m.from.Address[i+1:]
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	subject = clean(m.cfg.Subject+" "+subject, 400)
	fmt.Fprintf(&b, "From: %s\r\n", m.from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	for line := range strings.SplitSeq(strings.TrimRight(body, "\n"), "\n") {
		_, _ = qp.Write([]byte(line))
		_, _ = qp.Write([]byte("\r\n"))
	}
	_ = qp.Close()
	return b.Bytes()
}

func (m *mailer) close() error { return nil }
