#include "textflag.h"

// func cycles() uint64
//
// RDTSC (Intel SDM vol. 2B): EDX:EAX = the time-stamp counter. No
// serialization (RDTSCP or LFENCE): a stamp may be taken a few dozen cycles
// early, which is far below the clock's precision, and a fence would cost
// more than the read.
TEXT ·cycles(SB), NOSPLIT, $0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func invariantTSC() bool
//
// CPUID leaf 0x80000007, EDX bit 8: the TSC runs at a constant rate in
// every ACPI P-, C- and T-state (Intel SDM vol. 3B, 18.17.1). The leaf
// exists when CPUID 0x80000000 reports a maximum of at least 0x80000007.
TEXT ·invariantTSC(SB), NOSPLIT, $0-1
	MOVL	$0x80000000, AX
	XORL	CX, CX
	CPUID
	CMPL	AX, $0x80000007
	JB	no
	MOVL	$0x80000007, AX
	XORL	CX, CX
	CPUID
	SHRL	$8, DX
	ANDL	$1, DX
	MOVB	DX, ret+0(FP)
	RET
no:
	MOVB	$0, ret+0(FP)
	RET
