package bpf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// x86Run maps code and calls it the way Run does.
func x86Run(t testing.TB, code []byte) func(pkt []byte, wirelen uint32) uint32 {
	t.Helper()
	mem, err := execMap(code)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { execUnmap(mem) })
	entry := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	return func(pkt []byte, wirelen uint32) uint32 { return jitcall(entry, pkt, wirelen) }
}

// TestX86Encodings checks each instruction form the generator emits against
// objdump's decoding of the same bytes (GNU binutils, an independent
// decoder), in Intel syntax.
func TestX86Encodings(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed (binutils)")
	}
	cases := []struct {
		emit func(g *x86Gen)
		want string
	}{
		{func(g *x86Gen) { g.movRR(x86A, x86Wire) }, "mov eax,r8d"},
		{func(g *x86Gen) { g.movRR(x86X, x86A) }, "mov ecx,eax"},
		{func(g *x86Gen) { g.movImm(x86A, 0x40000) }, "mov eax,0x40000"},
		{func(g *x86Gen) { g.movImm(x86T2, 0xdeadbeef) }, "mov r9d,0xdeadbeef"},
		{func(g *x86Gen) { g.movImm(x86X, 0) }, "xor ecx,ecx"},
		{func(g *x86Gen) { g.cmpImm(x86Len, 14) }, "cmp edi,0xe"},
		{func(g *x86Gen) { g.cmpImm(x86Len, 0xffffffff) }, "cmp edi,0xffffffff"},
		{func(g *x86Gen) { g.cmpImm(x86Len, 0x1000) }, "cmp edi,0x1000"},
		{func(g *x86Gen) { g.cmpImm(x86A, 0x86dd) }, "cmp eax,0x86dd"},
		{func(g *x86Gen) { g.cmpImm(x86A, 0x80) }, "cmp eax,0x80"},
		{func(g *x86Gen) { g.cmpImm(x86X, 32) }, "cmp ecx,0x20"},
		{func(g *x86Gen) { g.aluImm(x86ADD, x86A, 0xffffff80) }, "add eax,0xffffff80"},
		{func(g *x86Gen) { g.aluImm(x86SUB, x86A, 0x12345678) }, "sub eax,0x12345678"},
		{func(g *x86Gen) { g.aluImm(x86AND, x86X, 0xf) }, "and ecx,0xf"},
		{func(g *x86Gen) { g.aluImm(x86OR, x86A, 0x100) }, "or eax,0x100"},
		{func(g *x86Gen) { g.aluImm(x86XOR, x86A, 1) }, "xor eax,0x1"},
		{func(g *x86Gen) { g.aluRR(x86ADD, x86A, x86X) }, "add eax,ecx"},
		{func(g *x86Gen) { g.aluRR(x86SUB, x86A, x86X) }, "sub eax,ecx"},
		{func(g *x86Gen) { g.aluRR(x86CMP, x86A, x86X) }, "cmp eax,ecx"},
		{func(g *x86Gen) { g.aluRR(0x10, x86A, x86X) }, "test eax,ecx"},
		{func(g *x86Gen) { g.aluRR64(x86CMP, x86T, x86Len) }, "cmp rdx,rdi"},
		{func(g *x86Gen) { g.aluRR64(x86CMP, x86T2, x86Len) }, "cmp r9,rdi"},
		{func(g *x86Gen) { g.aluRR64(x86ADD, x86T, x86X) }, "add rdx,rcx"},
		{func(g *x86Gen) { g.testImm(0x1fff) }, "test eax,0x1fff"},
		{func(g *x86Gen) { g.testImm(0x40) }, "test al,0x40"},
		{func(g *x86Gen) { g.shiftImm(4, x86A, 31) }, "shl eax,0x1f"},
		{func(g *x86Gen) { g.shiftImm(5, x86A, 4) }, "shr eax,0x4"},
		{func(g *x86Gen) { g.shiftImm(4, x86X, 2) }, "shl ecx,0x2"},
		{func(g *x86Gen) { g.div(x86X, false) }, "xor edx,edx|div ecx"},
		{func(g *x86Gen) { g.div(x86T2, true) }, "xor edx,edx|div r9d|mov eax,edx"},
		{func(g *x86Gen) { g.load(BPF_W, x86A, x86Base, x86Non, 26) }, "mov eax,DWORD PTR [rsi+0x1a]|bswap eax"},
		{func(g *x86Gen) { g.movbe = true; g.load(BPF_W, x86A, x86Base, x86Non, 26) }, "movbe eax,DWORD PTR [rsi+0x1a]"},
		{func(g *x86Gen) { g.movbe = true; g.load(BPF_W, x86A, x86Base, x86X, 0x1000) }, "movbe eax,DWORD PTR [rsi+rcx*1+0x1000]"},
		{func(g *x86Gen) { g.load(BPF_W, x86A, x86Base, x86T, 0) }, "mov eax,DWORD PTR [rsi+rdx*1]|bswap eax"},
		{func(g *x86Gen) { g.load(BPF_H, x86A, x86Base, x86Non, 12) }, "movzx eax,WORD PTR [rsi+0xc]|rol ax,0x8"},
		{func(g *x86Gen) { g.load(BPF_H, x86A, x86Base, x86X, 14) }, "movzx eax,WORD PTR [rsi+rcx*1+0xe]|rol ax,0x8"},
		{func(g *x86Gen) { g.load(BPF_B, x86A, x86Base, x86Non, 0) }, "movzx eax,BYTE PTR [rsi]"},
		{func(g *x86Gen) { g.load(BPF_B, x86X, x86Base, x86Non, 0x7fffffff) }, "movzx ecx,BYTE PTR [rsi+0x7fffffff]"},
		{func(g *x86Gen) { g.memOp(0x8d, true, x86T, x86X, x86Non, 0x16) }, "lea rdx,[rcx+0x16]"},
		{func(g *x86Gen) { g.memOp(0x8d, true, x86T2, x86T, x86Non, 4) }, "lea r9,[rdx+0x4]"},
		{func(g *x86Gen) { g.memOp(0x8b, false, x86A, x86SP, x86Non, x86MemOff+4*15) }, "mov eax,DWORD PTR [rsp+0x44]"},
		{func(g *x86Gen) { g.memOp(0x89, false, x86X, x86SP, x86Non, x86MemOff) }, "mov DWORD PTR [rsp+0x8],ecx"},
		{func(g *x86Gen) { g.memOp(0x89, true, x86T, x86SP, x86Non, x86MemOff+8) }, "mov QWORD PTR [rsp+0x10],rdx"},
		{func(g *x86Gen) { g.insn(0) }, "imul eax,eax,0x10001"},
		{func(g *x86Gen) { g.insn(1) }, "imul eax,ecx"},
		{func(g *x86Gen) { g.insn(2) }, "neg eax"},
		{func(g *x86Gen) { g.insn(3) }, "shl eax,cl|xor edx,edx|cmp ecx,0x20|cmovae eax,edx"},
		{func(g *x86Gen) { g.insn(4) }, "shr eax,cl|xor edx,edx|cmp ecx,0x20|cmovae eax,edx"},
		{func(g *x86Gen) { g.insn(5) }, "ret"},
		{func(g *x86Gen) { g.selectRet(x86E, Stmt(BPF_RET|BPF_A, 0), Stmt(BPF_RET|BPF_K, 0)) }, "mov edx,eax|mov eax,0x0|cmove eax,edx|ret"},
		{func(g *x86Gen) { g.selectRet(x86AE, Stmt(BPF_RET|BPF_K, 0x40000), Stmt(BPF_RET|BPF_A, 0)) }, "mov edx,0x40000|cmovae eax,edx|ret"},
	}
	// Instructions that g.insn emits whole; the code above indexes them.
	insns := []Insn{
		Stmt(BPF_ALU|BPF_MUL|BPF_K, 0x10001),
		Stmt(BPF_ALU|BPF_MUL|BPF_X, 0),
		Stmt(BPF_ALU|BPF_NEG, 0),
		Stmt(BPF_ALU|BPF_LSH|BPF_X, 0),
		Stmt(BPF_ALU|BPF_RSH|BPF_X, 0),
		Stmt(BPF_RET|BPF_A, 0),
	}
	var code []byte
	var want []string
	for _, c := range cases {
		g := &x86Gen{prog: insns}
		c.emit(g)
		code = append(code, g.buf...)
		want = append(want, strings.Split(c.want, "|")...)
	}
	got := x86Disassemble(t, objdump, code)
	if len(got) != len(want) {
		t.Fatalf("objdump decoded %d instructions, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("instruction %d: objdump %q, want %q", i, got[i], want[i])
		}
	}
}

// TestX86Branches checks the jump forms objdump decodes from a laid-out
// program: rel8 where the target is near, rel32 past 127 bytes, each
// landing on the code of its target instruction.
func TestX86Branches(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed (binutils)")
	}
	// 0: ldb [0]; 1: jeq #1 -> 2 / 43; 2..41: ld #k (5 bytes each);
	// 42: ret a; 43: ret #7 (not ret #0: the failure stub follows).
	p := prog(Stmt(BPF_LD|BPF_B|BPF_ABS, 0), Jump(BPF_JMP|BPF_JEQ|BPF_K, 1, 0, 41))
	for i := range 40 {
		p = append(p, Stmt(BPF_LD|BPF_IMM, uint32(0x1000+i)))
	}
	p = append(p, retA, Stmt(BPF_RET|BPF_K, 7))
	code, ok := x86Emit(p, false)
	if !ok {
		t.Fatal("no code")
	}
	lines := x86Disassemble(t, objdump, code)
	text := strings.Join(lines, "\n")
	// cmp edi,1; jb stub (far: rel32); movzx; cmp eax,1; jne ret #7 (far);
	// 40 moves; ret; mov eax,7; ret; xor eax,eax; ret.
	for _, want := range []string{"cmp edi,0x1", "movzx eax,BYTE PTR [rsi]", "cmp eax,0x1"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// Sizes: 3 (cmp) + 6 (jb rel32) + 3 (movzx) + 3 (cmp) + 6 (jne
	// rel32) + 40*5 + 1 (ret) = 222: ret #7 at 222, the stub at 228.
	if !strings.Contains(text, "jb 0xe4") || !strings.Contains(text, "jne 0xde") {
		t.Errorf("branches do not reach the stub at 0xe4 and ret #7 at 0xde:\n%s", text)
	}
	if len(code) != 228+3 {
		t.Errorf("code is %d bytes, want 231 (two rel32 jumps)", len(code))
	}
	run := x86Run(t, code)
	for _, c := range []struct {
		pkt  []byte
		want uint32
	}{{nil, 0}, {[]byte{1}, 0x1000 + 39}, {[]byte{2}, 7}} {
		if got := run(c.pkt, 9); got != c.want || got != Filter(p, c.pkt, 9) {
			t.Errorf("packet %v: %#x, want %#x", c.pkt, got, c.want)
		}
	}
}

// x86Disassemble returns objdump's Intel-syntax text for code, one
// instruction a line, with runs of blanks collapsed.
func x86Disassemble(t *testing.T, objdump string, code []byte) []string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "code.bin")
	if err := os.WriteFile(bin, code, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(objdump, "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", bin).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	line := regexp.MustCompile(`^\s*[0-9a-f]+:\t[0-9a-f ]+\t(.*)$`)
	var insns []string
	for _, l := range strings.Split(string(out), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			insns = append(insns, strings.Join(strings.Fields(m[1]), " "))
		}
	}
	return insns
}

// TestX86WithAndWithoutMOVBE runs the corpus on both word-load forms (MOVBE
// only where the CPU has it).
func TestX86WithAndWithoutMOVBE(t *testing.T) {
	c := loadCorpus(t)
	forms := []bool{false}
	if x86HasMOVBE {
		forms = append(forms, true)
	} else {
		t.Log("this CPU has no MOVBE: testing MOV+BSWAP only")
	}
	for _, movbe := range forms {
		for _, f := range c.Filters {
			if f.Expr == protochainExpr {
				continue
			}
			code, ok := x86Emit(f.Insns, movbe)
			if !ok {
				t.Fatalf("%s: no code", f.Expr)
			}
			run := x86Run(t, code)
			for i, fr := range c.Frames {
				w := uint32(fr.Length)
				if got, want := run(fr.Data, w), Filter(f.Insns, fr.Data, w); got != want {
					t.Fatalf("movbe=%v %s frame %d: native %d, interpreter %d", movbe, f.Expr, i, got, want)
				}
			}
		}
	}
}

// TestX86HugePacket runs loads at offsets of 2^31 and beyond, which do not
// fit a sign-extended 32-bit displacement, over a packet longer than 2^32
// bytes, which Run clamps to 2^32-1 as the interpreter does. The packet is
// a sparse mapping: only the pages the test writes take memory.
func TestX86HugePacket(t *testing.T) {
	const size = 1<<32 + 1<<16
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot map a sparse %d-byte packet: %v", size, err)
	}
	defer syscall.Munmap(mem)
	for i, b := range []byte{0xa1, 0xa2, 0xa3, 0xa4, 0xa5} {
		mem[0x80000000+i] = b
		mem[0xfffffffb+i] = b + 0x10
	}
	mem[0xffffffff+5] = 0xee // past the clamp: never visible
	cases := []struct {
		prog []Insn
		want uint32
	}{
		{prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0x80000000), retA), 0xa1a2a3a4},
		{prog(Stmt(BPF_LD|BPF_H|BPF_ABS, 0x80000003), retA), 0xa4a5},
		{prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0xfffffffb), retA), 0xb1b2b3b4},
		{prog(Stmt(BPF_LD|BPF_B|BPF_ABS, 0xfffffffe), retA), 0xb4},
		{prog(Stmt(BPF_LD|BPF_W|BPF_ABS, 0xfffffffc), retA), 0}, // ends at 2^32: past the clamp
		{prog(Stmt(BPF_LD|BPF_B|BPF_ABS, 0xffffffff), retA), 0},
		{prog(Stmt(BPF_LDX|BPF_IMM, 0x7fffffff), Stmt(BPF_LD|BPF_W|BPF_IND, 1), retA), 0xa1a2a3a4},
		{prog(Stmt(BPF_LDX|BPF_IMM, 0x80000000), Stmt(BPF_LD|BPF_H|BPF_IND, 0x7ffffffb), retA), 0xb1b2},
		{prog(Stmt(BPF_LDX|BPF_IMM, 0xfffffffe), Stmt(BPF_LD|BPF_B|BPF_IND, 0), retA), 0xb4},
		{prog(Stmt(BPF_LDX|BPF_IMM, 0xfffffffe), Stmt(BPF_LD|BPF_H|BPF_IND, 0), retA), 0},
		{prog(Stmt(BPF_LDX|BPF_IMM, 1), Stmt(BPF_LD|BPF_B|BPF_IND, 0xfffffffe), retA), 0},
		{prog(Stmt(BPF_LDX|BPF_B|BPF_MSH, 0x80000001), Stmt(BPF_MISC|BPF_TXA, 0), retA), 0x2 * 4},
	}
	for _, c := range cases {
		pp := compilePair(t, c.prog, 0)
		if !pp.native.Native() {
			t.Fatal("no machine code")
		}
		got, _ := pp.verdict(t, mem, 64)
		if got != c.want {
			t.Errorf("%s: verdict %#x, want %#x", Disassemble(c.prog), got, c.want)
		}
	}
}

// TestX86BoundsChecks shows the check placement on tcpdump's shape: one
// check at "ldh [12]" covers the "ld [26]" on the IPv4 path (both need 30
// bytes before any non-zero verdict), while the "ld [30]" reached only after
// a test that can accept keeps its own check.
func TestX86BoundsChecks(t *testing.T) {
	p := prog(
		Stmt(BPF_LD|BPF_H|BPF_ABS, 12),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x800, 0, 5),
		Stmt(BPF_LD|BPF_W|BPF_ABS, 26),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x0a000001, 2, 0),
		Stmt(BPF_LD|BPF_W|BPF_ABS, 30),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x0a000001, 0, 1),
		Stmt(BPF_RET|BPF_K, 96),
		Stmt(BPF_RET|BPF_K, 0),
	)
	g := &x86Gen{prog: p, state: make([]x86State, len(p))}
	g.analyse()
	want := map[int]uint32{0: 30, 2: 0, 4: 34}
	for i, b := range want {
		if g.bound[i] != b {
			t.Errorf("instruction %d checks buflen >= %d, want %d", i, g.bound[i], b)
		}
	}
	pp := compilePair(t, p, 0)
	pkt := make([]byte, 40)
	pkt[12], pkt[13] = 0x08, 0x00
	pkt[26], pkt[27], pkt[28], pkt[29] = 10, 0, 0, 1
	// Every length: the widened first check must not change a verdict.
	for n := range len(pkt) + 1 {
		pp.verdict(t, pkt[:n], 40)
	}
}
