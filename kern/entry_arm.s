// Entry point, exception vectors and the few instructions Go cannot express.
//
// The stock Go assembler lacks CPS, SRS/RFE, LDM/STM with ^, VMRS/VMSR, VPUSH/VPOP, WFI and
// most CP15 moves, so they are WORDs; every encoding was checked with arm-none-eabi-as and
// objdump and is spelled out in the comment next to it.

#include "textflag.h"

// Exception kinds passed to trap (keep in sync with trap_arm.go).
#define K_UND	1
#define K_SWI	2
#define K_PABT	3
#define K_DABT	4
#define K_IRQ	5
#define K_FIQ	6
#define K_RESET	7

// KSTACK_SIZE and KGUARD must match kstackSize and kstackGuard in boot_arm.go.
#define KSTACK_SIZE	65536
#define KGUARD	4096

// rt0 is the ELF entry point (link with -E github.com/baretap/baretap/kern.rt0). QEMU and
// U-Boot's bootelf enter it in SVC mode with the MMU and caches off and SP undefined.
TEXT ·rt0(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf10c00c0	// cpsid if
	WORD	$0xf1020013	// cps #0x13 (SVC)

	// Zero .bss and .noptrbss: the kernel stack and all kernel state live there.
	MOVW	$runtime·bss(SB), R0
	MOVW	$runtime·enoptrbss(SB), R1
	MOVW	$0, R2
zero:
	CMP	R1, R0
	B.HS	zeroed
	MOVW.P	R2, 4(R0)
	B	zero
zeroed:
	MOVW	$·kstack+KSTACK_SIZE(SB), R13

	// Vector table: eight "ldr pc, [pc, #24]" followed by the eight handler addresses, in a
	// 32-byte aligned slot of vectorSpace. VBAR takes it; SCTLR.V=0 selects VBAR.
	MOVW	$·vectorSpace(SB), R0
	ADD	$31, R0
	BIC	$31, R0
	MOVW	$0xe59ff018, R1	// ldr pc, [pc, #24]
	MOVW	R1, 0(R0)
	MOVW	R1, 4(R0)
	MOVW	R1, 8(R0)
	MOVW	R1, 12(R0)
	MOVW	R1, 16(R0)
	MOVW	R1, 20(R0)
	MOVW	R1, 24(R0)
	MOVW	R1, 28(R0)
	MOVW	$·vecReset(SB), R1
	MOVW	R1, 32(R0)
	MOVW	$·vecUND(SB), R1
	MOVW	R1, 36(R0)
	MOVW	$·vecSWI(SB), R1
	MOVW	R1, 40(R0)
	MOVW	$·vecPABT(SB), R1
	MOVW	R1, 44(R0)
	MOVW	$·vecDABT(SB), R1
	MOVW	R1, 48(R0)
	MOVW	$·vecReset(SB), R1	// unused vector
	MOVW	R1, 52(R0)
	MOVW	$·vecIRQ(SB), R1
	MOVW	R1, 56(R0)
	MOVW	$·vecFIQ(SB), R1
	MOVW	R1, 60(R0)
	WORD	$0xee0c0f10	// mcr p15, 0, r0, c12, c0, 0 (VBAR)
	WORD	$0xee110f10	// mrc p15, 0, r0, c1, c0, 0 (SCTLR)
	BIC	$(1<<13), R0	// SCTLR.V = 0: vectors at VBAR
	WORD	$0xee010f10	// mcr p15, 0, r0, c1, c0, 0
	WORD	$0xf57ff06f	// isb

	// VFP/NEON: CPACR.cp10/cp11 = full access, then FPEXC.EN.
	WORD	$0xee110f50	// mrc p15, 0, r0, c1, c0, 2 (CPACR)
	ORR	$(0xf<<20), R0
	WORD	$0xee010f50	// mcr p15, 0, r0, c1, c0, 2
	WORD	$0xf57ff06f	// isb
	MOVW	$(1<<30), R0
	WORD	$0xeee80a10	// vmsr fpexc, r0

	// The fake g: kernel Go code runs on kstack, and its stack-check prologues read
	// stack.lo/hi and stackguard0/1 from R10.
	BL	·setKernelG(SB)

	SUB	$8, R13
	BL	·kinit(SB)
	MOVW	4(R13), R0	// initial user SP
	ADD	$8, R13

	// Go runs in SYS mode: privileged, but on the user register bank, so an SVC traps to
	// SVC mode with its own SP/LR/SPSR. FIQ stays masked; IRQs are on from here.
	WORD	$0xf102001f	// cps #0x1f (SYS)
	MOVW	R0, R13
	MOVW	$0, R0
	MOVW	$0, R14
	WORD	$0xf1080080	// cpsie i
	B	_rt0_arm_linux(SB)

// setKernelG points g at kg, describing kstack.
TEXT ·setKernelG(SB),NOSPLIT|NOFRAME,$0
	MOVW	$·kg(SB), g
	MOVW	$·kstack(SB), R0
	MOVW	R0, 0(g)	// stack.lo
	ADD	$KSTACK_SIZE, R0, R1
	MOVW	R1, 4(g)	// stack.hi
	ADD	$KGUARD, R0, R1
	MOVW	R1, 8(g)	// stackguard0
	MOVW	R1, 12(g)	// stackguard1
	RET

// Exception vectors. Each one fixes up the return address, stores it with the SPSR on the
// SVC stack (SRS), switches to SVC mode and pushes the interrupted context's r0-r14 (user
// bank) so that every exception leaves the same frame (see frame in trap_arm.go).
TEXT ·vecReset(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_RESET, R5
	B	·trapCommon(SB)

TEXT ·vecUND(SB),NOSPLIT|NOFRAME,$0
	SUB	$4, R14	// the undefined instruction (ARM state)
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_UND, R5
	B	·trapCommon(SB)

TEXT ·vecSWI(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf96d0513	// srsdb sp!, #0x13 (LR = the instruction after SVC)
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_SWI, R5
	B	·trapCommon(SB)

TEXT ·vecPABT(SB),NOSPLIT|NOFRAME,$0
	SUB	$4, R14	// the aborted instruction
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_PABT, R5
	B	·trapCommon(SB)

TEXT ·vecDABT(SB),NOSPLIT|NOFRAME,$0
	SUB	$8, R14	// the instruction that made the access
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_DABT, R5
	B	·trapCommon(SB)

TEXT ·vecIRQ(SB),NOSPLIT|NOFRAME,$0
	SUB	$4, R14	// the instruction to resume
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_IRQ, R5
	B	·trapCommon(SB)

TEXT ·vecFIQ(SB),NOSPLIT|NOFRAME,$0
	SUB	$4, R14
	WORD	$0xf96d0513	// srsdb sp!, #0x13
	WORD	$0xf1020013	// cps #0x13
	WORD	$0xe94d7fff	// stmdb sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	SUB	$60, R13
	MOVW	$K_FIQ, R5
	B	·trapCommon(SB)

// trapCommon finishes the frame with FPSCR, the SVC-mode LR and D0-D31, calls
// trap(frame, kind) on the kernel stack with the kernel g, and resumes whatever context the
// frame holds afterwards (trap may have replaced it with another thread's).
TEXT ·trapCommon(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xed6d0b20	// vpush {d16-d31}
	WORD	$0xed2d0b20	// vpush {d0-d15}
	WORD	$0xeef10a10	// vmrs r0, fpscr
	MOVM.DB.W	[R0,R14], (R13)
	MOVW	R13, R4
	MOVW	$·kg(SB), g
	SUB	$12, R13
	MOVW	R4, 4(R13)
	MOVW	R5, 8(R13)
	BL	·trap(SB)
	ADD	$12, R13
	MOVM.IA.W	(R13), [R0,R14]
	WORD	$0xeee10a10	// vmsr fpscr, r0
	WORD	$0xecbd0b20	// vpop {d0-d15}
	WORD	$0xecfd0b20	// vpop {d16-d31}
	WORD	$0xe8dd7fff	// ldm sp, {r0-r14}^
	WORD	$0xe1a00000	// nop
	ADD	$60, R13
	WORD	$0xf8bd0a00	// rfeia sp!

// sigreturnTramp is where signal handlers return: Go on arm registers handlers without
// SA_RESTORER, relying on Linux's sigpage, so the kernel provides the rt_sigreturn call.
TEXT ·sigreturnTramp(SB),NOSPLIT|NOFRAME,$0
	MOVW	$173, R7	// rt_sigreturn
	SWI	$0
	WORD	$0xe7f000f0	// udf: never reached

// vdsoClockGettime is __vdso_clock_gettime of the in-image vDSO, called with the C ABI
// (r0 = clock id, r1 = *timespec, result in r0; r4-r11 preserved) on the g0 stack of the
// calling thread. It runs vdsoClock with kgAny as g: the runtime leaves R10 = the user g,
// whose stack bounds do not describe g0's stack.
TEXT ·vdsoClockGettime(SB),NOSPLIT|NOFRAME,$0
	MOVM.DB.W	[R4-R11,R14], (R13)
	MOVW	$·kgAny(SB), g
	SUB	$16, R13
	MOVW	R0, 4(R13)
	MOVW	R1, 8(R13)
	BL	·vdsoClock(SB)
	MOVW	12(R13), R0
	ADD	$16, R13
	MOVM.IA.W	(R13), [R4-R11,R14]
	RET

// func semihost(op, arg uintptr) uintptr
// An ARM semihosting call (SVC 0x123456). Without -semihosting QEMU takes it as an ordinary
// SVC from SVC mode: trap notices the mode, records that semihosting is absent and returns.
// That clobbers LR_svc, so it is kept in R4 across the call.
TEXT ·semihost(SB),NOSPLIT|NOFRAME,$0-12
	MOVW	op+0(FP), R0
	MOVW	arg+4(FP), R1
	MOVW	R14, R4
	WORD	$0xef123456	// svc 0x123456
	MOVW	R4, R14
	MOVW	R0, ret+8(FP)
	RET

// func wfi()
TEXT ·wfi(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf57ff04f	// dsb
	WORD	$0xe320f003	// wfi
	RET

// func irqDisable() uint32: masks IRQs and returns the previous CPSR.
TEXT ·irqDisable(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xe10f0000	// mrs r0, cpsr
	WORD	$0xf10c0080	// cpsid i
	MOVW	R0, ret+0(FP)
	RET

// func irqRestore(cpsr uint32): restores the I bit saved by irqDisable.
TEXT ·irqRestore(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	cpsr+0(FP), R0
	WORD	$0xe121f000	// msr cpsr_c, r0
	RET

// func imageEnd() uintptr
TEXT ·imageEnd(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	$runtime·end(SB), R0
	MOVW	R0, ret+0(FP)
	RET

// func imageStart() uintptr: the first byte of the loaded image (the ELF header page
// precedes the text).
TEXT ·imageStart(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	$runtime·text(SB), R0
	SUB	$4096, R0
	MOVW	R0, ret+0(FP)
	RET

// func kgAddr() uintptr
TEXT ·kgAddr(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	$·kgAny(SB), R0
	MOVW	R0, ret+0(FP)
	RET

// func trampAddr() uintptr
TEXT ·trampAddr(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	$·sigreturnTramp(SB), R0
	MOVW	R0, ret+0(FP)
	RET

// func vdsoShimAddr() uintptr
TEXT ·vdsoShimAddr(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	$·vdsoClockGettime(SB), R0
	MOVW	R0, ret+0(FP)
	RET

// func pokeAddr(addr uintptr) uint32: a load the torture image uses to fault on purpose.
TEXT ·pokeAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVW	addr+0(FP), R0
	MOVW	(R0), R1
	MOVW	R1, ret+4(FP)
	RET

// Generic timer (ARM DDI0406C B8 "The Generic Timer").

// func readCNTVCT() uint64
TEXT ·readCNTVCT(SB),NOSPLIT|NOFRAME,$0-8
	WORD	$0xf57ff06f	// isb: no early counter read
	WORD	$0xec510f1e	// mrrc p15, 1, r0, r1, c14 (CNTVCT)
	MOVW	R0, ret_lo+0(FP)
	MOVW	R1, ret_hi+4(FP)
	RET

// func readCNTFRQ() uint32
TEXT ·readCNTFRQ(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee1e0f10	// mrc p15, 0, r0, c14, c0, 0
	MOVW	R0, ret+0(FP)
	RET

// func writeCNTFRQ(v uint32)
TEXT ·writeCNTFRQ(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee0e0f10	// mcr p15, 0, r0, c14, c0, 0
	WORD	$0xf57ff06f	// isb
	RET

// func writeCNTV_TVAL(v uint32)
TEXT ·writeCNTV_TVAL(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee0e0f13	// mcr p15, 0, r0, c14, c3, 0
	WORD	$0xf57ff06f	// isb
	RET

// func writeCNTV_CTL(v uint32)
TEXT ·writeCNTV_CTL(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee0e0f33	// mcr p15, 0, r0, c14, c3, 1
	WORD	$0xf57ff06f	// isb
	RET

// Fault status (DDI0406C B4.1.51/52, B4.1.96/97).

// func readDFSR() uint32
TEXT ·readDFSR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee150f10	// mrc p15, 0, r0, c5, c0, 0
	MOVW	R0, ret+0(FP)
	RET

// func readIFSR() uint32
TEXT ·readIFSR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee150f30	// mrc p15, 0, r0, c5, c0, 1
	MOVW	R0, ret+0(FP)
	RET

// func readDFAR() uint32
TEXT ·readDFAR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee160f10	// mrc p15, 0, r0, c6, c0, 0
	MOVW	R0, ret+0(FP)
	RET

// func readIFAR() uint32
TEXT ·readIFAR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee160f50	// mrc p15, 0, r0, c6, c0, 2
	MOVW	R0, ret+0(FP)
	RET

// MMU and caches (DDI0406C B4.1).

// func readSCTLR() uint32
TEXT ·readSCTLR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee110f10	// mrc p15, 0, r0, c1, c0, 0
	MOVW	R0, ret+0(FP)
	RET

// func writeSCTLR(v uint32)
TEXT ·writeSCTLR(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xf57ff04f	// dsb
	WORD	$0xee010f10	// mcr p15, 0, r0, c1, c0, 0
	WORD	$0xf57ff06f	// isb
	RET

// func readACTLR() uint32
TEXT ·readACTLR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee110f30	// mrc p15, 0, r0, c1, c0, 1
	MOVW	R0, ret+0(FP)
	RET

// func writeACTLR(v uint32)
TEXT ·writeACTLR(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee010f30	// mcr p15, 0, r0, c1, c0, 1
	WORD	$0xf57ff06f	// isb
	RET

// func writeTTBR0(v uint32)
TEXT ·writeTTBR0(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee020f10	// mcr p15, 0, r0, c2, c0, 0
	RET

// func writeTTBCR(v uint32)
TEXT ·writeTTBCR(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee020f50	// mcr p15, 0, r0, c2, c0, 2
	RET

// func writeDACR(v uint32)
TEXT ·writeDACR(SB),NOSPLIT|NOFRAME,$0-4
	MOVW	v+0(FP), R0
	WORD	$0xee030f10	// mcr p15, 0, r0, c3, c0, 0
	RET

// func invalidateTLBAndICache(): TLBIALL, ICIALLU, BPIALL.
TEXT ·invalidateTLBAndICache(SB),NOSPLIT|NOFRAME,$0
	MOVW	$0, R0
	WORD	$0xf57ff04f	// dsb
	WORD	$0xee080f17	// mcr p15, 0, r0, c8, c7, 0 (TLBIALL)
	WORD	$0xee070f15	// mcr p15, 0, r0, c7, c5, 0 (ICIALLU)
	WORD	$0xee070fd5	// mcr p15, 0, r0, c7, c5, 6 (BPIALL)
	WORD	$0xf57ff04f	// dsb
	WORD	$0xf57ff06f	// isb
	RET

// func readCLIDR() uint32
TEXT ·readCLIDR(SB),NOSPLIT|NOFRAME,$0-4
	WORD	$0xee300f30	// mrc p15, 1, r0, c0, c0, 1
	MOVW	R0, ret+0(FP)
	RET

// func readCCSIDR(csselr uint32) uint32
TEXT ·readCCSIDR(SB),NOSPLIT|NOFRAME,$0-8
	MOVW	csselr+0(FP), R0
	WORD	$0xee400f10	// mcr p15, 2, r0, c0, c0, 0 (CSSELR)
	WORD	$0xf57ff06f	// isb
	WORD	$0xee300f10	// mrc p15, 1, r0, c0, c0, 0 (CCSIDR)
	MOVW	R0, ret+4(FP)
	RET

// func dcacheSetWay(op, sw uint32): op 0 = DCISW (invalidate), 1 = DCCISW (clean+invalidate).
TEXT ·dcacheSetWay(SB),NOSPLIT|NOFRAME,$0-8
	MOVW	op+0(FP), R1
	MOVW	sw+4(FP), R0
	CMP	$0, R1
	B.NE	clean
	WORD	$0xee070f56	// mcr p15, 0, r0, c7, c6, 2 (DCISW)
	RET
clean:
	WORD	$0xee070f5e	// mcr p15, 0, r0, c7, c14, 2 (DCCISW)
	RET

// func dsb()
TEXT ·dsb(SB),NOSPLIT|NOFRAME,$0
	WORD	$0xf57ff04f	// dsb
	WORD	$0xf57ff06f	// isb
	RET
