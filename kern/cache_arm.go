package kern

// Instruction-cache coherency for code the program writes (the bpf JIT): Linux's ARM-private
// system call cacheflush(start, end, flags), __ARM_NR_cacheflush = 0x0f0002.
//
// ARMv7 instruction fetch does not see stores still held in the data cache, so after writing
// code the program must make it visible (DDI0406C B2.2.9 "Ordering of cache and branch
// predictor maintenance operations", and its example sequence for self-modifying code):
//
//  1. DCCMVAU, clean data cache line by MVA to the Point of Unification, for each line of
//     the range (B4.2.1, CRn=c7, opc1=0, CRm=c11, opc2=1);
//  2. DSB, so the cleaning completes before the invalidation;
//  3. ICIALLU, invalidate all instruction caches to PoU (c7, 0, c5, 0), and BPIALL,
//     invalidate all branch predictors (c7, 0, c5, 6);
//  4. DSB, then ISB so this core fetches anew.
//
// The kernel and the program share one address space (identity mapped), so the user's
// virtual addresses are the MVAs to clean. One core: the non-broadcast forms suffice.
// ICIALLU rather than a loop of ICIMVAU: programs flush a few KiB at filter-compile time, and
// the whole-cache operation costs no more than walking the lines.

const sysARMCacheflush = 0x0f0002

func sysCacheflush(start, end uintptr, flags uint32) int32 {
	if flags != 0 || end < start {
		return -errEINVAL
	}
	if !userOK(start, end-start) {
		return -errEFAULT
	}
	// CTR.DminLine (bits 19:16, DDI0406C B4.1.42) is log2 of the smallest data cache line
	// in words.
	line := uintptr(4) << (readCTR() >> 16 & 0xf)
	syncICache(start&^(line-1), end, line)
	return 0
}

// In cache_arm.s.
func readCTR() uint32
func syncICache(start, end, line uintptr)
