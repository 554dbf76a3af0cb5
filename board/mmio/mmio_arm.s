#include "textflag.h"

// func Read32(addr uintptr) uint32
TEXT ·Read32(SB),NOSPLIT|NOFRAME,$0-8
	MOVW	addr+0(FP), R0
	MOVW	(R0), R1
	MOVW	R1, ret+4(FP)
	RET

// func Write32(addr uintptr, v uint32)
TEXT ·Write32(SB),NOSPLIT|NOFRAME,$0-8
	MOVW	addr+0(FP), R0
	MOVW	v+4(FP), R1
	MOVW	R1, (R0)
	RET

// func Read16(addr uintptr) uint16
TEXT ·Read16(SB),NOSPLIT|NOFRAME,$0-6
	MOVW	addr+0(FP), R0
	MOVHU	(R0), R1
	MOVH	R1, ret+4(FP)
	RET

// func Write16(addr uintptr, v uint16)
TEXT ·Write16(SB),NOSPLIT|NOFRAME,$0-6
	MOVW	addr+0(FP), R0
	MOVHU	v+4(FP), R1
	MOVH	R1, (R0)
	RET

// func Barrier()
TEXT ·Barrier(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf57ff04f	// dsb sy
	RET
