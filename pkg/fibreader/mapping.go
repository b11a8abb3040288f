package fibreader

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HugePage is the alignment of the file's large sections (the IPv4 root,
// the node and compressed pools): where the file's pages are huge, a
// mapping at an address aligned to it maps each with one TLB entry.
const HugePage = 2 << 20

// Map maps the first size bytes of the FIB file f shared, read-only or
// writable, at an address aligned to HugePage, for FromBytes. The writer
// collapses the file's large sections into huge pages where the kernel
// can (see docs/fib.md, Huge pages); a mapping at another alignment sees
// the same memory but maps it page by page, and an IPv4 lookup, which
// reads one random word of a 64 MiB root, then waits for a page walk as
// well as for memory. Release the mapping with Unmap.
func Map(f *os.File, size int, writable bool) ([]byte, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	length := uintptr(size+os.Getpagesize()-1) &^ uintptr(os.Getpagesize()-1)
	// Address space with room to align, then the file over its aligned
	// part, and the rest given back.
	res, err := unix.MmapPtr(-1, 0, nil, length+HugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	head := (HugePage - uintptr(res)%HugePage) % HugePage
	at := unsafe.Add(res, head)
	p, err := unix.MmapPtr(int(f.Fd()), 0, at, length, prot, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		_ = unix.MunmapPtr(res, length+HugePage)
		return nil, err
	}
	if head > 0 {
		_ = unix.MunmapPtr(res, head)
	}
	if tail := HugePage - head; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(at, length), tail)
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// Unmap releases a mapping made by Map.
func Unmap(mem []byte) error {
	if len(mem) == 0 {
		return nil
	}
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(mem)), uintptr(len(mem)))
}
