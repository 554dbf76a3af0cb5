#include "go_asm.h"
#include "textflag.h"

// func run(p *Program, pkt []byte, wirelen uint32) uint32
//
// Program.Run inlines to a call of this. Without native code it jumps to
// runOps0; with it, it puts the entry address where jitcall expects its
// first argument (ABI0 argument slots belong to the callee, and jitcall's
// other arguments sit where run's do) and jumps to jitcall. NOFRAME leaves
// LR and SP as the caller set them, so either target returns straight to
// Run's caller.
TEXT ·run(SB),NOSPLIT|NOFRAME,$0-24
	MOVW	p+0(FP), R0
	MOVW	(Program_native+native_entry)(R0), R1
	CMP	$0, R1
	BEQ	portable
	MOVW	R1, p+0(FP)
	B	·jitcall(SB)
portable:
	B	·runOps0(SB)

// func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32
//
// Calls the generated code (jit_arm.go) with the packet base in R2, buflen
// in R3 and wirelen in R4; the code returns A in R0. The 64 bytes of locals
// are M[0..15]: the prologue stores LR at 0(R13), so they start at 4(R13)
// (armMemOff). On 32-bit ARM len(pkt) < 2^31, so it needs no clamping to
// bpf_filter's 32-bit buflen. The code preserves R10 (g) and R13; the Go
// ABI0 caller expects nothing else to survive.
TEXT ·jitcall(SB),NOSPLIT,$64-24
	MOVW	pkt_base+4(FP), R2
	MOVW	pkt_len+8(FP), R3
	MOVW	wirelen+16(FP), R4
	MOVW	entry+0(FP), R12
	BL	(R12)
	MOVW	R0, ret+20(FP)
	RET

// func armCacheflush(start, end uintptr) int32
//
// Linux's ARM-private __ARM_NR_cacheflush(start, end, flags = 0), made
// directly: the system call number is outside package syscall's tables.
TEXT ·armCacheflush(SB),NOSPLIT,$0-12
	MOVW	start+0(FP), R0
	MOVW	end+4(FP), R1
	MOVW	$0, R2
	MOVW	$0xf0002, R7
	SWI	$0
	MOVW	R0, ret+8(FP)
	RET
