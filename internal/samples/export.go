package samples

import (
	"archive/zip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Exported is one sample handed to Export with its metadata (anything
// that encodes as JSON: the store's row, detections, relatives).
type Exported struct {
	SHA256 string
	Meta   any
}

// Export writes the samples to dir: each as <sha256> (or, with password
// set, as <sha256>.zip encrypted with the traditional PKWARE cipher under
// that password — the customary "infected" keeps mail filters and
// antivirus from touching it) plus <sha256>.json with its metadata.
func (s *Store) Export(dir string, items []Exported, password string) (int, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("samples: export: %w", err)
	}
	n := 0
	for _, it := range items {
		data, err := s.Read(it.SHA256)
		if err != nil {
			return n, err
		}
		name := filepath.Join(dir, it.SHA256)
		if password == "" {
			err = os.WriteFile(name, data, 0o640)
		} else {
			err = writeEncryptedZip(name+".zip", it.SHA256, data, password)
		}
		if err != nil {
			return n, fmt.Errorf("samples: export: %w", err)
		}
		meta, err := json.MarshalIndent(it.Meta, "", "  ")
		if err != nil {
			return n, fmt.Errorf("samples: export: %w", err)
		}
		if err := os.WriteFile(name+".json", append(meta, '\n'), 0o640); err != nil {
			return n, fmt.Errorf("samples: export: %w", err)
		}
		n++
	}
	return n, nil
}

// writeEncryptedZip writes a zip holding one stored (uncompressed) entry
// encrypted with the traditional PKWARE ("ZipCrypto") cipher, the one
// every unzip understands for "infected"-password malware archives.
func writeEncryptedZip(path, entry string, data []byte, password string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	crc := crc32.ChecksumIEEE(data)
	hdr := &zip.FileHeader{
		Name:               entry,
		Method:             zip.Store,
		Flags:              0x1, // encrypted
		CRC32:              crc,
		CompressedSize64:   uint64(len(data)) + 12,
		UncompressedSize64: uint64(len(data)),
		Modified:           time.Now().UTC(),
	}
	w, err := zw.CreateRaw(hdr)
	if err == nil {
		err = writeZipCrypto(w, data, password, crc)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// zipCrypto is the traditional PKWARE stream cipher (APPNOTE.TXT 6.1).
type zipCrypto struct{ k0, k1, k2 uint32 }

func newZipCrypto(password string) *zipCrypto {
	z := &zipCrypto{0x12345678, 0x23456789, 0x34567890}
	for i := 0; i < len(password); i++ {
		z.update(password[i])
	}
	return z
}

func crcByte(crc uint32, b byte) uint32 {
	return crc32.IEEETable[(crc^uint32(b))&0xff] ^ (crc >> 8)
}

func (z *zipCrypto) update(b byte) {
	z.k0 = crcByte(z.k0, b)
	z.k1 = (z.k1+(z.k0&0xff))*134775813 + 1
	z.k2 = crcByte(z.k2, byte(z.k1>>24))
}

func (z *zipCrypto) encrypt(b byte) byte {
	t := uint16(z.k2 | 2)
	c := b ^ byte((uint32(t)*uint32(t^1))>>8)
	z.update(b)
	return c
}

func writeZipCrypto(w io.Writer, data []byte, password string, crc uint32) error {
	z := newZipCrypto(password)
	head := make([]byte, 12)
	if _, err := rand.Read(head[:11]); err != nil {
		return err
	}
	head[11] = byte(crc >> 24) // the check byte unzip verifies the password with
	out := make([]byte, 0, len(data)+12)
	for _, b := range head {
		out = append(out, z.encrypt(b))
	}
	for _, b := range data {
		out = append(out, z.encrypt(b))
	}
	_, err := w.Write(out)
	return err
}
