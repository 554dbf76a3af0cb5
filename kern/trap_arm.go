package kern

import (
	"unsafe"
)

// Exception kinds, as entry_arm.s passes them to trap.
const (
	kindUND   = 1
	kindSWI   = 2
	kindPABT  = 3
	kindDABT  = 4
	kindIRQ   = 5
	kindFIQ   = 6
	kindReset = 7
)

// CPSR fields (DDI0406C B1.3.3).
const (
	modeMask = 0x1f
	modeUSR  = 0x10
	modeSVC  = 0x13
	modeSYS  = 0x1f
	cpsrT    = 1 << 5
	cpsrF    = 1 << 6
	cpsrI    = 1 << 7
	// cpsrThread is the CPSR threads start with: SYS mode, IRQs on, FIQs masked.
	cpsrThread = modeSYS | cpsrF
)

// frame is the context an exception saves on the kernel stack (entry_arm.s builds it, from
// low to high addresses). A thread switch copies whole frames in and out of the thread table.
type frame struct {
	fpscr uint32
	svcLR uint32 // SVC-mode LR at the exception; only meaningful for faults in the kernel
	d     [32]uint64
	r     [13]uint32
	sp    uint32 // user-bank (SYS mode) SP and LR
	lr    uint32
	pc    uint32 // resume address
	cpsr  uint32 // saved program status
}

const frameSize = 332

var _ [frameSize - unsafe.Sizeof(frame{})]byte
var _ [unsafe.Sizeof(frame{}) - frameSize]byte

// trap is called by trapCommon for every exception, on the kernel stack with interrupts
// masked. It handles the exception, then decides which thread runs next and leaves that
// thread's context in *f.
func trap(f *frame, kind uint32) {
	mode := f.cpsr & modeMask
	fromKernel := mode != modeSYS && mode != modeUSR
	switch kind {
	case kindSWI:
		if fromKernel {
			// An SVC from the kernel is a semihosting call that QEMU did not take
			// (started without -semihosting).
			semihostTrapped = true
			return
		}
		stats.syscalls++
		doSyscall(f)
	case kindIRQ, kindFIQ:
		handleIRQs()
		if fromKernel {
			return
		}
	case kindDABT, kindPABT, kindUND:
		if fromKernel {
			kfault(f, kind)
		}
		userFault(f, kind)
	default:
		kfault(f, kind)
	}
	resume(f)
}

// kfault reports a fault in the kernel itself and powers off: the kernel holds no state
// worth saving and must not continue with a broken invariant.
func kfault(f *frame, kind uint32) {
	kputs("\nkern: FATAL kernel fault: ")
	kputs(kindName(kind))
	kputs(" in ")
	if f.cpsr&modeMask == modeSVC {
		kputs("kernel")
	} else {
		kputs("thread")
	}
	kputs("\n")
	dumpFrame(f)
	kputs("  svc_sp=")
	kputHex(uint32(uintptr(unsafe.Pointer(f)) + frameSize))
	kputs(" svc_lr=")
	kputHex(f.svcLR)
	kputs("\n")
	poweroff(exitKernelFault)
}

func kindName(kind uint32) string {
	switch kind {
	case kindUND:
		return "undefined instruction"
	case kindSWI:
		return "svc"
	case kindPABT:
		return "prefetch abort"
	case kindDABT:
		return "data abort"
	case kindIRQ:
		return "irq"
	case kindFIQ:
		return "fiq"
	case kindReset:
		return "reset vector"
	}
	return "unknown exception"
}

// dumpFrame prints everything known about an exception: PC, CPSR, the fault status and
// address registers, r0-r12, sp, lr and the thread id.
func dumpFrame(f *frame) {
	kputs("  pc=")
	kputHex(f.pc)
	kputs(" cpsr=")
	kputHex(f.cpsr)
	kputs(" tid=")
	kputDec(uint64(threads[cur].tid))
	kputs("\n  dfsr=")
	kputHex(readDFSR())
	kputs(" dfar=")
	kputHex(readDFAR())
	kputs(" ifsr=")
	kputHex(readIFSR())
	kputs(" ifar=")
	kputHex(readIFAR())
	for i := 0; i < 13; i++ {
		if i%4 == 0 {
			kputs("\n ")
		}
		kputs(" r")
		kputDec(uint64(i))
		if i < 10 {
			kputs(" ")
		}
		kputs("=")
		kputHex(f.r[i])
	}
	kputs("\n  sp=")
	kputHex(f.sp)
	kputs(" lr=")
	kputHex(f.lr)
	kputs("\n")
}
