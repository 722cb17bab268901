package ssh

import (
	"encoding/binary"
	"fmt"
	"path"
	"strconv"
	"time"
)

// The SFTP subsystem (draft-ietf-secsh-filexfer-02, version 3, as
// OpenSSH's sftp-server speaks it): enough of it for sftp's put and for
// scp, which speaks SFTP in OpenSSH 9 and later. Files written are kept
// (bounded) and handed to the caller when closed; reads are answered from
// the fake file system. Nothing touches the real disk.

// SFTP packet types.
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpOpen          = 3
	fxpClose         = 4
	fxpRead          = 5
	fxpWrite         = 6
	fxpLstat         = 7
	fxpFstat         = 8
	fxpSetstat       = 9
	fxpFsetstat      = 10
	fxpOpendir       = 11
	fxpReaddir       = 12
	fxpRemove        = 13
	fxpMkdir         = 14
	fxpRmdir         = 15
	fxpRealpath      = 16
	fxpStat          = 17
	fxpRename        = 18
	fxpReadlink      = 19
	fxpSymlink       = 20
	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpName          = 104
	fxpAttrs         = 105
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// SFTP status codes.
const (
	fxOK               = 0
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxOpUnsupported    = 8
)

var fxMessages = map[uint32]string{
	fxOK: "Success", fxEOF: "End of file", fxNoSuchFile: "No such file", fxPermissionDenied: "Permission denied",
	fxFailure: "Failure", fxBadMessage: "Bad message", fxOpUnsupported: "Operation unsupported",
}

// Open flags and attribute flags.
const (
	fxfRead     = 0x01
	fxfWrite    = 0x02
	fxfAppend   = 0x04
	attrSize    = 0x01
	attrUIDGID  = 0x02
	attrPerm    = 0x04
	attrTime    = 0x08
	attrExtend  = 0x80000000
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeLink    = 0o120000
)

// Bounds of the SFTP server.
const (
	maxSFTPPacket  = 256<<10 + 1024 // sftp-server's largest message, with room for its header
	maxSFTPHandles = 16
	maxSFTPRead    = 32 << 10
	maxSFTPList    = 100
	maxSFTPOps     = 256 // operations recorded per session
	maxSFTPAttrExt = 16
	maxSFTPHole    = 64 << 10 // zeros filled in before a write past a file's end
)

// fileInfo is what the SFTP server needs to know of a file.
type fileInfo struct {
	Name string
	Dir  bool
	Link bool
	Size int64
	Mode uint32 // permission bits
	Mod  time.Time
}

// sftpFS is the fake file system as the SFTP server sees it. Paths are
// absolute, in the server's own notation (Abs makes them so).
type sftpFS interface {
	Abs(p string) string
	Stat(p string) (fileInfo, bool)
	List(p string) ([]fileInfo, bool)
	Read(p string) ([]byte, bool)
	Write(p string, data []byte) error
	Mkdir(p string) error
	Remove(p string, dir bool) error
	Rename(from, to string) error
	Chmod(p string, mode uint32) error
}

// sftpUpload is a file written through SFTP and closed.
type sftpUpload struct {
	Path string
	Data []byte
	Size int64 // bytes the client placed (the highest offset written)
	Cut  bool  // more was written than kept
}

type sftpHandle struct {
	path   string
	dir    bool
	write  bool
	listed bool
	data   []byte
	size   int64
	cut    bool
}

// sftpServer is the SFTP server's state: packets in, packets out.
type sftpServer struct {
	fs      sftpFS
	maxFile int64

	buf     []byte
	handles map[string]*sftpHandle
	next    uint32
	ops     int
	held    int // bytes held by the files open for writing
	failed  bool
}

func newSFTPServer(fsys sftpFS, maxFile int64) *sftpServer {
	return &sftpServer{fs: fsys, maxFile: maxFile, handles: map[string]*sftpHandle{}}
}

// feed reads client bytes; it returns the bytes to answer with, the
// uploads completed and a line for each operation worth recording. Once
// the stream is broken (a packet over the bound) it reads nothing more.
func (s *sftpServer) feed(p []byte) (out []byte, ups []sftpUpload, ops []string) {
	if s.failed {
		return nil, nil, nil
	}
	s.buf = append(s.buf, p...)
	for {
		if len(s.buf) < 4 {
			return out, ups, ops
		}
		n := binary.BigEndian.Uint32(s.buf)
		if n < 1 || n > maxSFTPPacket {
			s.failed = true
			s.buf = nil
			return out, ups, ops
		}
		if len(s.buf) < 4+int(n) {
			return out, ups, ops
		}
		pkt := s.buf[4 : 4+n]
		reply, up, op := s.packet(pkt)
		out = append(out, reply...)
		if up != nil {
			ups = append(ups, *up)
		}
		if op != "" && s.ops < maxSFTPOps {
			s.ops++
			ops = append(ops, op)
		}
		s.buf = s.buf[4+n:]
		if len(s.buf) == 0 {
			s.buf = nil
		}
	}
}

// end hands over the files still open for writing when the session ends.
func (s *sftpServer) end() []sftpUpload {
	var ups []sftpUpload
	for k, h := range s.handles {
		if h.write {
			ups = append(ups, s.closeWrite(h))
		}
		delete(s.handles, k)
	}
	return ups
}

// reader reads SFTP fields.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if r.bad || uint64(n) > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string { return string(r.bytes()) }

// attrs reads an ATTRS structure; it returns the permissions if given.
func (r *reader) attrs() (perm uint32, hasPerm bool) {
	flags := r.u32()
	if flags&attrSize != 0 {
		r.u64()
	}
	if flags&attrUIDGID != 0 {
		r.u32()
		r.u32()
	}
	if flags&attrPerm != 0 {
		perm, hasPerm = r.u32(), true
	}
	if flags&attrTime != 0 {
		r.u32()
		r.u32()
	}
	if flags&attrExtend != 0 {
		n := r.u32()
		if n > maxSFTPAttrExt {
			r.bad = true
			return 0, false
		}
		for range n {
			r.bytes()
			r.bytes()
		}
	}
	return perm, hasPerm
}

// writer builds one SFTP packet.
type writer struct{ b []byte }

func newPacket(typ byte, id uint32, withID bool) *writer {
	w := &writer{b: make([]byte, 4, 64)}
	w.b = append(w.b, typ)
	if withID {
		w.u32(id)
	}
	return w
}

func (w *writer) u32(v uint32)  { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)  { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) str(s string)  { w.u32(uint32(len(s))); w.b = append(w.b, s...) }
func (w *writer) data(p []byte) { w.u32(uint32(len(p))); w.b = append(w.b, p...) }
func (w *writer) done() []byte {
	binary.BigEndian.PutUint32(w.b, uint32(len(w.b)-4))
	return w.b
}

func (w *writer) attrs(fi fileInfo) {
	w.u32(attrSize | attrUIDGID | attrPerm | attrTime)
	w.u64(uint64(max(fi.Size, 0)))
	w.u32(0)
	w.u32(0)
	w.u32(fileMode(fi))
	t := uint32(max(fi.Mod.Unix(), 0))
	w.u32(t)
	w.u32(t)
}

func fileMode(fi fileInfo) uint32 {
	m := fi.Mode & 0o7777
	switch {
	case fi.Dir:
		if m == 0 {
			m = 0o755
		}
		return modeDir | m
	case fi.Link:
		return modeLink | 0o777
	}
	if m == 0 {
		m = 0o644
	}
	return modeRegular | m
}

// longName is the ls -l line sftp's ls shows.
func longName(fi fileInfo) string {
	size := fi.Size
	if fi.Dir && size == 0 {
		size = 4096
	}
	ts := fi.Mod.UTC().Format("Jan _2 15:04")
	if fi.Mod.Year() != time.Now().Year() {
		ts = fi.Mod.UTC().Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s    1 %-8s %-8s %8d %s %s", lsMode(fileMode(fi)), "root", "root", size, ts, fi.Name)
}

// lsMode writes a mode as ls -l does: "drwxr-xr-x".
func lsMode(m uint32) string {
	b := []byte("-rwxrwxrwx")
	switch m &^ 0o7777 {
	case modeDir:
		b[0] = 'd'
	case modeLink:
		b[0] = 'l'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[1+i] = '-'
		}
	}
	return string(b)
}

func status(id, code uint32) []byte {
	w := newPacket(fxpStatus, id, true)
	w.u32(code)
	w.str(fxMessages[code])
	w.str("")
	return w.done()
}

// packet answers one packet (type byte first).
func (s *sftpServer) packet(p []byte) (reply []byte, up *sftpUpload, op string) {
	typ := p[0]
	r := &reader{b: p[1:]}
	if typ == fxpInit {
		r.u32()
		w := newPacket(fxpVersion, 0, false)
		w.u32(3)
		for _, e := range [][2]string{{"posix-rename@openssh.com", "1"}, {"statvfs@openssh.com", "2"},
			{"fstatvfs@openssh.com", "2"}, {"hardlink@openssh.com", "1"}, {"fsync@openssh.com", "1"}} {
			w.str(e[0])
			w.str(e[1])
		}
		return w.done(), nil, ""
	}
	id := r.u32()
	if r.bad {
		return nil, nil, ""
	}
	bad := func() ([]byte, *sftpUpload, string) { return status(id, fxBadMessage), nil, "" }
	switch typ {
	case fxpRealpath:
		p := r.str()
		if r.bad {
			return bad()
		}
		abs := s.fs.Abs(p)
		w := newPacket(fxpName, id, true)
		w.u32(1)
		w.str(abs)
		w.str(abs)
		w.u32(0)
		return w.done(), nil, ""
	case fxpStat, fxpLstat:
		p := r.str()
		if r.bad {
			return bad()
		}
		fi, ok := s.fs.Stat(s.fs.Abs(p))
		if !ok {
			return status(id, fxNoSuchFile), nil, ""
		}
		w := newPacket(fxpAttrs, id, true)
		w.attrs(fi)
		return w.done(), nil, ""
	case fxpFstat:
		h := s.handles[r.str()]
		if r.bad || h == nil {
			return status(id, fxFailure), nil, ""
		}
		fi, ok := s.fs.Stat(h.path)
		if h.write {
			fi, ok = fileInfo{Name: path.Base(h.path), Size: h.size, Mode: 0o644, Mod: time.Now()}, true
		}
		if !ok {
			return status(id, fxNoSuchFile), nil, ""
		}
		w := newPacket(fxpAttrs, id, true)
		w.attrs(fi)
		return w.done(), nil, ""
	case fxpOpen:
		name := r.str()
		pflags := r.u32()
		r.attrs()
		if r.bad {
			return bad()
		}
		abs := s.fs.Abs(name)
		if len(s.handles) >= maxSFTPHandles {
			return status(id, fxFailure), nil, ""
		}
		h := &sftpHandle{path: abs}
		if pflags&(fxfWrite|fxfAppend) != 0 {
			if fi, ok := s.fs.Stat(abs); ok && fi.Dir {
				return status(id, fxFailure), nil, "put " + abs
			}
			// The file is created (or emptied) when opened, as open(2)
			// does: a missing directory fails here.
			if err := s.fs.Write(abs, nil); err != nil {
				return status(id, fsStatus(err)), nil, "put " + abs
			}
			h.write = true
			op = "put " + abs
		} else {
			fi, ok := s.fs.Stat(abs)
			if !ok {
				return status(id, fxNoSuchFile), nil, "get " + abs
			}
			if fi.Dir {
				return status(id, fxFailure), nil, "get " + abs
			}
			op = "get " + abs
		}
		return s.newHandle(id, h), nil, op
	case fxpOpendir:
		p := r.str()
		if r.bad {
			return bad()
		}
		abs := s.fs.Abs(p)
		fi, ok := s.fs.Stat(abs)
		switch {
		case !ok:
			return status(id, fxNoSuchFile), nil, "ls " + abs
		case !fi.Dir:
			return status(id, fxFailure), nil, "ls " + abs
		case len(s.handles) >= maxSFTPHandles:
			return status(id, fxFailure), nil, ""
		}
		return s.newHandle(id, &sftpHandle{path: abs, dir: true}), nil, "ls " + abs
	case fxpReaddir:
		h := s.handles[r.str()]
		if r.bad || h == nil || !h.dir {
			return status(id, fxFailure), nil, ""
		}
		if h.listed {
			return status(id, fxEOF), nil, ""
		}
		h.listed = true
		list, _ := s.fs.List(h.path)
		if len(list) > maxSFTPList {
			list = list[:maxSFTPList]
		}
		dot := fileInfo{Name: ".", Dir: true, Mode: 0o755}
		if fi, ok := s.fs.Stat(h.path); ok {
			dot.Mod = fi.Mod
		}
		dotdot := dot
		dotdot.Name = ".."
		list = append([]fileInfo{dot, dotdot}, list...)
		w := newPacket(fxpName, id, true)
		w.u32(uint32(len(list)))
		for _, fi := range list {
			w.str(fi.Name)
			w.str(longName(fi))
			w.attrs(fi)
		}
		return w.done(), nil, ""
	case fxpRead:
		h := s.handles[r.str()]
		off := r.u64()
		n := r.u32()
		if r.bad || h == nil || h.dir {
			return status(id, fxFailure), nil, ""
		}
		if h.write {
			return status(id, fxPermissionDenied), nil, ""
		}
		data, _ := s.fs.Read(h.path)
		if off >= uint64(len(data)) {
			return status(id, fxEOF), nil, ""
		}
		end := min(uint64(len(data)), off+uint64(min(n, maxSFTPRead)))
		w := newPacket(fxpData, id, true)
		w.data(data[off:end])
		return w.done(), nil, ""
	case fxpWrite:
		h := s.handles[r.str()]
		off := r.u64()
		data := r.bytes()
		if r.bad {
			return bad()
		}
		if h == nil || !h.write {
			return status(id, fxFailure), nil, ""
		}
		s.write(h, off, data)
		return status(id, fxOK), nil, ""
	case fxpClose:
		k := r.str()
		h := s.handles[k]
		if r.bad || h == nil {
			return status(id, fxFailure), nil, ""
		}
		delete(s.handles, k)
		if h.write {
			u := s.closeWrite(h)
			return status(id, fxOK), &u, ""
		}
		return status(id, fxOK), nil, ""
	case fxpSetstat, fxpFsetstat:
		var p string
		if typ == fxpSetstat {
			p = s.fs.Abs(r.str())
		} else if h := s.handles[r.str()]; h != nil {
			p = h.path
		}
		perm, hasPerm := r.attrs()
		if r.bad {
			return bad()
		}
		if p == "" {
			return status(id, fxFailure), nil, ""
		}
		if !hasPerm {
			return status(id, fxOK), nil, ""
		}
		op = "chmod " + strconv.FormatUint(uint64(perm&0o7777), 8) + " " + p
		if err := s.fs.Chmod(p, perm&0o7777); err != nil {
			if _, open := s.openFor(p); !open {
				return status(id, fsStatus(err)), nil, op
			}
		}
		return status(id, fxOK), nil, op
	case fxpRemove, fxpRmdir, fxpMkdir:
		p := s.fs.Abs(r.str())
		if typ == fxpMkdir {
			r.attrs()
		}
		if r.bad {
			return bad()
		}
		var err error
		switch typ {
		case fxpRemove:
			op, err = "rm "+p, s.fs.Remove(p, false)
		case fxpRmdir:
			op, err = "rmdir "+p, s.fs.Remove(p, true)
		default:
			op, err = "mkdir "+p, s.fs.Mkdir(p)
		}
		if err != nil {
			return status(id, fsStatus(err)), nil, op
		}
		return status(id, fxOK), nil, op
	case fxpRename:
		from, to := s.fs.Abs(r.str()), s.fs.Abs(r.str())
		if r.bad {
			return bad()
		}
		return s.rename(id, from, to)
	case fxpReadlink:
		return status(id, fxNoSuchFile), nil, ""
	case fxpSymlink:
		a, b := r.str(), r.str()
		if r.bad {
			return bad()
		}
		return status(id, fxPermissionDenied), nil, "ln -s " + a + " " + b
	case fxpExtended:
		name := r.str()
		if r.bad {
			return bad()
		}
		switch name {
		case "posix-rename@openssh.com":
			from, to := s.fs.Abs(r.str()), s.fs.Abs(r.str())
			if r.bad {
				return bad()
			}
			return s.rename(id, from, to)
		case "hardlink@openssh.com", "fsync@openssh.com":
			return status(id, fxOK), nil, ""
		case "statvfs@openssh.com", "fstatvfs@openssh.com":
			w := newPacket(fxpExtendedReply, id, true)
			// bsize, frsize, blocks, bfree, bavail, files, ffree,
			// favail, fsid, flag, namemax
			for _, v := range []uint64{4096, 4096, 2621440, 1843200, 1712128, 655360, 601344, 601344, 0, 0, 255} {
				w.u64(v)
			}
			return w.done(), nil, ""
		}
		return status(id, fxOpUnsupported), nil, ""
	}
	return status(id, fxOpUnsupported), nil, ""
}

func (s *sftpServer) rename(id uint32, from, to string) ([]byte, *sftpUpload, string) {
	op := "rename " + from + " " + to
	if h, open := s.openFor(from); open && h.write {
		h.path = to
		return status(id, fxOK), nil, op
	}
	if err := s.fs.Rename(from, to); err != nil {
		return status(id, fsStatus(err)), nil, op
	}
	return status(id, fxOK), nil, op
}

func (s *sftpServer) openFor(p string) (*sftpHandle, bool) {
	for _, h := range s.handles {
		if h.path == p {
			return h, true
		}
	}
	return nil, false
}

func (s *sftpServer) newHandle(id uint32, h *sftpHandle) []byte {
	k := string(binary.BigEndian.AppendUint32(nil, s.next))
	s.next++
	s.handles[k] = h
	w := newPacket(fxpHandle, id, true)
	w.str(k)
	return w.done()
}

// write places data at off in the handle's bounded buffer. A hole is
// filled with zeros only when it is small (clients write in order), and
// all open files together keep at most twice maxFile, so a few bytes
// written far out cannot make the server hold megabytes.
func (s *sftpServer) write(h *sftpHandle, off uint64, data []byte) {
	end := off + uint64(len(data))
	if end < off || end > 1<<62 {
		h.cut = true
		return
	}
	if int64(end) > h.size {
		h.size = int64(end)
	}
	if off > uint64(len(h.data))+maxSFTPHole || off >= uint64(s.maxFile) {
		h.cut = true
		return
	}
	keep := data
	if end > uint64(s.maxFile) {
		keep = data[:uint64(s.maxFile)-off]
		h.cut = true
	}
	grow := max(int(off)+len(keep)-len(h.data), 0)
	if s.held+grow > 2*int(s.maxFile) {
		h.cut = true
		return
	}
	if grow > 0 {
		h.data = append(h.data, make([]byte, grow)...)
		s.held += grow
	}
	copy(h.data[off:], keep)
}

func (s *sftpServer) closeWrite(h *sftpHandle) sftpUpload {
	s.held -= len(h.data)
	// On a full fake disk the file is still kept as a sample.
	_ = s.fs.Write(h.path, h.data)
	return sftpUpload{Path: h.path, Data: h.data, Size: h.size, Cut: h.cut}
}

// fsStatus maps a fake file system error to an SFTP status as
// sftp-server maps errno: a missing file or directory is "No such file",
// anything else (a directory in the way, a full disk) "Failure".
func fsStatus(err error) uint32 {
	switch {
	case err == nil:
		return fxOK
	case isNotFound(err):
		return fxNoSuchFile
	}
	return fxFailure
}
