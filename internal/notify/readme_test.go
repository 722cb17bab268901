package notify

import (
	"os"
	"reflect"
	"regexp"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smallpot/smallpot/internal/config"
)

// The README's configuration block decodes strictly into Config, is
// valid, and keeps the defaults where it shows them.
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
	section := root.Content[0].Content[1] // notify:
	if err := config.CheckKnown(section, reflect.TypeFor[Config](), "notify"); err != nil {
		t.Fatal(err)
	}
	got := Defaults()
	if err := section.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if got.Rate != d.Rate || got.DigestEvery != d.DigestEvery || got.Queue != d.Queue ||
		got.DetectionSeverity != d.DetectionSeverity || got.MinSeverity != d.MinSeverity || got.Detections {
		t.Errorf("README shows %+v; want the defaults %+v", got, d)
	}
	if len(got.Webhooks) != 1 || got.Webhooks[0].Headers["Authorization"] != "Bearer TOKEN" ||
		got.Webhooks[0].Backoff != time.Second || len(got.Email) != 1 || !got.Email[0].StartTLS ||
		len(got.Syslog) != 1 || got.Syslog[0].Facility != "local0" {
		t.Errorf("README example decoded as %+v", got)
	}
}
