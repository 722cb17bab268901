package detect

import (
	"testing"
)

// TestBuiltinRules runs the tests written next to every built-in rule
// and checks that every rule has at least one event that must fire it and
// one that must not.
func TestBuiltinRules(t *testing.T) {
	set, err := LoadRules(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() < 40 {
		t.Errorf("built-in set has %d rules; want the whole catalogue", set.Len())
	}
	pos, neg := map[string]int{}, map[string]int{}
	for _, res := range set.RunTests() {
		name := res.Rule + "/" + res.Name
		if res.Err != nil {
			t.Errorf("%s:%d %s: %v", res.File, res.Line, name, res.Err)
			continue
		}
		if res.Got != res.Want {
			t.Errorf("%s:%d %s: fired %v; want %v", res.File, res.Line, name, res.Got, res.Want)
		}
		if res.Want {
			pos[res.Rule]++
		} else {
			neg[res.Rule]++
		}
	}
	for _, r := range set.rules {
		if pos[r.id] == 0 || neg[r.id] == 0 {
			t.Errorf("%s:%d rule %s has %d tests that fire it and %d that must not; want at least one of each",
				r.file, r.line, r.id, pos[r.id], neg[r.id])
		}
	}
}
