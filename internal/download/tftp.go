package download

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// TFTP (RFC 1350) opcodes and sizes.
const (
	tftpRRQ   = 1
	tftpDATA  = 3
	tftpACK   = 4
	tftpERROR = 5

	tftpBlock   = 512
	tftpMaxName = 255
	tftpRetries = 5 // retransmissions of one packet before giving up
)

// getTFTP fetches t with a TFTP read request in octet mode. The server
// answers from a port of its own (its transfer id), which is then the
// only source accepted; packets from any other address are ignored,
// never answered. A packet that goes unanswered is sent again, at most
// tftpRetries times.
func (s *Sink) getTFTP(ctx context.Context, t target) ([]byte, error) {
	if len(t.path) > tftpMaxName {
		return nil, errors.New("tftp: file name too long")
	}
	st := stateOf(ctx)
	ip, err := s.resolve(ctx, t.host, st.self)
	if err != nil {
		return nil, err
	}
	server := netip.AddrPortFrom(ip, uint16(t.port))
	st.dialed = server
	if s.dialed != nil {
		s.dialed(server)
	}
	network := "udp4"
	if ip.Is6() {
		network = "udp6"
	}
	pc, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	last := make([]byte, 0, 2+len(t.path)+1+len("octet")+1)
	last = binary.BigEndian.AppendUint16(last, tftpRRQ)
	last = append(last, t.path...)
	last = append(last, 0)
	last = append(last, "octet"...)
	last = append(last, 0)
	to := server

	var (
		tid   netip.AddrPort // the server's transfer id, once known
		want  = uint16(1)
		out   []byte
		tries int
		send  = true
		until time.Time
		buf   = make([]byte, 4+tftpBlock+1)
		limit = int(s.cfg.MaxSize)
	)
	for {
		if send {
			if _, err := pc.WriteToUDPAddrPort(last, to); err != nil {
				return nil, err
			}
			until = time.Now().Add(s.tftpWait)
			if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
				until = dl
			}
			_ = pc.SetReadDeadline(until)
			send = false
		}
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if tries++; tries > tftpRetries {
					return nil, errors.New("tftp: no answer")
				}
				send = true
				continue
			}
			return nil, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if from.Addr() != ip || (tid.IsValid() && from != tid) || n < 4 {
			continue // not this transfer's
		}
		switch binary.BigEndian.Uint16(buf) {
		case tftpERROR:
			msg := buf[4:n]
			for i, c := range msg {
				if c == 0 {
					msg = msg[:i]
					break
				}
			}
			return nil, fmt.Errorf("tftp error %d: %s", binary.BigEndian.Uint16(buf[2:]), printable(string(msg), 120))
		case tftpDATA:
			block := binary.BigEndian.Uint16(buf[2:])
			data := buf[4:n]
			if len(data) > tftpBlock {
				return nil, errors.New("tftp: block larger than 512 bytes")
			}
			if !tid.IsValid() {
				tid, to = from, from
			}
			switch {
			case block == want:
				if len(out)+len(data) > limit {
					_, _ = pc.WriteToUDPAddrPort(tftpError(3, "Disk full or allocation exceeded."), tid)
					return nil, errTooLarge
				}
				out = append(out, data...)
				last = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(last[:0], tftpACK), block)
				if len(data) < tftpBlock {
					_, _ = pc.WriteToUDPAddrPort(last, tid)
					if out == nil {
						out = []byte{}
					}
					return out, nil
				}
				want++
				tries = 0
				send = true
			case want != 1 && block == want-1:
				// The server did not see our ack: send it again.
				send = true
			}
		}
	}
}

func tftpError(code uint16, msg string) []byte {
	b := binary.BigEndian.AppendUint16(nil, tftpERROR)
	b = binary.BigEndian.AppendUint16(b, code)
	b = append(b, msg...)
	return append(b, 0)
}
