package bpf

import "math"

// maxBackwardJumps bounds how many backward BPF_JA jumps one Filter call
// follows. Validated programs have none; the bound only keeps Filter
// terminating on unvalidated libpcap programs such as `ip6 protochain`,
// whose loop walks one extension header per iteration.
const maxBackwardJumps = 1 << 16

// clampPacket trims pkt to the longest captured length bpf_filter's u_int
// buflen can describe. Only 64-bit hosts can hold a longer slice; it is
// filtered on its first 2^32-1 bytes.
func clampPacket(pkt []byte) []byte {
	if uint64(len(pkt)) > math.MaxUint32 {
		limit := ^uint32(0) // a variable: as a constant it overflows int on 32-bit
		return pkt[:limit]
	}
	return pkt
}

// Filter runs prog over one packet the way FreeBSD's bpf_filter(pc, p,
// wirelen, buflen) does, with buflen = len(pkt), and returns the verdict:
// the number of bytes to capture, 0 meaning reject.
//
// pkt holds the captured bytes; wirelen is the frame's length on the wire,
// which BPF_LEN loads (a capture may hold fewer bytes than went past).
// Runtime semantics are FreeBSD's:
//
//   - a packet load that does not fit inside pkt ends the program with 0,
//     including an indirect load whose X+k wraps past 2^32;
//   - division or modulo by X == 0 ends the program with 0;
//   - arithmetic wraps modulo 2^32;
//
// and where C leaves the result open (see doc.go): A, X and M[] start at
// zero, and shifts by 32 or more yield 0.
//
// Filter is meant for validated programs but never panics or loops forever
// on others: an unknown opcode, a scratch index >= 16, a constant division
// by zero, a jump out of the program or running off its end all give 0,
// as the kernel build of bpf_filter does for unknown opcodes. A BPF_JA
// with k >= 2^31 jumps backward by -int32(k) like libpcap's userland
// interpreter, so programs tcpdump runs with -r (`ip6 protochain`) give the
// same verdicts here; Validate rejects them for descriptors.
//
// An empty program returns 0xffffffff ("whole packet"), like bpf_filter
// with pc == NULL.
func Filter(prog []Insn, pkt []byte, wirelen uint32) uint32 {
	if len(prog) == 0 {
		return math.MaxUint32
	}
	pkt = clampPacket(pkt)
	buflen := uint32(len(pkt))
	var (
		a, x     uint32
		mem      [BPF_MEMWORDS]uint32
		backward int
	)
	for pc := 0; pc < len(prog); pc++ {
		ins := &prog[pc]
		k := ins.K
		switch ins.Code {
		case BPF_RET | BPF_K:
			return k
		case BPF_RET | BPF_A:
			return a

		case BPF_LD | BPF_W | BPF_ABS:
			if k > buflen || 4 > buflen-k {
				return 0
			}
			a = be32(pkt[k:])
		case BPF_LD | BPF_H | BPF_ABS:
			if k > buflen || 2 > buflen-k {
				return 0
			}
			a = be16(pkt[k:])
		case BPF_LD | BPF_B | BPF_ABS:
			if k >= buflen {
				return 0
			}
			a = uint32(pkt[k])
		case BPF_LD | BPF_W | BPF_IND:
			// Checked in two steps so that X+k cannot wrap into range.
			if k > buflen || x > buflen-k || 4 > buflen-k-x {
				return 0
			}
			a = be32(pkt[k+x:])
		case BPF_LD | BPF_H | BPF_IND:
			if k > buflen || x > buflen-k || 2 > buflen-k-x {
				return 0
			}
			a = be16(pkt[k+x:])
		case BPF_LD | BPF_B | BPF_IND:
			if k >= buflen || x >= buflen-k {
				return 0
			}
			a = uint32(pkt[k+x])
		case BPF_LD | BPF_W | BPF_LEN:
			a = wirelen
		case BPF_LDX | BPF_W | BPF_LEN:
			x = wirelen
		case BPF_LDX | BPF_B | BPF_MSH:
			if k >= buflen {
				return 0
			}
			x = uint32(pkt[k]&0xf) << 2
		case BPF_LD | BPF_IMM:
			a = k
		case BPF_LDX | BPF_IMM:
			x = k
		case BPF_LD | BPF_MEM:
			if k >= BPF_MEMWORDS {
				return 0
			}
			a = mem[k]
		case BPF_LDX | BPF_MEM:
			if k >= BPF_MEMWORDS {
				return 0
			}
			x = mem[k]
		case BPF_ST:
			if k >= BPF_MEMWORDS {
				return 0
			}
			mem[k] = a
		case BPF_STX:
			if k >= BPF_MEMWORDS {
				return 0
			}
			mem[k] = x

		case BPF_JMP | BPF_JA:
			if k >= 0x80000000 {
				backward++
				if backward > maxBackwardJumps {
					return 0
				}
			}
			// k is sign-extended, which makes k >= 2^31 the backward
			// jump; 64-bit arithmetic keeps 32-bit ints from wrapping.
			to := int64(pc) + 1 + int64(int32(k))
			if to < 0 || to >= int64(len(prog)) {
				return 0
			}
			pc = int(to) - 1 // the loop's pc++ lands on to
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += branch(a > k, ins)
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += branch(a >= k, ins)
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += branch(a == k, ins)
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += branch(a&k != 0, ins)
		case BPF_JMP | BPF_JGT | BPF_X:
			pc += branch(a > x, ins)
		case BPF_JMP | BPF_JGE | BPF_X:
			pc += branch(a >= x, ins)
		case BPF_JMP | BPF_JEQ | BPF_X:
			pc += branch(a == x, ins)
		case BPF_JMP | BPF_JSET | BPF_X:
			pc += branch(a&x != 0, ins)

		case BPF_ALU | BPF_ADD | BPF_X:
			a += x
		case BPF_ALU | BPF_SUB | BPF_X:
			a -= x
		case BPF_ALU | BPF_MUL | BPF_X:
			a *= x
		case BPF_ALU | BPF_DIV | BPF_X:
			if x == 0 {
				return 0
			}
			a /= x
		case BPF_ALU | BPF_MOD | BPF_X:
			if x == 0 {
				return 0
			}
			a %= x
		case BPF_ALU | BPF_AND | BPF_X:
			a &= x
		case BPF_ALU | BPF_OR | BPF_X:
			a |= x
		case BPF_ALU | BPF_XOR | BPF_X:
			a ^= x
		case BPF_ALU | BPF_LSH | BPF_X:
			a <<= x
		case BPF_ALU | BPF_RSH | BPF_X:
			a >>= x
		case BPF_ALU | BPF_ADD | BPF_K:
			a += k
		case BPF_ALU | BPF_SUB | BPF_K:
			a -= k
		case BPF_ALU | BPF_MUL | BPF_K:
			a *= k
		case BPF_ALU | BPF_DIV | BPF_K:
			if k == 0 {
				return 0
			}
			a /= k
		case BPF_ALU | BPF_MOD | BPF_K:
			if k == 0 {
				return 0
			}
			a %= k
		case BPF_ALU | BPF_AND | BPF_K:
			a &= k
		case BPF_ALU | BPF_OR | BPF_K:
			a |= k
		case BPF_ALU | BPF_XOR | BPF_K:
			a ^= k
		case BPF_ALU | BPF_LSH | BPF_K:
			a <<= k
		case BPF_ALU | BPF_RSH | BPF_K:
			a >>= k
		case BPF_ALU | BPF_NEG:
			a = -a

		case BPF_MISC | BPF_TAX:
			x = a
		case BPF_MISC | BPF_TXA:
			a = x

		default:
			return 0
		}
	}
	// Ran off the end (only possible for an unvalidated program).
	return 0
}

// branch returns how many instructions a conditional jump skips.
func branch(cond bool, ins *Insn) int {
	if cond {
		return int(ins.Jt)
	}
	return int(ins.Jf)
}

// be32 and be16 read network-order words; the callers have checked bounds.
func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be16(b []byte) uint32 {
	_ = b[1]
	return uint32(b[0])<<8 | uint32(b[1])
}
