package mssql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// This file parses SQL Server Resolution Protocol datagrams ([MC-SQLR],
// udp 1434) and writes the server's answer.

// SSRP message types.
const (
	ssrpBroadcast = 0x02 // CLNT_BCAST_EX
	ssrpUnicast   = 0x03 // CLNT_UCAST_EX
	ssrpInstance  = 0x04 // CLNT_UCAST_INST
	ssrpResponse  = 0x05 // SVR_RESP
	ssrpDAC       = 0x0F // CLNT_UCAST_DAC (SQL Server 2005 and later)
)

// maxInstanceName bounds CLNT_UCAST_INST's instance name: 32 bytes. A
// longer name is what overflowed SQL Server 2000's resolution service
// (MS02-039): SQL Slammer is one 376-byte CLNT_UCAST_INST.
const maxInstanceName = 32

// SSRPRequest is one datagram as the resolution service reads it.
type SSRPRequest struct {
	// Type is the first byte; Name its SSRP name ("CLNT_BCAST_EX"), or
	// "" when it is none.
	Type byte
	Name string
	// Instance is the instance a CLNT_UCAST_INST or CLNT_UCAST_DAC asks
	// for.
	Instance string
	// Malformed says why the datagram is not a request SQL Server 2000
	// answers; "" for a well-formed request.
	Malformed string
}

// ParseSSRP reads a datagram. The well-formed requests are a lone 0x02 or
// 0x03, and 0x04 followed by an instance name of 1 to 32 printable bytes
// with an optional NUL terminator; everything else is malformed, a
// CLNT_UCAST_DAC included (SQL Server 2000 predates it).
func ParseSSRP(b []byte) SSRPRequest {
	if len(b) == 0 {
		return SSRPRequest{Malformed: "empty datagram"}
	}
	r := SSRPRequest{Type: b[0]}
	switch b[0] {
	case ssrpBroadcast, ssrpUnicast:
		r.Name = map[byte]string{ssrpBroadcast: "CLNT_BCAST_EX", ssrpUnicast: "CLNT_UCAST_EX"}[b[0]]
		if len(b) != 1 {
			r.Malformed = fmt.Sprintf("%s of %d bytes (1 expected)", r.Name, len(b))
		}
	case ssrpInstance:
		r.Name = "CLNT_UCAST_INST"
		name, why := instanceName(b[1:])
		r.Instance, r.Malformed = name, why
	case ssrpDAC:
		r.Name = "CLNT_UCAST_DAC"
		if len(b) >= 2 {
			r.Instance, _ = instanceName(b[2:])
		}
		r.Malformed = "dedicated administrator connection request (not in SQL Server 2000)"
	case ssrpResponse:
		r.Name = "SVR_RESP"
		r.Malformed = "a server response sent to a server"
	default:
		r.Malformed = fmt.Sprintf("unknown message type 0x%02x", b[0])
	}
	return r
}

// instanceName reads a CLNT_UCAST_INST name: printable bytes, then at most
// a NUL. It returns the printable prefix (bounded) and why the name is not
// well-formed, if it is not.
func instanceName(b []byte) (string, string) {
	n := 0
	for n < len(b) && n <= maxInstanceName && b[n] >= 0x20 && b[n] < 0x7F {
		n++
	}
	name := string(b[:min(n, maxInstanceName)])
	rest := b[n:]
	switch {
	case len(b) > maxInstanceName+1 || n > maxInstanceName:
		return name, fmt.Sprintf("instance name of %d bytes (at most %d)", len(b), maxInstanceName)
	case n == 0:
		return name, "empty instance name"
	case len(rest) > 1 || len(rest) == 1 && rest[0] != 0:
		return name, "instance name with control bytes"
	}
	return name, ""
}

// browserInfo is what the resolution service tells about the instance.
type browserInfo struct {
	ServerName string
	Instance   string
	Clustered  bool
	Version    string
	TCPPort    int
	// NamedPipe adds the named pipe the instance listens on, as a stock
	// install with Named Pipes enabled announced it.
	NamedPipe bool
}

// text is the instance's RESP_DATA string.
func (bi browserInfo) text() string {
	var b strings.Builder
	b.WriteString("ServerName;" + bi.ServerName)
	b.WriteString(";InstanceName;" + bi.Instance)
	b.WriteString(";IsClustered;")
	if bi.Clustered {
		b.WriteString("Yes")
	} else {
		b.WriteString("No")
	}
	b.WriteString(";Version;" + bi.Version)
	b.WriteString(";tcp;" + strconv.Itoa(bi.TCPPort))
	if bi.NamedPipe {
		pipe := `\\` + bi.ServerName + `\pipe\sql\query`
		if !strings.EqualFold(bi.Instance, defaultInstance) {
			pipe = `\\` + bi.ServerName + `\pipe\MSSQL$` + bi.Instance + `\sql\query`
		}
		b.WriteString(";np;" + pipe)
	}
	b.WriteString(";;")
	return b.String()
}

// defaultInstance is the name of SQL Server's unnamed instance.
const defaultInstance = "MSSQLSERVER"

// answer is the SVR_RESP datagram for the instance.
func (bi browserInfo) answer() []byte {
	s := bi.text()
	out := make([]byte, 0, 3+len(s))
	out = append(out, ssrpResponse)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(s)))
	return append(out, s...)
}

// serves reports whether a CLNT_UCAST_INST for name is for this instance.
func (bi browserInfo) serves(name string) bool {
	return strings.EqualFold(name, bi.Instance)
}
