package ssh

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	xssh "golang.org/x/crypto/ssh"
)

// keySpec is one host key: its file and how to make it.
type keySpec struct {
	file  string
	kind  string // rsa, ecdsa, ed25519
	curve elliptic.Curve
	algos []string // RSA: the signature algorithms offered
}

// keySpecs lists the keys the host key algorithms need, in the order the
// algorithms name them first.
func keySpecs(algos []string) []keySpec {
	var out []keySpec
	add := func(k keySpec) {
		for i := range out {
			if out[i].file == k.file {
				out[i].algos = append(out[i].algos, k.algos...)
				return
			}
		}
		out = append(out, k)
	}
	for _, a := range algos {
		switch a {
		case "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa":
			add(keySpec{file: "ssh_host_rsa_key", kind: "rsa", algos: []string{a}})
		case "ecdsa-sha2-nistp256":
			add(keySpec{file: "ssh_host_ecdsa_key", kind: "ecdsa", curve: elliptic.P256()})
		case "ecdsa-sha2-nistp384":
			add(keySpec{file: "ssh_host_ecdsa384_key", kind: "ecdsa", curve: elliptic.P384()})
		case "ecdsa-sha2-nistp521":
			add(keySpec{file: "ssh_host_ecdsa521_key", kind: "ecdsa", curve: elliptic.P521()})
		case "ssh-ed25519":
			add(keySpec{file: "ssh_host_ed25519_key", kind: "ed25519"})
		}
	}
	return out
}

// hostKeys returns a signer for every key the algorithms need. With a
// directory, keys are read from it, and those missing are generated and
// written there (mode 0600) to be used again on the next start; without
// one they live in memory only.
func hostKeys(dir string, algos []string, rsaBits int) ([]xssh.Signer, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("host keys: %w", err)
		}
	}
	var out []xssh.Signer
	for _, k := range keySpecs(algos) {
		key, err := loadKey(dir, k, rsaBits)
		if err != nil {
			return nil, err
		}
		s, err := xssh.NewSignerFromKey(key)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", k.file, err)
		}
		if k.kind == "rsa" {
			as, ok := s.(xssh.AlgorithmSigner)
			if !ok {
				return nil, fmt.Errorf("host key %s: cannot choose its signature algorithm", k.file)
			}
			if s, err = xssh.NewSignerWithAlgorithms(as, k.algos); err != nil {
				return nil, fmt.Errorf("host key %s: %w", k.file, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func loadKey(dir string, k keySpec, rsaBits int) (crypto.Signer, error) {
	path := ""
	if dir != "" {
		path = filepath.Join(dir, k.file)
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			raw, err := xssh.ParseRawPrivateKey(b)
			if err != nil {
				return nil, fmt.Errorf("host key %s: %w (remove it to have a new one made)", path, err)
			}
			key, ok := raw.(crypto.Signer)
			if !ok || !kindMatches(key, k) {
				return nil, fmt.Errorf("host key %s: not a %s key (remove it to have a new one made)", path, k.kind)
			}
			return key, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("host key: %w", err)
		}
	}
	key, err := generate(k, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", k.file, err)
	}
	if path == "" {
		return key, nil
	}
	blk, err := xssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	if err := writeFile(path, pem.EncodeToMemory(blk)); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	return key, nil
}

func kindMatches(key crypto.Signer, k keySpec) bool {
	switch v := key.(type) {
	case *rsa.PrivateKey:
		return k.kind == "rsa"
	case *ecdsa.PrivateKey:
		return k.kind == "ecdsa" && v.Curve == k.curve
	case ed25519.PrivateKey, *ed25519.PrivateKey:
		return k.kind == "ed25519"
	}
	return false
}

func generate(k keySpec, rsaBits int) (crypto.Signer, error) {
	switch k.kind {
	case "rsa":
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case "ecdsa":
		return ecdsa.GenerateKey(k.curve, rand.Reader)
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown key kind %q", k.kind)
}

// writeFile writes data to path (mode 0600) through a temporary file, so a
// key is either whole or absent.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
