// Package e2e runs routerd end to end: real binaries, real kernel tables in
// network namespaces the tests create and remove, routerctl as the operator
// would type it.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/routerd/routerd/internal/netns"
)

// bin holds routerd and routerctl built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	if netns.Skip() != "" {
		fmt.Println("e2e: skipped:", netns.Skip())
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "routerd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/routerd", "../../cmd/routerctl")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building routerd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func routerd() string   { return filepath.Join(bin, "routerd") }
func routerctl() string { return filepath.Join(bin, "routerctl") }

func skipUnlessRoot(t *testing.T) {
	t.Helper()
	if why := netns.Skip(); why != "" {
		t.Skip(why)
	}
}
