package netns

import (
	"os"
	"os/exec"
	"testing"
)

// Skip reports why tests needing namespaces cannot run here ("" if they can).
func Skip() string {
	if os.Geteuid() != 0 {
		return "network namespace tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "network namespace tests need iproute2's ip command"
	}
	return ""
}

// New creates a uniquely named namespace for the test (prefix is a short tag)
// and registers its removal with t.Cleanup, so it goes even when the test
// fails. It skips the test when not root.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	if why := Skip(); why != "" {
		t.Skip(why)
	}
	ns, err := Create(UniqueName(prefix))
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(); err != nil {
			t.Errorf("delete namespace: %v", err)
		}
	})
	return ns
}
