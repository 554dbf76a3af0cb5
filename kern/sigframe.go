package kern

import "encoding/binary"

// The Linux/arm signal frame (arch/arm/kernel/signal.c, struct rt_sigframe) as the kernel
// writes it below the interrupted stack pointer:
//
//	+0    siginfo (128 bytes): si_signo, si_errno, si_code, then the union (si_addr or si_pid)
//	+128  ucontext (744 bytes):
//	        +0  uc_flags, +4 uc_link, +8 uc_stack {ss_sp, ss_flags, ss_size}
//	        +20 uc_mcontext: trap_no, error_code, oldmask, r0-r10, fp, ip, sp, lr, pc,
//	            cpsr, fault_address (21 words)
//	        +104 uc_sigmask (8 bytes, padded to 128)
//	        +232 uc_regspace (512 bytes): a VFP record {magic 0x56465001, size 288,
//	             d0-d31, fpscr, pad, fpexc, fpinst, fpinst2}, then a zero terminator
//	+872  retcode (16 bytes, unused: handlers return through the kernel's trampoline)
const (
	sigframeInfo     = 0
	sigframeUcontext = 128
	sigframeSize     = 888

	ucStack    = 8
	ucMcontext = 20
	ucSigmask  = 104
	ucRegspace = 232

	mcTrapNo     = 0
	mcErrorCode  = 4
	mcOldmask    = 8
	mcR0         = 12 // r0..r12 (r11 = fp, r12 = ip) are consecutive
	mcSP         = 64
	mcLR         = 68
	mcPC         = 72
	mcCPSR       = 76
	mcFaultAddr  = 80
	vfpMagic     = 0x56465001
	vfpFrameSize = 288
	vfpRegs      = 8   // offset of d0 in the VFP record
	vfpFPSCR     = 264 // offset of fpscr in the VFP record
	vfpFPEXC     = 272
	fpexcEN      = 1 << 30
)

// SigInfo is the part of siginfo_t the kernel fills.
type SigInfo struct {
	Signo, Errno, Code int32
	// Addr is si_addr for faults, si_pid for signals sent by a thread.
	Addr uint32
}

// SigContext is the interrupted context saved in (and restored from) a signal frame.
type SigContext struct {
	R                 [13]uint32
	SP, LR, PC, CPSR  uint32
	TrapNo, ErrorCode uint32
	FaultAddress      uint32
	Mask              uint64 // signal mask to restore
	AltSP, AltSize    uint32
	AltFlags          uint32
	FPSCR             uint32
	D                 [32]uint64
}

// WriteSigframe fills mem (at least sigframeSize bytes) with a Linux/arm rt_sigframe.
func WriteSigframe(mem []byte, info *SigInfo, c *SigContext) {
	_ = mem[sigframeSize-1]
	for i := range mem[:sigframeSize] {
		mem[i] = 0
	}
	le := binary.LittleEndian
	le.PutUint32(mem[sigframeInfo:], uint32(info.Signo))
	le.PutUint32(mem[sigframeInfo+4:], uint32(info.Errno))
	le.PutUint32(mem[sigframeInfo+8:], uint32(info.Code))
	le.PutUint32(mem[sigframeInfo+12:], info.Addr)

	uc := mem[sigframeUcontext:]
	le.PutUint32(uc[ucStack:], c.AltSP)
	le.PutUint32(uc[ucStack+4:], c.AltFlags)
	le.PutUint32(uc[ucStack+8:], c.AltSize)
	mc := uc[ucMcontext:]
	le.PutUint32(mc[mcTrapNo:], c.TrapNo)
	le.PutUint32(mc[mcErrorCode:], c.ErrorCode)
	le.PutUint32(mc[mcOldmask:], uint32(c.Mask))
	for i := 0; i < 13; i++ {
		le.PutUint32(mc[mcR0+4*i:], c.R[i])
	}
	le.PutUint32(mc[mcSP:], c.SP)
	le.PutUint32(mc[mcLR:], c.LR)
	le.PutUint32(mc[mcPC:], c.PC)
	le.PutUint32(mc[mcCPSR:], c.CPSR)
	le.PutUint32(mc[mcFaultAddr:], c.FaultAddress)
	le.PutUint64(uc[ucSigmask:], c.Mask)

	vfp := uc[ucRegspace:]
	le.PutUint32(vfp[0:], vfpMagic)
	le.PutUint32(vfp[4:], vfpFrameSize)
	for i := 0; i < 32; i++ {
		le.PutUint64(vfp[vfpRegs+8*i:], c.D[i])
	}
	le.PutUint32(vfp[vfpFPSCR:], c.FPSCR)
	le.PutUint32(vfp[vfpFPEXC:], fpexcEN)
	// The zero word after the record terminates the regspace list.
}

// ReadSigframe reads back the context of an rt_sigframe, as rt_sigreturn does. The VFP
// registers are restored only if the VFP record is intact.
func ReadSigframe(mem []byte, c *SigContext) {
	_ = mem[sigframeSize-1]
	le := binary.LittleEndian
	uc := mem[sigframeUcontext:]
	mc := uc[ucMcontext:]
	for i := 0; i < 13; i++ {
		c.R[i] = le.Uint32(mc[mcR0+4*i:])
	}
	c.SP = le.Uint32(mc[mcSP:])
	c.LR = le.Uint32(mc[mcLR:])
	c.PC = le.Uint32(mc[mcPC:])
	c.CPSR = le.Uint32(mc[mcCPSR:])
	c.TrapNo = le.Uint32(mc[mcTrapNo:])
	c.ErrorCode = le.Uint32(mc[mcErrorCode:])
	c.FaultAddress = le.Uint32(mc[mcFaultAddr:])
	c.Mask = le.Uint64(uc[ucSigmask:])
	c.AltSP = le.Uint32(uc[ucStack:])
	c.AltFlags = le.Uint32(uc[ucStack+4:])
	c.AltSize = le.Uint32(uc[ucStack+8:])
	vfp := uc[ucRegspace:]
	if le.Uint32(vfp[0:]) == vfpMagic && le.Uint32(vfp[4:]) == vfpFrameSize {
		for i := 0; i < 32; i++ {
			c.D[i] = le.Uint64(vfp[vfpRegs+8*i:])
		}
		c.FPSCR = le.Uint32(vfp[vfpFPSCR:])
	}
}
