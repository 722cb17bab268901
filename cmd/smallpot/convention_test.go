package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

// TestEveryServiceHasItsFolderLayout keeps the protocol layout honest:
// every registered protocol has its README, a fuzz test and transcript
// tests in its own folder.
func TestEveryServiceHasItsFolderLayout(t *testing.T) {
	mods := service.Modules()
	if len(mods) == 0 {
		t.Fatal("no service registered")
	}
	for _, m := range mods {
		dir := filepath.Join("..", "..", "internal", "services", m.Name)
		for _, f := range []string{"README.md", "fuzz_test.go"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("service %s: %v", m.Name, err)
			}
		}
		if tx, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.txtar")); len(tx) == 0 {
			t.Errorf("service %s: no transcript tests in %s/testdata", m.Name, dir)
		}
		for _, p := range service.Profiles {
			c := m.Config(p)
			if c == nil || c.Common() == nil {
				t.Errorf("service %s: no default config for profile %s", m.Name, p)
			}
		}
	}
}
