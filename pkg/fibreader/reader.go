// Package fibreader maps routerd's shared-memory forwarding table (FIB)
// read-only and answers longest-prefix-match lookups without locks and
// without talking to the daemon.
//
// routerd (the single writer) publishes the best route of every prefix, per
// routing table, in a file under /dev/shm. Any number of processes open it
// with Open and call Lookup (convenient, resolves next hops) or the raw
// per-table calls Lookup4, Lookup6 and their batch forms (for a packet
// path). The writer updates the file in place while readers look up: each
// lookup returns either the old or the new answer for a prefix being
// changed, never a mix. A reader calls Check now and then to learn whether
// the writer is alive and whether a new file has replaced this one, and then
// opens the path again.
//
// The package depends only on the standard library and golang.org/x/sys.
package fibreader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Errors a reader reports. Validation errors wrap ErrInvalid.
var (
	// ErrInvalid means the file is not a usable FIB: wrong magic, another
	// format version, truncated, or inconsistent sizes.
	ErrInvalid = errors.New("not a valid routerd FIB")
	// ErrSuperseded means a newer file has replaced this one; open the path again.
	ErrSuperseded = errors.New("FIB file superseded by a newer one; reopen")
	// ErrWriterClosed means the writer closed the file; answers are frozen.
	ErrWriterClosed = errors.New("FIB writer has closed the file")
	// ErrStale means the writer's heartbeat is older than allowed.
	ErrStale = errors.New("FIB writer heartbeat is stale")
)

// Reader is an open FIB. Its methods are safe for concurrent use.
type Reader struct {
	path string
	mem  []byte
	own  bool // mem is our mapping, unmap on Close
	dev  uint64
	ino  uint64

	maxTables  int
	maxPaths   int
	nodes      []uint32
	groupDir   []uint32
	recPool    []uint32 // record pool as words
	recWords   int      // words per record
	recCount   int
	comp64     []uint64    // compressed IPv6 nodes
	comp32     []uint32    // the same memory as uint32 words
	shortcuts  [2][]uint64 // IPv6 shortcut tables of table slot 0 (depth 32, 40), nil if none
	tableDir   int         // byte offset
	reclaim    *uint64
	generation *uint64

	mu     sync.Mutex
	tables []atomic.Pointer[Table] // by directory slot
	closed atomic.Bool
}

// Open maps the FIB file at path read-only and validates it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fib %s: %w", path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("fib %s: stat: %w", path, err)
	}
	if st.Size < HeaderSize {
		return nil, fmt.Errorf("fib %s: %w: %d bytes, shorter than the %d-byte header", path, ErrInvalid, st.Size, HeaderSize)
	}
	if uint64(st.Size) > 1<<40 {
		return nil, fmt.Errorf("fib %s: %w: size %d too large", path, ErrInvalid, st.Size)
	}
	mem, err := Map(f, int(st.Size), false)
	if err != nil {
		return nil, fmt.Errorf("fib %s: mmap: %w", path, err)
	}
	r, err := newReader(mem)
	if err != nil {
		_ = Unmap(mem)
		return nil, fmt.Errorf("fib %s: %w", path, err)
	}
	r.path, r.own = path, true
	r.dev, r.ino = uint64(st.Dev), st.Ino
	return r, nil
}

// FromBytes validates mem as a FIB and reads it in place. It serves
// programs that map the file themselves and the writer's own in-process
// lookups; mem must stay mapped while the Reader is used.
func FromBytes(mem []byte) (*Reader, error) {
	return newReader(mem)
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// section checks that [off, off+size) lies inside the file and is aligned.
func section(name string, fileSize, off, size uint64) error {
	if off%64 != 0 {
		return fmt.Errorf("%w: %s offset %d not 64-byte aligned", ErrInvalid, name, off)
	}
	if off < HeaderSize || off > fileSize || size > fileSize-off {
		return fmt.Errorf("%w: %s [%d, +%d) outside the %d-byte file", ErrInvalid, name, off, size, fileSize)
	}
	return nil
}

func newReader(mem []byte) (*Reader, error) {
	if len(mem) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrInvalid, len(mem), HeaderSize)
	}
	if uintptr(unsafe.Pointer(&mem[0]))%64 != 0 {
		return nil, fmt.Errorf("%w: mapping not 64-byte aligned", ErrInvalid)
	}
	if m := le64(mem, OffMagic); m != Magic {
		return nil, fmt.Errorf("%w: bad magic %#x", ErrInvalid, m)
	}
	if v := le32(mem, OffVersion); v != Version {
		return nil, fmt.Errorf("%w: format version %d, this reader understands %d", ErrInvalid, v, Version)
	}
	if h := le32(mem, OffHeaderSize); h != HeaderSize {
		return nil, fmt.Errorf("%w: header size %d, want %d", ErrInvalid, h, HeaderSize)
	}
	fs := uint64(len(mem))
	if s := le64(mem, OffFileSize); s != fs {
		return nil, fmt.Errorf("%w: header says %d bytes, file has %d (truncated or being replaced)", ErrInvalid, s, fs)
	}
	switch State(le32(mem, OffState)) {
	case StateBuilding, StateLive, StateClosed, StateSuperseded:
	default:
		return nil, fmt.Errorf("%w: unknown state %d", ErrInvalid, le32(mem, OffState))
	}
	r := &Reader{mem: mem}
	maxTables := le32(mem, OffMaxTables)
	maxPaths := le32(mem, OffMaxPaths)
	nodeCount := uint64(le32(mem, OffNodeCount))
	groupSlots := uint64(le32(mem, OffGroupSlots))
	recCount := uint64(le32(mem, OffRecordCount))
	recSize := uint64(le32(mem, OffRecordSize))
	if maxTables < 1 || maxTables > 4096 {
		return nil, fmt.Errorf("%w: %d table slots", ErrInvalid, maxTables)
	}
	if maxPaths < 1 || maxPaths > 1024 {
		return nil, fmt.Errorf("%w: %d paths per group", ErrInvalid, maxPaths)
	}
	if nodeCount > 1<<30 || groupSlots > MaxGroupSlots || recCount > 1<<24 {
		return nil, fmt.Errorf("%w: pool sizes out of range", ErrInvalid)
	}
	if recSize != RecordHeader+uint64(maxPaths)*NextHopSize {
		return nil, fmt.Errorf("%w: record size %d does not match %d paths", ErrInvalid, recSize, maxPaths)
	}
	offDir, offNodes := le64(mem, OffTableDir), le64(mem, OffNodePool)
	offGroups, offRecs := le64(mem, OffGroupDir), le64(mem, OffRecordPool)
	offComp, compWords := le64(mem, OffCompPool), le64(mem, OffCompWords)
	if compWords > 1<<32 {
		return nil, fmt.Errorf("%w: compressed pool of %d words", ErrInvalid, compWords)
	}
	if err := section("compressed pool", fs, offComp, compWords*8); err != nil {
		return nil, err
	}
	var sc [2][]uint64
	for i, f := range [2][2]int{{OffShortcut, OffShortcutLen}, {OffShortcut40, OffShortcut40Len}} {
		off, n := le64(mem, f[0]), uint64(le32(mem, f[1]))
		if n == 0 {
			continue
		}
		what := fmt.Sprintf("depth-%d shortcut table", 32+8*i)
		if n&(n-1) != 0 || n > 1<<24 {
			return nil, fmt.Errorf("%w: %s of %d slots", ErrInvalid, what, n)
		}
		if compWords > 1<<24 {
			return nil, fmt.Errorf("%w: %s beside a compressed pool of %d words (at most 1<<24)", ErrInvalid, what, compWords)
		}
		if err := section(what, fs, off, n*8); err != nil {
			return nil, err
		}
		sc[i] = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[off])), n)
	}
	if err := section("table directory", fs, offDir, uint64(maxTables)*TableEntrySize); err != nil {
		return nil, err
	}
	if err := section("node pool", fs, offNodes, nodeCount*NodeEntries*4); err != nil {
		return nil, err
	}
	if err := section("group directory", fs, offGroups, groupSlots*4); err != nil {
		return nil, err
	}
	if err := section("record pool", fs, offRecs, recCount*recSize); err != nil {
		return nil, err
	}
	r.maxTables, r.maxPaths = int(maxTables), int(maxPaths)
	r.tableDir = int(offDir)
	r.nodes = words(mem, offNodes, nodeCount*NodeEntries)
	r.groupDir = words(mem, offGroups, groupSlots)
	r.recWords = int(recSize / 4)
	r.recCount = int(recCount)
	r.recPool = words(mem, offRecs, recCount*recSize/4)
	if compWords > 0 {
		r.comp64 = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[offComp])), compWords)
		r.comp32 = words(mem, offComp, compWords*2)
	}
	r.shortcuts = sc
	r.reclaim = (*uint64)(unsafe.Pointer(&mem[OffReclaim]))
	r.generation = (*uint64)(unsafe.Pointer(&mem[OffGeneration]))
	r.tables = make([]atomic.Pointer[Table], maxTables)
	return r, nil
}

func words(mem []byte, off, n uint64) []uint32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&mem[off])), n)
}

func (r *Reader) load32(off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.mem[off])))
}

func (r *Reader) load64(off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.mem[off])))
}

// Close unmaps the file. Tables obtained from the Reader must not be used
// afterwards.
func (r *Reader) Close() error {
	if !r.closed.CompareAndSwap(false, true) || !r.own {
		return nil
	}
	return Unmap(r.mem)
}

// Table returns the handle of routing table id (254 is main), or false if
// the writer has not created that table.
func (r *Reader) Table(id uint32) (*Table, bool) {
	for i := range r.tables {
		if t := r.tables[i].Load(); t != nil && t.id == id {
			return t, true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.tables {
		if r.tables[i].Load() != nil {
			continue
		}
		base := r.tableDir + i*TableEntrySize
		flags := r.load32(base + tdFlags)
		if flags&1 == 0 || r.load32(base+tdID) != id {
			continue
		}
		t, err := r.openTable(base, id, flags)
		if err != nil {
			return nil, false
		}
		r.tables[i].Store(t)
		return t, true
	}
	return nil, false
}

// Tables lists the ids of the tables present in the file.
func (r *Reader) Tables() []uint32 {
	var ids []uint32
	for i := 0; i < r.maxTables; i++ {
		base := r.tableDir + i*TableEntrySize
		if r.load32(base+tdFlags)&1 != 0 {
			ids = append(ids, r.load32(base+tdID))
		}
	}
	return ids
}

func (r *Reader) openTable(base int, id, flags uint32) (*Table, error) {
	b4, b6 := flags>>8&0xff, flags>>16&0xff
	if b4 != 8 && b4 != 16 && b4 != 24 || b6 != 8 && b6 != 16 {
		return nil, fmt.Errorf("%w: table %d root bits %d/%d", ErrInvalid, id, b4, b6)
	}
	fs := uint64(len(r.mem))
	o4, o6 := r.load64(base+tdRoot4), r.load64(base+tdRoot6)
	if err := section("IPv4 root", fs, o4, 4<<b4); err != nil {
		return nil, err
	}
	if err := section("IPv6 root", fs, o6, 4<<b6); err != nil {
		return nil, err
	}
	t := &Table{
		r: r, id: id, base: base,
		root4: words(r.mem, o4, 1<<b4), shift4: 32 - b4,
		root6: words(r.mem, o6, 1<<b6), bits6: b6, shift6: 64 - b6,
		nodes: r.nodes, comp64: r.comp64, comp32: r.comp32, reclaim: r.reclaim,
	}
	t.sc32, t.sc40 = noShortcuts(), noShortcuts()
	if base == r.tableDir {
		t.sc32, t.sc40 = newShortcuts(r.shortcuts[0]), newShortcuts(r.shortcuts[1])
	}
	return t, nil
}

// NextHop is one resolved next hop of a route.
type NextHop struct {
	Gateway netip.Addr // invalid for a directly attached route
	Ifindex int32
	Weight  uint16
}

// Group resolves the group slot of a Forward entry into its group id and
// next hops, appending them to dst. ok is false if the group has no next
// hops published (deleted or not yet resolved).
func (r *Reader) Group(e Entry, dst []NextHop) (id uint32, nhs []NextHop, ok bool) {
	if e.Kind() != Forward {
		return 0, dst, false
	}
	n0 := len(dst)
	for {
		seq := atomic.LoadUint64(r.reclaim)
		dst = dst[:n0]
		id, ok = 0, false
		slot := e.Slot()
		if int(slot) < len(r.groupDir) {
			rec := atomic.LoadUint32(&r.groupDir[slot])
			if rec != 0 && int(rec) < r.recCount {
				w := r.recPool[int(rec)*r.recWords : (int(rec)+1)*r.recWords]
				id = atomic.LoadUint32(&w[0])
				cnt := int(atomic.LoadUint32(&w[1]))
				if cnt <= r.maxPaths {
					ok = true
					for i := 0; i < cnt; i++ {
						dst = append(dst, decodeNH(w[2+i*6:8+i*6]))
					}
				}
			}
		}
		if atomic.LoadUint64(r.reclaim) == seq {
			return id, dst, ok
		}
	}
}

func decodeNH(w []uint32) NextHop {
	var b [16]byte
	for i := 0; i < 4; i++ {
		binary.BigEndian.PutUint32(b[i*4:], atomic.LoadUint32(&w[i]))
	}
	nh := NextHop{Ifindex: int32(atomic.LoadUint32(&w[4]))}
	fw := atomic.LoadUint32(&w[5])
	nh.Weight = uint16(fw >> 16)
	switch fw & 0xffff {
	case nhFlagGW4:
		nh.Gateway = netip.AddrFrom4([4]byte(b[:4]))
	case nhFlagGW6:
		nh.Gateway = netip.AddrFrom16(b)
	}
	return nh
}

// Result is a resolved lookup.
type Result struct {
	Kind     Kind
	Prefix   netip.Prefix // the matching prefix; invalid if Kind is NoRoute
	Group    uint32       // the routerd next-hop group id, for Forward
	NextHops []NextHop    // empty for a Forward route whose group has no next hops yet
}

// Lookup finds the route for addr in the main table (254) and resolves its
// next hops.
func (r *Reader) Lookup(addr netip.Addr) Result {
	return r.LookupTable(254, addr)
}

// LookupTable is Lookup in routing table id.
func (r *Reader) LookupTable(id uint32, addr netip.Addr) Result {
	t, ok := r.Table(id)
	if !ok || !addr.IsValid() {
		return Result{}
	}
	addr = addr.Unmap()
	e := t.LookupAddr(addr)
	res := Result{Kind: e.Kind()}
	if res.Kind == NoRoute {
		return res
	}
	res.Prefix, _ = addr.Prefix(e.Bits())
	if res.Kind == Forward {
		res.Group, res.NextHops, _ = r.Group(e, nil)
	}
	return res
}

// Stats describes a FIB file.
type Stats struct {
	State          State
	Generation     uint64
	WriterPID      int
	Created        time.Time
	Heartbeat      time.Time
	LastCommit     time.Time
	WriterAge      time.Duration // time since the last heartbeat
	Prefixes4      uint64
	Prefixes6      uint64
	Tables         []uint32
	MaxTables      int // table slots in the file
	NodesUsed      uint64
	NodesTotal     uint64
	GroupsUsed     uint64
	GroupSlots     uint64
	FileSize       uint64
	NodeBytes      uint64 // bytes held by used nodes
	CompBytes      uint64 // bytes held by compressed IPv6 nodes
	ReclaimSeq     uint64
	BytesPerPrefix float64 // used memory (roots, used nodes, groups) per prefix
}

// Stats reads the header.
func (r *Reader) Stats() Stats {
	s := Stats{
		State:      State(r.load32(OffState)),
		Generation: r.load64(OffGeneration),
		WriterPID:  int(r.load32(OffWriterPID)),
		Created:    time.Unix(0, int64(r.load64(OffCreated))),
		Heartbeat:  time.Unix(0, int64(r.load64(OffHeartbeat))),
		LastCommit: time.Unix(0, int64(r.load64(OffCommitted))),
		Prefixes4:  r.load64(OffStats + statPrefixes4),
		Prefixes6:  r.load64(OffStats + statPrefixes6),
		NodesUsed:  r.load64(OffStats + statNodesUsed),
		NodesTotal: uint64(len(r.nodes) / NodeEntries),
		GroupsUsed: r.load64(OffStats + statGroupsUsed),
		GroupSlots: uint64(len(r.groupDir)),
		FileSize:   uint64(len(r.mem)),
		ReclaimSeq: r.load64(OffReclaim),
		Tables:     r.Tables(),
		MaxTables:  r.maxTables,
	}
	s.WriterAge = time.Since(s.Heartbeat)
	s.NodeBytes = s.NodesUsed * NodeEntries * 4
	s.CompBytes = r.load64(OffStats+statCompUsed) * 8
	var roots uint64
	for _, id := range s.Tables {
		if t, ok := r.Table(id); ok {
			roots += uint64(len(t.root4)+len(t.root6)) * 4
		}
	}
	if n := s.Prefixes4 + s.Prefixes6; n > 0 {
		used := roots + s.NodeBytes + s.CompBytes + uint64(len(r.groupDir))*4 + r.load64(OffStats+statRecsUsed)*uint64(r.recWords*4)
		s.BytesPerPrefix = float64(used) / float64(n)
	}
	return s
}

// Bytes is the mapped file. Do not modify it.
func (r *Reader) Bytes() []byte { return r.mem }

// Generation is the number of batches the writer has committed.
func (r *Reader) Generation() uint64 { return r.load64(OffGeneration) }

// Check reports whether this mapping is still the one to use: nil while
// the writer is live, its heartbeat younger than maxAge (0 skips that test)
// and the path still names this file; otherwise ErrSuperseded,
// ErrWriterClosed or ErrStale. On ErrSuperseded or ErrStale a reader opens
// the path again (a restarted writer publishes a new file).
func (r *Reader) Check(maxAge time.Duration) error {
	switch State(r.load32(OffState)) {
	case StateSuperseded:
		return ErrSuperseded
	case StateClosed:
		return ErrWriterClosed
	}
	if r.path != "" {
		var st unix.Stat_t
		if err := unix.Stat(r.path, &st); err == nil && (uint64(st.Dev) != r.dev || st.Ino != r.ino) {
			return ErrSuperseded
		}
	}
	if maxAge > 0 {
		if age := time.Since(time.Unix(0, int64(r.load64(OffHeartbeat)))); age > maxAge {
			return fmt.Errorf("%w: last heartbeat %s ago", ErrStale, age.Round(time.Millisecond))
		}
	}
	return nil
}

// Reopen opens the reader's path again, for use after Check reported a
// replaced or stale file. The old Reader stays valid until closed.
func (r *Reader) Reopen() (*Reader, error) {
	if r.path == "" {
		return nil, errors.New("fib: reader has no path to reopen")
	}
	return Open(r.path)
}
