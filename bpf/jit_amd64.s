#include "go_asm.h"
#include "textflag.h"

// func run(p *Program, pkt []byte, wirelen uint32) uint32
//
// Program.Run inlines to a call of this, so a packet costs one Go call:
// without native code it jumps to runOps0; with it, it puts the entry
// address where jitcall expects its first argument (the argument slots are
// the callee's under ABI0, and jitcall's other arguments sit where run's
// do) and jumps to jitcall, which returns to Run's caller. No frame, so
// both jumps are plain tail calls.
TEXT ·run(SB), NOSPLIT|NOFRAME, $0-44
	MOVQ	p+0(FP), AX
	MOVQ	(Program_native+native_entry)(AX), AX
	TESTQ	AX, AX
	JZ	portable
	MOVQ	AX, p+0(FP)
	JMP	·jitcall(SB)
portable:
	JMP	·runOps0(SB)

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
