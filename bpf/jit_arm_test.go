package bpf

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tests of the ARM code generator. The oracle everywhere is the interpreter
// Filter, an independent implementation of FreeBSD's semantics; the
// instruction encodings are checked against GNU objdump when it is
// installed (Debian: binutils-arm-none-eabi).

// mustNative compiles prog and fails unless it runs as machine code.
func mustNative(t testing.TB, prog []Insn) *Program {
	t.Helper()
	if !armV7 {
		t.Skip("GOARM < 7: filters stay on the ops path")
	}
	p, err := Compile(prog, len(prog))
	if err != nil {
		t.Fatalf("Compile: %v\n%s", err, Disassemble(prog))
	}
	if !p.Native() {
		t.Fatalf("no native code for\n%s", Disassemble(prog))
	}
	return p
}

// agree runs p and Filter over pkt and reports a difference.
func agree(t testing.TB, p *Program, pkt []byte, wirelen uint32) bool {
	t.Helper()
	want := Filter(p.insns, pkt, wirelen)
	if got := p.Run(pkt, wirelen); got != want {
		t.Errorf("native = %#x, interpreter = %#x, len(pkt) %d, wirelen %d\n%s", got, want, len(pkt), wirelen, Disassemble(p.insns))
		return false
	}
	return true
}

// interesting are constants at the edges of what ARM immediates, MOVW,
// shifts, signed views and the bounds checks treat differently.
var interesting = []uint32{
	0, 1, 2, 3, 4, 7, 8, 13, 14, 15, 16, 31, 32, 33, 63, 255, 256, 257, 0x3fc, 0x3fd,
	0xfff, 0x1000, 0x1001, 0xffff, 0x10000, 0x10001, 0xff000000, 0xffffff00, 0x12345678,
	0x7fffffff, 0x80000000, 0x80000001, 0xfffffff0, 0xfffffffb, 0xfffffffc, 0xfffffffd,
	0xfffffffe, 0xffffffff,
}

func TestARMCorpusIsNative(t *testing.T) {
	c := loadCorpus(t)
	n := 0
	for _, f := range c.Filters {
		if Validate(f.Insns, 0) != nil {
			continue // ip6 protochain: only the interpreter runs it
		}
		if !armV7 {
			if p, _ := Compile(f.Insns, 0); p.Native() {
				t.Fatalf("%q: native code in a GOARM < 7 build", f.Expr)
			}
			continue
		}
		mustNative(t, f.Insns)
		if z := (&armGen{}).zeroOf(f.Insns); z != 0 {
			t.Errorf("%q: zeroes state %#x on entry; tcpdump's programs write before they read", f.Expr, z)
		}
		n++
	}
	t.Logf("%d corpus filters run as native code; UDIV in ARM state: %v", n, armHasUDIV)
	if !armV7 {
		t.Log("GOARM < 7: every filter stayed on the ops path")
	}
}

// TestARMALU checks every ALU operation on K and X over pairs of
// interesting values (A set with "ld #a", X with "ldx #x").
func TestARMALU(t *testing.T) {
	ops := []uint16{BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH}
	for _, op := range ops {
		for _, k := range interesting {
			if (op == BPF_DIV || op == BPF_MOD) && k == 0 {
				continue // Validate rejects it
			}
			withK := mustNative(t, prog(Stmt(BPF_LDX|BPF_IMM, 0), Stmt(BPF_ALU|op|BPF_K, k), retA))
			for _, a := range interesting {
				p := mustNative(t, prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_ALU|op|BPF_K, k), retA))
				agree(t, p, nil, 0)
			}
			agree(t, withK, nil, 0) // A starts at 0
		}
		for _, x := range interesting {
			for _, a := range interesting {
				p := mustNative(t, prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_LDX|BPF_IMM, x), Stmt(BPF_ALU|op|BPF_X, 0), retA))
				agree(t, p, nil, 0)
			}
		}
	}
	for _, a := range interesting {
		agree(t, mustNative(t, prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_ALU|BPF_NEG, 0), retA)), nil, 0)
		agree(t, mustNative(t, prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_MISC|BPF_TAX, 0), Stmt(BPF_LD|BPF_IMM, 5), Stmt(BPF_MISC|BPF_TXA, 0), retA)), nil, 0)
		agree(t, mustNative(t, prog(Stmt(BPF_RET|BPF_K, a))), nil, 0)
	}
}

// TestARMJumps checks each condition on K and X with every layout of the
// two targets (next instruction or not, equal or not).
func TestARMJumps(t *testing.T) {
	conds := []uint16{BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET}
	layouts := [][2]uint8{{0, 0}, {0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 2}}
	for _, c := range conds {
		for _, l := range layouts {
			for _, k := range interesting {
				tail := []Insn{Stmt(BPF_RET|BPF_K, 10), Stmt(BPF_RET|BPF_K, 11), Stmt(BPF_RET|BPF_K, 12)}
				pk := mustNative(t, append(prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0), Jump(BPF_JMP|c|BPF_K, k, l[0], l[1])), tail...))
				px := mustNative(t, append(prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0), Stmt(BPF_LDX|BPF_IMM, k), Jump(BPF_JMP|c|BPF_X, 0, l[0], l[1])), tail...))
				for _, a := range interesting {
					pkt := binary.BigEndian.AppendUint32(nil, a)
					agree(t, pk, pkt, 4)
					agree(t, px, pkt, 4)
				}
			}
		}
	}
	ja := mustNative(t, prog(Stmt(BPF_JMP|BPF_JA, 1), Stmt(BPF_RET|BPF_K, 1), Stmt(BPF_JMP|BPF_JA, 0), Stmt(BPF_RET|BPF_K, 2)))
	if got := ja.Run(nil, 0); got != 2 {
		t.Errorf("ja over a return = %d, want 2", got)
	}
}

// TestARMLoads checks absolute, indexed and MSH loads of each size around
// the end of packets of many lengths, with offsets past the immediate
// ranges of LDR (4095) and LDRH (255), odd (unaligned) offsets, and X+k
// that wraps past 2^32.
func TestARMLoads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 3, 4, 5, 13, 14, 15, 255, 256, 257, 258, 259, 260, 4095, 4096, 4097, 4098, 4099, 4100, 70000}
	pkts := make([][]byte, len(lengths))
	for i, n := range lengths {
		pkts[i] = make([]byte, n)
		for j := range pkts[i] {
			pkts[i][j] = byte(rng.Uint32())
		}
	}
	ks := append([]uint32(nil), interesting...)
	for _, n := range lengths {
		for d := -5; d <= 1; d++ {
			if n+d >= 0 {
				ks = append(ks, uint32(n+d))
			}
		}
	}
	xs := []uint32{0, 1, 2, 3, 4, 255, 256, 4095, 4096, 0x7fffffff, 0xfffffff0, 0xfffffffc, 0xfffffffe, 0xffffffff}
	for _, size := range []uint16{BPF_W, BPF_H, BPF_B} {
		for _, k := range ks {
			abs := mustNative(t, prog(Stmt(BPF_LD|size|BPF_ABS, k), retA))
			msh := mustNative(t, prog(Stmt(BPF_LDX|BPF_B|BPF_MSH, k), Stmt(BPF_MISC|BPF_TXA, 0), retA))
			ind := make([]*Program, len(xs))
			for i, x := range xs {
				ind[i] = mustNative(t, prog(Stmt(BPF_LDX|BPF_IMM, x), Stmt(BPF_LD|size|BPF_IND, k), retA))
			}
			for _, pkt := range pkts {
				agree(t, abs, pkt, uint32(len(pkt)))
				agree(t, msh, pkt, uint32(len(pkt)))
				for _, p := range ind {
					agree(t, p, pkt, uint32(len(pkt)))
				}
			}
		}
	}
	// LEN reads wirelen, not the captured length.
	for _, w := range interesting {
		agree(t, mustNative(t, prog(Stmt(BPF_LD|BPF_W|BPF_LEN, 0), retA)), pkts[3], w)
		agree(t, mustNative(t, prog(Stmt(BPF_LDX|BPF_W|BPF_LEN, 0), Stmt(BPF_MISC|BPF_TXA, 0), retA)), pkts[3], w)
	}
}

// TestARMUnaligned reads words and halfwords at every alignment from a
// slice that itself starts at every alignment.
func TestARMUnaligned(t *testing.T) {
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(i*37 + 11)
	}
	w, h := mustNative(t, prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0), retA)), mustNative(t, prog(Stmt(BPF_LD|BPF_H|BPF_ABS, 0), retA))
	for base := range 4 {
		for off := range 8 {
			pw := mustNative(t, prog(Stmt(BPF_LD|BPF_W|BPF_ABS, uint32(off)), retA))
			ph := mustNative(t, prog(Stmt(BPF_LD|BPF_H|BPF_ABS, uint32(off)), retA))
			pkt := buf[base : base+16]
			if got, want := pw.Run(pkt, 16), binary.BigEndian.Uint32(pkt[off:]); got != want {
				t.Errorf("ld [%d] at base+%d = %#x, want %#x", off, base, got, want)
			}
			if got, want := ph.Run(pkt, 16), uint32(binary.BigEndian.Uint16(pkt[off:])); got != want {
				t.Errorf("ldh [%d] at base+%d = %#x, want %#x", off, base, got, want)
			}
		}
		agree(t, w, buf[base:], 64)
		agree(t, h, buf[base:], 64)
	}
}

// TestARMScratch checks that a scratch word some path reads before any
// store reads 0 even when an earlier call left other values in jitcall's
// frame, and that words every path stores first are not zeroed.
func TestARMScratch(t *testing.T) {
	var fill []Insn
	for k := range uint32(BPF_MEMWORDS) {
		fill = append(fill, Stmt(BPF_LD|BPF_IMM, 0xdead0000+k), Stmt(BPF_ST, k))
	}
	filler := mustNative(t, append(fill, retA))
	// M[3] is stored only when pkt[0] == 1; M[5] on both paths.
	p := mustNative(t, prog(
		Stmt(BPF_LD|BPF_IMM, 77), Stmt(BPF_ST, 5),
		Stmt(BPF_LD|BPF_B|BPF_ABS, 0),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 1, 0, 2),
		Stmt(BPF_LD|BPF_IMM, 9), Stmt(BPF_ST, 3),
		Stmt(BPF_LDX|BPF_MEM, 5),
		Stmt(BPF_LD|BPF_MEM, 3),
		Stmt(BPF_ALU|BPF_ADD|BPF_X, 0),
		retA,
	))
	for _, b := range []byte{0, 1, 2} {
		filler.Run(nil, 0)
		agree(t, p, []byte{b}, 1)
	}
	if want := uint32(1 << 3); (&armGen{}).zeroOf(p.insns) != want {
		t.Errorf("zeroed scratch words %#x, want %#x", (&armGen{}).zeroOf(p.insns), want)
	}
	// A and X read before any write are 0 whatever the registers held.
	dirty := mustNative(t, prog(Stmt(BPF_LDX|BPF_IMM, 0xdead), Stmt(BPF_LD|BPF_IMM, 0xbeef), Stmt(BPF_ST, 0), retA))
	for _, c := range []struct {
		prog []Insn
		zero uint32
	}{
		{prog(retA), armUseA},
		{prog(Stmt(BPF_MISC|BPF_TXA, 0), retA), armUseX},
		{prog(Stmt(BPF_ALU|BPF_ADD|BPF_K, 1), retA), armUseA},
		{prog(Stmt(BPF_LD|BPF_B|BPF_IND, 0), retA), armUseX},
		{prog(Stmt(BPF_LD|BPF_IMM, 1), Jump(BPF_JMP|BPF_JGT|BPF_X, 0, 0, 1), Stmt(BPF_RET|BPF_K, 5), retA), armUseX},
		{prog(Stmt(BPF_STX, 4), Stmt(BPF_LD|BPF_MEM, 4), retA), armUseX},
		{prog(Stmt(BPF_LD|BPF_IMM, 3), Stmt(BPF_MISC|BPF_TAX, 0), Stmt(BPF_ALU|BPF_NEG, 0), Stmt(BPF_ALU|BPF_ADD|BPF_X, 0), retA), 0},
	} {
		if z := (&armGen{}).zeroOf(c.prog); z != c.zero {
			t.Errorf("zeroed state %#x, want %#x\n%s", z, c.zero, Disassemble(c.prog))
		}
		p := mustNative(t, c.prog)
		dirty.Run(nil, 0)
		agree(t, p, []byte{7, 8}, 2)
	}
	// Never stored: all of them read as 0.
	for k := range uint32(BPF_MEMWORDS) {
		filler.Run(nil, 0)
		agree(t, mustNative(t, prog(Stmt(BPF_LD|BPF_MEM, k), retA)), nil, 0)
		filler.Run(nil, 0)
		agree(t, mustNative(t, prog(Stmt(BPF_LDX|BPF_MEM, k), Stmt(BPF_MISC|BPF_TXA, 0), retA)), nil, 0)
	}
}

// zeroOf runs the analysis alone and returns the scratch words to zero.
func (g *armGen) zeroOf(prog []Insn) uint32 {
	*g = armGen{prog: prog, reach: make([]bool, len(prog)), known: make([]uint64, len(prog)), knownX: make([]uint64, len(prog)), wrote: make([]uint32, len(prog))}
	if !g.analyse() {
		return 0xffff
	}
	return g.zero
}

// countCmpImm counts CMP-with-immediate instructions in generated code.
func countCmpImm(code []byte) int {
	n := 0
	for i := 0; i+4 <= len(code); i += 4 {
		if binary.LittleEndian.Uint32(code[i:])&0x0ff00000 == 0x03500000 {
			n++
		}
	}
	return n
}

// TestARMBoundsCheckElided: a load inside a range an earlier load on every
// path proved costs no compare, and still gives the interpreter's verdicts
// on packets that end anywhere around it.
func TestARMBoundsCheckElided(t *testing.T) {
	dominated := prog(
		Stmt(BPF_LD|BPF_B|BPF_ABS, 23),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 6, 0, 2),
		Stmt(BPF_LD|BPF_H|BPF_ABS, 20), // covered by [23]
		Stmt(BPF_RET|BPF_A, 0),
		Stmt(BPF_LD|BPF_W|BPF_ABS, 10), // covered too
		Stmt(BPF_RET|BPF_A, 0),
	)
	// Only one path into the join has loaded [23].
	join := prog(
		Stmt(BPF_LD|BPF_W|BPF_LEN, 0),
		Jump(BPF_JMP|BPF_JGT|BPF_K, 30, 0, 1),
		Stmt(BPF_LD|BPF_B|BPF_ABS, 23),
		Stmt(BPF_LD|BPF_H|BPF_ABS, 20), // needs its own check
		Stmt(BPF_RET|BPF_A, 0),
	)
	// One byte past what [23] proved: checked again.
	beyond := prog(
		Stmt(BPF_LD|BPF_B|BPF_ABS, 23),
		Stmt(BPF_LD|BPF_H|BPF_ABS, 23),
		Stmt(BPF_RET|BPF_K, 1),
	)
	for _, c := range []struct {
		prog []Insn
		cmps int
	}{{dominated, 2}, {join, 3}, {beyond, 2}} { // the jeq and jgt are CMP #imm too
		code, ok := armEmit(c.prog)
		if !ok {
			t.Fatal("jitEmit failed")
		}
		if n := countCmpImm(code); n != c.cmps {
			t.Errorf("%d compares, want %d\n%s", n, c.cmps, Disassemble(c.prog))
		}
		p := mustNative(t, c.prog)
		for n := range 40 {
			pkt := make([]byte, n)
			for i := range pkt {
				pkt[i] = byte(i)
			}
			if n > 23 {
				pkt[23] = 6
			}
			agree(t, p, pkt, uint32(n))
			agree(t, p, pkt, 100)
		}
	}
}

// countSubsImm counts SUBS-with-immediate instructions (indexed checks).
func countSubsImm(code []byte) int {
	n := 0
	for i := 0; i+4 <= len(code); i += 4 {
		if binary.LittleEndian.Uint32(code[i:])&0x0ff00000 == 0x02500000 {
			n++
		}
	}
	return n
}

// TestARMIndexedCheckElided: an indexed load within what an earlier one
// proved for the same X needs no check; a new X, from any instruction that
// writes it, or a path that did not load, needs one.
func TestARMIndexedCheckElided(t *testing.T) {
	msh := Stmt(BPF_LDX|BPF_B|BPF_MSH, 14)
	cases := []struct {
		name   string
		prog   []Insn
		checks int
	}{
		{"ports", prog(msh, Stmt(BPF_LD|BPF_H|BPF_IND, 16), Stmt(BPF_LD|BPF_H|BPF_IND, 14), Stmt(BPF_LD|BPF_B|BPF_IND, 17), Stmt(BPF_RET|BPF_K, 1)), 1},
		{"further", prog(msh, Stmt(BPF_LD|BPF_H|BPF_IND, 14), Stmt(BPF_LD|BPF_H|BPF_IND, 15), Stmt(BPF_RET|BPF_K, 1)), 2},
		{"new X", prog(msh, Stmt(BPF_LD|BPF_H|BPF_IND, 16), Stmt(BPF_MISC|BPF_TAX, 0), Stmt(BPF_LD|BPF_B|BPF_IND, 14), Stmt(BPF_RET|BPF_K, 1)), 2},
		{"ldx", prog(msh, Stmt(BPF_LD|BPF_H|BPF_IND, 16), Stmt(BPF_LDX|BPF_IMM, 1), Stmt(BPF_LD|BPF_B|BPF_IND, 14), Stmt(BPF_RET|BPF_K, 1)), 2},
		{"one path", prog(msh, Stmt(BPF_LD|BPF_B|BPF_ABS, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 1, 0, 1), Stmt(BPF_LD|BPF_H|BPF_IND, 16), Stmt(BPF_LD|BPF_B|BPF_IND, 14), Stmt(BPF_RET|BPF_K, 1)), 2},
	}
	for _, c := range cases {
		code, ok := armEmit(c.prog)
		if !ok {
			t.Fatal("armEmit failed")
		}
		if n := countSubsImm(code); n != c.checks {
			t.Errorf("%s: %d indexed checks, want %d\n%s", c.name, n, c.checks, Disassemble(c.prog))
		}
		p := mustNative(t, c.prog)
		for n := 0; n <= 80; n++ {
			for _, b := range []byte{0x40, 0x45, 0x4f, 0x01} {
				pkt := make([]byte, n)
				for i := range pkt {
					pkt[i] = byte(i)
				}
				if n > 14 {
					pkt[14] = b
				}
				if n > 0 {
					pkt[0] = b & 1
				}
				agree(t, p, pkt, uint32(n))
			}
		}
	}
}

// TestARMWithoutUDIV takes the fallback of a CPU without UDIV: programs
// that need it stay on the ops path, the rest are still native.
func TestARMWithoutUDIV(t *testing.T) {
	defer func(v bool) { armHasUDIV = v }(armHasUDIV)
	armHasUDIV = false
	div := prog(Stmt(BPF_LD|BPF_IMM, 100), Stmt(BPF_LDX|BPF_IMM, 7), Stmt(BPF_ALU|BPF_DIV|BPF_X, 0), retA)
	p, err := Compile(div, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Native() {
		t.Error("division by X compiled to native code without UDIV")
	}
	if got := p.Run(nil, 0); got != 14 {
		t.Errorf("100/7 = %d on the fallback", got)
	}
	shift := prog(Stmt(BPF_LD|BPF_IMM, 100), Stmt(BPF_ALU|BPF_DIV|BPF_K, 4), Stmt(BPF_ALU|BPF_MOD|BPF_K, 8), retA)
	if got := mustNative(t, shift).Run(nil, 0); got != 1 {
		t.Errorf("100/4%%8 = %d", got)
	}
}

// TestARMLongProgram: a program of maxOps instructions whose first jump
// spans almost all of it, and a path that walks every instruction.
func TestARMLongProgram(t *testing.T) {
	n := maxOps
	p := make([]Insn, 0, n)
	p = append(p,
		Stmt(BPF_LD|BPF_B|BPF_ABS, 0),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 1, 0, 1),
		Stmt(BPF_JMP|BPF_JA, uint32(n-4)), // to the last instruction
	)
	for len(p) < n-2 {
		p = append(p, Stmt(BPF_ALU|BPF_ADD|BPF_K, 3))
	}
	p = append(p, Stmt(BPF_RET|BPF_A, 0), Stmt(BPF_RET|BPF_K, 0x1234))
	prog := mustNative(t, p)
	if got := prog.Run([]byte{1}, 1); got != 0x1234 {
		t.Errorf("long jump: %#x", got)
	}
	if got, want := prog.Run([]byte{2}, 1), Filter(p, []byte{2}, 1); got != want || want != 2+3*uint32(n-5) {
		t.Errorf("walk: native %d, interpreter %d", got, want)
	}
}

// randomProgram builds a valid program of up to 40 instructions from every
// opcode, with constants from interesting or small offsets, and forward
// jumps.
func randomProgram(rng *rand.Rand) []Insn {
	codes := make([]uint16, 0, 64)
	for c := range 0x100 {
		if Legal(uint16(c)) {
			codes = append(codes, uint16(c))
		}
	}
	n := 2 + rng.IntN(40)
	p := make([]Insn, n)
	for i := range p {
		code := codes[rng.IntN(len(codes))]
		var k uint32
		switch rng.IntN(3) {
		case 0:
			k = interesting[rng.IntN(len(interesting))]
		case 1:
			k = uint32(rng.IntN(64))
		default:
			k = rng.Uint32()
		}
		ins := Insn{Code: code, K: k}
		remain := n - i - 1
		switch {
		case remain == 0:
			ins = Stmt(BPF_RET|BPF_A, 0)
			if rng.IntN(2) == 0 {
				ins = Stmt(BPF_RET|BPF_K, k)
			}
		case code == BPF_JMP|BPF_JA:
			ins.K = uint32(rng.IntN(remain))
		case ins.Class() == BPF_JMP:
			ins.Jt, ins.Jf = uint8(rng.IntN(min(remain, 256))), uint8(rng.IntN(min(remain, 256)))
		case code == BPF_ST || code == BPF_STX || code == BPF_LD|BPF_MEM || code == BPF_LDX|BPF_MEM:
			ins.K %= BPF_MEMWORDS
		case code == BPF_ALU|BPF_DIV|BPF_K || code == BPF_ALU|BPF_MOD|BPF_K:
			if ins.K == 0 {
				ins.K = 3
			}
		}
		p[i] = ins
	}
	return p
}

// TestARMRandomPrograms compares native code with the interpreter on random
// valid programs over random packets.
func TestARMRandomPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	programs := 4000
	if testing.Short() {
		programs = 500
	}
	pkts := make([][]byte, 12)
	for i := range pkts {
		pkts[i] = make([]byte, rng.IntN(80))
		for j := range pkts[i] {
			pkts[i][j] = byte(rng.IntN(8)) // small bytes: small X, taken jumps
		}
	}
	for range programs {
		p := randomProgram(rng)
		if err := Validate(p, 0); err != nil {
			t.Fatalf("generated an invalid program: %v\n%s", err, Disassemble(p))
		}
		c := mustNative(t, p)
		for _, pkt := range pkts {
			if !agree(t, c, pkt, uint32(len(pkt))+uint32(rng.IntN(3))) {
				return
			}
		}
	}
}

// TestARMCacheflush: the system call jitSync relies on exists and accepts a
// range of executable memory.
func TestARMCacheflush(t *testing.T) {
	p := mustNative(t, prog(Stmt(BPF_RET|BPF_K, 1)))
	if e := armCacheflush(p.native.entry, p.native.entry+uintptr(len(p.native.mem))); e != 0 {
		t.Errorf("cacheflush = %d", e)
	}
}

// TestARMEncodings disassembles generated code with GNU objdump and checks
// every instruction form the generator uses against the listing an
// assembler prints for the intended instruction.
func TestARMEncodings(t *testing.T) {
	objdump, err := exec.LookPath("arm-none-eabi-objdump")
	if err != nil {
		t.Skip("arm-none-eabi-objdump not installed (Debian: binutils-arm-none-eabi)")
	}
	cases := []struct {
		name string
		emit func(g *armGen)
		want []string
	}{
		{"mov imm", func(g *armGen) { g.movConst(armAL, armA, 0xff000000) }, []string{"mov r0, #-16777216"}},
		{"mvn", func(g *armGen) { g.movConst(armAL, armX, 0xfffffeff) }, []string{"mvn r1, #256"}},
		{"movw", func(g *armGen) { g.movConst(armAL, armIP, 0x1234) }, []string{"movw ip, #4660"}},
		{"movw movt", func(g *armGen) { g.movConst(armAL, armIP, 0x12345678) }, []string{"movw ip, #22136", "movt ip, #4660"}},
		{"ldr", func(g *armGen) { g.load(BPF_W, armA, armP, 4095) }, []string{"ldr r0, [r2, #4095]", "rev r0, r0"}},
		{"ldr reg", func(g *armGen) { g.load(BPF_W, armA, armP, 4096) }, []string{"mov ip, #4096", "ldr r0, [r2, ip]", "rev r0, r0"}},
		{"ldrh", func(g *armGen) { g.load(BPF_H, armA, armT1, 255) }, []string{"ldrh r0, [r7, #255]", "rev16 r0, r0"}},
		{"ldrh reg", func(g *armGen) { g.load(BPF_H, armA, armP, 256) }, []string{"mov ip, #256", "ldrh r0, [r2, ip]", "rev16 r0, r0"}},
		{"ldrb", func(g *armGen) { g.load(BPF_B, armT0, armP, 14) }, []string{"ldrb r6, [r2, #14]"}},
		{"ldrb reg", func(g *armGen) { g.loadReg(BPF_B, armA, armP, armX) }, []string{"ldrb r0, [r2, r1]"}},
		{"scratch", func(g *armGen) { g.mem(true, armX, 15); g.mem(false, armA, 0) }, []string{"str r1, [sp, #64]", "ldr r0, [sp, #4]"}},
		{"mul udiv mls", func(g *armGen) { g.mul(armA, armA, armIP); g.udiv(armT0, armA, armX); g.mls(armA, armT0, armX, armA) },
			[]string{"mul r0, r0, ip", "udiv r6, r0, r1", "mls r0, r6, r1, r0"}},
		{"shifts", func(g *armGen) {
			g.dp(armAL, armMOV, false, 0, armA, armShift(armA, armLSR, 31))
			g.dp(armLO, armMOV, false, 0, armA, armShiftReg(armA, armLSL, armX))
			g.dp(armAL, armMOV, false, 0, armX, armShift(armT0, armLSL, 2))
		}, []string{"lsr r0, r0, #31", "lslcc r0, r0, r1", "lsl r1, r6, #2"}},
		{"flags", func(g *armGen) {
			g.dp(armAL, armSUB, true, armL, armT0, armImm(4))
			g.dp(armHS, armCMP, true, armT0, 0, armReg(armX))
			g.cmpConst(armA, 0xffffff00, true)
			g.dp(armAL, armTST, true, armA, 0, armImm(0x3fc0))
		}, []string{"subs r6, r3, #4", "cmpcs r6, r1", "cmn r0, #256", "tst r0, #16320"}},
		{"alu", func(g *armGen) {
			g.addK(armADD, armSUB, 0xfffffff0)
			g.dp(armAL, armRSB, false, armA, armA, armImm(0))
			g.dp(armAL, armBIC, false, armA, armA, armImm(0xff))
			g.dp(armAL, armEOR, false, armA, armA, armReg(armIP))
			g.dp(armAL, armORR, false, armA, armA, armReg(armX))
		}, []string{"sub r0, r0, #16", "rsb r0, r0, #0", "bic r0, r0, #255", "eor r0, r0, ip", "orr r0, r0, r1"}},
		// A whole program: branches, the shared return 0, returns.
		{"program", func(g *armGen) {
			code, _ := armEmit(prog(
				Stmt(BPF_LD|BPF_H|BPF_ABS, 12),
				Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x800, 0, 1),
				Stmt(BPF_RET|BPF_K, 0x40000),
				Stmt(BPF_RET|BPF_A, 0),
			))
			for i := 0; i < len(code); i += 4 {
				g.emit(binary.LittleEndian.Uint32(code[i:]))
			}
		}, []string{
			"cmp r3, #14", "bcc 0x24", "ldrh r0, [r2, #12]", "rev16 r0, r0",
			"cmp r0, #2048", "bne 0x20",
			"mov r0, #262144", "bx lr",
			"bx lr",
			"mov r0, #0", "bx lr",
		}},
	}
	dir := t.TempDir()
	comment := regexp.MustCompile(`\s*[@;].*$`)
	line := regexp.MustCompile(`^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s+(.*)$`)
	for _, c := range cases {
		g := &armGen{}
		c.emit(g)
		var bin []byte
		for _, w := range g.code {
			bin = binary.LittleEndian.AppendUint32(bin, w)
		}
		file := filepath.Join(dir, "code.bin")
		if err := os.WriteFile(file, bin, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(objdump, "-D", "-b", "binary", "-marm", file).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", objdump, err, out)
		}
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			if m := line.FindStringSubmatch(l); m != nil {
				got = append(got, strings.Join(strings.Fields(comment.ReplaceAllString(m[1], "")), " "))
			}
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\ngot\n\t%s\nwant\n\t%s", c.name, strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
		}
	}
}

// BenchmarkARMCorpus runs every corpus filter over all traffic.pcap frames
// three ways, interleaved in each iteration: native code (Compile), the
// portable ops (CompilePortable) and golang.org/x/net/bpf (the anchor). It
// reports ns/frame for each and the speed-ups of native code over the other
// two ("x-vs", > 1 means native is faster), per filter and as the median
// over filters. Under qemu-arm the figures are TCG's, so only the ratios
// within one run mean anything:
//
//	GOARCH=arm GOARM=7 go test -exec qemu-arm -run '^$' -bench BenchmarkARMCorpus ./bpf/
func BenchmarkARMCorpus(b *testing.B) {
	c := loadCorpus(b)
	frames := c.Frames
	var vsOps, vsXnet []float64
	for _, f := range c.Filters {
		native, err := Compile(f.Insns, 0)
		vm, xerr := xnetVM(f.Insns)
		if err != nil || xerr != nil {
			continue // ip6 protochain: only the interpreter runs it
		}
		ops, _ := CompilePortable(f.Insns, 0)
		if !native.Native() {
			b.Fatalf("%q: no native code", f.Expr)
		}
		// The function runs more than once (b.N = 1 first): the last
		// run, the longest, sets the filter's ratios.
		vsOps, vsXnet = append(vsOps, 0), append(vsXnet, 0)
		last := len(vsOps) - 1
		b.Run(f.Expr, func(b *testing.B) {
			var tx, to, tn time.Duration
			for b.Loop() {
				t0 := time.Now()
				xnetPass(vm, frames)
				t1 := time.Now()
				compiledPass(ops, frames)
				t2 := time.Now()
				compiledPass(native, frames)
				t3 := time.Now()
				tx, to, tn = tx+t1.Sub(t0), to+t2.Sub(t1), tn+t3.Sub(t2)
			}
			n := float64(b.N) * float64(len(frames))
			b.ReportMetric(float64(tx.Nanoseconds())/n, "xnet-ns/frame")
			b.ReportMetric(float64(to.Nanoseconds())/n, "ops-ns/frame")
			b.ReportMetric(float64(tn.Nanoseconds())/n, "native-ns/frame")
			b.ReportMetric(float64(to)/float64(tn), "native-x-vs-ops")
			b.ReportMetric(float64(tx)/float64(tn), "native-x-vs-xnet")
			vsOps[last], vsXnet[last] = float64(to)/float64(tn), float64(tx)/float64(tn)
		})
	}
	if len(vsOps) == 0 {
		return
	}
	median := func(v []float64) float64 {
		v = append([]float64(nil), v...)
		sort.Float64s(v)
		return v[len(v)/2]
	}
	b.Run("median", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(median(vsOps), "median-native-x-vs-ops")
		b.ReportMetric(median(vsXnet), "median-native-x-vs-xnet")
	})
}
