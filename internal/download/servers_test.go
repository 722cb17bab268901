package download

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Small TFTP and FTP servers on 127.0.0.1, enough to serve a file the way
// real ones do, for the clients under test.

// tftpServer serves files (RFC 1350, octet mode) from 127.0.0.1 on a
// port of its own; each transfer gets a new port (its transfer id). With
// loseFirst the first read request is ignored, as if lost, so the client
// must send it again.
type tftpServer struct {
	pc        *net.UDPConn
	files     map[string][]byte
	loseFirst bool

	mu    sync.Mutex
	rrqs  []string // file names asked for, lost requests included
	wg    sync.WaitGroup
	close chan struct{}
}

func startTFTP(t *testing.T, files map[string][]byte, loseFirst bool) *tftpServer {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &tftpServer{pc: pc, files: files, loseFirst: loseFirst, close: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		close(s.close)
		pc.Close()
		s.wg.Wait()
	})
	return s
}

func (s *tftpServer) port() int { return s.pc.LocalAddr().(*net.UDPAddr).Port }

func (s *tftpServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rrqs...)
}

func (s *tftpServer) serve() {
	defer s.wg.Done()
	buf := make([]byte, 1024)
	for {
		n, from, err := s.pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if n < 4 || binary.BigEndian.Uint16(buf) != tftpRRQ {
			continue
		}
		parts := strings.Split(string(buf[2:n]), "\x00")
		if len(parts) < 2 || !strings.EqualFold(parts[1], "octet") {
			continue
		}
		s.mu.Lock()
		s.rrqs = append(s.rrqs, parts[0])
		lose := s.loseFirst && len(s.rrqs) == 1
		s.mu.Unlock()
		if lose {
			continue
		}
		s.wg.Add(1)
		go s.transfer(parts[0], from)
	}
}

func (s *tftpServer) transfer(name string, to *net.UDPAddr) {
	defer s.wg.Done()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return
	}
	defer c.Close()
	data, ok := s.files[name]
	if !ok {
		_, _ = c.WriteToUDP(tftpError(1, "File not found"), to)
		return
	}
	ack := make([]byte, 64)
	for block := 1; ; block++ {
		lo := (block - 1) * tftpBlock
		chunk := data[lo:min(lo+tftpBlock, len(data))]
		pkt := binary.BigEndian.AppendUint16(nil, tftpDATA)
		pkt = binary.BigEndian.AppendUint16(pkt, uint16(block))
		pkt = append(pkt, chunk...)
		acked := false
		for try := 0; try < 5 && !acked; try++ {
			select {
			case <-s.close:
				return
			default:
			}
			if _, err := c.WriteToUDP(pkt, to); err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := c.ReadFromUDP(ack)
			if err != nil {
				continue
			}
			if n >= 4 && binary.BigEndian.Uint16(ack) == tftpACK && int(binary.BigEndian.Uint16(ack[2:])) == block {
				acked = true
			}
			if n >= 4 && binary.BigEndian.Uint16(ack) == tftpERROR {
				return
			}
		}
		if !acked || len(chunk) < tftpBlock {
			return
		}
	}
}

// ftpServer is a small FTP server: USER, PASS, TYPE, PASV, RETR, QUIT.
// Its PASV reply names pasvIP, not its own address, to check that the
// client ignores it.
type ftpServer struct {
	ln     net.Listener
	files  map[string][]byte
	pasvIP string

	mu     sync.Mutex
	logins []string // "user:pass"
	wg     sync.WaitGroup
}

func startFTP(t *testing.T, files map[string][]byte) *ftpServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ftpServer{ln: ln, files: files, pasvIP: "10,9,9,9"}
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

func (s *ftpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *ftpServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logins...)
}

func (s *ftpServer) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	say("220-Welcome\r\n220 test FTP server ready")
	var user string
	var data net.Listener
	defer func() {
		if data != nil {
			data.Close()
		}
	}()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(verb) {
		case "USER":
			user = arg
			say("331 Password required for %s.", arg)
		case "PASS":
			s.mu.Lock()
			s.logins = append(s.logins, user+":"+arg)
			s.mu.Unlock()
			say("230 User logged in.")
		case "TYPE":
			say("200 Type set to I.")
		case "PASV":
			if data, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
				say("425 no")
				continue
			}
			p := data.Addr().(*net.TCPAddr).Port
			say("227 Entering Passive Mode (%s,%d,%d).", s.pasvIP, p>>8, p&0xff)
		case "RETR":
			b, ok := s.files[arg]
			if !ok || data == nil {
				say("550 %s: The system cannot find the file specified.", arg)
				continue
			}
			say("150 Opening BINARY mode data connection for %s(%d bytes).", arg, len(b))
			dc, err := data.Accept()
			if err != nil {
				return
			}
			_, _ = dc.Write(b)
			dc.Close()
			say("226 Transfer complete.")
		case "QUIT":
			say("221 Goodbye")
			return
		default:
			say("502 Command not implemented.")
		}
	}
}

// startSilentUDP reads datagrams on 127.0.0.1 and never answers; it
// returns the port.
func startSilentUDP(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			if _, _, err := pc.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().(*net.UDPAddr).Port
}
