package fib

import (
	"fmt"
	"io/fs"
	"time"

	fr "github.com/routerd/routerd/pkg/fibreader"
)

// Options size the shared-memory file. The file is sparse: only the pages
// the tables touch take memory, so generous pool sizes cost address space,
// not RAM.
type Options struct {
	// MaxTables is the number of routing tables the file can hold (main
	// plus numbered tables, created on first use). Default 16.
	MaxTables int
	// MaxPaths is the largest ECMP group. Default 16.
	MaxPaths int
	// Nodes is the capacity of the node pool (1 KiB each). Default 262144.
	Nodes int
	// GroupSlots is the number of next-hop groups the file can name at
	// once. Default 65536, at most 1<<20.
	GroupSlots int
	// Records is the capacity of the group record pool; a group changed
	// in place needs a second record until the grace period passes.
	// Default 2*GroupSlots+1024.
	Records int
	// MainRootBits is the stride of the IPv4 root of the main table: 24
	// (DIR-24-8, default) or 16/8 for small files in tests.
	MainRootBits int
	// TableRootBits is the stride of every other root (IPv4 of numbered
	// tables and IPv6 of all tables): 16 (default) or 8.
	TableRootBits int
	// CompWords is the capacity, in 8-byte words, of the pool of
	// compressed IPv6 nodes that readers walk. Default 16 per node, at
	// least 1<<22 (32 MiB of address space; the full table uses about 3
	// MiB) and at most 1<<24.
	CompWords int
	// Shortcuts is the number of slots (a power of two, at most 1<<24) of
	// the main table's depth-32 IPv6 shortcut table, which takes lookups
	// straight to the node at depth 32 of their /32, or to their answer
	// when a prefix of 25 to 32 bits covers the /32 and nothing longer
	// lies inside. Default 1<<17 (1 MiB; the full table has about 11k
	// such nodes and 60k such /32s); -1 for none.
	Shortcuts int
	// Shortcuts40 is the same for the depth-40 table (the node of an
	// address's /40). Default 1<<16 (512 KiB; the full table has about
	// 19k nodes at depth 40); -1 for none. With either table, CompWords
	// is at most 1<<24 (a slot holds a 24-bit offset).
	Shortcuts40 int
	// FileMode is the permission bits of the file. Default 0644.
	FileMode fs.FileMode
	// GID, if not 0, is the group the file is given, so that data-plane
	// processes of that group can map it (with FileMode 0640).
	GID int
	// Grace is how long freed nodes and records stay untouched before
	// reuse. Default 1s. Readers stay correct even past it (they retry on
	// the reclaim sequence); the grace period only makes retries rare.
	Grace time.Duration
	// Linger is how long an IPv6 node whose entries have all become one
	// leaf (its last more-specific withdrawn) stays linked before it
	// collapses, at the first Commit after that. A prefix announced again
	// meanwhile finds the node and its published copy in place: a flap
	// costs a store into the copy instead of a new node and a new copy
	// each way. Lingering nodes collapse early when the node pool runs
	// low. Default 1s; negative collapses at once.
	Linger time.Duration
}

func (o *Options) fill() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxTables, 16)
	def(&o.MaxPaths, 16)
	def(&o.Nodes, 1<<18)
	def(&o.GroupSlots, 1<<16)
	def(&o.Records, 2*o.GroupSlots+1024)
	def(&o.MainRootBits, 24)
	def(&o.TableRootBits, 16)
	// The compressed copies of IPv6 nodes grow with the nodes: 16 words
	// per node (the full table's IPv6 nodes take about 15 each), at most
	// what a shortcut slot's 24-bit offset reaches.
	def(&o.CompWords, max(1<<22, min(16*o.Nodes, 1<<24)))
	def(&o.Shortcuts, 1<<17)
	def(&o.Shortcuts40, 1<<16)
	if o.FileMode == 0 {
		o.FileMode = 0o644
	}
	if o.Grace == 0 {
		o.Grace = time.Second
	}
	if o.Linger == 0 {
		o.Linger = time.Second
	}
	switch {
	case o.MaxTables < 1 || o.MaxTables > 4096:
		return fmt.Errorf("fib: MaxTables %d out of range 1..4096", o.MaxTables)
	case o.MaxPaths < 1 || o.MaxPaths > 1024:
		return fmt.Errorf("fib: MaxPaths %d out of range 1..1024", o.MaxPaths)
	case o.Nodes < 2 || o.Nodes > 1<<30:
		return fmt.Errorf("fib: Nodes %d out of range", o.Nodes)
	case o.GroupSlots < 2 || o.GroupSlots > fr.MaxGroupSlots:
		return fmt.Errorf("fib: GroupSlots %d out of range 2..%d", o.GroupSlots, fr.MaxGroupSlots)
	case o.Records < 2 || o.Records > 1<<24:
		return fmt.Errorf("fib: Records %d out of range", o.Records)
	case o.MainRootBits != 8 && o.MainRootBits != 16 && o.MainRootBits != 24:
		return fmt.Errorf("fib: MainRootBits must be 8, 16 or 24")
	case o.TableRootBits != 8 && o.TableRootBits != 16:
		return fmt.Errorf("fib: TableRootBits must be 8 or 16")
	case o.CompWords < 16 || o.CompWords > 1<<31:
		return fmt.Errorf("fib: CompWords %d out of range", o.CompWords)
	case o.Shortcuts != -1 && (o.Shortcuts < 1 || o.Shortcuts > 1<<24 || o.Shortcuts&(o.Shortcuts-1) != 0):
		return fmt.Errorf("fib: Shortcuts %d must be a power of two up to 1<<24, or -1", o.Shortcuts)
	case o.Shortcuts40 != -1 && (o.Shortcuts40 < 1 || o.Shortcuts40 > 1<<24 || o.Shortcuts40&(o.Shortcuts40-1) != 0):
		return fmt.Errorf("fib: Shortcuts40 %d must be a power of two up to 1<<24, or -1", o.Shortcuts40)
	case (o.Shortcuts > 0 || o.Shortcuts40 > 0) && o.CompWords > 1<<24:
		return fmt.Errorf("fib: CompWords %d above 1<<24 needs Shortcuts and Shortcuts40 -1 (a shortcut holds a 24-bit offset)", o.CompWords)
	case o.Grace < 0:
		return fmt.Errorf("fib: negative grace period")
	case o.FileMode&^fs.ModePerm != 0:
		return fmt.Errorf("fib: file mode %v has bits beyond permissions (0777)", o.FileMode)
	case o.FileMode&0o600 != 0o600:
		return fmt.Errorf("fib: file mode %04o does not let the owner read and write (0600)", uint32(o.FileMode))
	case o.GID < 0:
		return fmt.Errorf("fib: negative group id %d", o.GID)
	}
	return nil
}

// layout holds the byte offsets of every section.
type layout struct {
	tableDir, groupDir, recPool, nodePool, compPool uint64
	shortcut, shortcuts                             [2]uint64 // depth 32 and 40: offset, slots (0: none)
	recSize                                         uint64
	root4, root6                                    []uint64 // per table slot
	bits4                                           []int
	bits6                                           int
	size                                            uint64
	fixedEnd                                        uint64 // end of what is reserved at creation
}

func align(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

func computeLayout(o *Options) layout {
	var l layout
	off := uint64(fr.HeaderSize)
	l.tableDir = off
	off = align(off+uint64(o.MaxTables)*fr.TableEntrySize, 64)
	l.groupDir = off
	off = align(off+uint64(o.GroupSlots)*4, 64)
	for i, n := range [2]int{o.Shortcuts, o.Shortcuts40} {
		if n > 0 {
			l.shortcut[i], l.shortcuts[i] = off, uint64(n)
			off = align(off+uint64(n)*8, 64)
		}
	}
	l.root4 = make([]uint64, o.MaxTables)
	l.root6 = make([]uint64, o.MaxTables)
	l.bits4 = make([]int, o.MaxTables)
	l.bits6 = o.TableRootBits
	for i := 0; i < o.MaxTables; i++ {
		l.root6[i] = off
		off = align(off+4<<o.TableRootBits, 64)
		if i > 0 {
			l.bits4[i] = o.TableRootBits
			l.root4[i] = off
			off = align(off+4<<o.TableRootBits, 64)
		}
	}
	// The big arrays start on 2 MiB boundaries so that a huge page can
	// back them where the kernel allows it.
	big := uint64(64)
	if o.MainRootBits == 24 {
		big = 2 << 20
	}
	off = align(off, big)
	l.bits4[0] = o.MainRootBits
	l.root4[0] = off
	off = align(off+4<<o.MainRootBits, big)
	l.fixedEnd = off
	l.nodePool = off
	off = align(off+uint64(o.Nodes)*fr.NodeEntries*4, 64)
	l.recSize = fr.RecordHeader + uint64(o.MaxPaths)*fr.NextHopSize
	l.recPool = off
	off = align(off+uint64(o.Records)*l.recSize, 64)
	l.compPool = off
	off = align(off+uint64(o.CompWords)*8, 64)
	l.size = align(off, 4096)
	return l
}
