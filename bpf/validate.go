package bpf

import (
	"errors"
	"fmt"
)

// ErrInvalidProgram is wrapped by every error Validate and Compile return, so
// callers (the BIOCSETF path) can map any of them to EINVAL with errors.Is.
var ErrInvalidProgram = errors.New("bpf: invalid program")

// invalidError is one validation failure: the instruction index and why.
type invalidError struct {
	index int // -1 when the failure concerns the whole program
	why   string
}

func (e *invalidError) Error() string {
	if e.index < 0 {
		return e.why
	}
	return fmt.Sprintf("instruction %d: %s", e.index, e.why)
}

func (e *invalidError) Unwrap() error { return ErrInvalidProgram }

func invalid(i int, format string, args ...any) error {
	return &invalidError{index: i, why: fmt.Sprintf(format, args...)}
}

// Validate applies FreeBSD's bpf_validate rules (sys/net/bpf_filter.c) plus
// the length limit bpf_setf enforces from net.bpf.maxinsns:
//
//   - at most maxInsns instructions (maxInsns < 1 selects DefaultMaxInsns);
//   - every opcode is one the interpreter knows (see Legal);
//   - every jump is forward and lands inside the program, so a validated
//     program always terminates after at most len(prog) steps;
//   - scratch memory indexes (ld/ldx/st/stx M[k]) are below BPF_MEMWORDS;
//   - no division or modulo by the constant 0;
//   - the last instruction is a return.
//
// An empty program is valid: the descriptor treats it as "accept all".
// Every error wraps ErrInvalidProgram and reads "instruction N: why".
func Validate(prog []Insn, maxInsns int) error {
	if maxInsns < 1 {
		maxInsns = DefaultMaxInsns
	}
	if len(prog) > maxInsns {
		return invalid(-1, "program has %d instructions, more than the limit of %d", len(prog), maxInsns)
	}
	n := len(prog)
	for i, ins := range prog {
		if !Legal(ins.Code) {
			return invalid(i, "unknown opcode %#x", ins.Code)
		}
		// Instructions left after this one: a jump may skip at most
		// remain-1 of them so that it lands on one of them.
		remain := uint64(n - i - 1)
		switch ins.Code {
		case BPF_JMP | BPF_JA:
			if ins.K >= 0x80000000 {
				return invalid(i, "ja %d jumps backward (k=%#x); classic BPF allows only forward jumps", int32(ins.K), ins.K)
			}
			if uint64(ins.K) >= remain {
				return invalid(i, "ja jumps to instruction %d, past the end of the %d-instruction program", uint64(i)+1+uint64(ins.K), n)
			}
		case BPF_ST, BPF_STX, BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM:
			if ins.K >= BPF_MEMWORDS {
				return invalid(i, "scratch memory index M[%d] out of range (0-%d)", ins.K, BPF_MEMWORDS-1)
			}
		case BPF_ALU | BPF_DIV | BPF_K:
			if ins.K == 0 {
				return invalid(i, "division by constant zero")
			}
		case BPF_ALU | BPF_MOD | BPF_K:
			if ins.K == 0 {
				return invalid(i, "modulo by constant zero")
			}
		default:
			if ins.Class() == BPF_JMP {
				far := max(ins.Jt, ins.Jf)
				if uint64(far) >= remain {
					return invalid(i, "conditional jump to instruction %d, past the end of the %d-instruction program", uint64(i)+1+uint64(far), n)
				}
			}
		}
	}
	if n > 0 && prog[n-1].Class() != BPF_RET {
		return invalid(n-1, "last instruction is not a return")
	}
	return nil
}
