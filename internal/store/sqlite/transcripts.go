package sqlite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
)

// Transcripts in smallpot.db-transcripts are in the framing of package
// transcript (direction byte, milliseconds and length as big-endian
// uint32s, bytes), except that a chunk whose bytes the file already holds
// may be stored as a reference to them:
//
//	byte    '='
//	byte    the chunk's direction
//	uint32  milliseconds since the session began
//	uint32  length
//	uint64  where the bytes are in the file
//
// all big-endian. Most of what a sensor sends is the same few answers
// (IIS's start page, a banner, a login prompt) and most of what scanners
// and worms send is the same few requests, so most of a busy sensor's
// transcript bytes were copies: about 1.7 KB per scan of the web
// service, written, then kept on disk. Session reads references back
// into plain chunks: nobody outside this package sees them.

// refChunk is the direction byte of a reference, and refLen its size.
// A transcript not in the framing (none the engine makes) is stored
// after a rawMark byte, so that nothing in it is taken for a reference.
const (
	refChunk = '='
	refLen   = 18
	rawMark  = '!'
)

// Shared chunks: only chunks of at least minShared bytes are worth a
// reference; the writer remembers at most maxSharedChunks of them, of
// maxSharedBytes in all, forgetting all when full (they come back as
// they recur).
const (
	minShared       = 128
	maxSharedChunks = 1024
	maxSharedBytes  = 8 << 20
)

// sharedChunks are the chunks a writer stored lately, by the hash of
// their bytes. A hash found is checked byte for byte: a collision, even
// one an attacker made (the seed is random per process), costs a copy,
// never a wrong transcript.
type sharedChunks struct {
	seed  maphash.Seed
	m     map[uint64]sharedChunk
	bytes int
	added []uint64 // hashes added by the batch being written
	last  uint64   // the hash of the chunk last shared or remembered
}

// sharedChunk is where a chunk's bytes are: off in the file, or, for one
// first written by the batch being written, rel in the batch's
// transcripts.
type sharedChunk struct {
	data    []byte // a copy of the bytes
	off     int64
	inBatch bool
}

// appendTranscript appends a session's transcript to the batch's
// transcripts tr, writing chunks stored before as references. patches
// collects where in tr the references to the batch's own bytes have an
// offset to which the batch's place in the file must be added. A blob
// that is not in the framing is appended as it is (the engine's always
// are).
func (s *sharedChunks) appendTranscript(tr, blob []byte, patches *[]int) []byte {
	if !framed(blob) {
		return append(append(tr, rawMark), blob...)
	}
	if s.m == nil {
		s.seed, s.m = maphash.MakeSeed(), make(map[uint64]sharedChunk)
	}
	for len(blob) > 0 {
		n := binary.BigEndian.Uint32(blob[5:9])
		data := blob[9 : 9+n]
		if n < minShared {
			tr = append(tr, blob[:9+n]...)
			blob = blob[9+n:]
			continue
		}
		h, c, ok := s.find(data)
		if ok {
			tr = append(tr, refChunk)
			tr = append(tr, blob[:9]...)
			if c.inBatch {
				*patches = append(*patches, len(tr))
			}
			tr = binary.BigEndian.AppendUint64(tr, uint64(c.off))
		} else {
			tr = append(tr, blob[:9]...)
			s.remember(h, data, int64(len(tr)))
			tr = append(tr, data...)
		}
		blob = blob[9+n:]
	}
	return tr
}

// framed reports whether b is a sequence of whole chunks, each from or
// to the client.
func framed(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 9 || b[0] != '<' && b[0] != '>' {
			return false
		}
		n := uint64(binary.BigEndian.Uint32(b[5:9]))
		if n > uint64(len(b)-9) {
			return false
		}
		b = b[9+n:]
	}
	return true
}

// find looks for data among the chunks: first the last one (a flood
// repeats one answer: comparing costs less than hashing), then by its
// hash, which it returns.
func (s *sharedChunks) find(data []byte) (uint64, sharedChunk, bool) {
	if c, ok := s.m[s.last]; ok && bytes.Equal(c.data, data) {
		return s.last, c, true
	}
	h := maphash.Bytes(s.seed, data)
	c, ok := s.m[h]
	if ok = ok && bytes.Equal(c.data, data); ok {
		s.last = h
	}
	return h, c, ok
}

func (s *sharedChunks) remember(h uint64, data []byte, rel int64) {
	if len(s.m) >= maxSharedChunks || s.bytes+len(data) > maxSharedBytes {
		clear(s.m)
		s.bytes = 0
		s.added = s.added[:0]
	}
	s.m[h] = sharedChunk{data: bytes.Clone(data), off: rel, inBatch: true}
	s.last = h
	s.bytes += len(data)
	s.added = append(s.added, h)
}

// patch adds the batch's place in the file, trEnd, to the offsets of
// the references to its own bytes.
func patchRefs(tr []byte, patches []int, trEnd int64) {
	for _, p := range patches {
		binary.BigEndian.PutUint64(tr[p:], binary.BigEndian.Uint64(tr[p:])+uint64(trEnd))
	}
}

// committed places the batch's chunks in the file, at trEnd, once the
// batch is committed; failed forgets them, their bytes cut off.
func (s *sharedChunks) committed(trEnd int64) {
	for _, h := range s.added {
		if c, ok := s.m[h]; ok && c.inBatch {
			c.off += trEnd
			c.inBatch = false
			s.m[h] = c
		}
	}
	s.added = s.added[:0]
}

func (s *sharedChunks) failed() {
	for _, h := range s.added {
		if c, ok := s.m[h]; ok && c.inBatch {
			s.bytes -= len(c.data)
			delete(s.m, h)
		}
	}
	s.added = s.added[:0]
}

// errTranscript is a stored transcript that does not read.
var errTranscript = errors.New("corrupt transcript")

// expandTranscript returns a stored transcript with its references read
// back from the file (at, reading n bytes at an offset) into plain
// chunks: what the session's close event carried. It reads at most
// maxTranscript bytes in all.
func expandTranscript(b []byte, at func(off, n int64) ([]byte, error)) ([]byte, error) {
	if len(b) > 0 && b[0] == rawMark {
		return b[1:], nil
	}
	if bytes.IndexByte(b, refChunk) < 0 {
		return b, nil // no reference can be in it
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		if b[0] != refChunk {
			if len(b) < 9 || b[0] != '<' && b[0] != '>' {
				return nil, fmt.Errorf("%w: bad chunk", errTranscript)
			}
			n := uint64(binary.BigEndian.Uint32(b[5:9]))
			if n > uint64(len(b)-9) {
				return nil, fmt.Errorf("%w: chunk of %d bytes past its end", errTranscript, n)
			}
			out = append(out, b[:9+n]...)
			b = b[9+n:]
			continue
		}
		if len(b) < refLen || b[1] != '<' && b[1] != '>' {
			return nil, fmt.Errorf("%w: bad reference", errTranscript)
		}
		n := int64(binary.BigEndian.Uint32(b[6:10]))
		off := binary.BigEndian.Uint64(b[10:18])
		if off > maxTranscriptFile || int64(len(out))+9+n > maxTranscript {
			return nil, fmt.Errorf("%w: reference of %d bytes at %d out of range", errTranscript, n, off)
		}
		data, err := at(int64(off), n)
		if err != nil {
			return nil, err
		}
		out = append(out, b[1:10]...)
		out = append(out, data...)
		b = b[refLen:]
	}
	return out, nil
}

// maxTranscriptFile bounds the offsets references hold.
const maxTranscriptFile = 1 << 62
