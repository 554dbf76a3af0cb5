package bpf

import (
	"encoding/binary"
	"math/bits"

	"golang.org/x/sys/cpu"
)

// The amd64 code generator. Encodings are from the Intel 64 and IA-32
// Architectures Software Developer's Manual, volume 2; jit_amd64_test.go
// checks them against objdump when it is installed.
//
// Registers while the code runs (jitcall, jit_amd64.s, loads the inputs):
//
//	EAX  A (and the verdict: "ret a" is a bare RET)
//	ECX  X (CL is the shift count of "lsh x" and "rsh x")
//	RSI  packet base
//	RDI  buflen, zero-extended to 64 bits
//	R8D  wirelen
//	EDX, R9  scratch (DIV writes EDX)
//	RSP  jitcall's frame: M[k] is at x86MemOff+4*k(RSP)
//
// Every 32-bit write zero-extends into the full register, so RCX holds X
// as a 64-bit value too and X+k is formed in 64 bits, where it cannot wrap:
// an indexed load fails exactly when X+k+size > buflen, the interpreter's
// test. The code calls nothing and writes no memory but M[], so it needs no
// stack of its own; it never touches RBP, which keeps Go's frame-pointer
// chain intact for profilers and tracebacks.
//
// One BPF instruction becomes a short fixed sequence. A and X stay in
// registers; conditional jumps branch straight to their targets, laid out
// so that one of the two falls through whenever it can; jumps through "ja"
// and through tests whose branches agree are threaded at generation time
// and instructions no path reaches are left out. Jumps take the 2-byte
// rel8 form when the target is near and the rel32 form otherwise
// (resolved by iterating the layout), so every program up to maxOps
// instructions is reachable. Every failing check (a load past buflen,
// division by X == 0) jumps to one "return 0": the program's own final
// "ret #0" when it has one, as tcpdump's programs do.
//
// A forward pass over the program (jumps go only forward, so one pass in
// instruction order sees every path into an instruction before it) tracks
// for each instruction the least buflen every path into it has already
// checked. An absolute load inside that bound needs no check of its own; any
// other costs one CMP and one JB, which the CPU fuses. The same pass finds
// which of A, X and M[] some path reads before writing: only those are
// zeroed on entry, as the interpreter's zeroed state would give.

// x86HasMOVBE says whether MOVBE (load and byte-swap in one instruction)
// exists; without it a word load is MOV then BSWAP. A variable so that the
// tests can take the other path.
var x86HasMOVBE = cpu.X86.HasMOVBE

// Register numbers as the ModRM and REX fields encode them.
const (
	x86AX  = 0
	x86CX  = 1
	x86DX  = 2
	x86SP  = 4
	x86BP  = 5
	x86SI  = 6
	x86DI  = 7
	x86R8  = 8
	x86R9  = 9
	x86R10 = 10
	x86R11 = 11
	x86Non = -1 // no index register
)

// Roles.
const (
	x86A    = x86AX
	x86X    = x86CX
	x86T    = x86DX
	x86T2   = x86R9
	x86Base = x86SI
	x86Len  = x86DI
	x86Wire = x86R8
	x86Acc  = x86R10 // a chain's "every test so far passed" (see chainable)
	x86Cur  = x86R11 // the current test's outcome in a chain
)

// x86MemOff is where M[0] lies above RSP while the code runs: the CALL in
// jitcall pushed the return address on top of its 64 bytes of locals.
const x86MemOff = 8

// Condition codes (the low nibble of Jcc and CMOVcc).
const (
	x86B  = 0x2 // unsigned <
	x86AE = 0x3 // unsigned >=
	x86E  = 0x4
	x86NE = 0x5
	x86BE = 0x6 // unsigned <=
	x86A_ = 0x7 // unsigned >
)

// Group-1 ALU operations (the /digit of opcodes 0x81 and 0x83; the same
// value times 8, plus 1, is the "op r/m32, r32" opcode).
const (
	x86ADD = 0
	x86OR  = 1
	x86AND = 4
	x86SUB = 5
	x86XOR = 6
	x86CMP = 7
)

// Labels a jump can target: a BPF instruction index, or x86Fail.
const x86Fail = -1

// A fragment of the output: bytes, or a jump whose size is settled by
// layout.
type x86Frag struct {
	raw    []byte
	jump   bool
	cond   int // condition code, or -1 for JMP
	target int // instruction index or x86Fail
	long   bool
}

// x86State is what the forward pass knows on entry to an instruction.
type x86State struct {
	reached bool
	visited bool   // the forward pass has reached it from a predecessor
	known   uint64 // every path has checked buflen >= known
	written uint32 // bits 0-15 M[k], 16 A, 17 X: written on every path
}

const (
	x86BitA = 1 << 16
	x86BitX = 1 << 17
)

type x86Gen struct {
	prog  []Insn
	movbe bool
	state []x86State
	bound []uint32    // buflen an absolute load checks, 0 for none
	zero  uint32      // A, X and M[] words to clear on entry (x86Bit*)
	fail  int         // label of the shared "return 0"
	preds []int       // per instruction, how many instructions lead to it
	chain int         // the fail target of the test chain being emitted, -1 for none
	frags [][]x86Frag // per instruction, then the failure stub
	cur   []x86Frag   // the block being emitted
	buf   []byte      // its trailing bytes
}

func jitEmit(prog []Insn) ([]byte, bool) {
	return x86Emit(prog, x86HasMOVBE)
}

// jitcall and run are in jit_amd64.s.
//
//go:noescape
func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32

//go:noescape
func run(p *Program, pkt []byte, wirelen uint32) uint32

// jitSync has nothing to do: x86 keeps instruction fetch coherent with
// stores, and the code was written before its pages became executable.
func jitSync(start, n uintptr) {}

// x86Emit generates the code for a validated program.
func x86Emit(prog []Insn, movbe bool) ([]byte, bool) {
	n := len(prog)
	if n == 0 || n > maxOps {
		return nil, false
	}
	g := &x86Gen{prog: prog, movbe: movbe, state: make([]x86State, n), fail: x86Fail, chain: -1}
	if last := prog[n-1]; last.Code == BPF_RET|BPF_K && last.K == 0 {
		g.fail = n - 1
	}
	g.analyse()
	if g.fail >= 0 {
		g.state[g.fail].reached = true // the failure paths lead there
	}
	g.preds = make([]int, n)
	var succ [2]int
	for i := range prog {
		if g.state[i].reached {
			for _, t := range g.successors(i, &succ) {
				g.preds[t]++
			}
		}
	}

	// Entry: clear what some path reads before writing.
	g.frags = make([][]x86Frag, n+1)
	if g.zero&x86BitA != 0 {
		g.aluRR(x86XOR, x86A, x86A)
	}
	if g.zero&x86BitX != 0 {
		g.aluRR(x86XOR, x86X, x86X)
	}
	if m := g.zero & 0xffff; m != 0 {
		g.aluRR(x86XOR, x86T, x86T)
		for k := 0; k < BPF_MEMWORDS; k++ {
			switch {
			case m>>k&3 == 3 && k%2 == 0:
				g.memOp(0x89, true, x86T, x86SP, x86Non, int32(x86MemOff+4*k)) // 8-byte store
				k++
			case m>>k&1 == 1:
				g.memOp(0x89, false, x86T, x86SP, x86Non, int32(x86MemOff+4*k))
			}
		}
	}
	entry := g.flush()

	for i := range prog {
		if !g.state[i].reached {
			continue
		}
		g.insn(i)
		g.frags[i] = g.flush()
	}
	if g.fail == x86Fail {
		g.aluRR(x86XOR, x86A, x86A)
		g.byte1(0xc3)
		g.frags[n] = g.flush()
	}
	return g.layout(entry), true
}

// successors lists where control goes after instruction i (threaded),
// leaving out the shared failure exit.
func (g *x86Gen) successors(i int, buf *[2]int) []int {
	ins := g.prog[i]
	switch {
	case ins.Class() == BPF_RET:
		return buf[:0]
	case ins.Code == BPF_JMP|BPF_JA:
		buf[0] = g.thread(i + 1 + int(ins.K))
		return buf[:1]
	case ins.Class() == BPF_JMP:
		buf[0] = g.thread(i + 1 + int(ins.Jt))
		buf[1] = g.thread(i + 1 + int(ins.Jf))
		if buf[0] == buf[1] {
			return buf[:1]
		}
		return buf[:2]
	}
	if end, ok := g.loadEnd(ins); ok && end > 0xffffffff {
		return buf[:0] // can never be in bounds
	}
	buf[0] = i + 1
	return buf[:1]
}

// thread follows t through instructions that change nothing and choose
// nothing: "ja" and tests whose two branches agree.
func (g *x86Gen) thread(t int) int {
	return threadJump(g.prog, t)
}

// loadEnd returns k+size for a packet load (absolute, indexed or MSH): the
// least buflen it needs, computed in 64 bits.
func (g *x86Gen) loadEnd(ins Insn) (uint64, bool) {
	size := packetLoadSize(ins.Code)
	if size == 0 {
		return 0, false
	}
	return uint64(ins.K) + size, true
}

// analyse finds the reachable instructions, the bound each load's check
// tests (bound), and, in a forward pass, the buflen every path into an
// instruction has checked and the registers and scratch words written on
// every path.
func (g *x86Gen) analyse() {
	n := len(g.prog)
	var buf [2]int
	g.state[0].reached = true
	for i := range g.prog {
		if g.state[i].reached {
			for _, s := range g.successors(i, &buf) {
				g.state[s].reached = true
			}
		}
	}

	// need[i] is the least buflen below which every path from i ends
	// with verdict 0: it fails a load, or returns the constant 0. A
	// load may therefore test buflen against need[i] instead of its own
	// end: when that fails the program could only have returned 0. One
	// check at the first load then covers the loads after it on every
	// path ("ldh [12]" checks for the "ld [26]" that follows).
	const never = 1 << 40 // every path returns 0 whatever buflen is
	need := make([]uint64, n)
	for i := n - 1; i >= 0; i-- {
		ins := g.prog[i]
		if !g.state[i].reached {
			continue
		}
		switch {
		case ins.Code == BPF_RET|BPF_K && ins.K == 0:
			need[i] = never
			continue
		case ins.Class() == BPF_RET:
			continue // 0
		}
		m := uint64(never) // no successors: the load always fails
		for _, s := range g.successors(i, &buf) {
			m = min(m, need[s])
		}
		if end, ok := g.loadEnd(ins); ok {
			m = max(m, end)
		}
		need[i] = m
	}
	g.bound = make([]uint32, n)

	for i, ins := range g.prog {
		st := g.state[i]
		if !st.reached {
			continue
		}
		reads, writes := x86Uses(ins)
		g.zero |= reads &^ st.written
		st.written |= writes
		if end, ok := g.loadEnd(ins); ok && end <= 0xffffffff && ins.Code&0xe0 != BPF_IND {
			if st.known < end {
				// This load checks; past it buflen >= need[i].
				g.bound[i] = uint32(min(need[i], 0xffffffff))
				st.known = uint64(g.bound[i])
			}
		}
		for _, s := range g.successors(i, &buf) {
			to := &g.state[s]
			if !to.visited {
				to.visited, to.known, to.written = true, st.known, st.written
				continue
			}
			to.known = min(to.known, st.known)
			to.written &= st.written
		}
	}
}

// x86Uses returns the state an instruction reads and writes, as x86Bit*
// and scratch-word bits.
func x86Uses(ins Insn) (reads, writes uint32) {
	mem := uint32(1) << (ins.K & (BPF_MEMWORDS - 1))
	switch ins.Class() {
	case BPF_LD:
		switch ins.Code &^ 0x18 {
		case BPF_LD | BPF_IND:
			reads = x86BitX
		case BPF_LD | BPF_MEM:
			reads = mem
		}
		return reads, x86BitA
	case BPF_LDX:
		if ins.Code == BPF_LDX|BPF_W|BPF_MEM {
			reads = mem
		}
		return reads, x86BitX
	case BPF_ST:
		return x86BitA, mem
	case BPF_STX:
		return x86BitX, mem
	case BPF_ALU:
		reads = x86BitA
		if ins.Code&BPF_X != 0 && ins.Code != BPF_ALU|BPF_NEG {
			reads |= x86BitX
		}
		return reads, x86BitA
	case BPF_JMP:
		if ins.Code == BPF_JMP|BPF_JA {
			return 0, 0
		}
		reads = x86BitA
		if ins.Code&BPF_X != 0 {
			reads |= x86BitX
		}
		return reads, 0
	case BPF_RET:
		if ins.Code == BPF_RET|BPF_A {
			return x86BitA, 0
		}
		return 0, 0
	}
	// BPF_MISC
	if ins.Code == BPF_MISC|BPF_TAX {
		return x86BitA, x86BitX
	}
	return x86BitX, x86BitA
}

// next returns the instruction that follows i in the output: the next one
// emitted.
func (g *x86Gen) next(i int) int {
	for j := i + 1; j < len(g.prog); j++ {
		if g.state[j].reached {
			return j
		}
	}
	return len(g.prog)
}

// insn emits instruction i.
func (g *x86Gen) insn(i int) {
	ins := g.prog[i]
	k := ins.K
	switch ins.Code {
	case BPF_RET | BPF_K:
		g.movImm(x86A, k)
		g.byte1(0xc3)
	case BPF_RET | BPF_A:
		g.byte1(0xc3)

	case BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS:
		end, _ := g.loadEnd(ins)
		if end > 0xffffffff {
			g.jump(-1, g.fail)
			return
		}
		g.check(i)
		if k <= 0x7fffffff {
			g.load(ins.Code&0x18, x86A, x86Base, x86Non, int32(k))
		} else {
			g.movImm(x86T, k)
			g.load(ins.Code&0x18, x86A, x86Base, x86T, 0)
		}
	case BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND:
		end, _ := g.loadEnd(ins)
		if end > 0xffffffff {
			g.jump(-1, g.fail)
			return
		}
		if end <= 0x7fffffff {
			// RDX = X+k+size (64 bits: cannot wrap).
			g.memOp(0x8d, true, x86T, x86X, x86Non, int32(end))
			g.aluRR64(x86CMP, x86T, x86Len)
			g.jump(x86A_, g.fail)
			g.load(ins.Code&0x18, x86A, x86Base, x86X, int32(k))
		} else {
			// RDX = X+k, R9 = RDX+size.
			g.movImm(x86T, k)
			g.aluRR64(x86ADD, x86T, x86X)
			g.memOp(0x8d, true, x86T2, x86T, x86Non, int32(end-uint64(k)))
			g.aluRR64(x86CMP, x86T2, x86Len)
			g.jump(x86A_, g.fail)
			g.load(ins.Code&0x18, x86A, x86Base, x86T, 0)
		}
	case BPF_LDX | BPF_B | BPF_MSH:
		end, _ := g.loadEnd(ins)
		if end > 0xffffffff {
			g.jump(-1, g.fail)
			return
		}
		g.check(i)
		if k <= 0x7fffffff {
			g.load(BPF_B, x86X, x86Base, x86Non, int32(k))
		} else {
			g.movImm(x86T, k)
			g.load(BPF_B, x86X, x86Base, x86T, 0)
		}
		g.aluImm(x86AND, x86X, 0xf)
		g.shiftImm(4, x86X, 2)
	case BPF_LD | BPF_W | BPF_LEN:
		g.movRR(x86A, x86Wire)
	case BPF_LDX | BPF_W | BPF_LEN:
		g.movRR(x86X, x86Wire)
	case BPF_LD | BPF_IMM:
		g.movImm(x86A, k)
	case BPF_LDX | BPF_IMM:
		g.movImm(x86X, k)
	case BPF_LD | BPF_MEM:
		g.memOp(0x8b, false, x86A, x86SP, x86Non, int32(x86MemOff+4*(k&15)))
	case BPF_LDX | BPF_MEM:
		g.memOp(0x8b, false, x86X, x86SP, x86Non, int32(x86MemOff+4*(k&15)))
	case BPF_ST:
		g.memOp(0x89, false, x86A, x86SP, x86Non, int32(x86MemOff+4*(k&15)))
	case BPF_STX:
		g.memOp(0x89, false, x86X, x86SP, x86Non, int32(x86MemOff+4*(k&15)))

	case BPF_ALU | BPF_ADD | BPF_K:
		g.aluImm(x86ADD, x86A, k)
	case BPF_ALU | BPF_SUB | BPF_K:
		g.aluImm(x86SUB, x86A, k)
	case BPF_ALU | BPF_AND | BPF_K:
		g.aluImm(x86AND, x86A, k)
	case BPF_ALU | BPF_OR | BPF_K:
		g.aluImm(x86OR, x86A, k)
	case BPF_ALU | BPF_XOR | BPF_K:
		g.aluImm(x86XOR, x86A, k)
	case BPF_ALU | BPF_MUL | BPF_K:
		switch {
		case k == 0:
			g.aluRR(x86XOR, x86A, x86A)
		case k&(k-1) == 0:
			g.shiftImm(4, x86A, uint8(bits.TrailingZeros32(k)))
		default:
			// IMUL r32, r/m32, imm32: the low 32 bits of the
			// product are the same signed or unsigned.
			g.rex(false, x86A, x86Non, x86A)
			g.byte1(0x69)
			g.byte1(x86ModRM(3, x86A, x86A))
			g.imm32(k)
		}
	case BPF_ALU | BPF_DIV | BPF_K:
		if k&(k-1) == 0 { // validated: k != 0
			g.shiftImm(5, x86A, uint8(bits.TrailingZeros32(k)))
			break
		}
		g.movImm(x86T2, k)
		g.div(x86T2, false)
	case BPF_ALU | BPF_MOD | BPF_K:
		if k&(k-1) == 0 {
			g.aluImm(x86AND, x86A, k-1)
			break
		}
		g.movImm(x86T2, k)
		g.div(x86T2, true)
	case BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_RSH | BPF_K:
		ext := uint8(4)
		if ins.Code == BPF_ALU|BPF_RSH|BPF_K {
			ext = 5
		}
		switch {
		case k >= 32: // Go's shift, like the interpreter's: 0
			g.aluRR(x86XOR, x86A, x86A)
		case k > 0:
			g.shiftImm(ext, x86A, uint8(k))
		}
	case BPF_ALU | BPF_NEG:
		g.byte1(0xf7)
		g.byte1(x86ModRM(3, 3, x86A))

	case BPF_ALU | BPF_ADD | BPF_X:
		g.aluRR(x86ADD, x86A, x86X)
	case BPF_ALU | BPF_SUB | BPF_X:
		g.aluRR(x86SUB, x86A, x86X)
	case BPF_ALU | BPF_AND | BPF_X:
		g.aluRR(x86AND, x86A, x86X)
	case BPF_ALU | BPF_OR | BPF_X:
		g.aluRR(x86OR, x86A, x86X)
	case BPF_ALU | BPF_XOR | BPF_X:
		g.aluRR(x86XOR, x86A, x86X)
	case BPF_ALU | BPF_MUL | BPF_X:
		g.bytes(0x0f, 0xaf, x86ModRM(3, x86A, x86X)) // IMUL eax, ecx
	case BPF_ALU | BPF_DIV | BPF_X, BPF_ALU | BPF_MOD | BPF_X:
		g.aluRR(0x10, x86X, x86X) // TEST ecx, ecx (0x85)
		g.jump(x86E, g.fail)
		g.div(x86X, ins.Code == BPF_ALU|BPF_MOD|BPF_X)
	case BPF_ALU | BPF_LSH | BPF_X, BPF_ALU | BPF_RSH | BPF_X:
		// SHL/SHR by CL uses the count mod 32; Go's shift (the
		// interpreter's) gives 0 for any count >= 32.
		ext := byte(4)
		if ins.Code == BPF_ALU|BPF_RSH|BPF_X {
			ext = 5
		}
		g.bytes(0xd3, x86ModRM(3, int(ext), x86A))
		g.aluRR(x86XOR, x86T, x86T)
		g.cmpImm(x86X, 32)
		g.bytes(0x0f, 0x40|x86AE, x86ModRM(3, x86A, x86T)) // CMOVAE eax, edx

	case BPF_MISC | BPF_TAX:
		g.movRR(x86X, x86A)
	case BPF_MISC | BPF_TXA:
		g.movRR(x86A, x86X)

	case BPF_JMP | BPF_JA:
		g.branchTo(i, g.thread(i+1+int(k)))
	default: // conditional jumps
		jt, jf := g.thread(i+1+int(ins.Jt)), g.thread(i+1+int(ins.Jf))
		if jt == jf {
			g.branchTo(i, jt)
			return
		}
		cc := x86E
		switch ins.Code &^ BPF_X {
		case BPF_JMP | BPF_JGT:
			cc = x86A_
		case BPF_JMP | BPF_JGE:
			cc = x86AE
		case BPF_JMP | BPF_JSET:
			cc = x86NE
		}
		switch {
		case ins.Code&BPF_X != 0 && ins.Code&0xf0 == BPF_JSET:
			g.aluRR(0x10, x86A, x86X) // TEST eax, ecx
		case ins.Code&BPF_X != 0:
			g.aluRR(x86CMP, x86A, x86X)
		case ins.Code&0xf0 == BPF_JSET:
			g.testImm(k)
		case k == 0 && cc == x86E:
			g.aluRR(0x10, x86A, x86A) // TEST eax, eax
		default:
			g.cmpImm(x86A, k)
		}
		if ins.Code&BPF_X == 0 && g.chainTest(i, cc, jt, jf) {
			return
		}
		if g.prog[jt].Class() == BPF_RET && g.prog[jf].Class() == BPF_RET {
			g.selectRet(cc, g.prog[jt], g.prog[jf])
			return
		}
		next := g.next(i)
		switch {
		case jt == next:
			g.jump(cc^1, jf)
		case jf == next:
			g.jump(cc, jt)
		default:
			g.jump(cc, jt)
			g.jump(-1, jf)
		}
	}
}

// Test chains.
//
// tcpdump's filters are chains of tests that each reject to the same
// "ret" ("ldh [12]; jeq #0x800 ...; ldb [23]; jeq #17 ...; ldh [20]; jset
// #0x1fff ..."). On real traffic the early tests (which EtherType? which
// protocol?) are the branches the CPU predicts worst, and every one of them
// is a branch of its own. When the loads between the tests need no bounds
// check of their own (an earlier check covered them) the tests can all be
// evaluated: each SETcc records whether its test lets the packet on, an AND
// gathers them, and one branch (or a CMOV between two returns) decides. The
// loads are in bounds whatever the earlier tests say, and the fail target is
// a "ret #k", which does not read the A the skipped path would have left.

// chainFail returns the fail target of test i and the condition under
// which the packet goes on to the instruction after it, when one target
// is a "ret #k" and the other is i+1; ok is false otherwise.
func (g *x86Gen) chainFail(i, cc, jt, jf int) (fail, cont int, ok bool) {
	switch {
	case jt == i+1 && g.prog[jf].Code == BPF_RET|BPF_K:
		return jf, cc, true
	case jf == i+1 && g.prog[jt].Code == BPF_RET|BPF_K:
		return jt, cc ^ 1, true
	}
	return 0, 0, false
}

// chainable says whether test i (going on to i+1, failing to fail) can
// hand on to a chain: i+1 is an absolute load without a check of its own,
// then (after an optional "and #k") a test on a constant that also fails
// to fail, each reached only from the instruction before it.
func (g *x86Gen) chainable(i, fail int) bool {
	if i+2 >= len(g.prog) || g.preds[i+1] != 1 || g.preds[i+2] != 1 {
		return false
	}
	ld, ti := g.prog[i+1], i+2
	if g.prog[ti].Code == BPF_ALU|BPF_AND|BPF_K { // "ld [26]; and #0xfff00000; jeq ..."
		if ti++; ti >= len(g.prog) || g.preds[ti] != 1 {
			return false
		}
	}
	t := g.prog[ti]
	switch ld.Code {
	case BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS:
	default:
		return false
	}
	if end, _ := g.loadEnd(ld); end > 0x7fffffff || g.bound[i+1] != 0 {
		return false
	}
	if t.Class() != BPF_JMP || t.Code == BPF_JMP|BPF_JA || t.Code&BPF_X != 0 {
		return false
	}
	jt, jf := g.thread(ti+1+int(t.Jt)), g.thread(ti+1+int(t.Jf))
	return jt != jf && (jt == fail || jf == fail)
}

// chainTest emits test i (its flags already set, cc the condition of its
// true branch) as part of a chain when it starts, continues or ends one,
// and reports whether it did.
func (g *x86Gen) chainTest(i, cc, jt, jf int) bool {
	fail, cont, ok := g.chainFail(i, cc, jt, jf)
	if g.chain < 0 {
		if !ok || !g.chainable(i, fail) {
			return false
		}
		g.setcc(cont, x86Acc)
		g.chain = fail
		return true
	}
	// Inside a chain (chainable made sure this test fails to its target).
	fail = g.chain
	other, goes := jt, cc // the target that is not fail, and when it is taken
	if jt == fail {
		other, goes = jf, cc^1
	}
	g.setcc(goes, x86Cur)
	g.bytes(0x45, 0x20, x86ModRM(3, x86Cur, x86Acc)) // AND r10b, r11b: ZF = some test failed
	if other == i+1 && g.chainable(i, fail) {
		return true
	}
	g.chain = -1
	if g.prog[other].Class() == BPF_RET {
		g.selectRet(x86NE, g.prog[other], g.prog[fail])
		return true
	}
	g.jump(x86E, fail)
	g.branchTo(i, other)
	return true
}

// setcc sets the low byte of r (R8-R15) to the condition cc.
func (g *x86Gen) setcc(cc, r int) {
	g.bytes(0x41, 0x0f, 0x90|byte(cc), x86ModRM(3, 0, r))
}

// check emits the bounds check of absolute load i, if it has one.
func (g *x86Gen) check(i int) {
	if b := g.bound[i]; b != 0 {
		g.cmpImm(x86Len, b)
		g.jump(x86B, g.fail)
	}
}

// selectRet ends the program with the verdict of ret instruction t when
// the flags say cc, else that of f: a conditional move, not a branch. The
// last test of a filter decides between accepting and rejecting, which on
// real traffic is the branch the CPU predicts worst; a mispredicted branch
// costs far more than the two moves.
func (g *x86Gen) selectRet(cc int, t, f Insn) {
	// EDX = the taken verdict; EAX = the other. MOV leaves the flags.
	if t.Code == BPF_RET|BPF_A {
		g.movRR(x86T, x86A)
	} else {
		g.movImmFlags(x86T, t.K)
	}
	if f.Code == BPF_RET|BPF_K {
		g.movImmFlags(x86A, f.K)
	}
	g.bytes(0x0f, 0x40|byte(cc), x86ModRM(3, x86A, x86T)) // CMOVcc eax, edx
	g.byte1(0xc3)
}

// branchTo jumps from the end of instruction i to t, unless t follows.
func (g *x86Gen) branchTo(i, t int) {
	if t != g.next(i) {
		g.jump(-1, t)
	}
}

// div divides EDX:EAX (EDX cleared) by r; A takes the quotient or, for
// mod, the remainder.
func (g *x86Gen) div(r int, mod bool) {
	g.aluRR(x86XOR, x86T, x86T)
	g.rex(false, 0, x86Non, r)
	g.bytes(0xf7, x86ModRM(3, 6, r))
	if mod {
		g.movRR(x86A, x86T)
	}
}

// load reads a big-endian word, halfword or byte at [base+index+disp] into
// r, zero-extended.
func (g *x86Gen) load(size uint16, r, base, index int, disp int32) {
	switch size {
	case BPF_W:
		if g.movbe {
			g.memOp2(0x0f38f0, 3, false, r, base, index, disp)
			return
		}
		g.memOp(0x8b, false, r, base, index, disp)
		g.rex(false, 0, x86Non, r)
		g.bytes(0x0f, 0xc8|byte(r&7)) // BSWAP
	case BPF_H:
		g.memOp2(0x0fb7, 2, false, r, base, index, disp) // MOVZX r32, m16
		// ROL r16, 8 swaps the two bytes; the upper half stays 0.
		g.byte1(0x66)
		g.rex(false, 0, x86Non, r)
		g.bytes(0xc1, x86ModRM(3, 0, r), 8)
	default:
		g.memOp2(0x0fb6, 2, false, r, base, index, disp) // MOVZX r32, m8
	}
}

// Encoding helpers.

func x86ModRM(mod, reg, rm int) byte { return byte(mod<<6 | (reg&7)<<3 | rm&7) }

func (g *x86Gen) byte1(b byte)    { g.buf = append(g.buf, b) }
func (g *x86Gen) bytes(b ...byte) { g.buf = append(g.buf, b...) }
func (g *x86Gen) imm32(v uint32)  { g.buf = binary.LittleEndian.AppendUint32(g.buf, v) }

// x86Fits8 says whether v survives as a sign-extended imm8.
func x86Fits8(v uint32) bool { return int32(v) >= -128 && int32(v) <= 127 }

// flush ends the current block and returns it.
func (g *x86Gen) flush() []x86Frag {
	g.pushRaw()
	f := g.cur
	g.cur = nil
	return f
}

// pushRaw moves pending bytes into a fragment of the current block.
func (g *x86Gen) pushRaw() {
	if len(g.buf) > 0 {
		g.cur = append(g.cur, x86Frag{raw: g.buf})
		g.buf = nil
	}
}

// rex emits a REX prefix when one is needed: 64-bit operand size or an
// extended register in the reg, index or rm/base field.
func (g *x86Gen) rex(w bool, reg, index, rm int) {
	var b byte
	if w {
		b |= 8
	}
	if reg >= 8 {
		b |= 4
	}
	if index >= 8 {
		b |= 2
	}
	if rm >= 8 {
		b |= 1
	}
	if b != 0 {
		g.byte1(0x40 | b)
	}
}

// movRR: MOV dst32, src32.
func (g *x86Gen) movRR(dst, src int) {
	g.rex(false, src, x86Non, dst)
	g.bytes(0x89, x86ModRM(3, src, dst))
}

// movImm: MOV r32, imm32 (XOR for 0, which is shorter and breaks the
// dependency; it clobbers the flags, which no caller holds across it).
func (g *x86Gen) movImm(r int, v uint32) {
	if v == 0 {
		g.aluRR(x86XOR, r, r)
		return
	}
	g.rex(false, 0, x86Non, r)
	g.byte1(0xb8 | byte(r&7))
	g.imm32(v)
}

// movImmFlags is movImm that leaves the flags as they are (no XOR for 0).
func (g *x86Gen) movImmFlags(r int, v uint32) {
	g.rex(false, 0, x86Non, r)
	g.byte1(0xb8 | byte(r&7))
	g.imm32(v)
}

// aluRR: op dst32, src32 for the group-1 operations; op 0x10 is TEST.
func (g *x86Gen) aluRR(op, dst, src int) {
	g.rex(false, src, x86Non, dst)
	opc := byte(op<<3 | 1)
	if op == 0x10 {
		opc = 0x85
	}
	g.bytes(opc, x86ModRM(3, src, dst))
}

// aluRR64 is aluRR with 64-bit operands.
func (g *x86Gen) aluRR64(op, dst, src int) {
	g.rex(true, src, x86Non, dst)
	g.bytes(byte(op<<3|1), x86ModRM(3, src, dst))
}

// aluImm: op r32, imm (sign-extended imm8 when it fits).
func (g *x86Gen) aluImm(op, r int, v uint32) {
	g.rex(false, 0, x86Non, r)
	switch {
	case x86Fits8(v):
		g.bytes(0x83, x86ModRM(3, op, r), byte(v))
	case r == x86AX:
		g.byte1(byte(op<<3 | 5))
		g.imm32(v)
	default:
		g.bytes(0x81, x86ModRM(3, op, r))
		g.imm32(v)
	}
}

func (g *x86Gen) cmpImm(r int, v uint32) { g.aluImm(x86CMP, r, v) }

// testImm: TEST eax, imm (TEST al, imm8 when the mask fits in the low
// byte: A&k only sees those bits then).
func (g *x86Gen) testImm(v uint32) {
	if v <= 0xff {
		g.bytes(0xa8, byte(v))
		return
	}
	g.byte1(0xa9)
	g.imm32(v)
}

// shiftImm: SHL (ext 4) or SHR (ext 5) r32 by n, 0 < n < 32.
func (g *x86Gen) shiftImm(ext byte, r int, n uint8) {
	if n == 0 {
		return
	}
	g.rex(false, 0, x86Non, r)
	g.bytes(0xc1, x86ModRM(3, int(ext), r), n)
}

// memOp emits a one-byte opcode with a memory operand [base+index+disp].
func (g *x86Gen) memOp(opc byte, w bool, reg, base, index int, disp int32) {
	g.rex(w, reg, index, base)
	g.byte1(opc)
	g.modrmMem(reg, base, index, disp)
}

// memOp2 is memOp for an opcode of n bytes (0x0f-escaped), given as one
// big-endian integer.
func (g *x86Gen) memOp2(opc uint32, n int, w bool, reg, base, index int, disp int32) {
	g.rex(w, reg, index, base)
	for i := n - 1; i >= 0; i-- {
		g.byte1(byte(opc >> (8 * i)))
	}
	g.modrmMem(reg, base, index, disp)
}

// modrmMem encodes [base+index+disp]: a SIB byte when there is an index or
// the base is RSP/R12, an explicit displacement when it is not 0 or the
// base is RBP/R13.
func (g *x86Gen) modrmMem(reg, base, index int, disp int32) {
	mod := 2
	switch {
	case disp == 0 && base&7 != x86BP:
		mod = 0
	case disp >= -128 && disp <= 127:
		mod = 1
	}
	if index == x86Non && base&7 != x86SP {
		g.byte1(x86ModRM(mod, reg, base))
	} else {
		idx := 4 // none
		if index != x86Non {
			idx = index & 7
		}
		g.byte1(x86ModRM(mod, reg, 4))
		g.byte1(byte(idx<<3 | base&7))
	}
	switch mod {
	case 1:
		g.byte1(byte(disp))
	case 2:
		g.imm32(uint32(disp))
	}
}

// jump adds a conditional jump on cc (-1: JMP) to label t.
func (g *x86Gen) jump(cc, t int) {
	g.pushRaw()
	g.cur = append(g.cur, x86Frag{jump: true, cond: cc, target: t})
}

func (f *x86Frag) size() int {
	switch {
	case !f.jump:
		return len(f.raw)
	case !f.long:
		return 2
	case f.cond < 0:
		return 5
	}
	return 6
}

// layout places the fragments, widening every jump whose target is out of
// rel8 reach until none is (widening only lengthens the code, so this ends),
// and writes the code.
func (g *x86Gen) layout(entry []x86Frag) []byte {
	n := len(g.prog)
	blocks := append([][]x86Frag{entry}, g.frags...) // block b+1 is label b
	label := make([]int, n+1)
	for {
		pos := 0
		for b, blk := range blocks {
			if b > 0 {
				label[b-1] = pos
			}
			for j := range blk {
				pos += blk[j].size()
			}
		}
		grew := false
		pos = 0
		for _, blk := range blocks {
			for j := range blk {
				f := &blk[j]
				pos += f.size()
				if f.jump && !f.long {
					if d := label[g.labelIndex(f.target)] - pos; d < -128 || d > 127 {
						f.long, grew = true, true
					}
				}
			}
		}
		if !grew {
			break
		}
	}
	var code []byte
	for _, blk := range blocks {
		for j := range blk {
			f := &blk[j]
			if !f.jump {
				code = append(code, f.raw...)
				continue
			}
			to := label[g.labelIndex(f.target)]
			switch {
			case !f.long && f.cond < 0:
				code = append(code, 0xeb, byte(to-len(code)-2))
			case !f.long:
				code = append(code, 0x70|byte(f.cond), byte(to-len(code)-2))
			case f.cond < 0:
				code = append(code, 0xe9)
				code = binary.LittleEndian.AppendUint32(code, uint32(to-len(code)-4))
			default:
				code = append(code, 0x0f, 0x80|byte(f.cond))
				code = binary.LittleEndian.AppendUint32(code, uint32(to-len(code)-4))
			}
		}
	}
	return code
}

func (g *x86Gen) labelIndex(t int) int {
	if t == x86Fail {
		return len(g.prog)
	}
	return t
}
