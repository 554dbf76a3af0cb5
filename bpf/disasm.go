package bpf

import (
	"fmt"
	"strings"
)

// Disassemble prints prog one instruction a line, each ending in a newline,
// in exactly the text `tcpdump -d` prints (libpcap's bpf_image, as in libpcap
// 1.10): "(NNN) op       operand", plus "jt T\tjf F" with absolute targets for
// conditional jumps. Like libpcap it prints the offsets and constants that
// the C code formats with %d as signed 32-bit numbers, absolute loads from
// Linux's ancillary area by name, and unknown opcodes as "unimp".
func Disassemble(prog []Insn) string {
	var b strings.Builder
	for n, ins := range prog {
		b.WriteString(insnImage(ins, n))
		b.WriteByte('\n')
	}
	return b.String()
}

// String returns the instruction as `tcpdump -d` prints it at index 0,
// without the "(000) " prefix and padding, for logs and error messages.
func (i Insn) String() string {
	op, operand := insnParts(i, 0)
	if operand == "" {
		return op
	}
	return op + " " + operand
}

// insnImage formats one line of tcpdump -d output for instruction n.
func insnImage(ins Insn, n int) string {
	op, operand := insnParts(ins, n)
	if ins.Class() == BPF_JMP && ins.Code&0xf0 != BPF_JA {
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, op, operand, n+1+int(ins.Jt), n+1+int(ins.Jf))
	}
	return fmt.Sprintf("(%03d) %-8s %s", n, op, operand)
}

// Linux's ancillary data area (SKF_AD_OFF = -0x1000 in linux/filter.h):
// libpcap built on Linux prints absolute loads from it by name.
const skfAdOff = 0xfffff000

var skfAdNames = map[uint32]string{
	0: "proto", 4: "type", 8: "ifidx", 12: "nla", 16: "nlan", 20: "mark",
	24: "queue", 28: "hatype", 32: "rxhash", 36: "cpu", 40: "xor_x",
	44: "vlan_tci", 48: "vlanp", 52: "poff", 56: "random", 60: "vlan_tpid",
}

func absOperand(k uint32) string {
	if k >= skfAdOff {
		if name, ok := skfAdNames[k-skfAdOff]; ok {
			return "[" + name + "]"
		}
	}
	return fmt.Sprintf("[%d]", int32(k))
}

// insnParts returns the mnemonic and operand text of ins at index n.
func insnParts(ins Insn, n int) (op, operand string) {
	k := ins.K
	signed := func(format string) string { return fmt.Sprintf(format, int32(k)) }
	hex := func() string { return fmt.Sprintf("#0x%x", k) }
	switch ins.Code {
	case BPF_RET | BPF_K:
		return "ret", signed("#%d")
	case BPF_RET | BPF_A:
		return "ret", ""
	case BPF_LD | BPF_W | BPF_ABS:
		return "ld", absOperand(k)
	case BPF_LD | BPF_H | BPF_ABS:
		return "ldh", absOperand(k)
	case BPF_LD | BPF_B | BPF_ABS:
		return "ldb", absOperand(k)
	case BPF_LD | BPF_W | BPF_LEN:
		return "ld", "#pktlen"
	case BPF_LD | BPF_W | BPF_IND:
		return "ld", signed("[x + %d]")
	case BPF_LD | BPF_H | BPF_IND:
		return "ldh", signed("[x + %d]")
	case BPF_LD | BPF_B | BPF_IND:
		return "ldb", signed("[x + %d]")
	case BPF_LD | BPF_IMM:
		return "ld", hex()
	case BPF_LDX | BPF_IMM:
		return "ldx", hex()
	case BPF_LDX | BPF_B | BPF_MSH:
		return "ldxb", signed("4*([%d]&0xf)")
	case BPF_LD | BPF_MEM:
		return "ld", signed("M[%d]")
	case BPF_LDX | BPF_MEM:
		return "ldx", signed("M[%d]")
	case BPF_ST:
		return "st", signed("M[%d]")
	case BPF_STX:
		return "stx", signed("M[%d]")
	case BPF_JMP | BPF_JA:
		// C computes n + 1 + k in unsigned arithmetic and prints it
		// with %d: a backward jump shows its real target.
		return "ja", fmt.Sprint(int32(uint32(n) + 1 + k))
	case BPF_MISC | BPF_TAX:
		return "tax", ""
	case BPF_MISC | BPF_TXA:
		return "txa", ""
	case BPF_ALU | BPF_NEG:
		return "neg", ""
	}
	if Legal(ins.Code) {
		switch ins.Class() {
		case BPF_JMP:
			op = jmpNames[ins.Code&0xf0]
			if ins.Code&BPF_X != 0 {
				return op, "x"
			}
			return op, hex()
		case BPF_ALU:
			aop := ins.Code & 0xf0
			op = aluNames[aop]
			if ins.Code&BPF_X != 0 {
				return op, "x"
			}
			switch aop {
			case BPF_AND, BPF_OR, BPF_XOR:
				return op, hex()
			}
			return op, signed("#%d")
		}
	}
	return "unimp", fmt.Sprintf("0x%x", ins.Code)
}

var jmpNames = map[uint16]string{
	BPF_JEQ: "jeq", BPF_JGT: "jgt", BPF_JGE: "jge", BPF_JSET: "jset",
}

var aluNames = map[uint16]string{
	BPF_ADD: "add", BPF_SUB: "sub", BPF_MUL: "mul", BPF_DIV: "div",
	BPF_MOD: "mod", BPF_AND: "and", BPF_OR: "or", BPF_XOR: "xor",
	BPF_LSH: "lsh", BPF_RSH: "rsh",
}
