// Package fib holds routerd's forwarding table: flat longest-prefix-match
// tables for IPv4 (DIR-24-8) and IPv6 (16-8-8… multibit trie) laid out in
// one shared-memory file that data-plane processes read with
// pkg/fibreader while the Writer, fed by the RIB's change feed, keeps it
// current. docs/fib.md describes the format and the figures behind it.
package fib

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	fr "github.com/routerd/routerd/pkg/fibreader"
	"golang.org/x/sys/unix"
)

// MainTable is the id of the main routing table.
const MainTable = 254

// Kind is what a route does; the values match fibreader.Kind.
type Kind = fr.Kind

// Route kinds.
const (
	Forward     = fr.Forward
	Blackhole   = fr.Blackhole
	Unreachable = fr.Unreachable
	Prohibit    = fr.Prohibit
)

// Action is what a route change installs: Forward to Group, or one of the
// dropping kinds.
type Action struct {
	Kind  Kind
	Group uint32
}

// NextHop is one resolved next hop of a group.
type NextHop struct {
	Gateway netip.Addr // invalid for a directly attached next hop
	Ifindex int32
	Weight  uint16
}

// Errors callers decide on.
var (
	// ErrNotFound: Delete of a prefix or group that is not installed.
	ErrNotFound = errors.New("fib: not installed")
	// ErrFull: a pool or the table directory is exhausted.
	ErrFull = errors.New("fib: capacity exhausted")
	// ErrClosed: the writer was closed.
	ErrClosed = errors.New("fib: writer closed")
)

// Writer owns a FIB file. Its update methods must be called from one
// goroutine; Lookup and Reader may be used concurrently with them.
type Writer struct {
	opts   Options
	lay    layout
	path   string // published path; "" for an anonymous in-process FIB
	tmp    string
	file   *os.File
	mem    []byte
	words  []uint32 // mem as words
	nodes  []uint32
	gdir   []uint32
	rdr    *fr.Reader
	closed bool
	live   bool // published: readers may be looking

	tables  []*table
	byID    map[uint32]*table
	last    *table // the table of the last change
	nodeMem *pool  // node pool
	// Per node, grown with the highest node in use.
	info    []nodeInfo
	recMem  *pool             // record pool
	slots   *pool             // group slots
	groups  map[uint32]uint32 // group id -> slot
	slotInf []slotInfo
	quar    []quarItem
	// Ends of the parts of each section reserved with fallocate.
	resFixed, resNodes, resRecs, resComp uint64

	comp compState // compressed IPv6 publication
	cur  *trie     // the trie being changed (for root bookkeeping in store)
	// IPv6 tries index their nodes at depths 32 and 40 (see nodeIndex)
	// unless the node pool is too large for the index's slots.
	indexNodes bool

	prefixes4, prefixes6 uint64

	// IPv6 nodes lingering before they collapse (see Options.Linger), in
	// the order they became idle, and the time of the last Commit, which
	// stamps them.
	idle       []idleNode
	lastCommit int64

	// Apply's chunk, and the sum of the words its warming read (kept so
	// that the compiler cannot drop those reads).
	applyItems [applyChunk]applyItem
	warmSink   uint32
}

type slotInfo struct {
	id   uint32
	refs int32
	rec  uint32
	has  bool // SetGroup published next hops
}

type quarKind uint8

const (
	qNode quarKind = iota
	qRec
	qSlot
	qComp
)

type quarItem struct {
	kind quarKind
	size uint8 // qComp: size in words - compMinWords
	idx  uint32
	at   int64
}

// Create makes a new FIB file for path and maps it. Nothing is visible
// under path until the first Commit, which renames the complete file into
// place (an atomic switch for readers of an older file). An empty path
// makes an anonymous in-process FIB.
func Create(path string, opts Options) (*Writer, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	w := &Writer{opts: opts, lay: computeLayout(&opts), path: path, byID: map[uint32]*table{}, groups: map[uint32]uint32{}}
	size := int(w.lay.size)
	var err error
	if path == "" {
		// Private, not shared: shared anonymous memory is shmem, which gets
		// huge pages only when shmem_enabled allows it.
		w.mem, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return nil, fmt.Errorf("fib: anonymous mapping of %d bytes: %w", size, err)
		}
	} else {
		w.tmp = fmt.Sprintf("%s.%d.new", path, os.Getpid())
		// Created for the owner alone, then given its group and mode
		// (the process's umask must not decide who may read the FIB).
		w.file, err = os.OpenFile(w.tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("fib: cannot create shared-memory file: %w", err)
		}
		if opts.GID != 0 {
			if err = w.file.Chown(-1, opts.GID); err != nil {
				w.abandon()
				return nil, fmt.Errorf("fib: cannot give %s to group %d: %w", w.tmp, opts.GID, err)
			}
		}
		if err = w.file.Chmod(opts.FileMode); err != nil {
			w.abandon()
			return nil, fmt.Errorf("fib: cannot set mode %v on %s: %w", opts.FileMode, w.tmp, err)
		}
		if err = w.file.Truncate(int64(size)); err != nil {
			w.abandon()
			return nil, fmt.Errorf("fib: cannot size %s to %d bytes: %w", w.tmp, size, err)
		}
		w.resFixed, w.resNodes, w.resRecs, w.resComp = 0, w.lay.nodePool, w.lay.recPool, w.lay.compPool
		if err = w.reserve(&w.resFixed, w.lay.fixedEnd, w.lay.fixedEnd); err != nil {
			w.abandon()
			return nil, err
		}
		w.mem, err = fr.Map(w.file, size, true)
		if err != nil {
			w.abandon()
			return nil, fmt.Errorf("fib: cannot map %s: %w", w.tmp, err)
		}
		collapse(w.mem[:w.resFixed])
	}
	_ = unix.Madvise(w.mem, unix.MADV_HUGEPAGE)
	w.words = unsafe.Slice((*uint32)(unsafe.Pointer(&w.mem[0])), size/4)
	w.nodes = w.words[w.lay.nodePool/4 : w.lay.nodePool/4+uint64(opts.Nodes)*fr.NodeEntries]
	w.gdir = w.words[w.lay.groupDir/4 : w.lay.groupDir/4+uint64(opts.GroupSlots)]
	w.nodeMem = newPool(opts.Nodes)
	w.indexNodes = indexable(opts.Nodes)
	w.initComp()
	w.recMem = newPool(opts.Records)
	w.slots = newPool(opts.GroupSlots)
	w.slotInf = make([]slotInfo, opts.GroupSlots)

	le := binary.LittleEndian
	h := w.mem
	le.PutUint64(h[fr.OffMagic:], fr.Magic)
	le.PutUint32(h[fr.OffVersion:], fr.Version)
	le.PutUint32(h[fr.OffHeaderSize:], fr.HeaderSize)
	le.PutUint64(h[fr.OffFileSize:], uint64(size))
	le.PutUint32(h[fr.OffState:], uint32(fr.StateBuilding))
	le.PutUint32(h[fr.OffWriterPID:], uint32(os.Getpid()))
	le.PutUint64(h[fr.OffCreated:], uint64(time.Now().UnixNano()))
	le.PutUint32(h[fr.OffMaxTables:], uint32(opts.MaxTables))
	le.PutUint32(h[fr.OffMaxPaths:], uint32(opts.MaxPaths))
	le.PutUint32(h[fr.OffNodeCount:], uint32(opts.Nodes))
	le.PutUint32(h[fr.OffGroupSlots:], uint32(opts.GroupSlots))
	le.PutUint32(h[fr.OffRecordCount:], uint32(opts.Records))
	le.PutUint32(h[fr.OffRecordSize:], uint32(w.lay.recSize))
	le.PutUint64(h[fr.OffTableDir:], w.lay.tableDir)
	le.PutUint64(h[fr.OffNodePool:], w.lay.nodePool)
	le.PutUint64(h[fr.OffGroupDir:], w.lay.groupDir)
	le.PutUint64(h[fr.OffRecordPool:], w.lay.recPool)
	le.PutUint64(h[fr.OffCompPool:], w.lay.compPool)
	le.PutUint64(h[fr.OffCompWords:], uint64(opts.CompWords))
	le.PutUint64(h[fr.OffShortcut:], w.lay.shortcut[0])
	le.PutUint32(h[fr.OffShortcutLen:], uint32(w.lay.shortcuts[0]))
	le.PutUint64(h[fr.OffShortcut40:], w.lay.shortcut[1])
	le.PutUint32(h[fr.OffShortcut40Len:], uint32(w.lay.shortcuts[1]))
	w.Heartbeat()
	if _, err := w.table(MainTable, true); err != nil {
		w.abandon()
		return nil, err
	}
	w.rdr, err = fr.FromBytes(w.mem)
	if err != nil {
		w.abandon()
		return nil, fmt.Errorf("fib: own file fails validation: %w", err)
	}
	return w, nil
}

// reserve makes sure the file's blocks in [*done, end) are allocated
// (rounded up to 2 MiB steps), so that a full /dev/shm shows up as an
// error here rather than as SIGBUS on a later store. Each section keeps its
// own high-water mark so that the sparse pools stay sparse.
func (w *Writer) reserve(done *uint64, end, limit uint64) error {
	if w.file == nil || end <= *done {
		return nil
	}
	end = min(align(end, 2<<20), limit)
	err := unix.Fallocate(int(w.file.Fd()), 0, int64(*done), int64(end-*done))
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("fib: cannot reserve %d bytes of shared memory in %s: %w: %w", end-*done, w.file.Name(), ErrFull, err)
	}
	if w.mem != nil {
		collapse(w.mem[*done:end]) // nothing in it is in use yet
	}
	*done = end
	return nil
}

// collapse has the kernel back mem, a part of the file's mapping that no
// reader uses yet, with huge pages now. MADV_COLLAPSE (Linux 6.1) does it
// for shared memory whatever transparent_hugepage/shmem_enabled says (it
// is never on this machine, so MADV_HUGEPAGE alone did nothing for the
// file), and every process that maps the file at an aligned address
// (fibreader.Map) then reaches those pages through huge TLB entries: an
// IPv4 lookup's random read in the 64 MiB root no longer waits for a page
// walk. On an older kernel, or with no huge page to be had, the pages stay
// 4 KiB, which is only slower.
func collapse(mem []byte) {
	if len(mem) > 0 {
		_ = unix.Madvise(mem, unix.MADV_COLLAPSE)
	}
}

// unmap releases the writer's mapping: the file's from fibreader.Map, or
// the anonymous one of an in-process FIB.
func (w *Writer) unmap() error {
	if w.file != nil {
		return fr.Unmap(w.mem)
	}
	return unix.Munmap(w.mem)
}

func (w *Writer) abandon() {
	if w.mem != nil {
		_ = w.unmap()
		w.mem = nil
	}
	if w.file != nil {
		w.file.Close()
		os.Remove(w.tmp)
	}
}

func (w *Writer) hdr32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&w.mem[off])) }
func (w *Writer) hdr64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&w.mem[off])) }

// store writes an entry readers may be looking at. Before the file is
// published no reader exists and a plain store is enough.
//
// It also keeps, per node, the count of entries that belong to the node
// itself (links, and leaves of prefixes longer than the node's depth): a
// node whose count is zero holds one leaf everywhere and can be collapsed
// without scanning it.
func (w *Writer) store(p *uint32, v uint32) {
	if off := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&w.nodes[0])); off < uintptr(len(w.nodes))*4 {
		n := off / (fr.NodeEntries * 4)
		d := uint(w.info[n].depth)
		ownNew, ownOld := ownEntry(v, d), ownEntry(*p, d)
		w.info[n].own += int16(ownNew) - int16(ownOld)
		if w.info[n].v6 {
			if d == 24 && ownNew|ownOld != 0 {
				w.leafChanged(uint32(n), uint32(off/4%fr.NodeEntries))
			}
			// Plain IPv6 nodes are private: no atomic store needed, and
			// the run map is kept up to date with the entry.
			*p = v
			w.markNode(uint32(n))
			w.setRuns(uint32(n), uint32(off/4%fr.NodeEntries))
			if !w.info[n].reshaped {
				w.comp.patches = append(w.comp.patches, uint32(off/4))
			}
			return
		}
	} else if c := w.cur; c != nil && c.v6 {
		if i := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&c.root[0])); i < uintptr(len(c.root))*4 {
			c.markRoot(uint32(i / 4))
		}
	}
	if w.live {
		atomic.StoreUint32(p, v)
	} else {
		*p = v
	}
}

// leafChanged notes that entry i of the depth-24 IPv6 node n became or
// stopped being the node's own: the shortcut of its /32 may change at
// Commit (see leafShortcuts). Only the main table has shortcut tables.
func (w *Writer) leafChanged(n, i uint32) {
	if s := &w.comp.sc[0]; s.slots != nil && w.comp.slot[n] == 0 {
		s.leafKeys = append(s.leafKeys, w.info[n].key<<8|uint64(i))
	}
}

// storeRoot is store for root entry i of tr: an IPv6 root is the
// writer's private one, published at Commit; an IPv4 root is in the file.
func (w *Writer) storeRoot(tr *trie, i uint32, v uint32) {
	if tr.v6 {
		tr.markRoot(i)
		tr.root[i] = v
		return
	}
	if w.live {
		atomic.StoreUint32(&tr.root[i], v)
	} else {
		tr.root[i] = v
	}
}

// Heartbeat stamps the header with the current time; readers judge the
// writer alive by it.
func (w *Writer) Heartbeat() {
	if w.mem == nil {
		return
	}
	atomic.StoreUint64(w.hdr64(fr.OffHeartbeat), uint64(time.Now().UnixNano()))
}

// Commit ends a batch: it releases memory whose grace period has passed,
// publishes statistics, bumps the generation and the heartbeat, and on the
// first call moves the file into place under its path.
func (w *Writer) Commit() error {
	if w.closed {
		return ErrClosed
	}
	now := time.Now().UnixNano()
	w.lastCommit = now
	if len(w.idle) > 0 {
		// All of them when the node pool runs low.
		w.collapseIdle(now, w.nodeMem.low())
	}
	if c := &w.comp; c.mayNeed() > c.room() && w.need() > c.room() {
		w.release(now, true) // the batch needs the room
	}
	if err := w.publish6(now); err != nil {
		return err
	}
	w.release(now, false)
	atomic.StoreUint64(w.hdr64(fr.OffStats+0), w.prefixes4)
	atomic.StoreUint64(w.hdr64(fr.OffStats+8), w.prefixes6)
	atomic.StoreUint64(w.hdr64(fr.OffStats+16), uint64(w.nodeMem.used))
	atomic.StoreUint64(w.hdr64(fr.OffStats+24), uint64(len(w.groups)))
	atomic.StoreUint64(w.hdr64(fr.OffStats+32), uint64(w.recMem.used))
	atomic.StoreUint64(w.hdr64(fr.OffStats+40), uint64(len(w.tables)))
	atomic.StoreUint64(w.hdr64(fr.OffStats+48), w.comp.used)
	for _, t := range w.tables {
		atomic.StoreUint32(w.hdr32(int(t.dir)+24), uint32(t.v4.count))
		atomic.StoreUint32(w.hdr32(int(t.dir)+28), uint32(t.v6.count))
	}
	atomic.AddUint64(w.hdr64(fr.OffGeneration), 1)
	atomic.StoreUint64(w.hdr64(fr.OffCommitted), uint64(now))
	w.Heartbeat()
	if !w.live {
		return w.publish()
	}
	return nil
}

func (w *Writer) publish() error {
	atomic.StoreUint32(w.hdr32(fr.OffState), uint32(fr.StateLive))
	w.live = true
	if w.path == "" {
		return nil
	}
	old, oerr := os.OpenFile(w.path, os.O_RDWR, 0)
	if err := os.Rename(w.tmp, w.path); err != nil {
		if oerr == nil {
			old.Close()
		}
		return fmt.Errorf("fib: cannot publish %s: %w", w.path, err)
	}
	if oerr == nil {
		markSuperseded(old)
		old.Close()
	}
	return nil
}

// markSuperseded tells the readers of a replaced file to reopen the path.
func markSuperseded(f *os.File) {
	st, err := f.Stat()
	if err != nil || st.Size() < fr.HeaderSize {
		return
	}
	m, err := unix.Mmap(int(f.Fd()), 0, fr.HeaderSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return
	}
	defer unix.Munmap(m)
	if binary.LittleEndian.Uint64(m[fr.OffMagic:]) != fr.Magic {
		return
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&m[fr.OffState])), uint32(fr.StateSuperseded))
}

// Close marks the file closed (readers keep the last committed table) and
// unmaps it. The file stays under its path; the daemon removes it if its
// shutdown policy says so. A writer closed before its first Commit removes
// its unpublished file.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.live {
		atomic.StoreUint32(w.hdr32(fr.OffState), uint32(fr.StateClosed))
	}
	err := w.unmap()
	w.mem = nil
	if w.file != nil {
		w.file.Close()
		if !w.live {
			os.Remove(w.tmp)
		}
	}
	return err
}

// Path is where the file is (or will be) published.
func (w *Writer) Path() string { return w.path }

// Reader gives lock-free lookups on the writer's own mapping, for
// in-process users (show route lookup, next-hop resolution). It must not
// be used after Close.
func (w *Writer) Reader() *fr.Reader { return w.rdr }

// Lookup finds the route for addr in table (in process, lock-free).
func (w *Writer) Lookup(table uint32, addr netip.Addr) fr.Result {
	return w.rdr.LookupTable(table, addr)
}

// release hands back quarantined memory whose grace period has passed. The
// reclaim sequence is bumped before any of it can be written again, so a
// reader that was inside a freed node all along notices and retries.
func (w *Writer) release(now int64, force bool) {
	grace := int64(w.opts.Grace)
	n := 0
	if force || w.pressed() {
		// Everything in the quarantine is unlinked from the published
		// tables at the points where Commit calls this (compressed copies
		// are quarantined only once their replacements are published),
		// and readers that are still inside freed memory retry on the
		// reclaim sequence; the grace period only makes such retries
		// rare. Under churn faster than the pools turn over in one grace
		// period (a million updates a second quarantines tens of MiB of
		// compressed copies), waiting would end in ErrFull.
		n = len(w.quar)
	}
	for n < len(w.quar) && now-w.quar[n].at >= grace {
		n++
	}
	w.releaseFirst(n)
}

// releaseFirst hands back the n oldest quarantined items at once.
func (w *Writer) releaseFirst(n int) {
	if n == 0 {
		return
	}
	atomic.AddUint64(w.hdr64(fr.OffReclaim), 1)
	for _, q := range w.quar[:n] {
		switch q.kind {
		case qNode:
			w.nodeMem.put(q.idx)
		case qRec:
			w.recMem.put(q.idx)
		case qSlot:
			w.slots.put(q.idx)
		case qComp:
			w.comp.free[q.size] = append(w.comp.free[q.size], q.idx)
			w.comp.freeWords += uint64(q.size) + compMinWords
			w.comp.quarWords -= uint64(q.size) + compMinWords
		}
	}
	// Dropped from the front by reslicing; append moves the rest when it
	// needs room, once per the array's spare capacity. Moving the rest
	// down here instead copied the whole quarantine (a second of churn,
	// MiBs) at every Commit after the grace period, through the cache.
	if n == len(w.quar) {
		w.quar = w.quar[:0]
	} else {
		w.quar = w.quar[n:]
	}
}

// pressed reports whether a pool has less than a quarter of its capacity
// left outside the quarantine, or the quarantined compressed copies
// outweigh the live ones twice (and 512 KiB): readers walk the compressed
// pool, and letting churn spread the live copies over a pool many times
// their size would cost them cache misses long after the churn.
func (w *Writer) pressed() bool {
	c := &w.comp
	return w.nodeMem.low() || w.recMem.low() || w.slots.low() ||
		c.room() < uint64(len(c.pool))/4 || c.quarWords > 2*c.used+1<<16
}

func (w *Writer) quarantine(k quarKind, idx uint32) {
	switch k {
	case qNode:
		w.nodeMem.used--
	case qRec:
		w.recMem.used--
	case qSlot:
		w.slots.used--
	}
	w.quar = append(w.quar, quarItem{kind: k, idx: idx, at: time.Now().UnixNano()})
}

// SetGroup publishes the next hops of group id. Routes pointing at the
// group switch to the new set at once: the record is written aside and
// linked with one atomic store.
func (w *Writer) SetGroup(id uint32, nhs []NextHop) error {
	if w.closed {
		return ErrClosed
	}
	if len(nhs) > w.opts.MaxPaths {
		return fmt.Errorf("fib: group %d has %d next hops, the file holds at most %d", id, len(nhs), w.opts.MaxPaths)
	}
	slot, err := w.slotFor(id)
	if err != nil {
		return err
	}
	rec, ok := w.recMem.get()
	if !ok {
		w.dropSlotIfUnused(slot)
		return fmt.Errorf("fib: group %d: record pool: %w", id, ErrFull)
	}
	off := w.lay.recPool + uint64(rec)*w.lay.recSize
	if err := w.reserve(&w.resRecs, off+w.lay.recSize, w.lay.size); err != nil {
		w.recMem.put(rec)
		w.dropSlotIfUnused(slot)
		return err
	}
	r := w.words[off/4 : (off+w.lay.recSize)/4]
	r[0] = id
	r[1] = uint32(len(nhs))
	for i, nh := range nhs {
		e := r[2+i*6 : 8+i*6]
		var b [16]byte
		var flags uint32
		switch {
		case nh.Gateway.Is4():
			a := nh.Gateway.As4()
			copy(b[:], a[:])
			flags = 1
		case nh.Gateway.IsValid():
			b = nh.Gateway.As16()
			flags = 2
		}
		for k := 0; k < 4; k++ {
			e[k] = binary.BigEndian.Uint32(b[k*4:])
		}
		e[4] = uint32(nh.Ifindex)
		e[5] = uint32(nh.Weight)<<16 | flags
	}
	si := &w.slotInf[slot]
	atomic.StoreUint32(&w.gdir[slot], rec)
	if si.rec != 0 {
		w.quarantine(qRec, si.rec)
	}
	si.rec, si.has = rec, true
	return nil
}

// DeleteGroup withdraws the next hops of group id. Routes still pointing
// at it answer Forward with no next hops until they are changed.
func (w *Writer) DeleteGroup(id uint32) error {
	if w.closed {
		return ErrClosed
	}
	slot, ok := w.groups[id]
	if !ok {
		return fmt.Errorf("group %d: %w", id, ErrNotFound)
	}
	si := &w.slotInf[slot]
	if si.rec != 0 {
		atomic.StoreUint32(&w.gdir[slot], 0)
		w.quarantine(qRec, si.rec)
		si.rec = 0
	}
	si.has = false
	w.dropSlotIfUnused(slot)
	return nil
}

func (w *Writer) slotFor(id uint32) (uint32, error) {
	if s, ok := w.groups[id]; ok {
		return s, nil
	}
	s, ok := w.slots.get()
	if !ok {
		return 0, fmt.Errorf("fib: group %d: group slots: %w", id, ErrFull)
	}
	w.groups[id] = s
	w.slotInf[s] = slotInfo{id: id}
	return s, nil
}

func (w *Writer) dropSlotIfUnused(s uint32) {
	si := &w.slotInf[s]
	if si.refs > 0 || si.has {
		return
	}
	delete(w.groups, si.id)
	*si = slotInfo{}
	w.quarantine(qSlot, s)
}

// GroupStats reports how many groups are known and how many pool records
// and nodes are live, for tests and metrics.
func (w *Writer) GroupStats() (groups, records, nodes int) {
	return len(w.groups), w.recMem.used, w.nodeMem.used
}

// Prefixes is the number of installed IPv4 and IPv6 prefixes, all tables.
func (w *Writer) Prefixes() (v4, v6 uint64) { return w.prefixes4, w.prefixes6 }
