package download

import (
	"os"
	"reflect"
	"regexp"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/config"
)

// The README's configuration block decodes strictly into Config and
// shows the defaults.
func TestREADMEConfig(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no yaml block")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(m[1], &root); err != nil {
		t.Fatal(err)
	}
	section := root.Content[0].Content[1] // download:
	if err := config.CheckKnown(section, reflect.TypeFor[Config](), "download"); err != nil {
		t.Fatal(err)
	}
	var got Config
	if err := section.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("README shows\n%+v\nwant the defaults\n%+v", got, want)
	}
	if got.RememberFor != 24*time.Hour {
		t.Errorf("remember_for decoded as %v", got.RememberFor)
	}
}
