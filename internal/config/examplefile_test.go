package config

import "testing"

// TestExampleFile keeps docs/example.yaml, which README tells newcomers to
// validate, a valid configuration.
func TestExampleFile(t *testing.T) {
	c, err := Load("../../docs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Static) != 5 || c.FIB.Path == "" || c.Metrics.Listen == "" {
		t.Fatalf("example file lost content: %d static routes, fib %q, metrics %q", len(c.Static), c.FIB.Path, c.Metrics.Listen)
	}
}
