package kern

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Memory: the Go runtime's mmap/munmap/madvise over the range allocator. All of DDR above
// the image and below the DMA region is one managed region (identity mapped, so an address
// is both virtual and physical). Mappings are placed the Linux way (Ranges.Map); anonymous
// memory reads as zero when first mapped, after MADV_DONTNEED, and when reused after munmap.

var (
	ramStart, ramEnd uintptr // board DDR
	heap             Ranges  // mmap region
	dma              Ranges  // uncached DMA region
)

func sysMmap(addr, length uintptr, prot, flags, fd int32) int32 {
	if flags&unix.MAP_ANONYMOUS == 0 {
		return -errENODEV // no files to map
	}
	if length == 0 {
		return -errEINVAL
	}
	length = (length + PageSize - 1) &^ (PageSize - 1)
	if addr%PageSize != 0 {
		if flags&unix.MAP_FIXED != 0 {
			return -errEINVAL
		}
		addr = 0
	}
	a, ok := heap.Map(addr, length, flags&unix.MAP_FIXED != 0)
	if !ok {
		return -errENOMEM
	}
	if prot != unix.PROT_NONE {
		// A PROT_NONE reservation is zeroed when the runtime commits it (MAP_FIXED with
		// PROT_READ|PROT_WRITE), so large reservations cost nothing up front.
		memclr(a, length)
	}
	return int32(a)
}

func sysMunmap(addr, length uintptr) int32 {
	if addr%PageSize != 0 || length == 0 {
		return -errEINVAL
	}
	length = (length + PageSize - 1) &^ (PageSize - 1)
	if !heap.Release(addr, addr+length) {
		return -errENOMEM
	}
	return 0
}

func sysMadvise(addr, length uintptr, advice int32) int32 {
	if addr%PageSize != 0 {
		return -errEINVAL
	}
	length = (length + PageSize - 1) &^ (PageSize - 1)
	switch advice {
	case unix.MADV_DONTNEED:
		// Linux semantics: the next access sees zero-filled pages.
		if heap.IsUsed(addr, addr+length) {
			memclr(addr, length)
		}
	}
	return 0
}

func memclr(addr, n uintptr) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(addr)), n)
	clear(b)
}
