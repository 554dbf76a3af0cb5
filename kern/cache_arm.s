// Cache maintenance for cacheflush (cache_arm.go). CP15 moves, DSB and ISB are WORDs, as in
// entry_arm.s; each encoding was checked with arm-none-eabi-objdump and is spelled out next
// to it.

#include "textflag.h"

// func readCTR() uint32
TEXT ·readCTR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee100f30	// mrc p15, 0, r0, c0, c0, 1 (CTR)
	MOVW	R0, ret+0(FP)
	RET

// func syncICache(start, end, line uintptr)
//
// Cleans [start, end) by line to PoU, then invalidates the I-cache and branch predictor.
// start is aligned down to line by the caller.
TEXT ·syncICache(SB),NOSPLIT|NOFRAME,$0-12
	MOVW	start+0(FP), R0
	MOVW	end+4(FP), R1
	MOVW	line+8(FP), R2
clean:
	CMP	R1, R0
	BHS	done
	WORD	$0xee070f3b	// mcr p15, 0, r0, c7, c11, 1 (DCCMVAU)
	ADD	R2, R0
	B	clean
done:
	MOVW	$0, R0
	WORD	$0xf57ff04f	// dsb sy
	WORD	$0xee070f15	// mcr p15, 0, r0, c7, c5, 0 (ICIALLU)
	WORD	$0xee070fd5	// mcr p15, 0, r0, c7, c5, 6 (BPIALL)
	WORD	$0xf57ff04f	// dsb sy
	WORD	$0xf57ff06f	// isb sy
	RET
