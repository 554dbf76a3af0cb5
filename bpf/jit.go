package bpf

import (
	"runtime"
	"unsafe"
)

// Native code.
//
// Where the architecture has a code generator (jit_<arch>.go) and the
// operating system lets a program map memory executable (jit_exec_*.go),
// Compile also translates the validated program into machine code, as
// FreeBSD's bpf_jitter does on amd64 and i386 (net.bpf.jitter.enable), and
// Run calls it instead of walking the ops. The ops stay in the Program: they
// are the fallback when no code could be generated, and the reference the
// tests compare the native code against.
//
// The contract each architecture implements:
//
//	jitEmit(prog) (code []byte, ok bool)
//		machine code for a validated, non-empty program, entered at
//		offset 0; ok is false when this architecture has no generator
//		or the program uses something it does not translate.
//	jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32
//		(assembly) calls the code at entry with the packet and returns
//		its verdict; buflen is len(pkt), clamped to 32 bits as
//		clampPacket does. The generated code calls nothing, so it runs on the
//		goroutine stack within jitcall's own frame (NOSPLIT, which holds
//		the 16 scratch words).
//	run(p *Program, pkt []byte, wirelen uint32) uint32
//		what Run inlines to: the native code when p has some, runOps
//		otherwise. jit_run.go has it in Go (two calls per packet);
//		amd64 has it in assembly that tail-jumps to jitcall or runOps0,
//		which saves a call level per packet.
//	jitSync(start, n uintptr)
//		makes freshly written code visible to instruction fetch (a no-op
//		where the instruction cache is coherent).
//
// Code lives in its own pages (see newNative), mapped read+execute only
// after it is written, and is unmapped when the Program is collected.

// native is a program's machine code in executable memory.
type native struct {
	entry uintptr // start of the code, 0 when there is none
	mem   []byte  // the mapping, for freeing
}

// attachNative gives p machine code when this platform can generate it. A
// failure leaves p on the ops path; it is never an error, since both paths
// give the same verdicts.
func attachNative(p *Program) {
	code, ok := jitEmit(p.insns)
	if !ok {
		return
	}
	mem, err := execMap(code)
	if err != nil {
		return
	}
	jitSync(uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(code)))
	p.native = native{entry: uintptr(unsafe.Pointer(unsafe.SliceData(mem))), mem: mem}
	runtime.AddCleanup(p, func(m []byte) { execUnmap(m) }, mem)
}

// Native reports whether Run executes machine code generated for this
// program (false: the portable ops path).
func (p *Program) Native() bool { return p.native.entry != 0 }

// packetLoadSize is the width in bytes of a packet load: absolute, indexed,
// or the byte of "ldxb 4*([k]&0xf)"; 0 for any other instruction. The
// code generators use it for the buflen a load needs.
func packetLoadSize(code uint16) uint64 {
	switch code {
	case BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_IND:
		return 4
	case BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_H | BPF_IND:
		return 2
	case BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_B | BPF_IND, BPF_LDX | BPF_B | BPF_MSH:
		return 1
	}
	return 0
}

// threadJump follows target t through instructions that cannot change
// anything or choose anything: "ja" and tests whose two branches agree.
// The compiled form and the code generators all thread jumps this way.
func threadJump(prog []Insn, t int) int {
	for {
		ins := prog[t]
		switch {
		case ins.Code == BPF_JMP|BPF_JA:
			t += 1 + int(ins.K)
		case ins.Class() == BPF_JMP && ins.Jt == ins.Jf:
			t += 1 + int(ins.Jt)
		default:
			return t
		}
	}
}
