package fibreader

// This file describes the shared-memory format. It is public so that a
// data-plane program written in another language can read the same file;
// docs/fib.md explains it in prose. All integers are little-endian and
// naturally aligned. Every word a reader may see change is 32 or 64 bits
// wide and written with a single atomic store.

// Magic is the first eight bytes of a FIB file ("RTDFIB" followed by two zero bytes),
// read as a little-endian uint64.
const Magic uint64 = 0x0000424946445452

// Version is the format version this package reads. A change to the layout
// of any section, the entry encoding or the meaning of a header field bumps
// it; a reader refuses any other version. Version 2 added the IPv6
// shortcut table (OffShortcut); version 3 a second one for depth 40
// (OffShortcut40) and one slot encoding for both; version 4 a slot
// encoding of its own for depth 32, which can hold a leaf.
const Version uint32 = 4

// Header field offsets, in bytes from the start of the file.
const (
	OffMagic       = 0   // uint64 Magic
	OffVersion     = 8   // uint32 Version
	OffHeaderSize  = 12  // uint32 size of the header (HeaderSize)
	OffFileSize    = 16  // uint64 size of the whole file
	OffState       = 24  // uint32 State, atomic
	OffWriterPID   = 28  // uint32 process id of the writer
	OffCreated     = 32  // uint64 creation time, Unix nanoseconds
	OffMaxTables   = 40  // uint32 slots in the table directory
	OffMaxPaths    = 44  // uint32 next hops per group record
	OffNodeCount   = 48  // uint32 256-entry nodes in the node pool (node 0 unused)
	OffGroupSlots  = 52  // uint32 entries in the group directory
	OffRecordCount = 56  // uint32 records in the record pool (record 0 unused)
	OffRecordSize  = 60  // uint32 bytes per record
	OffTableDir    = 64  // uint64 offset of the table directory
	OffNodePool    = 72  // uint64 offset of the node pool
	OffGroupDir    = 80  // uint64 offset of the group directory
	OffRecordPool  = 88  // uint64 offset of the record pool
	OffCompPool    = 96  // uint64 offset of the compressed-node pool (IPv6)
	OffCompWords   = 104 // uint64 size of the compressed-node pool in 8-byte words
	OffShortcut    = 112 // uint64 offset of the depth-32 IPv6 shortcut table of table slot 0 (see ShortcutHome), 0 if none
	OffShortcutLen = 120 // uint32 slots in that table: a power of two up to 1<<24, 0 if none
	OffGeneration  = 128 // uint64 generation, atomic, +1 per committed batch
	OffReclaim     = 192 // uint64 reclaim sequence, atomic, +1 before freed memory is reused
	OffHeartbeat   = 256 // uint64 writer heartbeat, Unix nanoseconds, atomic
	OffCommitted   = 264 // uint64 time of the last commit, Unix nanoseconds, atomic
	OffStats       = 320 // statistics block, atomic words (see Stats)
	// The depth-40 shortcut table, like OffShortcut and OffShortcutLen.
	OffShortcut40    = 384 // uint64 offset, 0 if none
	OffShortcut40Len = 392 // uint32 slots, a power of two up to 1<<24, 0 if none
	HeaderSize       = 512
)

// Statistics block, offsets from OffStats (all uint64, atomic).
const (
	statPrefixes4  = 0
	statPrefixes6  = 8
	statNodesUsed  = 16
	statGroupsUsed = 24
	statRecsUsed   = 32
	statTablesUsed = 40
	statCompUsed   = 48
)

// State is the lifecycle state of a FIB file, stored at OffState.
type State uint32

const (
	// StateBuilding: the writer is filling a new file that is not yet
	// published under its path.
	StateBuilding State = 1
	// StateLive: a writer owns the file and keeps it current.
	StateLive State = 2
	// StateClosed: the writer closed the file; its content is the last
	// committed table and no longer changes.
	StateClosed State = 3
	// StateSuperseded: a newer file replaced this one under its path; readers
	// should open the path again.
	StateSuperseded State = 4
)

func (s State) String() string {
	switch s {
	case StateBuilding:
		return "building"
	case StateLive:
		return "live"
	case StateClosed:
		return "closed"
	case StateSuperseded:
		return "superseded"
	}
	return "invalid"
}

// Table directory entry layout (TableEntrySize bytes each).
const (
	TableEntrySize = 32
	tdID           = 0  // uint32 routing table id
	tdFlags        = 4  // uint32: bit 0 present; bits 8..15 IPv4 root bits; bits 16..23 IPv6 root bits. Stored last.
	tdRoot4        = 8  // uint64 offset of the IPv4 root array (2^bits uint32 entries)
	tdRoot6        = 16 // uint64 offset of the IPv6 root array
	tdPrefixes4    = 24 // uint32 IPv4 prefixes in this table, atomic
	tdPrefixes6    = 28 // uint32 IPv6 prefixes in this table, atomic
)

// NodeEntries is the number of uint32 entries in one node (an 8-bit stride).
const NodeEntries = 256

// IPv6 nodes are published compressed (see docs/fib.md): a node at word
// offset o of the compressed pool is four uint64 bitmaps (bit i set where
// entry i starts a run of equal entries; two runs in a row may hold the
// same entry), one uint64 of run counts before
// each quarter (16 bits each, the first 0), then the runs' entries as
// uint32. An IPv6 link entry holds o.
const (
	CompHeaderWords = 5
)

// The shortcut tables let an IPv6 lookup of the table in directory slot 0
// (the main table) skip the levels above depth 32 or 40. Each maps the top
// 32 (OffShortcut) or 40 (OffShortcut40) bits of an address to the
// compressed node at that depth below them, when there is one. A lookup
// whose root entry is a link probes both (the loads are independent) and
// starts at the deeper hit; on a miss in both (or after ShortcutProbes
// slots) it walks from the root as usual, so a missing entry only costs
// time. They apply only when the IPv6 root stride leaves 32 and 40 node
// depths (root bits 8 or 16).
//
// Slot word (uint64, atomic), 0 for an empty slot:
//
//   - depth 40: the key (the address's top 40 bits) in bits 0..39, the
//     compressed node's word offset in bits 40..63 (never 0).
//   - depth 32: the key (the top 32 bits) in bits 0..31, an entry in bits
//     32..63 (never 0): a link to the compressed node at depth 32 (its
//     word offset), or a leaf, which is then the answer for the whole /32.
//     The writer keeps a leaf there for every /32 that a prefix of 25 to
//     32 bits covers and that has no node below depth 32 (a /29, or a /32
//     without longer prefixes inside): their lookups would otherwise walk
//     two nodes from the root.
//
// Linear probing from ShortcutHome; the writer never places an entry more
// than ShortcutProbes-1 slots past its home and deletes by shifting later
// entries back, so no probe of a present key passes an empty slot. A file
// with shortcut tables has a compressed pool of at most 1<<24 words.
const (
	ShortcutProbes    = 16
	ShortcutKeyMask   = 1<<40 - 1 // key of a depth-40 slot
	ShortcutKeyMask32 = 1<<32 - 1 // key of a depth-32 slot
	shortcutMul       = 0x9E3779B97F4A7C15
)

// ShortcutHome is the first slot probed for key (the top 32 or 40 bits of
// an IPv6 address) in a shortcut table of 1<<bits slots.
func ShortcutHome(key uint64, bits uint) uint32 { return uint32(key * shortcutMul >> (64 - bits)) }

// ShortcutSlot is the depth-40 slot word for key and the compressed node
// at word offset off (0 < off < 1<<24).
func ShortcutSlot(key uint64, off uint32) uint64 { return uint64(off)<<40 | key }

// ShortcutSlot32 is the depth-32 slot word for key and entry e (a link
// to a compressed node or a leaf, not 0).
func ShortcutSlot32(key uint64, e uint32) uint64 { return uint64(e)<<32 | key }

// Entry encoding (uint32).
//
//	0                       no route
//	bit 31 set              link: bits 0..30 index a node in the node pool
//	bit 31 clear, not zero  leaf: bits 23..30 prefix length,
//	                        bits 20..22 Kind, bits 0..19 group slot
const (
	entryLink     = 1 << 31
	entryNodeMask = entryLink - 1
	entryLenShift = 23
	entryKindSh   = 20
	entrySlotMask = 1<<20 - 1
	// MaxGroupSlots is the number of distinct group slots an entry can name.
	MaxGroupSlots = 1 << 20
)

// Record layout in the record pool: uint32 group id, uint32 count, then
// count next hops of NextHopSize bytes: 16 bytes gateway (IPv4 in the
// first 4 bytes), uint32 interface index, uint16 flags, uint16 weight.
const (
	RecordHeader = 8
	NextHopSize  = 24
	nhFlagGW4    = 1
	nhFlagGW6    = 2
)

// EncodeLeaf builds a leaf entry. It is exported for the writer; readers use
// the Entry methods.
func EncodeLeaf(bits int, k Kind, slot uint32) uint32 {
	return uint32(bits)<<entryLenShift | uint32(k)<<entryKindSh | slot&entrySlotMask
}

// EncodeLink builds a link entry to node n.
func EncodeLink(n uint32) uint32 { return entryLink | n }

// Kind is what a route does with a packet.
type Kind uint8

const (
	// NoRoute means no prefix in the table covers the address.
	NoRoute Kind = 0
	// Forward sends to the next hops of a group.
	Forward Kind = 1
	// Blackhole silently drops.
	Blackhole Kind = 2
	// Unreachable drops with ICMP unreachable.
	Unreachable Kind = 3
	// Prohibit drops with ICMP administratively prohibited.
	Prohibit Kind = 4
)

func (k Kind) String() string {
	switch k {
	case NoRoute:
		return "none"
	case Forward:
		return "forward"
	case Blackhole:
		return "blackhole"
	case Unreachable:
		return "unreachable"
	case Prohibit:
		return "prohibit"
	}
	return "invalid"
}

// Entry is the raw result of a lookup: one table word. It is cheap to copy
// and compare; a packet path can cache next hops by Slot.
type Entry uint32

// Kind reports what the matching route does; NoRoute if none matched.
func (e Entry) Kind() Kind {
	if e&entryLink != 0 {
		return NoRoute
	}
	return Kind(e >> entryKindSh & 7)
}

// Bits is the length of the matching prefix.
func (e Entry) Bits() int {
	if e&entryLink != 0 {
		return 0
	}
	return int(e >> entryLenShift & 0xff)
}

// Slot is the group slot of a Forward entry: an index into the group
// directory, stable while the route points at the same group.
func (e Entry) Slot() uint32 { return uint32(e) & entrySlotMask }

// IsLink reports whether the entry links to a node (never true for a
// lookup result).
func (e Entry) IsLink() bool { return e&entryLink != 0 }

// Node is the node index of a link entry.
func (e Entry) Node() uint32 { return uint32(e) & entryNodeMask }
