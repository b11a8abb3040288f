package fibreader

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestInlining checks that the single-address lookups still inline into
// their callers: without it each IPv4 lookup costs about a third more (a
// call per lookup leaves fewer of the lookups' memory reads in flight),
// and nothing else would notice. A change that trips it has pushed a fast
// path over the compiler's inlining budget.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with the compiler's inlining report")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, fn := range []string{`\(\*Table\)\.Lookup4`, `\(\*Table\)\.Lookup6`, `\(\*Table\)\.LookupAddr`, `step6`} {
		if !regexp.MustCompile(`(?m)can inline ` + fn + `$`).Match(out) {
			t.Errorf("%s no longer inlines (go build -gcflags=-m=2 says why)", fn)
		}
	}
}
