package kern

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Signals, as far as the Go runtime uses them: handlers registered with rt_sigaction,
// per-thread masks and alternate stacks, tgkill (SIGURG for asynchronous preemption), and
// SIGSEGV/SIGBUS/SIGILL from faults in threads (so a nil dereference becomes a Go panic).
//
// A signal is delivered when its thread next returns to user mode: the kernel writes a
// Linux/arm rt_sigframe (layout in sigframe.go) on the thread's stack or sigaltstack and
// enters the handler with r0 = signo, r1 = &siginfo, r2 = &ucontext and lr = the
// rt_sigreturn trampoline, because Go on arm registers handlers without SA_RESTORER.

const (
	maxSig = 64

	saSiginfo   = 0x4
	saOnstack   = 0x08000000
	saRestorer  = 0x04000000
	saNodefer   = 0x40000000
	saResethand = 0x80000000

	sigDFL = 0
	sigIGN = 1

	ssOnstack = 1
	ssDisable = 2

	siTkill    = -6
	segvMaperr = 1
	illIllopc  = 1
)

type sigaction struct {
	handler  uintptr
	flags    uint32
	restorer uintptr
	mask     uint64
}

var sigactions [maxSig + 1]sigaction

func sysSigaction(sig int32, act, oact uintptr) int32 {
	if sig < 1 || sig > maxSig || sig == int32(unix.SIGKILL) || sig == int32(unix.SIGSTOP) && act != 0 {
		return -errEINVAL
	}
	if oact != 0 {
		if !userOK(oact, 20) {
			return -errEFAULT
		}
		*(*sigaction)(unsafe.Pointer(oact)) = sigactions[sig]
	}
	if act != 0 {
		if !userOK(act, 20) {
			return -errEFAULT
		}
		sigactions[sig] = *(*sigaction)(unsafe.Pointer(act))
	}
	return 0
}

func sysSigprocmask(how int32, set, oset uintptr) int32 {
	t := &threads[cur]
	if oset != 0 {
		if !userOK(oset, 8) {
			return -errEFAULT
		}
		*(*uint64)(unsafe.Pointer(oset)) = t.sigMask
	}
	if set == 0 {
		return 0
	}
	if !userOK(set, 8) {
		return -errEFAULT
	}
	s := *(*uint64)(unsafe.Pointer(set))
	switch how {
	case unix.SIG_BLOCK:
		t.sigMask |= s
	case unix.SIG_UNBLOCK:
		t.sigMask &^= s
	case unix.SIG_SETMASK:
		t.sigMask = s
	default:
		return -errEINVAL
	}
	t.sigMask &^= sigBit(int32(unix.SIGKILL)) | sigBit(int32(unix.SIGSTOP))
	return 0
}

func sigBit(sig int32) uint64 { return 1 << uint(sig-1) }

func sysSigaltstack(f *frame, ss, oss uintptr) int32 {
	t := &threads[cur]
	if oss != 0 {
		if !userOK(oss, 12) {
			return -errEFAULT
		}
		p := (*[3]uint32)(unsafe.Pointer(oss))
		p[0] = uint32(t.altSP)
		p[1] = uint32(t.altFlags)
		if t.altSize == 0 {
			p[1] = ssDisable
		} else if onAltStack(t, uintptr(f.sp)) {
			p[1] = ssOnstack
		}
		p[2] = uint32(t.altSize)
	}
	if ss != 0 {
		if !userOK(ss, 12) {
			return -errEFAULT
		}
		if t.altSize != 0 && onAltStack(t, uintptr(f.sp)) {
			return -errEPERM
		}
		p := (*[3]uint32)(unsafe.Pointer(ss))
		if p[1]&ssDisable != 0 {
			t.altSP, t.altSize, t.altFlags = 0, 0, 0
		} else {
			t.altSP, t.altSize, t.altFlags = uintptr(p[0]), uintptr(p[2]), 0
		}
	}
	return 0
}

func onAltStack(t *thread, sp uintptr) bool {
	return t.altSize != 0 && sp > t.altSP && sp <= t.altSP+t.altSize
}

// sysKill queues sig for thread tid (tgkill, tkill; kill targets the main thread).
func sysKill(tid, sig int32) int32 {
	t := threadByTID(tid)
	if t == nil {
		return -errESRCH
	}
	if sig == 0 {
		return 0
	}
	if sig < 1 || sig > maxSig {
		return -errEINVAL
	}
	t.sigPending |= sigBit(sig)
	t.faultCode = siTkill
	// A thread blocked in a system call is interrupted, as on Linux (the runtime retries
	// futex and epoll waits after EINTR).
	if t.state == threadBlocked && t.sigMask&sigBit(sig) == 0 {
		wakeThread(t, -errEINTR)
	}
	resched = true
	return 0
}

// userFault turns an abort or undefined instruction in a thread into a synchronous signal.
// With no handler, or the signal blocked, the program cannot go on: the kernel prints the
// fault and powers off.
func userFault(f *frame, kind uint32) {
	t := &threads[cur]
	sig := int32(unix.SIGSEGV)
	code := int32(segvMaperr)
	addr := f.pc
	fsr := uint32(0)
	switch kind {
	case kindDABT:
		addr, fsr = readDFAR(), readDFSR()
		if fsrStatus(fsr) == 0x1 { // alignment fault
			sig = int32(unix.SIGBUS)
		}
	case kindPABT:
		addr, fsr = readIFAR(), readIFSR()
	case kindUND:
		sig, code = int32(unix.SIGILL), illIllopc
	}
	a := &sigactions[sig]
	if a.handler == sigDFL || a.handler == sigIGN || t.sigMask&sigBit(sig) != 0 {
		kputs("\nkern: fatal ")
		kputs(kindName(kind))
		kputs(" in thread ")
		kputDec(uint64(t.tid))
		kputs(" (no handler for signal ")
		kputDec(uint64(sig))
		kputs(")\n")
		dumpFrame(f)
		poweroff(exitUserFault)
	}
	t.sigPending |= sigBit(sig)
	t.faultAddr = addr
	t.faultCode = code
	t.faultFSR = fsr
	// Deliver before anything else runs: the faulting instruction must not be resumed.
	setupSignal(f, t, sig)
}

// fsrStatus extracts the short-descriptor fault status FS[4:0] (DDI0406C B4.1.52).
func fsrStatus(fsr uint32) uint32 {
	return fsr&0xf | fsr>>6&0x10
}

// deliverSignals enters the handler of the lowest pending unblocked signal of the thread
// about to run.
func deliverSignals(f *frame) {
	t := &threads[cur]
	p := t.sigPending &^ t.sigMask
	if p == 0 {
		return
	}
	// Inside the vDSO shim g is kgAny, not a runtime g; the runtime's handler would take
	// it for a foreign thread. Try again at the next trap.
	if uintptr(f.r[10]) == kgAddr() {
		return
	}
	for sig := int32(1); sig <= maxSig; sig++ {
		if p&sigBit(sig) != 0 {
			setupSignal(f, t, sig)
			return
		}
	}
}

// setupSignal builds the rt_sigframe for sig and redirects f into its handler.
func setupSignal(f *frame, t *thread, sig int32) {
	t.sigPending &^= sigBit(sig)
	a := sigactions[sig]
	switch a.handler {
	case sigIGN:
		return
	case sigDFL:
		switch sig {
		case int32(unix.SIGURG), int32(unix.SIGCHLD), int32(unix.SIGWINCH), int32(unix.SIGCONT):
			return
		}
		kputs("\nkern: killed by signal ")
		kputDec(uint64(sig))
		kputs("\n")
		poweroff(128 + int(sig))
	}
	stats.signals++
	sp := uintptr(f.sp)
	if a.flags&saOnstack != 0 && t.altSize != 0 && !onAltStack(t, sp) {
		sp = t.altSP + t.altSize
	}
	base := (sp - sigframeSize) &^ 7
	if !userOK(base, sigframeSize) {
		kputs("\nkern: no room for a signal frame\n")
		dumpFrame(f)
		poweroff(exitUserFault)
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(base)), sigframeSize)
	var ctx SigContext
	for i := 0; i < 13; i++ {
		ctx.R[i] = f.r[i]
	}
	ctx.SP, ctx.LR, ctx.PC, ctx.CPSR = f.sp, f.lr, f.pc, f.cpsr
	ctx.FPSCR = f.fpscr
	ctx.D = f.d
	ctx.Mask = t.sigMask
	ctx.AltSP, ctx.AltSize = uint32(t.altSP), uint32(t.altSize)
	ctx.AltFlags = uint32(t.altFlags)
	if t.altSize == 0 {
		ctx.AltFlags = ssDisable
	}
	info := SigInfo{Signo: sig, Code: t.faultCode}
	if sig == int32(unix.SIGSEGV) || sig == int32(unix.SIGBUS) || sig == int32(unix.SIGILL) {
		info.Addr = t.faultAddr
		ctx.FaultAddress = t.faultAddr
		ctx.ErrorCode = t.faultFSR
	} else if t.faultCode == siTkill {
		info.Addr = 1 // si_pid of the sender: the process itself
	}
	t.faultCode = 0
	WriteSigframe(mem, &info, &ctx)

	if a.flags&saNodefer == 0 {
		t.sigMask |= sigBit(sig)
	}
	t.sigMask |= a.mask
	if a.flags&saResethand != 0 {
		sigactions[sig].handler = sigDFL
	}
	f.r[0] = uint32(sig)
	f.r[1] = uint32(base + sigframeInfo)
	f.r[2] = uint32(base + sigframeUcontext)
	f.sp = uint32(base)
	f.lr = uint32(trampAddr())
	if a.flags&saRestorer != 0 && a.restorer != 0 {
		f.lr = uint32(a.restorer)
	}
	f.pc = uint32(a.handler &^ 1)
	f.cpsr = cpsrThread
	if a.handler&1 != 0 {
		f.cpsr |= cpsrT
	}
}

// sigreturn restores the context saved by setupSignal (possibly edited by the handler, as
// the runtime does to inject a call to asyncPreempt or sigpanic).
func sigreturn(f *frame) {
	t := &threads[cur]
	base := uintptr(f.sp)
	if !userOK(base, sigframeSize) {
		kputs("\nkern: rt_sigreturn with a bad stack\n")
		dumpFrame(f)
		poweroff(exitUserFault)
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(base)), sigframeSize)
	var ctx SigContext
	ctx.D, ctx.FPSCR = f.d, f.fpscr
	ReadSigframe(mem, &ctx)
	for i := 0; i < 13; i++ {
		f.r[i] = ctx.R[i]
	}
	f.sp, f.lr, f.pc = ctx.SP, ctx.LR, ctx.PC
	// Only the condition flags, GE, E and T come from the frame: a handler cannot change
	// the mode or mask interrupts.
	f.cpsr = ctx.CPSR&0xf80f0220 | cpsrThread
	f.fpscr = ctx.FPSCR
	f.d = ctx.D
	t.sigMask = ctx.Mask &^ (sigBit(int32(unix.SIGKILL)) | sigBit(int32(unix.SIGSTOP)))
}
