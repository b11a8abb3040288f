package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every BGP
// neighbour, API client and netlink socket is a descriptor, and the usual
// soft limit of 1024 is reached by a route server long before its hard limit.
func raiseFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur >= rl.Max {
		return rl.Cur, nil
	}
	rl.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	return rl.Cur, nil
}
