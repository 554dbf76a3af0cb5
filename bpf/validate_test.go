package bpf

import (
	"errors"
	"testing"
)

// freebsdCodeMap is bpf_code_map from FreeBSD's sys/net/bpf_filter.c: bit
// (c & 0xf) of word c>>4 is set when opcode c is legal. It is kept here as
// data, an independent statement of the opcode set, to check Legal against.
var freebsdCodeMap = [16]uint16{
	0x10ff, 0x3070, 0x3131, 0x3031, 0x3131, 0x1011, 0x1013, 0x1010,
	0x0093, 0x1010, 0x1010, 0x0002, 0, 0, 0, 0,
}

func TestLegalMatchesFreeBSDCodeMap(t *testing.T) {
	n := 0
	for c := 0; c <= 0xffff; c++ {
		want := c <= 0xff && freebsdCodeMap[c>>4]&(1<<(c&0xf)) != 0
		if Legal(uint16(c)) != want {
			t.Errorf("Legal(%#x) = %v, FreeBSD says %v", c, !want, want)
		}
		if want {
			n++
		}
	}
	if n != 49 {
		t.Errorf("%d legal opcodes, want 49", n)
	}
}

func TestValidate(t *testing.T) {
	ret := Stmt(BPF_RET|BPF_K, 1)
	long := func(n int) []Insn {
		p := make([]Insn, n)
		for i := range p {
			p[i] = ret
		}
		return p
	}
	cases := []struct {
		name string
		prog []Insn
		max  int
		want string // "" = valid
	}{
		{"empty", nil, 0, ""},
		{"single ret", prog(ret), 0, ""},
		{"512 instructions", long(512), 0, ""},
		{"513 instructions", long(513), 0, "program has 513 instructions, more than the limit of 512"},
		{"custom limit", long(5), 4, "program has 5 instructions, more than the limit of 4"},
		{"custom limit raised", long(600), 1000, ""},
		{"ip6 protochain backward ja", prog(Stmt(BPF_LD|BPF_IMM, 0), Stmt(BPF_JMP|BPF_JA, 0xfffffff1), ret), 0,
			"instruction 1: ja -15 jumps backward (k=0xfffffff1); classic BPF allows only forward jumps"},
		{"ja to len", prog(Stmt(BPF_JMP|BPF_JA, 1), ret), 0, "instruction 0: ja jumps to instruction 2, past the end of the 2-instruction program"},
		{"ja to last", prog(Stmt(BPF_JMP|BPF_JA, 1), ret, ret), 0, ""},
		{"ja 0", prog(Stmt(BPF_JMP|BPF_JA, 0), ret), 0, ""},
		{"jt past end", prog(Jump(BPF_JMP|BPF_JEQ|BPF_K, 0, 1, 0), ret), 0,
			"instruction 0: conditional jump to instruction 2, past the end of the 2-instruction program"},
		{"jf past end", prog(Jump(BPF_JMP|BPF_JGT|BPF_X, 0, 0, 255), ret), 0,
			"instruction 0: conditional jump to instruction 256, past the end of the 2-instruction program"},
		{"jump as last instruction", prog(ret, Jump(BPF_JMP|BPF_JEQ|BPF_K, 0, 0, 0)), 0,
			"instruction 1: conditional jump to instruction 2, past the end of the 2-instruction program"},
		{"st M[16]", prog(Stmt(BPF_ST, 16), ret), 0, "instruction 0: scratch memory index M[16] out of range (0-15)"},
		{"stx M[16]", prog(Stmt(BPF_STX, 16), ret), 0, "instruction 0: scratch memory index M[16] out of range (0-15)"},
		{"ld M[99]", prog(Stmt(BPF_LD|BPF_MEM, 99), ret), 0, "instruction 0: scratch memory index M[99] out of range (0-15)"},
		{"ldx M[16]", prog(Stmt(BPF_LDX|BPF_MEM, 16), ret), 0, "instruction 0: scratch memory index M[16] out of range (0-15)"},
		{"M[15]", prog(Stmt(BPF_ST, 15), Stmt(BPF_LDX|BPF_MEM, 15), ret), 0, ""},
		{"div #0", prog(Stmt(BPF_ALU|BPF_DIV|BPF_K, 0), ret), 0, "instruction 0: division by constant zero"},
		{"mod #0", prog(Stmt(BPF_ALU|BPF_MOD|BPF_K, 0), ret), 0, "instruction 0: modulo by constant zero"},
		{"div x is checked at run time", prog(Stmt(BPF_ALU|BPF_DIV|BPF_X, 0), ret), 0, ""},
		{"ends in tax", prog(ret, Stmt(BPF_MISC|BPF_TAX, 0)), 0, "instruction 1: last instruction is not a return"},
		{"opcode 0x18 (ld with size 0x18)", prog(Insn{Code: 0x18}, ret), 0, "instruction 0: unknown opcode 0x18"},
		{"ld #k with size h", prog(Insn{Code: BPF_LD | BPF_H | BPF_IMM}, ret), 0, "instruction 0: unknown opcode 0x8"},
		{"ja with x bit", prog(Insn{Code: BPF_JMP | BPF_JA | BPF_X}, ret), 0, "instruction 0: unknown opcode 0xd"},
		{"code above 0xff", prog(Insn{Code: 0x106}, ret), 0, "instruction 0: unknown opcode 0x106"},
		{"ret x", prog(Insn{Code: BPF_RET | BPF_X}), 0, "instruction 0: unknown opcode 0xe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.prog, c.max)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the program, want %q", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("Validate = %q\nwant       %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalidProgram) {
				t.Errorf("error does not wrap ErrInvalidProgram")
			}
			if _, cerr := Compile(c.prog, c.max); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Compile error %v, want the Validate error", cerr)
			}
		})
	}
}

// TestValidateAgainstXnet cross-checks jump and return rules with
// x/net/bpf's NewVM, which implements the same checks independently.
func TestValidateAgainstXnet(t *testing.T) {
	if ok, why := xnetComparable(arpProg); !ok {
		t.Skip(why)
	}
	for n := 1; n <= 4; n++ {
		for _, code := range []uint16{BPF_JMP | BPF_JA, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K, BPF_MISC | BPF_TAX} {
			for skip := range 6 {
				p := make([]Insn, n)
				for i := range p {
					p[i] = Stmt(BPF_RET|BPF_K, 1)
				}
				p[0] = Insn{Code: code, Jt: uint8(skip), Jf: 0, K: uint32(skip)}
				ours := Validate(p, 0) == nil
				_, xerr := xnetVM(p)
				if ours != (xerr == nil) {
					t.Errorf("%v: Validate ok=%v, x/net/bpf err=%v", p, ours, xerr)
				}
			}
		}
	}
}
