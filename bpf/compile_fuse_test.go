package bpf

import (
	"testing"
)

// Tests of the superinstructions Compile forms. Each checks the shape of the
// compiled program (that a group was, or was not, fused) and that Run agrees
// with the reference interpreter Filter on packets that put every load of
// the group in and out of bounds.

// fusePackets are the prefixes of a 64-byte packet of every length, so each
// load of a program is tried both in bounds and, by one byte, out of them.
func fusePackets() [][]byte {
	full := make([]byte, 64)
	for i := range full {
		full[i] = byte(i*37 + 11)
	}
	// Values the test programs compare against.
	full[12], full[13] = 0x81, 0x00 // 802.1Q EtherType
	full[14], full[15] = 0x30, 0x64 // PCP 1, VLAN 100
	var pkts [][]byte
	for n := 0; n <= len(full); n++ {
		pkts = append(pkts, full[:n])
	}
	// Variants of the EtherType, so every case of a multi-way op matches.
	for _, et := range []uint16{0x0800, 0x86dd, 0x88a8, 0x9100, 0x0806} {
		p := append([]byte(nil), full...)
		p[12], p[13] = byte(et>>8), byte(et)
		pkts = append(pkts, p)
	}
	return pkts
}

// mustAgree compiles p and checks Run against Filter on every fuse packet.
func mustAgree(t *testing.T, p []Insn) *Program {
	t.Helper()
	c, err := Compile(p, 0)
	if err != nil {
		t.Fatalf("Compile: %v\n%s", err, Disassemble(p))
	}
	for _, pkt := range fusePackets() {
		for _, wire := range []uint32{uint32(len(pkt)), 1500} {
			if want, got := Filter(p, pkt, wire), c.Run(pkt, wire); got != want {
				t.Fatalf("%d-byte packet (wire %d): Run %d, Filter %d\n%s", len(pkt), wire, got, want, Disassemble(p))
			}
		}
	}
	return c
}

func opcodes(p *Program) []opcode {
	var c []opcode
	for _, o := range p.ops {
		c = append(c, o.code)
	}
	return c
}

func TestFuseLoadAndTest(t *testing.T) {
	// tcpdump's "vlan 100": ldh [14]; and #0xfff; jeq #100.
	p := prog(
		Stmt(BPF_LD|BPF_H|BPF_ABS, 14),
		Stmt(BPF_ALU|BPF_AND|BPF_K, 0xfff),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 100, 0, 1),
		retA, // A must be the masked value on this path
		Stmt(BPF_RET|BPF_K, 0),
	)
	c := mustAgree(t, p)
	if got := opcodes(c); len(got) != 3 || got[0] != opHEq || c.ops[0].m != 0xfff {
		t.Errorf("ops %v, want one fused masked ldh+jeq then the returns", got)
	}
	// The same group with each load size, indexed and not, and each
	// condition: the out-of-bounds edge of every load is in fusePackets.
	for _, ld := range []uint16{BPF_W | BPF_ABS, BPF_H | BPF_ABS, BPF_B | BPF_ABS, BPF_W | BPF_IND, BPF_H | BPF_IND, BPF_B | BPF_IND, BPF_W | BPF_LEN} {
		for _, j := range []uint16{BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET} {
			for _, k := range []uint32{0, 10, 59, 60, 61, 62, 63, 0xfffffffe} {
				mustAgree(t, prog(
					Stmt(BPF_LDX|BPF_IMM, 1),
					Stmt(BPF_LD|ld, k),
					Stmt(BPF_ALU|BPF_AND|BPF_K, 0xf0f0),
					Jump(BPF_JMP|j|BPF_K, 0x30, 1, 0),
					retA,
					Stmt(BPF_RET|BPF_K, 7),
				))
			}
		}
	}
}

func TestFuseLen(t *testing.T) {
	// tcpdump's "greater 1000": ld #pktlen; jge #1000.
	p := prog(
		Stmt(BPF_LD|BPF_W|BPF_LEN, 0),
		Jump(BPF_JMP|BPF_JGE|BPF_K, 1000, 0, 1),
		Stmt(BPF_RET|BPF_K, 262144),
		Stmt(BPF_RET|BPF_K, 0),
	)
	c := mustAgree(t, p)
	want := []opcode{opLenGe, opRetK, opRetK}
	if got := opcodes(c); !equalOpcodes(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
	for _, wire := range []uint32{0, 999, 1000, 1001} {
		if got, want := c.Run(nil, wire), Filter(p, nil, wire); got != want {
			t.Errorf("wire length %d: Run %d, Filter %d", wire, got, want)
		}
	}
}

func TestFuseTargetInsideGroup(t *testing.T) {
	// The "and" is a jump target: only the load's successor may not be
	// absorbed, so the load stays alone and and+jeq fuse.
	p := prog(
		Stmt(BPF_LD|BPF_B|BPF_ABS, 20),
		Jump(BPF_JMP|BPF_JGT|BPF_K, 0x80, 1, 0),
		Stmt(BPF_LD|BPF_H|BPF_ABS, 14),
		Stmt(BPF_ALU|BPF_AND|BPF_K, 0xfff), // reached from 1 and 2
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 100, 0, 1),
		retA,
		Stmt(BPF_RET|BPF_K, 0),
	)
	c := mustAgree(t, p)
	want := []opcode{opBGt, opLdH, opAEq, opRetA, opRetK}
	if got := opcodes(c); !equalOpcodes(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
	// The jump is the target: the load and the and stay separate ops.
	p = prog(
		Stmt(BPF_LD|BPF_B|BPF_ABS, 20),
		Jump(BPF_JMP|BPF_JGT|BPF_K, 0x80, 2, 0),
		Stmt(BPF_LD|BPF_H|BPF_ABS, 14),
		Stmt(BPF_ALU|BPF_AND|BPF_K, 0xfff),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x64, 0, 1), // reached from 1 and 3
		retA,
		Stmt(BPF_RET|BPF_K, 0),
	)
	c = mustAgree(t, p)
	want = []opcode{opBGt, opLdH, opAndK, opAEq, opRetA, opRetK}
	if got := opcodes(c); !equalOpcodes(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
}

func TestFuseCases(t *testing.T) {
	// tcpdump's "vlan": three EtherTypes, one verdict.
	vlan := prog(
		Stmt(BPF_LD|BPF_H|BPF_ABS, 12),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x8100, 2, 0),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x88a8, 1, 0),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x9100, 0, 1),
		Stmt(BPF_RET|BPF_K, 262144),
		Stmt(BPF_RET|BPF_K, 0),
	)
	c := mustAgree(t, vlan)
	if got := opcodes(c); got[0] != opHCases || c.ops[0].v != 0x8100 || c.ops[0].jf != 2 || len(got) != 5 {
		t.Errorf("ops %v, want a 3-case ldh, its two further cases and the two returns", got)
	}
	// Different targets per case, a repeated value (its test can never
	// succeed) and a chain longer than maxCases, on A without a load.
	var p []Insn
	p = append(p, Stmt(BPF_LD|BPF_B|BPF_ABS, 12))
	vals := []uint32{0x81, 0x86, 0x81, 0x08, 0x88, 0x91, 0x0a, 0x0b, 0x0c, 0x30}
	n := len(vals)
	for i, v := range vals {
		// Case i returns i+1; the false branch goes on to the next.
		p = append(p, Jump(BPF_JMP|BPF_JEQ|BPF_K, v, uint8(n-i), 0))
	}
	p = append(p, Stmt(BPF_RET|BPF_K, 100))
	for i := range vals {
		p = append(p, Stmt(BPF_RET|BPF_K, uint32(i+1)))
	}
	c = mustAgree(t, p)
	if c.ops[0].code != opBCases || int(c.ops[0].jf) != maxCases-1 {
		t.Errorf("first op %+v, want %d cases", c.ops[0], maxCases)
	}
	// A jeq of the chain that another path reaches keeps an op of its own.
	p = prog(
		Stmt(BPF_LD|BPF_H|BPF_ABS, 12),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x0800, 0, 2),
		Stmt(BPF_LD|BPF_B|BPF_ABS, 23),
		Jump(BPF_JMP|BPF_JGT|BPF_K, 0x80, 1, 0), // A is no longer the EtherType
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x86dd, 0, 1),
		retA,
		Stmt(BPF_RET|BPF_K, 0),
	)
	c = mustAgree(t, p)
	// The cases op holds its first case and is followed by a slot for
	// the second.
	want := []opcode{opHCases, opRetK, opBGt, opAEq, opRetA, opRetK}
	if got := opcodes(c); !equalOpcodes(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
}

func TestThreadJumps(t *testing.T) {
	p := prog(
		Stmt(BPF_LD|BPF_H|BPF_ABS, 12),
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x8100, 0, 3),
		Stmt(BPF_JMP|BPF_JA, 0),                   // to the next ja
		Stmt(BPF_JMP|BPF_JA, 1),                   // to the jeq whose branches agree
		Stmt(BPF_RET|BPF_K, 9),                    // reached by no path after threading
		Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x8100, 1, 0), // A == 0x8100 here: fixed
		Stmt(BPF_RET|BPF_K, 1),
		Jump(BPF_JMP|BPF_JGT|BPF_X, 0, 0, 0), // both branches agree
		Stmt(BPF_RET|BPF_K, 2),
	)
	c := mustAgree(t, p)
	// ldh [12]; jeq #0x8100 jt ret #2 (through the ja pair, the fixed
	// jeq and the jgt) jf ret #1.
	want := []opcode{opHEq, opRetK, opRetK}
	if got := opcodes(c); !equalOpcodes(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
}

// TestFuseCorpus checks that every corpus filter that loads from the packet
// compiles to fewer dispatchable ops (case slots aside) than it has
// instructions (the fusions tcpdump's output offers are taken) and that Run
// matches Filter on the fuse packets.
func TestFuseCorpus(t *testing.T) {
	c := loadCorpus(t)
	for _, f := range c.Filters {
		if Validate(f.Insns, 0) != nil {
			continue
		}
		p := mustAgree(t, f.Insns)
		ops := 0
		for i := 0; i < len(p.ops); i++ {
			ops++
			if p.ops[i].code >= opAEq && (p.ops[i].code-opAEq)%numConds == condCases {
				i += int(p.ops[i].jf)
			}
		}
		if f.Insns[0].Code&0xe0 == BPF_ABS && ops >= len(f.Insns) {
			t.Errorf("%q: %d ops for %d instructions", f.Expr, ops, len(f.Insns))
		}
	}
}

func equalOpcodes(a, b []opcode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
