package config

import (
	"os"
	"strings"
	"testing"
)

// TestReferenceExample keeps the full example in docs/configuration.md
// valid.
func TestReferenceExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Skip("configuration reference not found:", err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Full example\n\n```yaml\n")
	if !ok {
		t.Fatal("no full example in docs/configuration.md")
	}
	example, _, _ := strings.Cut(rest, "```")
	c, err := Parse("configuration.md", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Static) != 5 || c.Tables["isp2"] != 100 {
		t.Errorf("example parsed to %+v", c)
	}
}
