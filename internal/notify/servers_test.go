package notify

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receivers on 127.0.0.1 for the notifiers under test.

type smtpMail struct {
	auth, from string
	to         []string
	data       string
}

// smtpServer is a small SMTP server that keeps what it is sent.
type smtpServer struct {
	ln       net.Listener
	starttls bool // offer STARTTLS (it is never completed)

	mu    sync.Mutex
	mails []smtpMail
	cmds  []string
	wg    sync.WaitGroup
}

func startSMTP(t *testing.T, starttls bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, starttls: starttls}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.session(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) got() ([]smtpMail, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMail(nil), s.mails...), append([]string(nil), s.cmds...)
}

// wait waits for n mails.
func (s *smtpServer) wait(t *testing.T, n int) []smtpMail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := s.got()
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d mails; want %d", len(m), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { fmt.Fprint(c, l+"\r\n") }
	say("220 mail.test ESMTP")
	var m smtpMail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if s.starttls {
				say("250-mail.test\r\n250-STARTTLS\r\n250 AUTH PLAIN")
			} else {
				say("250-mail.test\r\n250-8BITMIME\r\n250 AUTH PLAIN")
			}
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(ir)
			if mech != "PLAIN" || err != nil {
				say("504 no")
				continue
			}
			m.auth = string(b)
			say("235 2.7.0 Authentication successful")
		case "MAIL":
			from, _, _ := strings.Cut(strings.TrimPrefix(arg, "FROM:"), " ") // BODY=8BITMIME
			m.from = strings.Trim(from, "<>")
			say("250 ok")
		case "RCPT":
			m.to = append(m.to, strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>"))
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = data.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			m = smtpMail{}
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		case "RSET", "NOOP":
			say("250 ok")
		default:
			say("502 not implemented")
		}
	}
}

// syslogUDP receives datagrams.
func syslogUDP(t *testing.T) (string, <-chan string) {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default:
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), ch
}

// syslogTCP receives octet-counted messages (RFC 6587); a frame that is
// not one is reported as "BAD FRAME".
func syslogTCP(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString(' ')
					if err != nil {
						return
					}
					n, err := strconv.Atoi(strings.TrimSuffix(l, " "))
					if err != nil || n < 1 || n > 1<<20 {
						ch <- "BAD FRAME"
						return
					}
					buf := make([]byte, n)
					if _, err := io.ReadFull(r, buf); err != nil {
						return
					}
					ch <- string(buf)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), ch
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no syslog message")
		return ""
	}
}
