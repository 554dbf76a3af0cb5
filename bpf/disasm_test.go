package bpf

import (
	"strings"
	"testing"
)

// TestDisassembleEveryOpcode pins the text of every legal opcode (and of
// unknown ones) against libpcap 1.10's bpf_image formats, written out by
// hand: "(%03d) %-8s %s", plus "%-16s jt %d\tjf %d" for conditional jumps.
// The corpus test (TestCorpusTcpdumpFormats) checks the same function
// against the tcpdump binary.
func TestDisassembleEveryOpcode(t *testing.T) {
	cases := []struct {
		ins  Insn
		want string
	}{
		{Stmt(BPF_RET|BPF_K, 262144), "(000) ret      #262144"},
		{Stmt(BPF_RET|BPF_K, 0xffffffff), "(000) ret      #-1"},
		{Stmt(BPF_RET|BPF_A, 0), "(000) ret      "},
		{Stmt(BPF_LD|BPF_W|BPF_ABS, 26), "(000) ld       [26]"},
		{Stmt(BPF_LD|BPF_H|BPF_ABS, 12), "(000) ldh      [12]"},
		{Stmt(BPF_LD|BPF_B|BPF_ABS, 23), "(000) ldb      [23]"},
		{Stmt(BPF_LD|BPF_W|BPF_ABS, 0xffffffff), "(000) ld       [-1]"},
		{Stmt(BPF_LD|BPF_H|BPF_ABS, 0xfffff000), "(000) ldh      [proto]"},
		{Stmt(BPF_LD|BPF_B|BPF_ABS, 0xfffff004), "(000) ldb      [type]"},
		{Stmt(BPF_LD|BPF_W|BPF_ABS, 0xfffff02c), "(000) ld       [vlan_tci]"},
		{Stmt(BPF_LD|BPF_W|BPF_ABS, 0xfffff001), "(000) ld       [-4095]"},
		{Stmt(BPF_LD|BPF_W|BPF_LEN, 0), "(000) ld       #pktlen"},
		{Stmt(BPF_LD|BPF_W|BPF_IND, 14), "(000) ld       [x + 14]"},
		{Stmt(BPF_LD|BPF_H|BPF_IND, 16), "(000) ldh      [x + 16]"},
		{Stmt(BPF_LD|BPF_B|BPF_IND, 0xfffffffe), "(000) ldb      [x + -2]"},
		{Stmt(BPF_LD|BPF_IMM, 0x800), "(000) ld       #0x800"},
		{Stmt(BPF_LDX|BPF_IMM, 40), "(000) ldx      #0x28"},
		{Stmt(BPF_LDX|BPF_B|BPF_MSH, 14), "(000) ldxb     4*([14]&0xf)"},
		{Stmt(BPF_LD|BPF_MEM, 3), "(000) ld       M[3]"},
		{Stmt(BPF_LDX|BPF_MEM, 15), "(000) ldx      M[15]"},
		{Stmt(BPF_ST, 0), "(000) st       M[0]"},
		{Stmt(BPF_STX, 1), "(000) stx      M[1]"},
		// libpcap 1.10's bpf_image has no case for ldx #pktlen.
		{Stmt(BPF_LDX|BPF_W|BPF_LEN, 0), "(000) unimp    0x81"},
		{Stmt(BPF_JMP|BPF_JA, 4), "(000) ja       5"},
		{Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x86dd, 0, 33), "(000) jeq      #0x86dd          jt 1\tjf 34"},
		{Jump(BPF_JMP|BPF_JGT|BPF_K, 0x40, 1, 2), "(000) jgt      #0x40            jt 2\tjf 3"},
		{Jump(BPF_JMP|BPF_JGE|BPF_K, 0, 0, 0), "(000) jge      #0x0             jt 1\tjf 1"},
		{Jump(BPF_JMP|BPF_JSET|BPF_K, 0x1fff, 4, 0), "(000) jset     #0x1fff          jt 5\tjf 1"},
		{Jump(BPF_JMP|BPF_JEQ|BPF_X, 0, 1, 0), "(000) jeq      x                jt 2\tjf 1"},
		{Jump(BPF_JMP|BPF_JGT|BPF_X, 0, 1, 0), "(000) jgt      x                jt 2\tjf 1"},
		{Jump(BPF_JMP|BPF_JGE|BPF_X, 0, 1, 0), "(000) jge      x                jt 2\tjf 1"},
		{Jump(BPF_JMP|BPF_JSET|BPF_X, 0, 1, 0), "(000) jset     x                jt 2\tjf 1"},
		{Stmt(BPF_ALU|BPF_ADD|BPF_K, 1), "(000) add      #1"},
		{Stmt(BPF_ALU|BPF_SUB|BPF_K, 0xffffffff), "(000) sub      #-1"},
		{Stmt(BPF_ALU|BPF_MUL|BPF_K, 8), "(000) mul      #8"},
		{Stmt(BPF_ALU|BPF_DIV|BPF_K, 4), "(000) div      #4"},
		{Stmt(BPF_ALU|BPF_MOD|BPF_K, 4), "(000) mod      #4"},
		{Stmt(BPF_ALU|BPF_AND|BPF_K, 0xf0), "(000) and      #0xf0"},
		{Stmt(BPF_ALU|BPF_OR|BPF_K, 0x1), "(000) or       #0x1"},
		{Stmt(BPF_ALU|BPF_XOR|BPF_K, 0xffffffff), "(000) xor      #0xffffffff"},
		{Stmt(BPF_ALU|BPF_LSH|BPF_K, 2), "(000) lsh      #2"},
		{Stmt(BPF_ALU|BPF_RSH|BPF_K, 2), "(000) rsh      #2"},
		{Stmt(BPF_ALU|BPF_ADD|BPF_X, 0), "(000) add      x"},
		{Stmt(BPF_ALU|BPF_SUB|BPF_X, 0), "(000) sub      x"},
		{Stmt(BPF_ALU|BPF_MUL|BPF_X, 0), "(000) mul      x"},
		{Stmt(BPF_ALU|BPF_DIV|BPF_X, 0), "(000) div      x"},
		{Stmt(BPF_ALU|BPF_MOD|BPF_X, 0), "(000) mod      x"},
		{Stmt(BPF_ALU|BPF_AND|BPF_X, 0), "(000) and      x"},
		{Stmt(BPF_ALU|BPF_OR|BPF_X, 0), "(000) or       x"},
		{Stmt(BPF_ALU|BPF_XOR|BPF_X, 0), "(000) xor      x"},
		{Stmt(BPF_ALU|BPF_LSH|BPF_X, 0), "(000) lsh      x"},
		{Stmt(BPF_ALU|BPF_RSH|BPF_X, 0), "(000) rsh      x"},
		{Stmt(BPF_ALU|BPF_NEG, 0), "(000) neg      "},
		{Stmt(BPF_MISC|BPF_TAX, 0), "(000) tax      "},
		{Stmt(BPF_MISC|BPF_TXA, 0), "(000) txa      "},
		{Insn{Code: 0x18}, "(000) unimp    0x18"},
		// Unknown jump codes still get the jt/jf suffix, as in libpcap.
		{Insn{Code: 0x65, Jt: 1, Jf: 2}, "(000) unimp    0x65             jt 2\tjf 3"},
	}
	legal := map[uint16]bool{}
	for _, c := range cases {
		if got := Disassemble([]Insn{c.ins}); got != c.want+"\n" {
			t.Errorf("%#x: got %q\nwant     %q", c.ins.Code, got, c.want+"\n")
		}
		legal[c.ins.Code] = true
	}
	for code := range 256 {
		if Legal(uint16(code)) && !legal[uint16(code)] {
			t.Errorf("opcode %#x has no disassembly case", code)
		}
	}
}

func TestDisassembleNumbering(t *testing.T) {
	// Backward ja prints its real target, as in `tcpdump -d 'ip6 protochain 6'`.
	p := make([]Insn, 19)
	for i := range p {
		p[i] = Stmt(BPF_MISC|BPF_TAX, 0)
	}
	p[18] = Stmt(BPF_JMP|BPF_JA, 0xfffffff1)
	lines := strings.Split(Disassemble(p), "\n")
	if lines[18] != "(018) ja       4" {
		t.Errorf("got %q", lines[18])
	}
	// Indexes above 999 widen the field rather than truncate it.
	big := make([]Insn, 1001)
	for i := range big {
		big[i] = Stmt(BPF_RET|BPF_K, 0)
	}
	if l := strings.Split(Disassemble(big), "\n")[1000]; l != "(1000) ret      #0" {
		t.Errorf("got %q", l)
	}
	if s := Stmt(BPF_LD|BPF_H|BPF_ABS, 12).String(); s != "ldh [12]" {
		t.Errorf("Insn.String = %q", s)
	}
	if s := Stmt(BPF_MISC|BPF_TAX, 0).String(); s != "tax" {
		t.Errorf("Insn.String = %q", s)
	}
}
