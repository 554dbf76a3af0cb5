package bpf

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Tests of the native code that hold on every architecture with a code
// generator (amd64 natively, arm under qemu-arm): the machine code must give
// the interpreter's verdict, the portable ops' verdict and, where it defines
// the same result, x/net/bpf's, for every program and packet. Where no
// generator exists Compile gives the ops path and these tests still compare
// it with the interpreter.

// jitPlatform reports whether Compile is expected to attach machine code.
func jitPlatform() bool {
	return runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm")
}

// pathPair is one program compiled both ways.
type pathPair struct {
	insns    []Insn
	native   *Program // Compile: machine code where there is a generator
	portable *Program // CompilePortable: the ops
}

func compilePair(tb testing.TB, insns []Insn, maxInsns int) pathPair {
	tb.Helper()
	nat, err := Compile(insns, maxInsns)
	if err != nil {
		tb.Fatalf("Compile: %v\n%s", err, Disassemble(insns))
	}
	port, err := CompilePortable(insns, maxInsns)
	if err != nil {
		tb.Fatalf("CompilePortable: %v", err)
	}
	if port.Native() {
		tb.Fatal("CompilePortable attached machine code")
	}
	return pathPair{insns: insns, native: nat, portable: port}
}

// verdict runs all three of our paths over one packet and returns the
// interpreter's verdict, failing tb (up to a point) when they differ.
func (pp pathPair) verdict(tb testing.TB, pkt []byte, wirelen uint32) (uint32, bool) {
	tb.Helper()
	want := Filter(pp.insns, pkt, wirelen)
	n, p := pp.native.Run(pkt, wirelen), pp.portable.Run(pkt, wirelen)
	if n != want || p != want {
		tb.Errorf("%d-byte packet, wirelen %d: interpreter %d, native %d, portable %d\n%s", len(pkt), wirelen, want, n, p, Disassemble(pp.insns))
		return want, false
	}
	return want, true
}

// TestNativeCorpus runs every corpus filter on the native code, the
// portable ops and the interpreter over every corpus frame, and over a
// sample of frames truncated at every captured length (the wire length
// staying the frame's): each truncation moves the end of the packet past
// another load, which is where the elided bounds checks would show. Lengths
// beyond 200 bytes are covered by the full frames: no corpus filter loads
// past byte 140.
func TestNativeCorpus(t *testing.T) {
	c := loadCorpus(t)
	step := 61
	if testing.Short() {
		step = 977
	}
	for _, f := range c.Filters {
		if f.Expr == protochainExpr {
			continue // invalid: no compiled form
		}
		t.Run(f.Expr, func(t *testing.T) {
			pp := compilePair(t, f.Insns, 0)
			if pp.native.Native() != jitPlatform() {
				t.Fatalf("Native() = %v on %s/%s", pp.native.Native(), runtime.GOOS, runtime.GOARCH)
			}
			matched := 0
			for i, fr := range c.Frames {
				wire := uint32(fr.Length)
				v, ok := pp.verdict(t, fr.Data, wire)
				if !ok {
					t.FailNow()
				}
				if v != 0 {
					matched++
				}
				if i%step != 0 {
					continue
				}
				for n := range min(len(fr.Data), 200) {
					if _, ok := pp.verdict(t, fr.Data[:n], wire); !ok {
						t.Fatalf("frame %d cut to %d bytes", i, n)
					}
				}
			}
			if matched != f.Matches {
				t.Errorf("matched %d frames, oracle %d", matched, f.Matches)
			}
		})
	}
}

// edgePacket is 20 bytes, byte i = 0x10+i, with an IPv4-like nibble at 14.
var edgePacket = func() []byte {
	p := make([]byte, 20)
	for i := range p {
		p[i] = byte(0x10 + i)
	}
	return p
}()

// TestNativeEdgeCases covers each point where a code generator can part
// from the interpreter: bounds at the last byte and far past it, X+k
// wrapping, wire versus captured length, MSH, division by X == 0, shifts by
// 32 or more (x86 masks the count, ARM uses its low byte, Go gives 0),
// NEG, scratch memory never written, A and X zero at entry, unsigned
// comparisons, immediates that a short encoding would sign-extend, and
// JSET. Each verdict is worked out by hand; the interpreter, both compiled
// paths and x/net/bpf (where it defines the same result) must all give it.
func TestNativeEdgeCases(t *testing.T) {
	ld := func(code uint16, k uint32) []Insn { return prog(Stmt(code, k), retA) }
	ldx := func(x uint32, code uint16, k uint32) []Insn {
		return prog(Stmt(BPF_LDX|BPF_IMM, x), Stmt(code, k), retA)
	}
	alu := func(a uint32, code uint16, k uint32) []Insn {
		return prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(code, k), retA)
	}
	aluX := func(a, x uint32, code uint16) []Insn {
		return prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_LDX|BPF_IMM, x), Stmt(code, 0), retA)
	}
	// test returns 1 when the jump is taken, 2 when not.
	test := func(a uint32, code uint16, k uint32) []Insn {
		return prog(Stmt(BPF_LD|BPF_IMM, a), Stmt(BPF_LDX|BPF_IMM, k), Jump(code, k, 0, 1), Stmt(BPF_RET|BPF_K, 1), Stmt(BPF_RET|BPF_K, 2))
	}
	const W, H, B = BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS
	const IW, IH, IB = BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND
	cases := []struct {
		name string
		prog []Insn
		wire uint32 // 0: len(edgePacket)
		want uint32
	}{
		{"ld last word", ld(W, 16), 0, 0x20212223},
		{"ld one past", ld(W, 17), 0, 0},
		{"ld k=2^31", ld(W, 0x80000000), 0, 0},
		{"ld k=2^32-4", ld(W, math.MaxUint32-3), 0, 0},
		{"ldh last", ld(H, 18), 0, 0x2223},
		{"ldh one past", ld(H, 19), 0, 0},
		{"ldh k=2^32-1", ld(H, math.MaxUint32), 0, 0},
		{"ldb last", ld(B, 19), 0, 0x23},
		{"ldb at len", ld(B, 20), 0, 0},
		{"ldb k=2^31+19", ld(B, 0x80000013), 0, 0},
		{"ld [x+k] last word", ldx(2, IW, 14), 0, 0x20212223},
		{"ld [x+k] one past", ldx(3, IW, 14), 0, 0},
		{"ldh [x+k] last", ldx(18, IH, 0), 0, 0x2223},
		{"ldb [x+k] X+k wraps to 0", ldx(math.MaxUint32, IB, 1), 0, 0},
		{"ldb [x+k] 2^31+2^31 wraps to 0", ldx(0x80000000, IB, 0x80000000), 0, 0},
		{"ld [x+k] k wraps", ldx(4, IW, math.MaxUint32-1), 0, 0},
		{"ldb [x+k] large k", ldx(0, IB, 0x80000000), 0, 0},
		{"ldh [x+k] large X", ldx(0xfffffff0, IH, 0x12), 0, 0},
		{"ldxb msh", prog(Stmt(BPF_LDX|BPF_B|BPF_MSH, 14), Stmt(BPF_MISC|BPF_TXA, 0), retA), 0, 0x1e & 0xf * 4},
		{"ldxb msh past end", prog(Stmt(BPF_LDX|BPF_B|BPF_MSH, 20), Stmt(BPF_RET|BPF_K, 5)), 0, 0},
		{"ld #pktlen is wirelen", ld(BPF_LD|BPF_W|BPF_LEN, 0), 1514, 1514},
		{"ldx #pktlen is wirelen", prog(Stmt(BPF_LDX|BPF_W|BPF_LEN, 0), Stmt(BPF_MISC|BPF_TXA, 0), retA), 1514, 1514},
		{"load bounded by capture, not wire", ld(B, 20), 1514, 0},
		{"div x=0 ends with 0", prog(Stmt(BPF_LD|BPF_IMM, 10), Stmt(BPF_ALU|BPF_DIV|BPF_X, 0), Stmt(BPF_RET|BPF_K, 7)), 0, 0},
		{"mod x=0 ends with 0", prog(Stmt(BPF_LD|BPF_IMM, 10), Stmt(BPF_ALU|BPF_MOD|BPF_X, 0), Stmt(BPF_RET|BPF_K, 7)), 0, 0},
		{"div x", aluX(100, 7, BPF_ALU|BPF_DIV|BPF_X), 0, 14},
		{"mod x", aluX(100, 7, BPF_ALU|BPF_MOD|BPF_X), 0, 2},
		{"div x large", aluX(0xffffffff, 0x80000000, BPF_ALU|BPF_DIV|BPF_X), 0, 1},
		{"div 3", alu(0xffffffff, BPF_ALU|BPF_DIV|BPF_K, 3), 0, 0x55555555},
		{"mod 3", alu(0xfffffffe, BPF_ALU|BPF_MOD|BPF_K, 3), 0, 2},
		{"div 16", alu(0xffffffff, BPF_ALU|BPF_DIV|BPF_K, 16), 0, 0x0fffffff},
		{"mod 16", alu(0xffffffff, BPF_ALU|BPF_MOD|BPF_K, 16), 0, 15},
		{"div 1", alu(0xfedcba98, BPF_ALU|BPF_DIV|BPF_K, 1), 0, 0xfedcba98},
		{"mod 1", alu(0xfedcba98, BPF_ALU|BPF_MOD|BPF_K, 1), 0, 0},
		{"div 2^31+1", alu(0xffffffff, BPF_ALU|BPF_DIV|BPF_K, 0x80000001), 0, 1},
		{"mod 2^31+1", alu(0xffffffff, BPF_ALU|BPF_MOD|BPF_K, 0x80000001), 0, 0x7ffffffe},
		{"mul wraps", alu(0x10001, BPF_ALU|BPF_MUL|BPF_K, 0x10001), 0, 0x20001},
		{"mul 0", alu(0x10001, BPF_ALU|BPF_MUL|BPF_K, 0), 0, 0},
		{"mul 8", alu(0x10001, BPF_ALU|BPF_MUL|BPF_K, 8), 0, 0x80008},
		{"mul 2^32-1", alu(3, BPF_ALU|BPF_MUL|BPF_K, 0xffffffff), 0, 0xfffffffd},
		{"mul x", aluX(0x10001, 0xffff, BPF_ALU|BPF_MUL|BPF_X), 0, 0xffffffff},
		{"lsh 31", alu(0x80000001, BPF_ALU|BPF_LSH|BPF_K, 31), 0, 0x80000000},
		{"lsh 32", alu(0x80000001, BPF_ALU|BPF_LSH|BPF_K, 32), 0, 0},
		{"lsh 33", alu(0x80000001, BPF_ALU|BPF_LSH|BPF_K, 33), 0, 0},
		{"lsh 0", alu(0x80000001, BPF_ALU|BPF_LSH|BPF_K, 0), 0, 0x80000001},
		{"rsh 31", alu(0x80000001, BPF_ALU|BPF_RSH|BPF_K, 31), 0, 1},
		{"rsh 32", alu(0x80000001, BPF_ALU|BPF_RSH|BPF_K, 32), 0, 0},
		{"rsh 2^32-1", alu(0x80000001, BPF_ALU|BPF_RSH|BPF_K, math.MaxUint32), 0, 0},
		{"lsh x 0", aluX(5, 0, BPF_ALU|BPF_LSH|BPF_X), 0, 5},
		{"lsh x 31", aluX(5, 31, BPF_ALU|BPF_LSH|BPF_X), 0, 0x80000000},
		{"lsh x 32", aluX(5, 32, BPF_ALU|BPF_LSH|BPF_X), 0, 0},
		{"lsh x 33", aluX(5, 33, BPF_ALU|BPF_LSH|BPF_X), 0, 0},
		{"lsh x 255", aluX(5, 255, BPF_ALU|BPF_LSH|BPF_X), 0, 0},
		{"lsh x 256", aluX(5, 256, BPF_ALU|BPF_LSH|BPF_X), 0, 0},
		{"lsh x 2^32-1", aluX(5, math.MaxUint32, BPF_ALU|BPF_LSH|BPF_X), 0, 0},
		{"rsh x 1", aluX(0x80000000, 1, BPF_ALU|BPF_RSH|BPF_X), 0, 0x40000000},
		{"rsh x 32", aluX(0x80000000, 32, BPF_ALU|BPF_RSH|BPF_X), 0, 0},
		{"rsh x 64", aluX(0x80000000, 64, BPF_ALU|BPF_RSH|BPF_X), 0, 0},
		{"rsh x 257", aluX(0x80000000, 257, BPF_ALU|BPF_RSH|BPF_X), 0, 0},
		{"neg", prog(Stmt(BPF_LD|BPF_IMM, 1), Stmt(BPF_ALU|BPF_NEG, 0), retA), 0, 0xffffffff},
		{"neg 0", prog(Stmt(BPF_ALU|BPF_NEG, 0), retA), 0, 0},
		{"add -128 as imm8", alu(0x100, BPF_ALU|BPF_ADD|BPF_K, 0xffffff80), 0, 0x80},
		{"add 128 as imm32", alu(0x100, BPF_ALU|BPF_ADD|BPF_K, 0x80), 0, 0x180},
		{"sub wraps", alu(1, BPF_ALU|BPF_SUB|BPF_K, 2), 0, 0xffffffff},
		{"and -128", alu(0x12345678, BPF_ALU|BPF_AND|BPF_K, 0xffffff80), 0, 0x12345600},
		{"and 0x7f", alu(0x12345678, BPF_ALU|BPF_AND|BPF_K, 0x7f), 0, 0x78},
		{"or high bit", alu(1, BPF_ALU|BPF_OR|BPF_K, 0x80000000), 0, 0x80000001},
		{"xor all", alu(0x0f0f0f0f, BPF_ALU|BPF_XOR|BPF_K, 0xffffffff), 0, 0xf0f0f0f0},
		{"add x, sub x, and x, or x, xor x", prog(Stmt(BPF_LD|BPF_IMM, 0xf0), Stmt(BPF_LDX|BPF_IMM, 0x0f),
			Stmt(BPF_ALU|BPF_ADD|BPF_X, 0), Stmt(BPF_ALU|BPF_SUB|BPF_X, 0), Stmt(BPF_ALU|BPF_OR|BPF_X, 0),
			Stmt(BPF_ALU|BPF_XOR|BPF_X, 0), Stmt(BPF_ALU|BPF_AND|BPF_X, 0), retA), 0, 0},
		{"A starts 0", prog(retA), 0, 0},
		{"X starts 0", prog(Stmt(BPF_LD|BPF_IMM, 5), Stmt(BPF_ALU|BPF_ADD|BPF_X, 0), retA), 0, 5},
		{"unwritten M[5] reads 0", prog(Stmt(BPF_LD|BPF_MEM, 5), Stmt(BPF_ALU|BPF_ADD|BPF_K, 7), retA), 0, 7},
		{"unwritten M[15] into X", prog(Stmt(BPF_LDX|BPF_MEM, 15), Stmt(BPF_MISC|BPF_TXA, 0), retA), 0, 0},
		{"st, stx, ld, ldx", prog(Stmt(BPF_LD|BPF_IMM, 3), Stmt(BPF_ST, 0), Stmt(BPF_LDX|BPF_IMM, 4), Stmt(BPF_STX, 15),
			Stmt(BPF_LD|BPF_MEM, 15), Stmt(BPF_LDX|BPF_MEM, 0), Stmt(BPF_ALU|BPF_MUL|BPF_X, 0), retA), 0, 12},
		// M[3] written on one path only: the other reads 0.
		{"M[3] written on the taken path", prog(Stmt(BPF_LD|B, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x10, 0, 2),
			Stmt(BPF_LD|BPF_IMM, 9), Stmt(BPF_ST, 3), Stmt(BPF_LD|BPF_MEM, 3), retA), 0, 9},
		{"M[3] not written on the other path", prog(Stmt(BPF_LD|B, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x11, 0, 2),
			Stmt(BPF_LD|BPF_IMM, 9), Stmt(BPF_ST, 3), Stmt(BPF_LD|BPF_MEM, 3), retA), 0, 0},
		{"ret k", prog(Stmt(BPF_RET|BPF_K, 0xffffffff)), 0, 0xffffffff},
		{"tax txa", prog(Stmt(BPF_LD|BPF_IMM, 6), Stmt(BPF_MISC|BPF_TAX, 0), Stmt(BPF_LD|BPF_IMM, 1), Stmt(BPF_MISC|BPF_TXA, 0), retA), 0, 6},
		{"jeq 0 taken", test(0, BPF_JMP|BPF_JEQ|BPF_K, 0), 0, 1},
		{"jeq 0 not taken", test(1, BPF_JMP|BPF_JEQ|BPF_K, 0), 0, 2},
		{"jgt is unsigned", test(0x80000000, BPF_JMP|BPF_JGT|BPF_K, 0x7fffffff), 0, 1},
		{"jgt -128 as imm8", test(0xffffff81, BPF_JMP|BPF_JGT|BPF_K, 0xffffff80), 0, 1},
		{"jgt -128 not taken", test(0x7f, BPF_JMP|BPF_JGT|BPF_K, 0xffffff80), 0, 2},
		{"jgt equal", test(9, BPF_JMP|BPF_JGT|BPF_K, 9), 0, 2},
		{"jge equal", test(0x80, BPF_JMP|BPF_JGE|BPF_K, 0x80), 0, 1},
		{"jge below", test(0x7f, BPF_JMP|BPF_JGE|BPF_K, 0x80), 0, 2},
		{"jset high bit", test(0x80000000, BPF_JMP|BPF_JSET|BPF_K, 0x80000000), 0, 1},
		{"jset 0x100 of 0xff", test(0xff, BPF_JMP|BPF_JSET|BPF_K, 0x100), 0, 2},
		{"jset 0", test(0xffffffff, BPF_JMP|BPF_JSET|BPF_K, 0), 0, 2},
		{"jset low byte", test(0x101, BPF_JMP|BPF_JSET|BPF_K, 0x01), 0, 1},
		{"jeq x", test(0xabcdef01, BPF_JMP|BPF_JEQ|BPF_X, 0xabcdef01), 0, 1},
		{"jgt x unsigned", test(0xffffffff, BPF_JMP|BPF_JGT|BPF_X, 0xfffffffe), 0, 1},
		{"jge x", test(0xfffffffe, BPF_JMP|BPF_JGE|BPF_X, 0xffffffff), 0, 2},
		{"jset x", test(0x8000, BPF_JMP|BPF_JSET|BPF_X, 0xc000), 0, 1},
		// Tests whose branches both return: the verdict is selected
		// without a branch, and a 0 loaded on the way must not disturb
		// the flags the selection reads.
		{"jeq to ret a / ret 0, taken", prog(Stmt(BPF_LD|BPF_IMM, 5), Jump(BPF_JMP|BPF_JEQ|BPF_K, 5, 0, 1), retA, Stmt(BPF_RET|BPF_K, 0)), 0, 5},
		{"jeq to ret a / ret 0, not taken", prog(Stmt(BPF_LD|BPF_IMM, 6), Jump(BPF_JMP|BPF_JEQ|BPF_K, 5, 0, 1), retA, Stmt(BPF_RET|BPF_K, 0)), 0, 0},
		{"jgt to ret 0 / ret a, not taken", prog(Stmt(BPF_LD|BPF_IMM, 3), Jump(BPF_JMP|BPF_JGT|BPF_K, 4, 0, 1), Stmt(BPF_RET|BPF_K, 0), retA), 0, 3},
		{"jgt to ret 0 / ret a, taken", prog(Stmt(BPF_LD|BPF_IMM, 5), Jump(BPF_JMP|BPF_JGT|BPF_K, 4, 0, 1), Stmt(BPF_RET|BPF_K, 0), retA), 0, 0},
		{"jset to ret 0 / ret 9", prog(Stmt(BPF_LD|BPF_IMM, 0x10), Jump(BPF_JMP|BPF_JSET|BPF_K, 0x10, 0, 1), Stmt(BPF_RET|BPF_K, 0), Stmt(BPF_RET|BPF_K, 9)), 0, 0},
		{"jset x to ret 0 / ret 9", prog(Stmt(BPF_LD|BPF_IMM, 0x10), Stmt(BPF_LDX|BPF_IMM, 0x20), Jump(BPF_JMP|BPF_JSET|BPF_X, 0, 0, 1), Stmt(BPF_RET|BPF_K, 0), Stmt(BPF_RET|BPF_K, 9)), 0, 9},
		{"jge x to ret a / ret a", prog(Stmt(BPF_LD|BPF_IMM, 7), Jump(BPF_JMP|BPF_JGE|BPF_X, 0, 0, 1), retA, retA), 0, 7},
		{"ja", prog(Stmt(BPF_JMP|BPF_JA, 1), Stmt(BPF_RET|BPF_K, 1), Stmt(BPF_RET|BPF_K, 2)), 0, 2},
		{"jt == jf", prog(Jump(BPF_JMP|BPF_JEQ|BPF_K, 0, 1, 1), Stmt(BPF_RET|BPF_K, 1), Stmt(BPF_RET|BPF_K, 2)), 0, 2},
		{"both branches jump", prog(Stmt(BPF_LD|H, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x1011, 1, 2), Stmt(BPF_RET|BPF_K, 1),
			Stmt(BPF_RET|BPF_K, 2), Stmt(BPF_RET|BPF_K, 3)), 0, 2},
		// A later load inside a checked bound, reached on one path
		// with a smaller check only.
		{"checked on one path only", prog(Stmt(BPF_LD|B, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x10, 0, 1),
			Stmt(BPF_LD|W, 16), Stmt(BPF_LD|H, 18), retA), 0, 0x2223},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := c.wire
			if wire == 0 {
				wire = uint32(len(edgePacket))
			}
			if got := Filter(c.prog, edgePacket, wire); got != c.want {
				t.Fatalf("interpreter %#x, want %#x", got, c.want)
			}
			pp := compilePair(t, c.prog, 0)
			got, _ := pp.verdict(t, edgePacket, wire)
			if got != c.want {
				t.Fatalf("verdict %#x, want %#x", got, c.want)
			}
			if ok, _ := xnetComparable(c.prog); !ok || wire != uint32(len(edgePacket)) {
				return
			}
			vm, err := xnetVM(c.prog)
			if err != nil {
				t.Fatalf("x/net/bpf: %v", err)
			}
			if x, err := vm.Run(edgePacket); err != nil || uint32(x) != c.want {
				t.Errorf("x/net/bpf %#x (%v), want %#x", x, err, c.want)
			}
		})
	}
}

// TestNativeScratchStartsZero runs, from the same caller (so on the same
// stack), a program that fills every scratch word and then programs that
// read one word each without writing it: each must read 0, not what the
// previous run left in the frame.
func TestNativeScratchStartsZero(t *testing.T) {
	var fill []Insn
	fill = append(fill, Stmt(BPF_LD|BPF_IMM, 0xdeadbeef), Stmt(BPF_LDX|BPF_IMM, 0xfeedface))
	for k := range uint32(BPF_MEMWORDS) {
		if k%2 == 0 {
			fill = append(fill, Stmt(BPF_ST, k))
		} else {
			fill = append(fill, Stmt(BPF_STX, k))
		}
	}
	fill = append(fill, Stmt(BPF_RET|BPF_K, 1))
	filler := compilePair(t, fill, 0)
	for k := range uint32(BPF_MEMWORDS) {
		// Write the neighbours, read M[k]: only M[k] needs clearing.
		var rd []Insn
		for j := range uint32(BPF_MEMWORDS) {
			if j != k {
				rd = append(rd, Stmt(BPF_LD|BPF_IMM, j+1), Stmt(BPF_ST, j))
			}
		}
		rd = append(rd, Stmt(BPF_LD|BPF_MEM, k), Stmt(BPF_LDX|BPF_MEM, (k+1)%BPF_MEMWORDS), Stmt(BPF_ALU|BPF_ADD|BPF_X, 0), retA)
		reader := compilePair(t, rd, 0)
		want := (k+1)%BPF_MEMWORDS + 1
		for range 3 {
			filler.native.Run(edgePacket, 20)
			if got := reader.native.Run(edgePacket, 20); got != want {
				t.Fatalf("M[%d]: verdict %d, want %d (unwritten word not 0)", k, got, want)
			}
		}
	}
}

// TestNativeLongProgram compiles a random program of nearly maxOps
// instructions whose jumps reach up to 255 instructions (conditional) and
// tens of thousands ("ja"), so that the code needs the long branch forms,
// and checks it against the interpreter over packets chosen so that many
// paths run.
func TestNativeLongProgram(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	n := maxOps - 1000
	p := make([]Insn, n)
	// The first instruction jumps most of the way: a long jump taken
	// whatever the packet.
	p[0] = Stmt(BPF_JMP|BPF_JA, uint32(n/2))
	for i := 1; i < n-1; i++ {
		p[i] = longProgramInsn(rng, n-i-1)
	}
	p[n-1] = retA
	pp := compilePair(t, p, maxOps)
	if jitPlatform() && !pp.native.Native() {
		t.Fatal("no machine code for the long program")
	}
	pkts := [][]byte{nil, edgePacket[:3], edgePacket}
	for range 40 {
		pkt := make([]byte, 150+rng.IntN(60))
		for i := range pkt {
			pkt[i] = byte(rng.IntN(4)) // small values: jeq tests hit
		}
		pkts = append(pkts, pkt)
	}
	seen := map[uint32]bool{}
	for _, pkt := range pkts {
		v, ok := pp.verdict(t, pkt, uint32(len(pkt))+3)
		if !ok {
			t.FailNow()
		}
		seen[v] = true
	}
	if len(seen) < 3 {
		t.Errorf("only %d distinct verdicts: the packets exercise too few paths", len(seen))
	}
}

// longProgramInsn draws one instruction for TestNativeLongProgram, with
// remain instructions after it. It leaves out division and modulo (a
// generator may decline them where the CPU has no divide instruction) so
// that the whole program is native wherever there is a generator.
func longProgramInsn(rng *rand.Rand, remain int) Insn {
	small := func() uint32 { return uint32(rng.IntN(4)) }
	switch rng.IntN(12) {
	case 0:
		return Stmt(BPF_LD|BPF_B|BPF_ABS, uint32(rng.IntN(160)))
	case 1:
		return Stmt(BPF_LD|BPF_H|BPF_IND, uint32(rng.IntN(100)))
	case 2:
		return Stmt(BPF_LDX|BPF_B|BPF_MSH, uint32(rng.IntN(100)))
	case 3:
		return Stmt(BPF_ALU|BPF_ADD|BPF_K, small())
	case 4:
		return Stmt(BPF_ST, uint32(rng.IntN(BPF_MEMWORDS)))
	case 5:
		return Stmt(BPF_LD|BPF_MEM, uint32(rng.IntN(BPF_MEMWORDS)))
	case 6:
		return Stmt(BPF_ALU|BPF_AND|BPF_K, 3)
	case 7:
		if rng.IntN(8) == 0 {
			return Stmt(BPF_RET|BPF_A, 0)
		}
		return Stmt(BPF_MISC|BPF_TAX, 0)
	case 8:
		if rng.IntN(50) == 0 {
			return Stmt(BPF_JMP|BPF_JA, uint32(rng.IntN(remain)))
		}
		fallthrough
	default:
		code := []uint16{BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET}[rng.IntN(4)] | BPF_JMP | BPF_K
		far := min(remain-1, 255)
		jt, jf := uint8(rng.IntN(far+1)), uint8(rng.IntN(far+1))
		return Jump(code, small(), jt, jf)
	}
}

// TestNativeRandomPrograms is a deterministic slice of FuzzAgree: random
// valid programs (decodeValid) over random packets and wire lengths, on all
// three paths.
func TestNativeRandomPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	for range rounds {
		raw := make([]byte, 8*(1+rng.IntN(40)))
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		p := decodeValid(raw)
		pp := compilePair(t, p, 0)
		for range 4 {
			pkt := make([]byte, rng.IntN(100))
			for i := range pkt {
				pkt[i] = byte(rng.Uint32())
			}
			if _, ok := pp.verdict(t, pkt, uint32(len(pkt))+uint32(rng.IntN(3))); !ok {
				t.FailNow()
			}
		}
	}
}

// TestNativeConcurrent runs one program from several goroutines at once:
// the machine code keeps its state in registers and its own frame.
func TestNativeConcurrent(t *testing.T) {
	c := loadCorpus(t)
	f := c.Filters[0]
	pp := compilePair(t, f.Insns, 0)
	done := make(chan int, 4)
	for g := range 4 {
		go func() {
			n := 0
			for i := g; i < len(c.Frames); i += 4 {
				if pp.native.Run(c.Frames[i].Data, uint32(c.Frames[i].Length)) != Filter(f.Insns, c.Frames[i].Data, uint32(c.Frames[i].Length)) {
					n++
				}
			}
			done <- n
		}()
	}
	for range 4 {
		if n := <-done; n != 0 {
			t.Errorf("%d frames disagreed", n)
		}
	}
}
