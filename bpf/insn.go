package bpf

// Opcode fields of a classic BPF instruction, spelled as in FreeBSD's
// sys/net/bpf.h (and libpcap's pcap/bpf.h) so that programs read the same as
// their C sources. The code is the OR of a class, and for each class a size
// and mode (loads), an operation and a source (ALU and jumps), a return value
// source (RET) or a miscellaneous operation (MISC):
//
//	 7 6 5   4 3   2 1 0
//	+-------+-----+-----+
//	| mode  |size |class|   LD, LDX
//	+-------+-+---+-----+
//	|  op   |s|   class |   ALU, JMP (s = BPF_K or BPF_X)
//	+-------+-+---------+
const (
	// Instruction classes, BPF_CLASS(code) = code & 0x07.
	BPF_LD   = 0x00
	BPF_LDX  = 0x01
	BPF_ST   = 0x02
	BPF_STX  = 0x03
	BPF_ALU  = 0x04
	BPF_JMP  = 0x05
	BPF_RET  = 0x06
	BPF_MISC = 0x07

	// Load sizes, BPF_SIZE(code) = code & 0x18.
	BPF_W = 0x00
	BPF_H = 0x08
	BPF_B = 0x10

	// Load modes, BPF_MODE(code) = code & 0xe0.
	BPF_IMM = 0x00
	BPF_ABS = 0x20
	BPF_IND = 0x40
	BPF_MEM = 0x60
	BPF_LEN = 0x80
	BPF_MSH = 0xa0

	// ALU and jump operations, BPF_OP(code) = code & 0xf0.
	BPF_ADD  = 0x00
	BPF_SUB  = 0x10
	BPF_MUL  = 0x20
	BPF_DIV  = 0x30
	BPF_OR   = 0x40
	BPF_AND  = 0x50
	BPF_LSH  = 0x60
	BPF_RSH  = 0x70
	BPF_NEG  = 0x80
	BPF_MOD  = 0x90
	BPF_XOR  = 0xa0
	BPF_JA   = 0x00
	BPF_JEQ  = 0x10
	BPF_JGT  = 0x20
	BPF_JGE  = 0x30
	BPF_JSET = 0x40

	// Operand source, BPF_SRC(code) = code & 0x08.
	BPF_K = 0x00
	BPF_X = 0x08

	// Return value source, BPF_RVAL(code) = code & 0x18.
	BPF_A = 0x10

	// Miscellaneous operations, BPF_MISCOP(code) = code & 0xf8.
	BPF_TAX = 0x00
	BPF_TXA = 0x80
)

const (
	// BPF_MEMWORDS is the number of 32-bit scratch memory words M[0..15].
	BPF_MEMWORDS = 16

	// DefaultMaxInsns is BPF_MAXINSNS, FreeBSD's default for the
	// net.bpf.maxinsns sysctl: the longest program a descriptor accepts.
	DefaultMaxInsns = 512
)

// Insn is one classic BPF instruction. It mirrors struct bpf_insn
// {u_short code; u_char jt; u_char jf; bpf_u_int32 k;} field for field.
//
// Conditional jumps skip Jt or Jf instructions after the next one; BPF_JA
// skips K instructions. Every other class ignores Jt and Jf.
type Insn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// Stmt builds a non-branching instruction, like the BPF_STMT macro.
func Stmt(code uint16, k uint32) Insn { return Insn{Code: code, K: k} }

// Jump builds a conditional jump, like the BPF_JUMP macro.
func Jump(code uint16, k uint32, jt, jf uint8) Insn {
	return Insn{Code: code, Jt: jt, Jf: jf, K: k}
}

// Class returns BPF_CLASS(Code).
func (i Insn) Class() uint16 { return i.Code & 0x07 }

// legalOps lists every opcode FreeBSD's bpf_validate accepts (its
// bpf_code_map, sys/net/bpf_filter.c, with MOD and XOR). Any other code,
// including a legal one with stray bits set, is rejected: the interpreter
// dispatches on the whole code, so a stray bit would otherwise change
// meaning silently.
var legalOps = [256]bool{
	BPF_LD | BPF_W | BPF_IMM: true,
	BPF_LD | BPF_W | BPF_ABS: true,
	BPF_LD | BPF_H | BPF_ABS: true,
	BPF_LD | BPF_B | BPF_ABS: true,
	BPF_LD | BPF_W | BPF_IND: true,
	BPF_LD | BPF_H | BPF_IND: true,
	BPF_LD | BPF_B | BPF_IND: true,
	BPF_LD | BPF_W | BPF_MEM: true,
	BPF_LD | BPF_W | BPF_LEN: true,

	BPF_LDX | BPF_W | BPF_IMM: true,
	BPF_LDX | BPF_W | BPF_MEM: true,
	BPF_LDX | BPF_W | BPF_LEN: true,
	BPF_LDX | BPF_B | BPF_MSH: true,

	BPF_ST:  true,
	BPF_STX: true,

	BPF_ALU | BPF_ADD | BPF_K: true, BPF_ALU | BPF_ADD | BPF_X: true,
	BPF_ALU | BPF_SUB | BPF_K: true, BPF_ALU | BPF_SUB | BPF_X: true,
	BPF_ALU | BPF_MUL | BPF_K: true, BPF_ALU | BPF_MUL | BPF_X: true,
	BPF_ALU | BPF_DIV | BPF_K: true, BPF_ALU | BPF_DIV | BPF_X: true,
	BPF_ALU | BPF_MOD | BPF_K: true, BPF_ALU | BPF_MOD | BPF_X: true,
	BPF_ALU | BPF_AND | BPF_K: true, BPF_ALU | BPF_AND | BPF_X: true,
	BPF_ALU | BPF_OR | BPF_K: true, BPF_ALU | BPF_OR | BPF_X: true,
	BPF_ALU | BPF_XOR | BPF_K: true, BPF_ALU | BPF_XOR | BPF_X: true,
	BPF_ALU | BPF_LSH | BPF_K: true, BPF_ALU | BPF_LSH | BPF_X: true,
	BPF_ALU | BPF_RSH | BPF_K: true, BPF_ALU | BPF_RSH | BPF_X: true,
	BPF_ALU | BPF_NEG: true,

	BPF_JMP | BPF_JA:          true,
	BPF_JMP | BPF_JEQ | BPF_K: true, BPF_JMP | BPF_JEQ | BPF_X: true,
	BPF_JMP | BPF_JGT | BPF_K: true, BPF_JMP | BPF_JGT | BPF_X: true,
	BPF_JMP | BPF_JGE | BPF_K: true, BPF_JMP | BPF_JGE | BPF_X: true,
	BPF_JMP | BPF_JSET | BPF_K: true, BPF_JMP | BPF_JSET | BPF_X: true,

	BPF_RET | BPF_K: true,
	BPF_RET | BPF_A: true,

	BPF_MISC | BPF_TAX: true,
	BPF_MISC | BPF_TXA: true,
}

// Legal reports whether code is an opcode the validator accepts.
func Legal(code uint16) bool { return code < 256 && legalOps[code] }
