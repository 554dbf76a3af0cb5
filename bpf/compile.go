package bpf

import (
	"fmt"
	"math"
)

// maxOps is the longest program Compile accepts: jump targets are 16-bit so
// that an op stays 16 bytes. It is far above any realistic net.bpf.maxinsns.
const maxOps = math.MaxUint16

// The compiled form.
//
// Compile translates a validated program once into a flat array of ops that
// Run walks with one dense switch (which the Go compiler turns into a jump
// table). Compared with interpreting Insn directly, an op:
//
//   - carries absolute jump targets, resolved once, so a branch is a load;
//   - has a dense internal opcode, so dispatch never decodes code bits;
//   - may fuse two instructions: a packet load (absolute or indexed) and the
//     conditional jump on K that follows it become one op with a single
//     bounds check. That pair ("ldh [12]; jeq #0x800") is most of what
//     tcpdump emits, so typical filters run in about half the dispatches;
//   - picks branch targets with a conditional move and checks for "ret #k"
//     before dispatching, so a test whose branches both return ends the
//     program without an indirect jump the packet data could mispredict.
//
// A pair is fused only when no jump lands on its second instruction, so
// every path through the program sees the same sequence of effects. The
// fused op still sets A to the loaded value, since later instructions
// (reached through either branch) may test it again.
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
	opJeqK
	opJgtK
	opJgeK
	opJsetK
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

	// Fused load + conditional jump on K: A = load(k); branch on A ? v.
	opLdWJeq
	opLdWJgt
	opLdWJge
	opLdWJset
	opLdHJeq
	opLdHJgt
	opLdHJge
	opLdHJset
	opLdBJeq
	opLdBJgt
	opLdBJge
	opLdBJset
	opLdIndWJeq
	opLdIndWJgt
	opLdIndWJge
	opLdIndWJset
	opLdIndHJeq
	opLdIndHJgt
	opLdIndHJge
	opLdIndHJset
	opLdIndBJeq
	opLdIndBJgt
	opLdIndBJge
	opLdIndBJset
)

// op is one compiled step: 16 bytes, so a program of a few dozen steps
// sits in a handful of cache lines.
type op struct {
	code   opcode
	jt, jf uint16 // absolute op indexes for jumps (opJa uses jt)
	k      uint32 // operand, or load offset for fused ops
	v      uint32 // comparison constant of fused ops
}

// Program is a validated, compiled filter. It is immutable after Compile and
// safe for concurrent use by any number of goroutines: Run keeps all machine
// state in locals.
type Program struct {
	insns []Insn // the source program, as validated
	ops   []op
}

// simple maps each legal opcode that compiles to exactly one op.
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
	BPF_JMP | BPF_JEQ | BPF_K:  opJeqK,
	BPF_JMP | BPF_JGT | BPF_K:  opJgtK,
	BPF_JMP | BPF_JGE | BPF_K:  opJgeK,
	BPF_JMP | BPF_JSET | BPF_K: opJsetK,
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

// fusedBase gives the first fused opcode for a load; the jump's condition
// (JEQ, JGT, JGE, JSET in that order) is added to it.
var fusedBase = map[uint16]opcode{
	BPF_LD | BPF_W | BPF_ABS: opLdWJeq,
	BPF_LD | BPF_H | BPF_ABS: opLdHJeq,
	BPF_LD | BPF_B | BPF_ABS: opLdBJeq,
	BPF_LD | BPF_W | BPF_IND: opLdIndWJeq,
	BPF_LD | BPF_H | BPF_IND: opLdIndHJeq,
	BPF_LD | BPF_B | BPF_IND: opLdIndBJeq,
}

var condIndex = map[uint16]opcode{
	BPF_JMP | BPF_JEQ | BPF_K:  0,
	BPF_JMP | BPF_JGT | BPF_K:  1,
	BPF_JMP | BPF_JGE | BPF_K:  2,
	BPF_JMP | BPF_JSET | BPF_K: 3,
}

// loadSize is the width in bytes of each absolute load.
var loadSize = map[uint16]uint32{
	BPF_LD | BPF_W | BPF_ABS: 4,
	BPF_LD | BPF_H | BPF_ABS: 2,
	BPF_LD | BPF_B | BPF_ABS: 1,
}

// Compile validates prog with Validate(prog, maxInsns) and translates it into
// the form Run executes. The result copies prog; later changes to the
// caller's slice do not affect it. Validation errors wrap ErrInvalidProgram.
func Compile(prog []Insn, maxInsns int) (*Program, error) {
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
	target := make([]bool, n)
	for i, ins := range prog {
		if ins.Class() != BPF_JMP {
			continue
		}
		if ins.Code == BPF_JMP|BPF_JA {
			target[i+1+int(ins.K)] = true
		} else {
			target[i+1+int(ins.Jt)] = true
			target[i+1+int(ins.Jf)] = true
		}
	}
	// newIndex[i] is the op that instruction i starts; fused second halves
	// are never jump targets, so they need no entry.
	newIndex := make([]int, n)
	ops := make([]op, 0, n)
	for i := 0; i < n; i++ {
		ins := prog[i]
		newIndex[i] = len(ops)
		if size, ok := loadSize[ins.Code]; ok && ins.K > math.MaxUint32-size {
			ops = append(ops, op{code: opRetK, k: 0}) // can never be in bounds
			continue
		}
		if base, ok := fusedBase[ins.Code]; ok && i+1 < n && !target[i+1] {
			next := prog[i+1]
			if c, ok := condIndex[next.Code]; ok {
				ops = append(ops, op{
					code: base + c,
					k:    ins.K,
					v:    next.K,
					jt:   uint16(i + 2 + int(next.Jt)), // old index, fixed below
					jf:   uint16(i + 2 + int(next.Jf)),
				})
				i++
				continue
			}
		}
		o := op{code: simple[ins.Code], k: ins.K}
		switch {
		case ins.Code == BPF_JMP|BPF_JA:
			o.jt = uint16(i + 1 + int(ins.K))
		case ins.Class() == BPF_JMP:
			o.jt = uint16(i + 1 + int(ins.Jt))
			o.jf = uint16(i + 1 + int(ins.Jf))
		}
		ops = append(ops, o)
	}
	for j := range ops {
		o := &ops[j]
		if o.code == opJa || (o.code >= opJeqK && o.code <= opJsetX) || o.code >= opLdWJeq {
			o.jt = uint16(newIndex[o.jt])
			o.jf = uint16(newIndex[o.jf])
		}
	}
	p.ops = ops
	return p, nil
}

// Insns returns a copy of the validated source program.
func (p *Program) Insns() []Insn { return append([]Insn(nil), p.insns...) }

// Run returns the verdict Filter(p.Insns(), pkt, wirelen) returns, and
// allocates nothing.
func (p *Program) Run(pkt []byte, wirelen uint32) uint32 {
	ops := p.ops
	if len(ops) == 0 {
		return math.MaxUint32
	}
	pkt = clampPacket(pkt)
	buflen := uint32(len(pkt))
	var (
		a, x uint32
		mem  [BPF_MEMWORDS]uint32
		pc   int
	)
	// Validation guarantees every path ends in a return and every jump
	// target is in range, so the loop has no exit condition of its own.
	for {
		o := &ops[pc]
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
			a = be32(pkt[o.k:])
		case opLdH:
			if o.k+2 > buflen {
				return 0
			}
			a = be16(pkt[o.k:])
		case opLdB:
			if o.k >= buflen {
				return 0
			}
			a = uint32(pkt[o.k])
		case opLdIndW:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = be32(pkt[off:])
		case opLdIndH:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = be16(pkt[off:])
		case opLdIndB:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = uint32(pkt[off])
		case opLdLen:
			a = wirelen
		case opLdxLen:
			x = wirelen
		case opLdxMsh:
			if o.k >= buflen {
				return 0
			}
			x = uint32(pkt[o.k]&0xf) << 2
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
		case opJeqK:
			pc = pick(a == o.k, o)
		case opJgtK:
			pc = pick(a > o.k, o)
		case opJgeK:
			pc = pick(a >= o.k, o)
		case opJsetK:
			pc = pick(a&o.k != 0, o)
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

		case opLdWJeq, opLdWJgt, opLdWJge, opLdWJset:
			if o.k+4 > buflen {
				return 0
			}
			a = be32(pkt[o.k:])
			pc = pick(test(o.code-opLdWJeq, a, o.v), o)
		case opLdHJeq:
			if o.k+2 > buflen {
				return 0
			}
			a = be16(pkt[o.k:])
			pc = pick(a == o.v, o)
		case opLdHJgt, opLdHJge, opLdHJset:
			if o.k+2 > buflen {
				return 0
			}
			a = be16(pkt[o.k:])
			pc = pick(test(o.code-opLdHJeq, a, o.v), o)
		case opLdBJeq:
			if o.k >= buflen {
				return 0
			}
			a = uint32(pkt[o.k])
			pc = pick(a == o.v, o)
		case opLdBJgt, opLdBJge, opLdBJset:
			if o.k >= buflen {
				return 0
			}
			a = uint32(pkt[o.k])
			pc = pick(test(o.code-opLdBJeq, a, o.v), o)
		case opLdIndWJeq, opLdIndWJgt, opLdIndWJge, opLdIndWJset:
			off, ok := indexed(o.k, x, 4, buflen)
			if !ok {
				return 0
			}
			a = be32(pkt[off:])
			pc = pick(test(o.code-opLdIndWJeq, a, o.v), o)
		case opLdIndHJeq, opLdIndHJgt, opLdIndHJge, opLdIndHJset:
			off, ok := indexed(o.k, x, 2, buflen)
			if !ok {
				return 0
			}
			a = be16(pkt[off:])
			pc = pick(test(o.code-opLdIndHJeq, a, o.v), o)
		case opLdIndBJeq, opLdIndBJgt, opLdIndBJge, opLdIndBJset:
			off, ok := indexed(o.k, x, 1, buflen)
			if !ok {
				return 0
			}
			a = uint32(pkt[off])
			pc = pick(test(o.code-opLdIndBJeq, a, o.v), o)
		}
	}
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

// pick returns the jump target for a branch outcome. It is written as a
// select so that the compiler emits a conditional move: the outcome of a
// packet test is data the branch predictor cannot learn.
func pick(cond bool, o *op) int {
	t, f := int(o.jt), int(o.jf)
	if cond {
		f = t
	}
	return f
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
