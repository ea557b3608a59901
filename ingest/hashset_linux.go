package ingest

import (
	"syscall"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// adviseHugePages asks the kernel to back the set's table with huge pages
// where it allows them (transparent_hugepage "madvise"): probes land
// anywhere in tens of MB, and with 4 KiB pages nearly every one missed the
// TLB. Only the table's whole 2 MiB-aligned part is advised; failure is
// harmless.
func adviseHugePages(slots []xxh3.Uint128) {
	const huge = 2 << 20
	if len(slots) == 0 {
		return
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(slots))), uintptr(len(slots))*unsafe.Sizeof(slots[0]))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	lo := int((start+huge-1)&^(huge-1) - start)
	hi := lo + (len(mem)-lo)&^(huge-1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(mem[lo:hi], 14) // MADV_HUGEPAGE
}
