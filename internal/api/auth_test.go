package api

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseProcStatusGroups(t *testing.T) {
	status := "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t4 27 1000 \n"
	if g := parseProcStatusGroups([]byte(status), 1000); !slices.Equal(g, []uint32{4, 27, 1000}) {
		t.Errorf("groups %v", g)
	}
	if g := parseProcStatusGroups([]byte(status), 1001); g != nil {
		t.Errorf("another uid's process: %v", g)
	}
	if g := parseProcStatusGroups([]byte("Uid:\t5\t5\t5\t5\nGroups:\t\n"), 5); g == nil || len(g) != 0 {
		t.Errorf("no groups: %v", g)
	}
	if g := parseProcStatusGroups([]byte("Uid:\t5\nGroups:\tx\n"), 5); g != nil {
		t.Errorf("garbage: %v", g)
	}
}

func TestAuthorizerCheck(t *testing.T) {
	a := &authorizer{daemonUID: 0, group: &account{id: 500, name: "routerd"}, owner: &account{id: 1001, name: "netops"}}
	tests := []struct {
		p     PeerCred
		need  Access
		allow bool
	}{
		{PeerCred{UID: 0}, AccessWrite, true},
		{PeerCred{UID: 1001, GID: 1001}, AccessWrite, true},
		{PeerCred{UID: 1001, GID: 1001}, AccessRead, true},
		{PeerCred{UID: 1002, GID: 500}, AccessRead, true},
		{PeerCred{UID: 1002, GID: 1002, Groups: []uint32{27, 500}}, AccessRead, true},
		{PeerCred{UID: 1002, GID: 500}, AccessWrite, false},
		{PeerCred{UID: 1003, GID: 1003, Groups: []uint32{27}}, AccessRead, false},
	}
	for _, tc := range tests {
		err := a.check(tc.p, "/routerd.v1.Routerd/AddRoutes", tc.need)
		if (err == nil) != tc.allow {
			t.Errorf("%+v need %v: %v", tc.p, tc.need, err)
		}
		if err != nil && status.Code(err) != codes.PermissionDenied {
			t.Errorf("code %v", status.Code(err))
		}
	}
	err := a.check(PeerCred{UID: 1002, GID: 500}, "/routerd.v1.Routerd/AddRoutes", AccessWrite)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "uid 1002") || !strings.Contains(msg, "user netops (1001)") {
		t.Errorf("message %q", msg)
	}
	if methodAccess["/routerd.v1.Routerd/Unknown"] != AccessWrite {
		t.Error("an unclassified method must need write access")
	}
}

var (
	buildOnce   sync.Once
	routerctl   string
	buildErr    error
	buildOutput []byte
)

// buildRouterctl builds cmd/routerctl once into a directory everyone may
// read, for running it as another user.
func buildRouterctl(t *testing.T, dir string) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		routerctl = filepath.Join(dir, "routerctl")
		cmd := exec.Command(goBin, "build", "-o", routerctl, "github.com/routerd/routerd/cmd/routerctl")
		buildOutput, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build routerctl: %v\n%s", buildErr, buildOutput)
	}
	return routerctl
}

// openDir makes a t.TempDir that other users can enter.
func openDir(t *testing.T) string {
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAuthorizationAsAnotherUser runs routerctl as uid/gid 65534 through
// setpriv against servers configured in different ways, and checks the exit
// codes and messages a script and a person would see.
func TestAuthorizationAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	dir := openDir(t)
	bin := buildRouterctl(t, dir)

	run := func(t *testing.T, socket string, privs []string, args ...string) (int, string) {
		t.Helper()
		argv := append([]string{"--reuid=65534", "--regid=65534"}, privs...)
		argv = append(argv, bin, "--socket", socket)
		argv = append(argv, args...)
		cmd := exec.Command(setpriv, argv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String()
	}
	clear := []string{"--clear-groups"}
	read := []string{"show", "status"}
	write := []string{"route", "add", "203.0.113.0/24", "blackhole"}

	tests := []struct {
		name   string
		cfg    func(*ServerConfig)
		privs  []string
		args   []string
		code   int
		output string
	}{
		{"group member reads", func(c *ServerConfig) { c.Group = "65534" }, clear, read, 0, "routerd test"},
		{"group member may not write", func(c *ServerConfig) { c.Group = "65534" }, clear, write, 4,
			"permission denied: uid 65534"},
		{"write needs owner", func(c *ServerConfig) { c.Group = "65534"; c.Owner = "0" }, clear, write, 4,
			"write access needs root or user"},
		{"supplementary group reads", func(c *ServerConfig) { c.Group = "4242"; c.SocketMode = 0o666 }, []string{"--groups=4242"}, read, 0, "routerd test"},
		{"no group: read denied", func(c *ServerConfig) { c.SocketMode = 0o666 }, clear, read, 4,
			"read access needs root"},
		{"other group: read denied", func(c *ServerConfig) { c.Group = "4242"; c.SocketMode = 0o666 }, clear, read, 4,
			"membership of group 4242"},
		{"owner writes", func(c *ServerConfig) { c.Owner = "65534" }, clear, write, 0, "added 203.0.113.0/24"},
		{"socket closed to the caller", func(c *ServerConfig) { c.Group = "4242" }, clear, read, 4,
			"permission denied: cannot connect"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			socket := filepath.Join(dir, "s"+string(rune('a'+i))+".sock")
			newTestEnv(t, func(c *ServerConfig) {
				c.Socket = socket
				tc.cfg(c)
			})
			code, out := run(t, socket, tc.privs, tc.args...)
			t.Logf("exit %d: %s", code, out)
			if code != tc.code || !strings.Contains(out, tc.output) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.code, tc.output)
			}
		})
	}
	t.Run("not running", func(t *testing.T) {
		code, out := run(t, filepath.Join(dir, "none.sock"), clear, read...)
		if code != 3 || !strings.Contains(out, "routerd is not running (no socket at") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
}
