package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test's engine is stopped by the end of the test: no goroutine of
// a session, a handler or a listener may outlive it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
