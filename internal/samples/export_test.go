package samples

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/smallpot/smallpot/internal/service"
)

func TestExportPlainAndEncrypted(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "samples"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	data := append([]byte("MZ\x90\x00"), bytes.Repeat([]byte("worm"), 1000)...)
	d := service.DigestOf(data)
	if _, err := st.Put(data, d); err != nil {
		t.Fatal(err)
	}
	items := []Exported{{SHA256: d.SHA256, Meta: map[string]any{"sha256": d.SHA256, "family": "Test"}}}

	plain := t.TempDir()
	if n, err := st.Export(plain, items, ""); err != nil || n != 1 {
		t.Fatalf("export: %d, %v", n, err)
	}
	if got, _ := os.ReadFile(filepath.Join(plain, d.SHA256)); !bytes.Equal(got, data) {
		t.Error("plain export differs from the sample")
	}
	var meta map[string]any
	b, _ := os.ReadFile(filepath.Join(plain, d.SHA256+".json"))
	if err := json.Unmarshal(b, &meta); err != nil || meta["family"] != "Test" {
		t.Errorf("metadata %s: %v", b, err)
	}

	enc := t.TempDir()
	if _, err := st.Export(enc, items, "infected"); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(enc, d.SHA256+".zip")
	raw, _ := os.ReadFile(zipPath)
	if bytes.Contains(raw, []byte("wormworm")) {
		t.Error("the encrypted zip holds the sample in clear")
	}
	if _, err := exec.LookPath("unzip"); err != nil {
		t.Skip("unzip not installed (Debian package unzip): encryption not checked against a real client")
	}
	out, err := unzip(t, "infected", zipPath)
	if err != nil || !bytes.Equal(out, data) {
		t.Errorf("unzip -P infected: %v; got %d bytes, want the %d sample bytes", err, len(out), len(data))
	}
	if out, err := unzip(t, "wrong", zipPath); err == nil && bytes.Equal(out, data) {
		t.Error("unzip with a wrong password gave the sample")
	}
}

// unzip prints the one file in zipPath with the password, under a time
// limit.
func unzip(t *testing.T, password, zipPath string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unzip", "-p", "-P", password, zipPath)
	cmd.WaitDelay = 5 * time.Second // a killed client's children must not hold its pipes open
	return cmd.Output()
}
