package fib

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// The concurrency tests run the writer and a reader in two processes. Both
// derive the same scenario from a seed: a base table that stays put, and
// "flaps", disjoint prefixes the writer keeps switching between absent,
// Forward to group flapGroup and Blackhole, while it also republishes the
// next hops of the base groups. Every answer a reader sees must be the
// base answer or one of the flap's states; every group record must be
// whole (its next hops all from one version).

const flapGroup = 900

type scenario struct {
	base  []netip.Prefix
	acts  []Action
	flaps []netip.Prefix
	ref   refs
}

func makeScenario(seed uint64) *scenario {
	rng := rand.New(rand.NewPCG(seed, 99))
	s := &scenario{ref: newRefs()}
	for i := 0; i < 4000; i++ {
		p := randPrefix(rng, i%3 == 0)
		if p.Bits() == 0 {
			continue
		}
		a := Action{Kind: Forward, Group: uint32(1 + rng.IntN(20))}
		if rng.IntN(8) == 0 {
			a = Action{Kind: Unreachable}
		}
		s.base = append(s.base, p)
		s.acts = append(s.acts, a)
		s.ref.insert(p, a)
	}
	// Disjoint flaps, long enough to need nodes below the roots, none
	// equal to a base prefix.
	var f4, f6 []netip.Prefix
	inBase := map[netip.Prefix]bool{}
	for _, p := range s.base {
		inBase[p] = true
	}
	overlaps := func(list []netip.Prefix, p netip.Prefix) bool {
		if inBase[p] {
			return true
		}
		for _, q := range list {
			if q.Overlaps(p) {
				return true
			}
		}
		return false
	}
	for len(f4)+len(f6) < 300 {
		p := randPrefix(rng, rng.IntN(2) == 0)
		if p.Addr().Is4() {
			p = netip.PrefixFrom(p.Addr(), 20+rng.IntN(13)).Masked()
			if !overlaps(f4, p) {
				f4 = append(f4, p)
			}
		} else {
			p = netip.PrefixFrom(p.Addr(), 40+rng.IntN(60)).Masked()
			if !overlaps(f6, p) {
				f6 = append(f6, p)
			}
		}
	}
	s.flaps = append(f4, f6...)
	return s
}

// groupNHs is version v of base group g: 1..4 next hops, all carrying v.
func groupNHs(g uint32, v int) []NextHop {
	n := 1 + v%4
	nhs := make([]NextHop, n)
	for i := range nhs {
		nhs[i] = NextHop{Gateway: netip.AddrFrom4([4]byte{10, byte(g), byte(v), byte(i)}), Ifindex: int32(v), Weight: uint16(g)}
	}
	return nhs
}

// runWriter builds the scenario at path and churns it until stop closes.
func runWriter(path string, seed uint64, stop <-chan struct{}) error {
	s := makeScenario(seed)
	w, err := Create(path, Options{MainRootBits: 24, Nodes: 1 << 14, GroupSlots: 4096, Grace: time.Millisecond})
	if err != nil {
		return err
	}
	defer w.Close()
	for g := uint32(1); g <= 20; g++ {
		w.SetGroup(g, groupNHs(g, 0))
	}
	w.SetGroup(flapGroup, []NextHop{{Ifindex: 900}})
	for i, p := range s.base {
		if err := w.Insert(MainTable, p, s.acts[i]); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	state := make([]int, len(s.flaps))
	for v := 1; ; v++ {
		select {
		case <-stop:
			return nil
		default:
		}
		for k := 0; k < 40; k++ {
			i := rng.IntN(len(s.flaps))
			var err error
			switch state[i] = rng.IntN(3); state[i] {
			case 0:
				err = w.Delete(MainTable, s.flaps[i])
				if errors.Is(err, ErrNotFound) {
					err = nil
				}
			case 1:
				err = w.Insert(MainTable, s.flaps[i], Action{Kind: Forward, Group: flapGroup})
			case 2:
				err = w.Insert(MainTable, s.flaps[i], Action{Kind: Blackhole})
			}
			if err != nil {
				return err
			}
		}
		g := uint32(1 + rng.IntN(20))
		if err := w.SetGroup(g, groupNHs(g, v)); err != nil {
			return err
		}
		if err := w.Commit(); err != nil {
			return err
		}
	}
}

// checkAnswer validates one lookup result against the scenario.
func (s *scenario) checkAnswer(r *fr.Reader, addr netip.Addr, e fr.Entry) error {
	want, bits, ok := s.ref.lookup(addr)
	for _, f := range s.flaps {
		if f.Contains(addr) && (!ok || f.Bits() > bits) && e.Bits() == f.Bits() {
			if k := e.Kind(); k == fr.Blackhole {
				return nil
			} else if k == fr.Forward {
				if id, _, _ := r.Group(e, nil); id == flapGroup {
					return nil
				}
			}
			return fmt.Errorf("%v: flap %v answered %v/%d", addr, f, e.Kind(), e.Bits())
		}
	}
	if !ok {
		if e.Kind() != fr.NoRoute {
			return fmt.Errorf("%v: got %v/%d, want no route", addr, e.Kind(), e.Bits())
		}
		return nil
	}
	if e.Kind() != want.Kind || e.Bits() != bits {
		return fmt.Errorf("%v: got %v/%d, want %v/%d", addr, e.Kind(), e.Bits(), want.Kind, bits)
	}
	if want.Kind == Forward {
		id, nhs, ok := r.Group(e, nil)
		if !ok || id != want.Group {
			return fmt.Errorf("%v: group %d (ok %v), want %d", addr, id, ok, want.Group)
		}
		v := int(nhs[0].Ifindex)
		if len(nhs) != 1+v%4 {
			return fmt.Errorf("%v: group %d version %d has %d next hops: torn record", addr, id, v, len(nhs))
		}
		for _, nh := range nhs {
			if int(nh.Ifindex) != v || nh.Weight != uint16(id) {
				return fmt.Errorf("%v: group %d mixes versions: %+v", addr, id, nhs)
			}
		}
	}
	return nil
}

// runReader hammers r until deadline and returns the number of checked
// lookups or the first wrong answer.
func runReader(r *fr.Reader, s *scenario, seed uint64, until func() bool) (int, error) {
	rng := rand.New(rand.NewPCG(seed, 3))
	tab, ok := r.Table(MainTable)
	if !ok {
		return 0, errors.New("no main table")
	}
	addrs := make([]netip.Addr, 16)
	out := make([]fr.Entry, 16)
	n := 0
	for !until() {
		for i := range addrs {
			if i%2 == 0 {
				addrs[i] = addrIn(rng, s.flaps[rng.IntN(len(s.flaps))])
			} else {
				addrs[i] = addrIn(rng, s.base[rng.IntN(len(s.base))])
			}
		}
		if n%2 == 0 {
			tab.LookupAddrs(addrs, out)
		} else {
			for i, a := range addrs {
				out[i] = tab.LookupAddr(a)
			}
		}
		for i, a := range addrs {
			if err := s.checkAnswer(r, a, out[i]); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func helperHammer(path string) int {
	seed, _ := strconv.ParseUint(os.Getenv("FIB_SEED"), 10, 64)
	if os.Getenv("FIB_ROLE") == "writer" {
		if err := runWriter(path, seed, nil); err != nil {
			fmt.Println("writer:", err)
			return 1
		}
		return 0
	}
	var r *fr.Reader
	var err error
	for i := 0; i < 500; i++ {
		if r, err = fr.Open(path); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		fmt.Println("reader:", err)
		return 1
	}
	s := makeScenario(seed)
	gen0 := r.Generation()
	n, err := runReader(r, s, seed, func() bool { return r.Check(0) != nil })
	fmt.Printf("checked %d lookups over %d generations\n", n, r.Generation()-gen0)
	if err != nil {
		fmt.Println("WRONG:", err)
		return 1
	}
	return 0
}

func shmPath(t *testing.T) string {
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = t.TempDir()
	}
	p := fmt.Sprintf("%s/routerd-fib-test-%d-%s", dir, os.Getpid(), t.Name())
	t.Cleanup(func() { os.Remove(p) })
	return p
}

func helperCmd(path, role string, seed uint64) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIB_HELPER=hammer", "FIB_PATH="+path, "FIB_ROLE="+role, fmt.Sprintf("FIB_SEED=%d", seed))
	return cmd
}

// TestReaderProcess: this process writes, a second process reads.
func TestReaderProcess(t *testing.T) {
	path := shmPath(t)
	const seed = 11
	cmd := helperCmd(path, "reader", seed)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- runWriter(path, seed, stop) }()
	// Let the reader find the file, then let it work while we churn.
	var out []byte
	var cerr error
	cdone := make(chan struct{})
	go func() { out, cerr = cmd.CombinedOutput(); close(cdone) }()
	select {
	case <-time.After(2 * time.Second):
	case <-cdone:
	}
	close(stop) // the writer closes the file; the reader sees it and stops
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-cdone
	t.Logf("reader: %s", out)
	if cerr != nil {
		t.Fatalf("reader process failed: %v\n%s", cerr, out)
	}
}

// TestWriterKilled: a second process writes and is killed mid-batch; this
// process keeps reading valid answers, sees the writer go stale, and a new
// writer takes over the path.
func TestWriterKilled(t *testing.T) {
	path := shmPath(t)
	const seed = 12
	cmd := helperCmd(path, "writer", seed)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r *fr.Reader
	var err error
	for i := 0; i < 1000; i++ {
		if r, err = fr.Open(path); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	defer r.Close()
	s := makeScenario(seed)
	deadline := time.Now().Add(500 * time.Millisecond)
	if _, err := runReader(r, s, seed, func() bool { return time.Now().After(deadline) }); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	gen := r.Generation()
	deadline = time.Now().Add(200 * time.Millisecond)
	if _, err := runReader(r, s, seed, func() bool { return time.Now().After(deadline) }); err != nil {
		t.Fatalf("after the writer died: %v", err)
	}
	if r.Generation() != gen {
		t.Fatal("generation moved after the writer died")
	}
	if err := r.Check(100 * time.Millisecond); !errors.Is(err, fr.ErrStale) {
		t.Fatalf("Check after writer death = %v, want ErrStale", err)
	}
	// A new writer takes over.
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- runWriter(path, seed, stop) }()
	for r.Check(0) == nil {
		time.Sleep(time.Millisecond)
	}
	if err := r.Check(0); !errors.Is(err, fr.ErrSuperseded) {
		t.Fatalf("Check after takeover = %v, want ErrSuperseded", err)
	}
	r2, err := r.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	deadline = time.Now().Add(300 * time.Millisecond)
	if _, err := runReader(r2, s, seed, func() bool { return time.Now().After(deadline) }); err != nil {
		t.Fatalf("after takeover: %v", err)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
