#include "textflag.h"

// func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32
//
// The 64 bytes of locals are the scratch memory M[0..15] the generated code
// addresses above its return address (x86MemOff in jit_amd64.go). Inputs
// go in the registers jit_amd64.go documents; the code returns A in AX.
// Under ABI0 every register but SP and BP is the callee's to clobber (the
// ABI wrapper restores R14 and X15), and the code never touches BP.
TEXT ·jitcall(SB), NOSPLIT, $64-44
	MOVQ	entry+0(FP), AX
	MOVQ	pkt_base+8(FP), SI
	MOVQ	pkt_len+16(FP), DI
	// buflen is a 32-bit count, as clampPacket makes it.
	MOVL	$0xffffffff, DX
	CMPQ	DI, DX
	CMOVQHI	DX, DI
	MOVL	wirelen+32(FP), R8
	CALL	AX
	MOVL	AX, ret+40(FP)
	RET
