package service_test

import (
	"strings"
	"testing"

	"github.com/smallpot/smallpot/internal/service"
)

type cfgA struct{ service.Base }
type cfgB struct{ service.Base }

func TestNewAs(t *testing.T) {
	newFn := service.NewAs("demo", func(c *cfgA, _ service.Env) (*string, error) {
		s := "built"
		return &s, nil
	})
	got, err := newFn(&cfgA{}, service.Env{})
	if err != nil || *got.(*string) != "built" {
		t.Errorf("NewAs with its own config: %v, %v; want the constructor's result", got, err)
	}
	if _, err := newFn(&cfgB{}, service.Env{}); err == nil || !strings.Contains(err.Error(), "demo: config of type *service_test.cfgB") {
		t.Errorf("NewAs with another config: %v; want an error naming the service and the type", err)
	}
}
