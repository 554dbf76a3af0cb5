package bpf

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/cpu"
)

// The ARMv7-A code generator (A32 instruction set; the i.MX6UL's Cortex-A7
// and any GOARM=7 Linux). Encodings are from the ARMv7-A Architecture
// Reference Manual (DDI0406C), section A8.8; jit_arm_test.go checks them
// against arm-none-eabi-objdump when it is installed.
//
// Registers while the code runs (jitcall, jit_arm.s, loads the inputs):
//
//	R0  A (and the verdict: "ret a" is a bare return)
//	R1  X
//	R2  packet base
//	R3  buflen
//	R4  wirelen
//	R6, R7, R12  scratch
//	R13 jitcall's frame: M[k] is at armMemOff+4*k(R13)
//	R14 return address
//
// R10 (g) and R13 are never written; everything else is scratch across
// jitcall. The code calls nothing and touches no memory but the packet and
// M[], so it needs no stack of its own.
//
// One BPF instruction becomes a short fixed sequence; conditional jumps
// branch straight to their targets (B reaches ±32 MiB, far beyond maxOps
// instructions of code, so one form serves every jump). Every failing check
// (a load past buflen, division by X == 0) branches to one shared
// "mov r0, #0; bx lr" at the end.
//
// Packet words are read with one LDR or LDRH whatever their alignment:
// ARMv7 performs unaligned LDR and LDRH on Normal memory when SCTLR.A is 0
// (DDI0406C A3.2.1), which Linux sets for user space and kern sets too
// (kern/mmu_arm.go; packet buffers, ENET DMA memory included, are Normal).
// REV and REV16 then put the bytes in network order.
//
// Bounds checks: a forward pass over the program (jumps only go forward)
// records, for every instruction, the smallest buflen every path into it
// has already proven (a load of [k:k+n] that succeeded proves buflen >=
// k+n). A load inside that bound needs no check; any other absolute load
// costs one compare and one branch. Indexed loads cost three instructions
// (SUBS, CMPCS, BCC: buflen-(k+n) must not borrow and must be >= X), which
// is exactly the interpreter's overflow-free test; none when every path
// has already loaded as far with the X it holds now (tcpdump's [x+14] then
// [x+16] for the two TCP ports).
//
// The same pass finds the scratch words, and A and X, that some path reads
// before writing them: only those are zeroed on entry, as the interpreter's
// zeroed state would give (tcpdump's programs need none of them).
//
// Where the interpreter's Go semantics differ from the instructions: shifts
// by a register use its low byte (X = 256 would shift by 0), so X >= 32
// gives 0 explicitly; a shift by k >= 32 is "mov r0, #0". Division and
// modulo use UDIV (and MLS), present on CPUs with the integer-divide
// extension (HWCAP_IDIVA: every Cortex-A7); elsewhere, and in GOARM < 7
// builds (MOVW/MOVT are ARMv7), programs keep to the ops path.
//
// Measured (emulated; there is no board in the loop). Guest instructions
// executed per frame, counted exactly with qemu-arm -singlestep -d exec over
// the first 2,000 corpus frames: the filter through Program.Run (run,
// jitcall and the generated code, against run, runOps0 and runOps), the
// caller's loop aside:
//
//	tcp                              27.1 vs 116.9  (4.3x fewer)
//	ip multicast or ip6 multicast    27.3 vs 120.9  (4.4x; the median filter)
//
// of which the generated code is 13.1 and 13.3 (runOps alone: 93.9, 97.9),
// jitcall 8 and run 6. Timed under TCG, only as ratios within one run:
// BenchmarkARMCorpus under qemu-arm gives, over the 33 filters, a median of
// native 2.15-2.56x the portable ops and 3.66-5.34x golang.org/x/net/bpf
// (four runs on a shared, noisy host); qemu/TestJITCorpusOnBoard, the same
// filters on the emulated i.MX6UL (qemu-system-arm, kern), 3.6-3.9x the ops
// and 7.2-8.6x x/net/bpf.
// TCG turns every indirect branch (the call into the code, its return) into
// a hash lookup, a cost that weighs most on the shortest path; the
// instruction counts above are the better guide to silicon.

// Register numbers.
const (
	armA   = 0
	armX   = 1
	armP   = 2
	armL   = 3
	armW   = 4
	armT0  = 6
	armT1  = 7
	armIP  = 12
	armSP  = 13
	armLR  = 14
	armPC  = 15
	armTop = 0xffffffff
)

// armMemOff is where M[0] lies above SP when the code runs: jitcall's frame
// starts with the saved LR at 0(R13), then its 64 bytes of locals.
const armMemOff = 4

// Condition codes (DDI0406C A8.3).
const (
	armEQ = 0x0
	armNE = 0x1
	armHS = 0x2 // CS: unsigned >=, or no borrow after a subtraction
	armLO = 0x3 // CC: unsigned <, or borrow
	armHI = 0x8
	armLS = 0x9
	armAL = 0xe
)

// Data-processing opcodes (DDI0406C A5.2.1).
const (
	armAND = 0x0
	armEOR = 0x1
	armSUB = 0x2
	armRSB = 0x3
	armADD = 0x4
	armTST = 0x8
	armCMP = 0xa
	armCMN = 0xb
	armORR = 0xc
	armMOV = 0xd
	armBIC = 0xe
	armMVN = 0xf
)

// Shift types for register operands.
const (
	armLSL = 0
	armLSR = 1
)

// armHasUDIV says whether UDIV exists in ARM state (the virtualization
// extensions' integer divide; every Cortex-A7 and A15 has it). Without it,
// programs that divide by anything but a power of two stay on the ops path.
// A variable so that the tests can take the fallback.
var armHasUDIV = cpu.ARM.HasIDIVA

// armV7 says whether the program was built for ARMv7 (GOARM=7, the default,
// which the runtime itself requires of the CPU at startup). The generator
// uses MOVW and MOVT, which ARMv6 lacks, so a GOARM=5 or 6 build keeps every
// filter on the ops path.
var armV7 = func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return true
	}
	for _, s := range bi.Settings {
		if s.Key == "GOARM" && s.Value != "" {
			return s.Value[0] >= '7'
		}
	}
	return true
}()

// armRet0 is the fixup target of branches to the shared "return 0".
const armRet0 = -1

type armFixup struct {
	at     int // index of the branch word
	target int // BPF instruction index, or armRet0
}

type armGen struct {
	prog  []Insn
	reach []bool
	known []uint64 // buflen proven on every path into the instruction
	// knownX is the k+size of an indexed load every path into the
	// instruction has made with the X it now holds: X+knownX <= buflen.
	knownX []uint64
	wrote  []uint32 // state (armUses bits) written on every path into it
	zero   uint32   // state some path reads before writing it
	start  []int    // word index of each instruction's code
	code   []uint32
	fix    []armFixup
}

func jitEmit(prog []Insn) ([]byte, bool) {
	if !armV7 {
		return nil, false
	}
	return armEmit(prog)
}

// armEmit is jitEmit whatever GOARM says.
func armEmit(prog []Insn) ([]byte, bool) {
	if len(prog) == 0 || len(prog) > maxOps {
		return nil, false
	}
	g := &armGen{
		prog:   prog,
		reach:  make([]bool, len(prog)),
		known:  make([]uint64, len(prog)),
		knownX: make([]uint64, len(prog)),
		wrote:  make([]uint32, len(prog)),
		start:  make([]int, len(prog)+1),
	}
	if !g.analyse() {
		return nil, false
	}
	if g.zero&armUseA != 0 {
		g.dp(armAL, armMOV, false, 0, armA, armImm(0))
	}
	if g.zero&armUseX != 0 {
		g.dp(armAL, armMOV, false, 0, armX, armImm(0))
	}
	if g.zero&armUseM != 0 {
		g.dp(armAL, armMOV, false, 0, armT0, armImm(0))
		for k := range BPF_MEMWORDS {
			if g.zero&(1<<k) != 0 {
				g.mem(true, armT0, uint32(k))
			}
		}
	}
	for i := range prog {
		g.start[i] = len(g.code)
		if g.reach[i] && !g.insn(i) {
			return nil, false
		}
	}
	ret0 := len(g.code)
	g.dp(armAL, armMOV, false, 0, armA, armImm(0))
	g.bx(armAL)
	for _, f := range g.fix {
		to := ret0
		if f.target != armRet0 {
			to = g.start[f.target]
		}
		// The offset counts words from the branch's PC, which reads
		// two instructions ahead (DDI0406C A2.3).
		g.code[f.at] |= uint32(to-f.at-2) & 0xffffff
	}
	out := make([]byte, 4*len(g.code))
	for i, w := range g.code {
		binary.LittleEndian.PutUint32(out[4*i:], w)
	}
	return out, true
}

// jitSync cleans the data cache over the new code and invalidates the
// instruction cache and branch predictor, through Linux's ARM-private
// cacheflush system call (kern answers it the same way). Running stale
// instructions would be silent corruption, so a failure is fatal.
func jitSync(start, n uintptr) {
	if runtime.GOOS != "linux" {
		return // execMap fails elsewhere: no code is ever attached
	}
	if errno := armCacheflush(start, start+n); errno != 0 {
		panic("bpf: cacheflush of generated code failed")
	}
}

// jitcall runs the code at entry over pkt (jit_arm.s).
//
//go:noescape
func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32

// run is what Program.Run inlines to (jit_arm.s): a tail jump to jitcall
// when p has native code, to runOps0 otherwise, so a packet costs one Go
// call level.
//
//go:noescape
func run(p *Program, pkt []byte, wirelen uint32) uint32

// armCacheflush is the system call __ARM_NR_cacheflush (0x0f0002) with
// flags 0; it returns 0 or a negative errno. In jit_arm.s.
func armCacheflush(start, end uintptr) int32

// successors lists where control goes after instruction i (none for a
// return, or for a load that can never succeed).
func (g *armGen) successors(i int, buf *[2]int) []int {
	ins := g.prog[i]
	switch ins.Class() {
	case BPF_RET:
		return buf[:0]
	case BPF_JMP:
		if ins.Code == BPF_JMP|BPF_JA {
			buf[0] = i + 1 + int(ins.K)
			return buf[:1]
		}
		buf[0], buf[1] = i+1+int(ins.Jt), i+1+int(ins.Jf)
		return buf[:2]
	}
	if _, ok := g.loadEnd(ins); !ok {
		return buf[:0]
	}
	if (ins.Code == BPF_ALU|BPF_DIV|BPF_K || ins.Code == BPF_ALU|BPF_MOD|BPF_K) && ins.K == 0 {
		return buf[:0]
	}
	buf[0] = i + 1
	return buf[:1]
}

// loadEnd is k+size for a packet load (the buflen it needs, X aside), and
// false when that does not fit in 32 bits, so the load can never succeed.
// Other instructions give 0, true.
func (g *armGen) loadEnd(ins Insn) (uint64, bool) {
	size := packetLoadSize(ins.Code)
	if size == 0 {
		return 0, true
	}
	end := uint64(ins.K) + size
	return end, end <= armTop
}

// analyse marks reachable instructions and computes known, wrote and zero.
// It fails on anything a validated program cannot contain.
func (g *armGen) analyse() bool {
	n := len(g.prog)
	g.reach[0] = true
	var buf [2]int
	for i := range n {
		if !g.reach[i] {
			continue
		}
		ins := g.prog[i]
		known, knownX, wrote := g.known[i], g.knownX[i], g.wrote[i]
		reads, writes, ok := armUses(ins)
		if !ok {
			return false
		}
		g.zero |= reads &^ wrote
		wrote |= writes
		end, ok := g.loadEnd(ins)
		if ok && end > known {
			known = end
		}
		if writes&armUseX != 0 {
			knownX = 0
		} else if ok && ins.Code&0xe0 == BPF_IND && end > knownX {
			knownX = end
		}
		for _, t := range g.successors(i, &buf) {
			if t <= i || t >= n {
				return false
			}
			if !g.reach[t] {
				g.reach[t], g.known[t], g.knownX[t], g.wrote[t] = true, known, knownX, wrote
			} else {
				g.known[t] = min(g.known[t], known)
				g.knownX[t] = min(g.knownX[t], knownX)
				g.wrote[t] &= wrote
			}
		}
	}
	return true
}

// Bits of the machine state for armUses: M[k] is bit k.
const (
	armUseM = 1<<BPF_MEMWORDS - 1
	armUseA = 1 << 16
	armUseX = 1 << 17
)

// armUses says which of A, X and M[] instruction ins reads and writes; false
// for a scratch index out of range.
func armUses(ins Insn) (reads, writes uint32, ok bool) {
	switch ins.Code {
	case BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX:
		if ins.K >= BPF_MEMWORDS {
			return 0, 0, false
		}
	}
	switch ins.Class() {
	case BPF_LD:
		writes = armUseA
		if ins.Code&0xe0 == BPF_IND {
			reads = armUseX
		} else if ins.Code&0xe0 == BPF_MEM {
			reads = 1 << ins.K
		}
	case BPF_LDX:
		writes = armUseX
		if ins.Code&0xe0 == BPF_MEM {
			reads = 1 << ins.K
		}
	case BPF_ST:
		reads, writes = armUseA, 1<<ins.K
	case BPF_STX:
		reads, writes = armUseX, 1<<ins.K
	case BPF_ALU:
		reads, writes = armUseA, armUseA
		if ins.Code&BPF_X != 0 && ins.Code&0xf0 != BPF_NEG {
			reads |= armUseX
		}
	case BPF_JMP:
		if ins.Code != BPF_JMP|BPF_JA {
			reads = armUseA
			if ins.Code&BPF_X != 0 {
				reads |= armUseX
			}
		}
	case BPF_RET:
		if ins.Code&0x18 == BPF_A {
			reads = armUseA
		}
	case BPF_MISC:
		if ins.Code == BPF_MISC|BPF_TAX {
			reads, writes = armUseA, armUseX
		} else {
			reads, writes = armUseX, armUseA
		}
	}
	return reads, writes, true
}

// insn emits instruction i; false for an opcode it does not translate.
func (g *armGen) insn(i int) bool {
	ins := g.prog[i]
	k := ins.K
	switch ins.Code {
	case BPF_RET | BPF_K:
		g.movConst(armAL, armA, k)
		g.bx(armAL)
	case BPF_RET | BPF_A:
		g.bx(armAL)

	case BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS:
		if !g.check(i) {
			return true
		}
		g.load(uint32(ins.Code&0x18), armA, armP, k)
	case BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND:
		end, ok := g.loadEnd(ins)
		if !ok {
			g.branch(armAL, armRet0)
			return true
		}
		// T0 = buflen - (k+size); fail on a borrow or when T0 < X.
		// Skipped when an earlier load with this X reached as far.
		if end > g.knownX[i] {
			if op2, ok := armImmOK(uint32(end)); ok {
				g.dp(armAL, armSUB, true, armL, armT0, op2)
			} else {
				g.movConst(armAL, armIP, uint32(end))
				g.dp(armAL, armSUB, true, armL, armT0, armReg(armIP))
			}
			g.dp(armHS, armCMP, true, armT0, 0, armReg(armX))
			g.branch(armLO, armRet0)
		}
		if k == 0 {
			g.loadReg(uint32(ins.Code&0x18), armA, armP, armX)
		} else {
			g.dp(armAL, armADD, false, armP, armT1, armReg(armX))
			g.load(uint32(ins.Code&0x18), armA, armT1, k)
		}
	case BPF_LDX | BPF_B | BPF_MSH:
		if !g.check(i) {
			return true
		}
		g.load(BPF_B, armT0, armP, k)
		g.dp(armAL, armAND, false, armT0, armT0, armImm(0xf))
		g.dp(armAL, armMOV, false, 0, armX, armShift(armT0, armLSL, 2))
	case BPF_LD | BPF_W | BPF_LEN:
		g.dp(armAL, armMOV, false, 0, armA, armReg(armW))
	case BPF_LDX | BPF_W | BPF_LEN:
		g.dp(armAL, armMOV, false, 0, armX, armReg(armW))
	case BPF_LD | BPF_IMM:
		g.movConst(armAL, armA, k)
	case BPF_LDX | BPF_IMM:
		g.movConst(armAL, armX, k)
	case BPF_LD | BPF_MEM:
		g.mem(false, armA, k)
	case BPF_LDX | BPF_MEM:
		g.mem(false, armX, k)
	case BPF_ST:
		g.mem(true, armA, k)
	case BPF_STX:
		g.mem(true, armX, k)

	case BPF_JMP | BPF_JA:
		if k != 0 {
			g.branch(armAL, i+1+int(k))
		}
	case BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGE | BPF_K, BPF_JMP | BPF_JSET | BPF_K,
		BPF_JMP | BPF_JEQ | BPF_X, BPF_JMP | BPF_JGT | BPF_X, BPF_JMP | BPF_JGE | BPF_X, BPF_JMP | BPF_JSET | BPF_X:
		g.jump(i)

	case BPF_ALU | BPF_ADD | BPF_K:
		g.addK(armADD, armSUB, k)
	case BPF_ALU | BPF_SUB | BPF_K:
		g.addK(armSUB, armADD, k)
	case BPF_ALU | BPF_AND | BPF_K:
		switch op2, ok := armImmOK(k); {
		case k == armTop:
		case ok:
			g.dp(armAL, armAND, false, armA, armA, op2)
		default:
			if op2, ok := armImmOK(^k); ok {
				g.dp(armAL, armBIC, false, armA, armA, op2)
			} else {
				g.aluConst(armAND, k)
			}
		}
	case BPF_ALU | BPF_OR | BPF_K:
		if k != 0 {
			g.aluConst(armORR, k)
		}
	case BPF_ALU | BPF_XOR | BPF_K:
		if k != 0 {
			g.aluConst(armEOR, k)
		}
	case BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_RSH | BPF_K:
		sh := uint32(armLSL)
		if ins.Code&0xf0 == BPF_RSH {
			sh = armLSR
		}
		switch {
		case k == 0:
		case k >= 32: // Go and the interpreter give 0
			g.dp(armAL, armMOV, false, 0, armA, armImm(0))
		default:
			g.dp(armAL, armMOV, false, 0, armA, armShift(armA, sh, k))
		}
	case BPF_ALU | BPF_MUL | BPF_K:
		switch {
		case k == 0:
			g.dp(armAL, armMOV, false, 0, armA, armImm(0))
		case k&(k-1) == 0:
			if s := uint32(bits.TrailingZeros32(k)); s != 0 {
				g.dp(armAL, armMOV, false, 0, armA, armShift(armA, armLSL, s))
			}
		default:
			g.movConst(armAL, armIP, k)
			g.mul(armA, armA, armIP)
		}
	case BPF_ALU | BPF_DIV | BPF_K:
		switch {
		case k == 0:
			g.branch(armAL, armRet0) // rejected by Validate; the interpreter gives 0
		case k&(k-1) == 0:
			if s := uint32(bits.TrailingZeros32(k)); s != 0 {
				g.dp(armAL, armMOV, false, 0, armA, armShift(armA, armLSR, s))
			}
		case !armHasUDIV:
			return false
		default:
			g.movConst(armAL, armIP, k)
			g.udiv(armA, armA, armIP)
		}
	case BPF_ALU | BPF_MOD | BPF_K:
		switch {
		case k == 0:
			g.branch(armAL, armRet0)
		case k&(k-1) == 0:
			g.aluConst(armAND, k-1) // k == 1: A & 0
		case !armHasUDIV:
			return false
		default:
			g.movConst(armAL, armIP, k)
			g.udiv(armT0, armA, armIP)
			g.mls(armA, armT0, armIP, armA)
		}

	case BPF_ALU | BPF_ADD | BPF_X:
		g.dp(armAL, armADD, false, armA, armA, armReg(armX))
	case BPF_ALU | BPF_SUB | BPF_X:
		g.dp(armAL, armSUB, false, armA, armA, armReg(armX))
	case BPF_ALU | BPF_MUL | BPF_X:
		g.mul(armA, armA, armX)
	case BPF_ALU | BPF_DIV | BPF_X, BPF_ALU | BPF_MOD | BPF_X:
		if !armHasUDIV {
			return false
		}
		g.dp(armAL, armCMP, true, armX, 0, armImm(0))
		g.branch(armEQ, armRet0)
		if ins.Code&0xf0 == BPF_DIV {
			g.udiv(armA, armA, armX)
		} else {
			g.udiv(armT0, armA, armX)
			g.mls(armA, armT0, armX, armA)
		}
	case BPF_ALU | BPF_AND | BPF_X:
		g.dp(armAL, armAND, false, armA, armA, armReg(armX))
	case BPF_ALU | BPF_OR | BPF_X:
		g.dp(armAL, armORR, false, armA, armA, armReg(armX))
	case BPF_ALU | BPF_XOR | BPF_X:
		g.dp(armAL, armEOR, false, armA, armA, armReg(armX))
	case BPF_ALU | BPF_LSH | BPF_X, BPF_ALU | BPF_RSH | BPF_X:
		// A shift by register uses the low byte of X, so 256 would
		// shift by 0: anything >= 32 gives 0 explicitly.
		sh := uint32(armLSL)
		if ins.Code&0xf0 == BPF_RSH {
			sh = armLSR
		}
		g.dp(armAL, armCMP, true, armX, 0, armImm(32))
		g.dp(armHS, armMOV, false, 0, armA, armImm(0))
		g.dp(armLO, armMOV, false, 0, armA, armShiftReg(armA, sh, armX))
	case BPF_ALU | BPF_NEG:
		g.dp(armAL, armRSB, false, armA, armA, armImm(0))

	case BPF_MISC | BPF_TAX:
		g.dp(armAL, armMOV, false, 0, armX, armReg(armA))
	case BPF_MISC | BPF_TXA:
		g.dp(armAL, armMOV, false, 0, armA, armReg(armX))
	default:
		return false
	}
	return true
}

// check emits the bounds check of the absolute load (or MSH) at i, unless
// every path into i has proven it already. It returns false when the load
// can never succeed; it then ends the path with "return 0".
func (g *armGen) check(i int) bool {
	end, ok := g.loadEnd(g.prog[i])
	if !ok {
		g.branch(armAL, armRet0)
		return false
	}
	if end <= g.known[i] {
		return true
	}
	g.cmpConst(armL, uint32(end), false)
	g.branch(armLO, armRet0)
	return true
}

// jump emits a conditional jump: a compare (none when both branches agree)
// and a branch to each target that is not the next instruction.
func (g *armGen) jump(i int) {
	ins := g.prog[i]
	t, f := i+1+int(ins.Jt), i+1+int(ins.Jf)
	if t == f {
		if t != i+1 {
			g.branch(armAL, t)
		}
		return
	}
	var cond uint32
	switch ins.Code &^ BPF_X {
	case BPF_JMP | BPF_JEQ:
		cond = armEQ
	case BPF_JMP | BPF_JGT:
		cond = armHI
	case BPF_JMP | BPF_JGE:
		cond = armHS
	case BPF_JMP | BPF_JSET:
		cond = armNE
	}
	set := ins.Code&0xf0 == BPF_JSET
	switch {
	case ins.Code&BPF_X != 0 && set:
		g.dp(armAL, armTST, true, armA, 0, armReg(armX))
	case ins.Code&BPF_X != 0:
		g.dp(armAL, armCMP, true, armA, 0, armReg(armX))
	case set:
		if op2, ok := armImmOK(ins.K); ok {
			g.dp(armAL, armTST, true, armA, 0, op2)
		} else {
			g.movConst(armAL, armIP, ins.K)
			g.dp(armAL, armTST, true, armA, 0, armReg(armIP))
		}
	default:
		g.cmpConst(armA, ins.K, cond == armEQ)
	}
	switch {
	case t == i+1:
		g.branch(cond^1, f) // condition codes pair up: cond^1 is its negation
	case f == i+1:
		g.branch(cond, t)
	default:
		g.branch(cond, t)
		g.branch(armAL, f)
	}
}

// addK emits A = A op k for ADD or SUB, using the opposite operation on -k
// when only that is an immediate.
func (g *armGen) addK(op, neg, k uint32) {
	if k == 0 {
		return
	}
	if op2, ok := armImmOK(k); ok {
		g.dp(armAL, op, false, armA, armA, op2)
	} else if op2, ok := armImmOK(-k); ok {
		g.dp(armAL, neg, false, armA, armA, op2)
	} else {
		g.movConst(armAL, armIP, k)
		g.dp(armAL, op, false, armA, armA, armReg(armIP))
	}
}

// aluConst emits A = A op k with an immediate when k has that form.
func (g *armGen) aluConst(op, k uint32) {
	if op2, ok := armImmOK(k); ok {
		g.dp(armAL, op, false, armA, armA, op2)
		return
	}
	g.movConst(armAL, armIP, k)
	g.dp(armAL, op, false, armA, armA, armReg(armIP))
}

// cmpConst sets the flags for r - v. CMN with -v gives the same Z but not
// the same C, so it is used only when eqOnly.
func (g *armGen) cmpConst(r, v uint32, eqOnly bool) {
	if op2, ok := armImmOK(v); ok {
		g.dp(armAL, armCMP, true, r, 0, op2)
	} else if op2, ok := armImmOK(-v); ok && eqOnly {
		g.dp(armAL, armCMN, true, r, 0, op2)
	} else {
		g.movConst(armAL, armIP, v)
		g.dp(armAL, armCMP, true, r, 0, armReg(armIP))
	}
}

// movConst loads a 32-bit constant: MOV or MVN of a rotated 8-bit
// immediate, else MOVW and, for the high half, MOVT (A8.8.102, A8.8.106).
func (g *armGen) movConst(cond, rd, v uint32) {
	if op2, ok := armImmOK(v); ok {
		g.dp(cond, armMOV, false, 0, rd, op2)
		return
	}
	if op2, ok := armImmOK(^v); ok {
		g.dp(cond, armMVN, false, 0, rd, op2)
		return
	}
	g.emit(cond<<28 | 0x03000000 | (v>>12&0xf)<<16 | rd<<12 | v&0xfff)
	if hi := v >> 16; hi != 0 {
		g.emit(cond<<28 | 0x03400000 | (hi>>12)<<16 | rd<<12 | hi&0xfff)
	}
}

// load emits rt = the big-endian word, halfword or byte at rn+k
// (size is BPF_W, BPF_H or BPF_B).
func (g *armGen) load(size, rt, rn, k uint32) {
	switch {
	case size == BPF_H && k < 256:
		g.emit(0xe1d000b0 | rn<<16 | rt<<12 | (k>>4)<<8 | k&0xf) // LDRH (immediate) A8.8.80
	case size != BPF_H && k < 4096:
		op := uint32(0xe5900000) // LDR (immediate) A8.8.63
		if size == BPF_B {
			op = 0xe5d00000 // LDRB (immediate) A8.8.68
		}
		g.emit(op | rn<<16 | rt<<12 | k)
		if size == BPF_W {
			g.rev(rt, false)
		}
		return
	default:
		g.movConst(armAL, armIP, k)
		g.loadReg(size, rt, rn, armIP)
		return
	}
	g.rev(rt, true)
}

// loadReg emits rt = the big-endian value at rn+rm.
func (g *armGen) loadReg(size, rt, rn, rm uint32) {
	switch size {
	case BPF_W:
		g.emit(0xe7900000 | rn<<16 | rt<<12 | rm) // LDR (register) A8.8.66
		g.rev(rt, false)
	case BPF_H:
		g.emit(0xe19000b0 | rn<<16 | rt<<12 | rm) // LDRH (register) A8.8.82
		g.rev(rt, true)
	default:
		g.emit(0xe7d00000 | rn<<16 | rt<<12 | rm) // LDRB (register) A8.8.72
	}
}

// rev byte-swaps r in place: REV (A8.8.145), or REV16 (A8.8.146), which
// swaps each halfword; the upper one of a loaded halfword is zero.
func (g *armGen) rev(r uint32, half bool) {
	if half {
		g.emit(0xe6bf0fb0 | r<<12 | r)
	} else {
		g.emit(0xe6bf0f30 | r<<12 | r)
	}
}

// mem emits a load from or store to M[k] (LDR/STR immediate off SP).
func (g *armGen) mem(store bool, r, k uint32) {
	op := uint32(0xe5900000) // LDR A8.8.63
	if store {
		op = 0xe5800000 // STR A8.8.204
	}
	g.emit(op | armSP<<16 | r<<12 | (armMemOff + 4*k))
}

func (g *armGen) mul(rd, rn, rm uint32) {
	g.emit(0xe0000090 | rd<<16 | rm<<8 | rn) // MUL A8.8.114
}

func (g *armGen) udiv(rd, rn, rm uint32) {
	g.emit(0xe730f010 | rd<<16 | rm<<8 | rn) // UDIV A8.8.248
}

// mls emits rd = ra - rn*rm (A8.8.101).
func (g *armGen) mls(rd, rn, rm, ra uint32) {
	g.emit(0xe0600090 | rd<<16 | ra<<12 | rm<<8 | rn)
}

func (g *armGen) bx(cond uint32) {
	g.emit(cond<<28 | 0x012fff10 | armLR) // BX LR A8.8.27
}

// branch emits B<cond> to a BPF instruction or armRet0; the offset is
// filled in once every instruction's address is known (A8.8.18).
func (g *armGen) branch(cond uint32, target int) {
	g.fix = append(g.fix, armFixup{at: len(g.code), target: target})
	g.emit(cond<<28 | 0x0a000000)
}

// dp emits a data-processing instruction (A5.2): op2 is armImm, armReg or
// armShift*'s encoding of the second operand; s sets the flags.
func (g *armGen) dp(cond, op uint32, s bool, rn, rd, op2 uint32) {
	w := cond<<28 | op<<21 | rn<<16 | rd<<12 | op2
	if s {
		w |= 1 << 20
	}
	g.emit(w)
}

func (g *armGen) emit(w uint32) { g.code = append(g.code, w) }

// armImmOK encodes v as a data-processing immediate, an 8-bit value rotated
// right by an even amount (A5.2.4), with the I bit set.
func armImmOK(v uint32) (uint32, bool) {
	for rot := uint32(0); rot < 16; rot++ {
		if x := bits.RotateLeft32(v, int(2*rot)); x < 256 {
			return 1<<25 | rot<<8 | x, true
		}
	}
	return 0, false
}

// armImm is armImmOK for constants known to fit.
func armImm(v uint32) uint32 {
	op2, ok := armImmOK(v)
	if !ok {
		panic("bpf: not an ARM immediate")
	}
	return op2
}

func armReg(rm uint32) uint32 { return rm }

// armShift is the operand "rm, LSL/LSR #n" for 0 < n < 32.
func armShift(rm, typ, n uint32) uint32 { return n<<7 | typ<<5 | rm }

// armShiftReg is the operand "rm, LSL/LSR rs".
func armShiftReg(rm, typ, rs uint32) uint32 { return rs<<8 | typ<<5 | 1<<4 | rm }
