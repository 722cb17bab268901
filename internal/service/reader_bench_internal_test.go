package service

import (
	"io"
	"sync"
	"testing"
)

// oneShot is a first-reading source (the engine's connection) whose
// first read brings a whole request.
type oneShot struct{ data string }

func (s *oneShot) ReadFirst(pool *sync.Pool) (*[]byte, int, error) {
	bp := pool.Get().(*[]byte)
	return bp, copy(*bp, s.data), nil
}

func (s *oneShot) Read([]byte) (int, error) { return 0, io.EOF }

// BenchmarkReaderSession is a session's Reader from its first read to
// its release, for a request that comes in one piece: buffer from the
// pool, header lines, buffer back.
func BenchmarkReaderSession(b *testing.B) {
	src := &oneShot{data: "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (compatible; smallpot-bench)\r\nAccept: */*\r\n\r\n"}
	var s Session
	b.ReportAllocs()
	for b.Loop() {
		s.rd = Reader{src: src, size: 4096}
		rd := s.Reader()
		rd.Fill()
		for {
			line, err := rd.ReadLine(1024)
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 0 {
				break
			}
		}
		s.Release()
	}
}
