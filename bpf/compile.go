package bpf

import (
	"fmt"
	"math"
	"unsafe"
)

// maxOps is the longest program Compile accepts: jump targets are 16-bit.
// It is far above any realistic net.bpf.maxinsns.
const maxOps = math.MaxUint16

// maxCases bounds how many "jeq" tests one multi-way op evaluates. Every
// case costs a compare and a conditional move whichever case matches, so a
// long chain is better left to separate ops that stop at the first match.
const maxCases = 6

// The compiled form.
//
// Compile translates a validated program once into a flat array of ops that
// Run walks with one dense switch (which the Go compiler turns into a jump
// table). The cost that matters per packet is the number of dispatches (an
// indirect jump whose target depends on packet data), so Compile folds as
// many instructions as it can into each op:
//
//   - jump targets are absolute op indexes, resolved once;
//   - a conditional jump on a constant absorbs the packet load (or
//     "ld #pktlen") before it and an "and #m" between them ("ldh [14];
//     and #0xfff; jeq #100"): one op, one bounds check. Such a group is
//     formed only when no jump lands inside it, so every path sees the
//     same sequence of effects, and the fused op still leaves A as the
//     instructions would;
//   - a "jeq" whose false branch leads to more "jeq" tests of the same A
//     (tcpdump's "ldh [12]; jeq #0x800; ... jeq #0x86dd", or the three VLAN
//     EtherTypes) becomes one multi-way op whose first case is in the op
//     and the others in the op slots after it. The
//     later tests stay in the program as ops of their own only if some other
//     path still reaches them;
//   - jumps are threaded at compile time: a target that is an unconditional
//     "ja", a test whose two branches agree, or (on the true branch of an
//     equality, where A is known) a test whose outcome is therefore fixed,
//     is replaced by where it leads. Ops no path reaches are dropped;
//   - "ret #k" is recognised before dispatch, so a test whose branches lead
//     to returns ends the program without an indirect jump.
//
// Absolute loads whose offset+size cannot fit in 32 bits can never succeed;
// they compile to "return 0". That keeps every remaining bounds check a
// single 32-bit comparison that cannot overflow, on 32-bit ARM too.
type opcode uint8

const (
	opRetK opcode = iota
	opRetA

	opLdW // A = pkt[k:k+4]
	opLdH
	opLdB
	opLdIndW // A = pkt[x+k:...]
	opLdIndH
	opLdIndB
	opLdLen
	opLdxLen
	opLdxMsh
	opLdImm
	opLdxImm
	opLdMem
	opLdxMem
	opSt
	opStx

	opJa
	opJeqX
	opJgtX
	opJgeX
	opJsetX

	opAddK
	opSubK
	opMulK
	opDivK
	opModK
	opAndK
	opOrK
	opXorK
	opLshK
	opRshK
	opAddX
	opSubX
	opMulX
	opDivX
	opModX
	opAndX
	opOrX
	opXorX
	opLshX
	opRshX
	opNeg
	opTax
	opTxa

	// Tests on a constant, each preceded by an optional load (none for
	// A, then absolute and indexed loads of each size) and "and #m":
	// A = load(k) & m, then branch on A ? v (Eq, Gt, Ge, Set) or pick
	// among cases (Cases). A test with no load and no mask has m = ^0.
	// The order within a group of five is the one condOf and fused use.
	opAEq
	opAGt
	opAGe
	opASet
	opACases
	opWEq
	opWGt
	opWGe
	opWSet
	opWCases
	opHEq
	opHGt
	opHGe
	opHSet
	opHCases
	opBEq
	opBGt
	opBGe
	opBSet
	opBCases
	opIndWEq
	opIndWGt
	opIndWGe
	opIndWSet
	opIndWCases
	opIndHEq
	opIndHGt
	opIndHGe
	opIndHSet
	opIndHCases
	opIndBEq
	opIndBGt
	opIndBGe
	opIndBSet
	opIndBCases
	opLenEq // A = wirelen & m: "ld #pktlen; jgt #k" ("greater", "less")
	opLenGt
	opLenGe
	opLenSet
	opLenCases
)

// Conditions of the fused tests, in the order of their opcodes.
const (
	condEq = iota
	condGt
	condGe
	condSet
	condCases
	numConds
)

// op is one compiled step.
type op struct {
	code opcode
	// Absolute op indexes for jumps (opJa uses jt). Cases ops keep
	// their default target in jt, their first case in v and t0 (which
	// fills what would be padding) and the number of further cases,
	// held in the op slots that follow, in jf.
	jt, jf uint16
	t0     uint16
	k      uint32 // operand, or load offset of a fused test
	v      uint32 // constant of a fused test
	m      uint32 // mask of a fused test
}

// caseEntry is one "jeq #v" of a multi-way op and where it leads. In the
// compiled program each is an op slot right after its cases op (v in v, t in
// jt), never dispatched: the cases op always jumps past them.
type caseEntry struct {
	v uint32
	t uint16
}

// Program is a validated, compiled filter. It is immutable after Compile and
// safe for concurrent use by any number of goroutines: Run keeps all machine
// state in locals.
type Program struct {
	insns []Insn // the source program, as validated
	// ops never ends a path without a return, and every jump target is
	// an index into it (see Run).
	ops []op
	// native is the same program as machine code, when this platform
	// has a code generator (jit.go); Run prefers it.
	native native
}

// simple maps each legal opcode that compiles to one op of its own when it
// is not fused (the jumps on K always become fused tests).
var simple = map[uint16]opcode{
	BPF_RET | BPF_K:            opRetK,
	BPF_RET | BPF_A:            opRetA,
	BPF_LD | BPF_W | BPF_ABS:   opLdW,
	BPF_LD | BPF_H | BPF_ABS:   opLdH,
	BPF_LD | BPF_B | BPF_ABS:   opLdB,
	BPF_LD | BPF_W | BPF_IND:   opLdIndW,
	BPF_LD | BPF_H | BPF_IND:   opLdIndH,
	BPF_LD | BPF_B | BPF_IND:   opLdIndB,
	BPF_LD | BPF_W | BPF_LEN:   opLdLen,
	BPF_LDX | BPF_W | BPF_LEN:  opLdxLen,
	BPF_LDX | BPF_B | BPF_MSH:  opLdxMsh,
	BPF_LD | BPF_IMM:           opLdImm,
	BPF_LDX | BPF_IMM:          opLdxImm,
	BPF_LD | BPF_MEM:           opLdMem,
	BPF_LDX | BPF_MEM:          opLdxMem,
	BPF_ST:                     opSt,
	BPF_STX:                    opStx,
	BPF_JMP | BPF_JA:           opJa,
	BPF_JMP | BPF_JEQ | BPF_X:  opJeqX,
	BPF_JMP | BPF_JGT | BPF_X:  opJgtX,
	BPF_JMP | BPF_JGE | BPF_X:  opJgeX,
	BPF_JMP | BPF_JSET | BPF_X: opJsetX,
	BPF_ALU | BPF_ADD | BPF_K:  opAddK,
	BPF_ALU | BPF_SUB | BPF_K:  opSubK,
	BPF_ALU | BPF_MUL | BPF_K:  opMulK,
	BPF_ALU | BPF_DIV | BPF_K:  opDivK,
	BPF_ALU | BPF_MOD | BPF_K:  opModK,
	BPF_ALU | BPF_AND | BPF_K:  opAndK,
	BPF_ALU | BPF_OR | BPF_K:   opOrK,
	BPF_ALU | BPF_XOR | BPF_K:  opXorK,
	BPF_ALU | BPF_LSH | BPF_K:  opLshK,
	BPF_ALU | BPF_RSH | BPF_K:  opRshK,
	BPF_ALU | BPF_ADD | BPF_X:  opAddX,
	BPF_ALU | BPF_SUB | BPF_X:  opSubX,
	BPF_ALU | BPF_MUL | BPF_X:  opMulX,
	BPF_ALU | BPF_DIV | BPF_X:  opDivX,
	BPF_ALU | BPF_MOD | BPF_X:  opModX,
	BPF_ALU | BPF_AND | BPF_X:  opAndX,
	BPF_ALU | BPF_OR | BPF_X:   opOrX,
	BPF_ALU | BPF_XOR | BPF_X:  opXorX,
	BPF_ALU | BPF_LSH | BPF_X:  opLshX,
	BPF_ALU | BPF_RSH | BPF_X:  opRshX,
	BPF_ALU | BPF_NEG:          opNeg,
	BPF_MISC | BPF_TAX:         opTax,
	BPF_MISC | BPF_TXA:         opTxa,
}

// fusedBase gives the first opcode of the group of fused tests for each
// load; opAEq is the group with no load.
var fusedBase = map[uint16]opcode{
	BPF_LD | BPF_W | BPF_ABS: opWEq,
	BPF_LD | BPF_H | BPF_ABS: opHEq,
	BPF_LD | BPF_B | BPF_ABS: opBEq,
	BPF_LD | BPF_W | BPF_IND: opIndWEq,
	BPF_LD | BPF_H | BPF_IND: opIndHEq,
	BPF_LD | BPF_B | BPF_IND: opIndBEq,
	BPF_LD | BPF_W | BPF_LEN: opLenEq,
}

// condOf gives the condition of each conditional jump on K.
var condOf = map[uint16]opcode{
	BPF_JMP | BPF_JEQ | BPF_K:  condEq,
	BPF_JMP | BPF_JGT | BPF_K:  condGt,
	BPF_JMP | BPF_JGE | BPF_K:  condGe,
	BPF_JMP | BPF_JSET | BPF_K: condSet,
}

// loadSize is the width in bytes of each absolute load.
var loadSize = map[uint16]uint32{
	BPF_LD | BPF_W | BPF_ABS: 4,
	BPF_LD | BPF_H | BPF_ABS: 2,
	BPF_LD | BPF_B | BPF_ABS: 1,
}

// node is the op built for one instruction, with its targets still
// instruction indexes.
type node struct {
	o     op
	jumps bool        // jt and jf (or jt alone for opJa) are targets
	cases []caseEntry // targets of a cases op
}

// compiler holds the state of one Compile call.
type compiler struct {
	prog   []Insn
	target []bool // some jump of the source lands on this instruction
}

// Compile validates prog with Validate(prog, maxInsns) and translates it into
// the form Run executes: machine code where this platform has a code
// generator (see jit.go), the portable ops otherwise. The result copies
// prog; later changes to the caller's slice do not affect it. Validation
// errors wrap ErrInvalidProgram.
func Compile(prog []Insn, maxInsns int) (*Program, error) {
	p, err := CompilePortable(prog, maxInsns)
	if err == nil && len(p.ops) > 0 {
		attachNative(p)
	}
	return p, err
}

// CompilePortable is Compile without machine code: Run always walks the
// ops. It is FreeBSD's net.bpf.jitter.enable=0, and the reference the native
// code is tested against.
func CompilePortable(prog []Insn, maxInsns int) (*Program, error) {
	if err := Validate(prog, maxInsns); err != nil {
		return nil, err
	}
	p := &Program{insns: append([]Insn(nil), prog...)}
	if len(prog) == 0 {
		return p, nil
	}
	n := len(prog)
	if n > maxOps {
		return nil, &invalidError{index: -1, why: fmt.Sprintf("program has %d instructions; the compiled form holds at most %d", n, maxOps)}
	}
	c := &compiler{prog: p.insns, target: make([]bool, n)}
	for i, ins := range prog {
		if ins.Class() != BPF_JMP {
			continue
		}
		if ins.Code == BPF_JMP|BPF_JA {
			c.target[i+1+int(ins.K)] = true
		} else {
			c.target[i+1+int(ins.Jt)] = true
			c.target[i+1+int(ins.Jf)] = true
		}
	}

	// Build an op for every instruction some op can reach, from the
	// entry point on; threading and multi-way ops leave some unreached.
	nodes := make([]*node, n)
	work := []int{0}
	visit := func(t int) {
		if nodes[t] == nil {
			nodes[t] = &node{} // placeholder: queued
			work = append(work, t)
		}
	}
	nodes[0] = &node{}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		nd := c.build(i)
		nodes[i] = nd
		if nd.jumps {
			visit(int(nd.o.jt))
			if nd.o.code != opJa {
				visit(int(nd.o.jf))
			}
		}
		for _, e := range nd.cases {
			visit(int(e.t))
		}
		switch {
		case nd.cases != nil:
			visit(int(nd.o.jt)) // the default (the cases are above)
		case !nd.jumps && nd.o.code != opRetK && nd.o.code != opRetA:
			// Run falls through to the next op: it must be the
			// next instruction's.
			visit(i + 1)
		}
	}

	// Lay the reached ops out in source order and resolve targets.
	index := make([]uint16, n)
	slots := 0
	for i, nd := range nodes {
		if nd != nil {
			index[i] = uint16(slots)
			slots += max(1, len(nd.cases))
		}
	}
	if slots > maxOps {
		return nil, &invalidError{index: -1, why: fmt.Sprintf("program compiles to %d ops; the compiled form holds at most %d", slots, maxOps)}
	}
	p.ops = make([]op, slots)
	for i, nd := range nodes {
		if nd != nil {
			p.ops[index[i]] = nd.o
		}
	}
	for i, nd := range nodes {
		if nd == nil {
			continue
		}
		o := &p.ops[index[i]]
		switch {
		case nd.cases != nil:
			o.jt = index[o.jt]
			o.v, o.t0 = nd.cases[0].v, index[nd.cases[0].t]
			o.jf = uint16(len(nd.cases) - 1)
			for j, e := range nd.cases[1:] {
				p.ops[int(index[i])+1+j] = op{code: opRetK, v: e.v, jt: index[e.t]}
			}
		case nd.jumps:
			o.jt = index[o.jt]
			o.jf = index[o.jf]
		}
	}
	return p, nil
}

// build compiles the instructions starting at i into one op.
func (c *compiler) build(i int) *node {
	prog := c.prog
	n := len(prog)
	ins := prog[i]
	if size, ok := loadSize[ins.Code]; ok && ins.K > math.MaxUint32-size {
		return &node{o: op{code: opRetK, k: 0}} // can never be in bounds
	}
	fusible := func(j int) bool { return j < n && !c.target[j] }
	isAnd := func(j int) bool { return fusible(j) && prog[j].Code == BPF_ALU|BPF_AND|BPF_K }
	isCond := func(j int) bool {
		_, ok := condOf[prog[j].Code]
		return ok
	}
	if base, ok := fusedBase[ins.Code]; ok {
		switch {
		case isAnd(i+1) && fusible(i+2) && isCond(i+2):
			return c.test(base, ins.K, prog[i+1].K, i+2)
		case fusible(i+1) && isCond(i+1):
			return c.test(base, ins.K, math.MaxUint32, i+1)
		}
	}
	if ins.Code == BPF_ALU|BPF_AND|BPF_K && fusible(i+1) && isCond(i+1) {
		return c.test(opAEq, 0, ins.K, i+1)
	}
	if isCond(i) {
		return c.test(opAEq, 0, math.MaxUint32, i)
	}
	nd := &node{o: op{code: simple[ins.Code], k: ins.K}}
	switch {
	case ins.Code == BPF_JMP|BPF_JA:
		nd.jumps = true
		nd.o.jt = uint16(c.thread(i + 1 + int(ins.K)))
	case ins.Class() == BPF_JMP:
		nd.jumps = true
		nd.o.jt = uint16(c.thread(i + 1 + int(ins.Jt)))
		nd.o.jf = uint16(c.thread(i + 1 + int(ins.Jf)))
	}
	return nd
}

// test builds the fused test whose jump is instruction j: A = load(k) & m
// (base says which load, opAEq none), then the jump's condition. An
// equality whose false branch meets more equality tests becomes a cases op.
func (c *compiler) test(base opcode, k, m uint32, j int) *node {
	jmp := c.prog[j]
	cond := condOf[jmp.Code]
	jt, jf := j+1+int(jmp.Jt), j+1+int(jmp.Jf)
	nd := &node{o: op{k: k, m: m, v: jmp.K}, jumps: true}
	if cond != condEq {
		nd.o.code = base + cond
		nd.o.jt, nd.o.jf = uint16(c.thread(jt)), uint16(c.thread(jf))
		return nd
	}
	cases := []caseEntry{{v: jmp.K, t: uint16(c.known(jt, jmp.K))}}
	def := jf
chain:
	for {
		next := c.prog[def]
		if next.Code != BPF_JMP|BPF_JEQ|BPF_K {
			break
		}
		for _, e := range cases {
			if e.v == next.K { // A == next.K was ruled out already
				def += 1 + int(next.Jf)
				continue chain
			}
		}
		if len(cases) == maxCases {
			break
		}
		cases = append(cases, caseEntry{v: next.K, t: uint16(c.known(def+1+int(next.Jt), next.K))})
		def += 1 + int(next.Jf)
	}
	def = c.thread(def)
	if len(cases) == 1 {
		nd.o.code = base + condEq
		nd.o.jt, nd.o.jf = cases[0].t, uint16(def)
		return nd
	}
	nd.o.code = base + condCases
	nd.o.jt = uint16(def)
	nd.jumps = false
	nd.cases = cases
	return nd
}

// thread follows t through instructions that cannot change anything or
// choose anything: "ja" and tests whose two branches agree.
func (c *compiler) thread(t int) int {
	return threadJump(c.prog, t)
}

// known is thread for a target reached with A == a: tests of A against a
// constant have a fixed outcome there and are followed too.
func (c *compiler) known(t int, a uint32) int {
	for {
		t = c.thread(t)
		ins := c.prog[t]
		cond, ok := condOf[ins.Code]
		if !ok {
			return t
		}
		if test(cond, a, ins.K) {
			t += 1 + int(ins.Jt)
		} else {
			t += 1 + int(ins.Jf)
		}
	}
}

// Insns returns a copy of the validated source program.
func (p *Program) Insns() []Insn { return append([]Insn(nil), p.insns...) }

// Packet loads read through a raw pointer: every one is preceded by its own
// bounds check against buflen = len(pkt), which Go's checks would only
// repeat (three times for a slice expression and a multi-byte read).
func ld32(base unsafe.Pointer, off uint32) uint32 {
	b := (*[4]byte)(unsafe.Add(base, off))
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func ld16(base unsafe.Pointer, off uint32) uint32 {
	b := (*[2]byte)(unsafe.Add(base, off))
	return uint32(b[0])<<8 | uint32(b[1])
}

func ld8(base unsafe.Pointer, off uint32) uint32 {
	return uint32(*(*byte)(unsafe.Add(base, off)))
}

// Run returns the verdict Filter(p.Insns(), pkt, wirelen) returns, and
// allocates nothing.
//
// Run inlines into the tap: it is one call to run, which on amd64 is
// assembly that jumps straight to the native code (jit_amd64.s) and
// elsewhere a Go function (jit_run.go). Keep it that small.
func (p *Program) Run(pkt []byte, wirelen uint32) uint32 {
	return run(p, pkt, wirelen)
}

// runOps0 is runOps as a plain function, for the assembly run to jump to.
func runOps0(p *Program, pkt []byte, wirelen uint32) uint32 {
	return p.runOps(pkt, wirelen)
}

// runOps is Run on the portable ops.
func (p *Program) runOps(pkt []byte, wirelen uint32) uint32 {
	ops := p.ops
	if len(ops) == 0 {
		return math.MaxUint32
	}
	pkt = clampPacket(pkt)
	buflen := uint32(len(pkt))
	base := unsafe.Pointer(unsafe.SliceData(pkt))
	// Ops are reached through a raw pointer too: Compile made every
	// target an index into ops and every path end in a return, so a
	// bounds check could never fail, and dropping it frees the registers
	// that hold len(ops).
	code := unsafe.Pointer(unsafe.SliceData(ops))
	var (
		a, x uint32
		mem  [BPF_MEMWORDS]uint32
		pc   int
	)
	// Validation guarantees every path ends in a return and every jump
	// target is in range, so the loop has no exit condition of its own.
	for {
		o := (*op)(unsafe.Add(code, uintptr(pc)*unsafe.Sizeof(op{})))
		// Tested before the switch: when both branches of the previous
		// test lead to a return, this branch goes the same way whatever
		// the packet, and the verdict is picked without a mispredicted
		// indirect jump.
		if o.code == opRetK {
			return o.k
		}
		pc++
		switch o.code {
		case opRetA:
			return a

		case opLdW:
			if o.k+4 > buflen {
				return 0
			}
			a = ld32(base, o.k)
		case opLdH:
			if o.k+2 > buflen {
				return 0
			}
			a = ld16(base, o.k)
		case opLdB:
			if o.k >= buflen {
				return 0
			}
			a = ld8(base, o.k)
		case opLdIndW:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = ld32(base, off)
		case opLdIndH:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = ld16(base, off)
		case opLdIndB:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = ld8(base, off)
		case opLdLen:
			a = wirelen
		case opLdxLen:
			x = wirelen
		case opLdxMsh:
			if o.k >= buflen {
				return 0
			}
			x = (ld8(base, o.k) & 0xf) << 2
		case opLdImm:
			a = o.k
		case opLdxImm:
			x = o.k
		case opLdMem:
			a = mem[o.k&(BPF_MEMWORDS-1)]
		case opLdxMem:
			x = mem[o.k&(BPF_MEMWORDS-1)]
		case opSt:
			mem[o.k&(BPF_MEMWORDS-1)] = a
		case opStx:
			mem[o.k&(BPF_MEMWORDS-1)] = x

		case opJa:
			pc = int(o.jt)
		case opJeqX:
			pc = pick(a == x, o)
		case opJgtX:
			pc = pick(a > x, o)
		case opJgeX:
			pc = pick(a >= x, o)
		case opJsetX:
			pc = pick(a&x != 0, o)

		case opAddK:
			a += o.k
		case opSubK:
			a -= o.k
		case opMulK:
			a *= o.k
		case opDivK:
			a /= o.k // validated: k != 0
		case opModK:
			a %= o.k
		case opAndK:
			a &= o.k
		case opOrK:
			a |= o.k
		case opXorK:
			a ^= o.k
		case opLshK:
			a <<= o.k
		case opRshK:
			a >>= o.k
		case opAddX:
			a += x
		case opSubX:
			a -= x
		case opMulX:
			a *= x
		case opDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case opModX:
			if x == 0 {
				return 0
			}
			a %= x
		case opAndX:
			a &= x
		case opOrX:
			a |= x
		case opXorX:
			a ^= x
		case opLshX:
			a <<= x
		case opRshX:
			a >>= x
		case opNeg:
			a = -a
		case opTax:
			x = a
		case opTxa:
			a = x

		case opAEq:
			a &= o.m
			pc = pick(a == o.v, o)
		case opAGt, opAGe, opASet:
			a &= o.m
			pc = pick(test(o.code-opAEq, a, o.v), o)
		case opACases:
			a &= o.m
			pc = sel(a, o)

		case opWEq:
			if o.k+4 > buflen {
				return 0
			}
			a = ld32(base, o.k) & o.m
			pc = pick(a == o.v, o)
		case opWGt, opWGe, opWSet:
			if o.k+4 > buflen {
				return 0
			}
			a = ld32(base, o.k) & o.m
			pc = pick(test(o.code-opWEq, a, o.v), o)
		case opWCases:
			if o.k+4 > buflen {
				return 0
			}
			a = ld32(base, o.k) & o.m
			pc = sel(a, o)
		case opHEq:
			if o.k+2 > buflen {
				return 0
			}
			a = ld16(base, o.k) & o.m
			pc = pick(a == o.v, o)
		case opHGt, opHGe, opHSet:
			if o.k+2 > buflen {
				return 0
			}
			a = ld16(base, o.k) & o.m
			pc = pick(test(o.code-opHEq, a, o.v), o)
		case opHCases:
			if o.k+2 > buflen {
				return 0
			}
			a = ld16(base, o.k) & o.m
			pc = sel(a, o)
		case opBEq:
			if o.k >= buflen {
				return 0
			}
			a = ld8(base, o.k) & o.m
			pc = pick(a == o.v, o)
		case opBGt, opBGe, opBSet:
			if o.k >= buflen {
				return 0
			}
			a = ld8(base, o.k) & o.m
			pc = pick(test(o.code-opBEq, a, o.v), o)
		case opBCases:
			if o.k >= buflen {
				return 0
			}
			a = ld8(base, o.k) & o.m
			pc = sel(a, o)
		case opIndWEq:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = ld32(base, off) & o.m
			pc = pick(a == o.v, o)
		case opIndWGt, opIndWGe, opIndWSet:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = ld32(base, off) & o.m
			pc = pick(test(o.code-opIndWEq, a, o.v), o)
		case opIndWCases:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = ld32(base, off) & o.m
			pc = sel(a, o)
		case opIndHEq:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = ld16(base, off) & o.m
			pc = pick(a == o.v, o)
		case opIndHGt, opIndHGe, opIndHSet:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = ld16(base, off) & o.m
			pc = pick(test(o.code-opIndHEq, a, o.v), o)
		case opIndHCases:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = ld16(base, off) & o.m
			pc = sel(a, o)
		case opIndBEq:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = ld8(base, off) & o.m
			pc = pick(a == o.v, o)
		case opIndBGt, opIndBGe, opIndBSet:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = ld8(base, off) & o.m
			pc = pick(test(o.code-opIndBEq, a, o.v), o)
		case opIndBCases:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = ld8(base, off) & o.m
			pc = sel(a, o)
		case opLenEq:
			a = wirelen & o.m
			pc = pick(a == o.v, o)
		case opLenGt, opLenGe, opLenSet:
			a = wirelen & o.m
			pc = pick(test(o.code-opLenEq, a, o.v), o)
		case opLenCases:
			a = wirelen & o.m
			pc = sel(a, o)
		}
	}
}

// sel returns the target of a cases op: the first case equal to a, or the
// default. It branches per case, like the chain of "jeq" it replaces but
// without a dispatch per test: real traffic is skewed enough that the
// branches predict well, and a branch-free select of every case measured
// more instructions per packet than it saved.
func sel(a uint32, o *op) int {
	if a == o.v {
		return int(o.t0)
	}
	e := o
	for n := o.jf; n > 0; n-- {
		e = (*op)(unsafe.Add(unsafe.Pointer(e), unsafe.Sizeof(op{})))
		if a == e.v {
			return int(e.jt)
		}
	}
	return int(o.jt)
}

// indexed computes the offset of an X+k load of size bytes and whether it
// lies inside the packet, rejecting X+k that wraps past 2^32 as FreeBSD does.
func indexed(k, x, size, buflen uint32) (uint32, bool) {
	off := k + x
	if off < k || off > buflen || buflen-off < size {
		return 0, false
	}
	return off, true
}

// pick returns the jump target for a branch outcome. It is a plain branch:
// a conditional move would make the next op's address wait for the packet
// byte, serialising the loop, while a branch lets the CPU run ahead on its
// prediction (and real traffic is skewed enough to predict well).
func pick(cond bool, o *op) int {
	if cond {
		return int(o.jt)
	}
	return int(o.jf)
}

// test evaluates the condition of a fused op: 0 JEQ, 1 JGT, 2 JGE, 3 JSET.
func test(c opcode, a, v uint32) bool {
	switch c {
	case 0:
		return a == v
	case 1:
		return a > v
	case 2:
		return a >= v
	}
	return a&v != 0
}
