package sunrpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ONC RPC version 2 (RFC 5531): the call header, credentials, record
// marking on streams, and the replies a server sends. Everything here is
// pure: bytes in, typed values out.

// Message and reply constants (RFC 5531 §9).
const (
	msgCall  = 0
	msgReply = 1

	rpcVersion = 2

	replyAccepted = 0
	replyDenied   = 1

	// accept_stat
	statSuccess      = 0
	statProgUnavail  = 1
	statProgMismatch = 2
	statProcUnavail  = 3
	statGarbageArgs  = 4
	statSystemErr    = 5

	// reject_stat
	rejectRPCMismatch = 0
	rejectAuthError   = 1

	// auth_flavor (RFC 5531 §8.2, RFC 2203)
	authNone  = 0
	authSys   = 1
	authShort = 2
	authDH    = 3
	authGSS   = 6

	// auth_stat
	authOK           = 0
	authBadCred      = 1
	authRejectedCred = 2
	authTooWeak      = 5
	authFailed       = 7

	// maxAuthBytes bounds a credential or verifier body (RFC 5531 §8.2).
	maxAuthBytes = 400
	// AUTH_SYS bounds: machine name and supplementary groups.
	maxMachineName = 255
	maxGroups      = 16

	lastFragment = 1 << 31
)

var acceptNames = []string{"success", "prog_unavail", "prog_mismatch", "proc_unavail", "garbage_args", "system_err"}

// acceptName names an accept_stat for events.
func acceptName(stat uint32) string {
	if int(stat) < len(acceptNames) {
		return acceptNames[stat]
	}
	return fmt.Sprintf("accept_%d", stat)
}

var authStatNames = []string{"auth_ok", "auth_badcred", "auth_rejectedcred", "auth_badverf",
	"auth_rejectedverf", "auth_tooweak", "auth_invalidresp", "auth_failed"}

// authStatName names an auth_stat for events.
func authStatName(stat uint32) string {
	if int(stat) < len(authStatNames) {
		return authStatNames[stat]
	}
	return fmt.Sprintf("auth_%d", stat)
}

// flavorName names a credential flavour for events.
func flavorName(f uint32) string {
	switch f {
	case authNone:
		return "none"
	case authSys:
		return "unix"
	case authShort:
		return "short"
	case authDH:
		return "dh"
	case authGSS:
		return "gss"
	}
	return fmt.Sprintf("%d", f)
}

// Why a message is not served.
var (
	errNotCall    = errors.New("not an RPC call")
	errRPCVersion = errors.New("RPC version is not 2")
	errAuthLength = errors.New("credential or verifier longer than 400 bytes")
)

type opaqueAuth struct {
	Flavor uint32
	Body   []byte
}

// call is a decoded call header; Args are the bytes after it.
type call struct {
	XID, RPCVers, Prog, Vers, Proc uint32
	Cred, Verf                     opaqueAuth
	Args                           []byte
	HeaderLen                      int // bytes before Args
}

// headerLen is the size of a call header with empty credential and
// verifier (AUTH_NONE): the smallest call there is.
const headerLen = 40

// parseCall decodes a call message. It returns a nil call for bytes that
// are not an RPC call at all, and the call decoded so far together with
// the error for one a server drops without a reply (another RPC version, a
// credential over its bound, a header cut short after the procedure).
// Args alias msg.
func parseCall(msg []byte) (*call, error) {
	r := newXDR(msg)
	xid, typ := r.uint32(), r.uint32()
	if r.err != nil {
		return nil, errShort
	}
	if typ != msgCall {
		return nil, errNotCall
	}
	c := &call{XID: xid}
	c.RPCVers, c.Prog, c.Vers, c.Proc = r.uint32(), r.uint32(), r.uint32(), r.uint32()
	if r.err != nil {
		return nil, errShort
	}
	if c.RPCVers != rpcVersion {
		return c, errRPCVersion
	}
	for _, a := range []*opaqueAuth{&c.Cred, &c.Verf} {
		a.Flavor = r.uint32()
		a.Body = r.opaque(maxAuthBytes)
		if errors.Is(r.err, errTooLong) {
			return c, errAuthLength
		}
	}
	if r.err != nil {
		return c, r.err
	}
	c.Args, c.HeaderLen = r.rest(), r.off
	return c, nil
}

// authSysCred is an AUTH_SYS (AUTH_UNIX) credential.
type authSysCred struct {
	Stamp    uint32
	Machine  string
	UID, GID uint32
	GIDs     []uint32
}

// parseAuthSys decodes an AUTH_SYS credential body within its bounds; ok
// is false for one a server rejects as AUTH_BADCRED.
func parseAuthSys(body []byte) (a authSysCred, ok bool) {
	r := newXDR(body)
	a.Stamp = r.uint32()
	a.Machine = r.string(maxMachineName)
	a.UID, a.GID = r.uint32(), r.uint32()
	n := r.uint32()
	if r.err != nil || n > maxGroups {
		return a, false
	}
	for range n {
		a.GIDs = append(a.GIDs, r.uint32())
	}
	return a, r.err == nil
}

// checkAuth returns the auth_stat a Linux rpcbind (libtirpc) gives a
// credential, and the AUTH_SYS credential when there is one.
func checkAuth(cred opaqueAuth) (uint32, *authSysCred) {
	switch cred.Flavor {
	case authNone:
		return authOK, nil
	case authSys:
		a, ok := parseAuthSys(cred.Body)
		if !ok {
			return authBadCred, nil
		}
		return authOK, &a
	case authDH:
		return authFailed, nil
	case authGSS:
		return authBadCred, nil
	}
	return authRejectedCred, nil
}

// acceptedReply encodes a MSG_ACCEPTED reply with an AUTH_NONE verifier;
// body follows the accept_stat (results, or the mismatch range).
func acceptedReply(xid, stat uint32, body []byte) []byte {
	w := xdrWriter{b: make([]byte, 0, 24+len(body))}
	w.uint32(xid)
	w.uint32(msgReply)
	w.uint32(replyAccepted)
	w.uint32(authNone)
	w.uint32(0)
	w.uint32(stat)
	w.b = append(w.b, body...)
	return w.b
}

// replyHeaderLen is the size of an accepted reply before its results.
const replyHeaderLen = 24

func mismatchReply(xid, low, high uint32) []byte {
	var w xdrWriter
	w.uint32(low)
	w.uint32(high)
	return acceptedReply(xid, statProgMismatch, w.b)
}

// authErrorReply encodes a MSG_DENIED reply for a rejected credential.
func authErrorReply(xid, stat uint32) []byte {
	var w xdrWriter
	w.uint32(xid)
	w.uint32(msgReply)
	w.uint32(replyDenied)
	w.uint32(rejectAuthError)
	w.uint32(stat)
	return w.b
}

// Record marking (RFC 5531 §11): on a stream every message is one record
// of fragments, each behind a four-byte header whose top bit marks the
// last fragment and whose other 31 bits give its length.

var (
	errRecordTooLarge = errors.New("record larger than the server accepts")
	errFragments      = errors.New("too many fragments in one record")
)

// maxFragments bounds the fragments of one record, so empty fragments
// cannot keep a reader busy.
const maxFragments = 64

// record is one record read from a stream.
type record struct {
	// Wire is every byte read, fragment headers included.
	Wire []byte
	// frags are the payload ranges in Wire, the last one possibly cut.
	frags [][2]int
	// Announced is the length the last fragment header gave.
	Announced int
}

// Msg returns the payload: the fragments joined, headers removed.
func (rc *record) Msg() []byte {
	switch len(rc.frags) {
	case 0:
		return nil
	case 1:
		f := rc.frags[0]
		return rc.Wire[f[0]:f[1]:f[1]]
	}
	var out []byte
	for _, f := range rc.frags {
		out = append(out, rc.Wire[f[0]:f[1]]...)
	}
	return out
}

// readRecord reads one record whose payload is at most limit bytes. It
// returns io.EOF when the stream ended before any byte of it,
// errRecordTooLarge when a fragment header announces more than limit allows
// (after reading that header: nothing of the fragment is read), and
// io.ErrUnexpectedEOF or the read error when the stream ended or failed
// within the record; in every case the record holds what was read.
func readRecord(rd io.Reader, limit int) (record, error) {
	var rc record
	total := 0
	for {
		var hdr [4]byte
		n, err := io.ReadFull(rd, hdr[:])
		rc.Wire = append(rc.Wire, hdr[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) && len(rc.Wire) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return rc, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		size := int(h &^ lastFragment)
		rc.Announced = size
		if size > limit-total {
			return rc, errRecordTooLarge
		}
		if len(rc.frags) == maxFragments {
			return rc, errFragments
		}
		start := len(rc.Wire)
		rc.Wire = append(rc.Wire, make([]byte, size)...)
		got, err := io.ReadFull(rd, rc.Wire[start:])
		rc.Wire = rc.Wire[:start+got]
		rc.frags = append(rc.frags, [2]int{start, start + got})
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return rc, err
		}
		total += size
		if h&lastFragment != 0 {
			return rc, nil
		}
	}
}

// frame puts a reply in one last fragment.
func frame(msg []byte) []byte {
	out := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(out, lastFragment|uint32(len(msg)))
	return append(out, msg...)
}
