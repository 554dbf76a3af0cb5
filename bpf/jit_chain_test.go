package bpf

import (
	"math/rand/v2"
	"testing"
)

// TestNativeTestChains: random programs shaped like tcpdump's chains of
// tests (absolute load, optional "and #k", a test on a constant, one branch
// to a shared "ret #k"), which the amd64 generator evaluates without a
// branch per test, against the interpreter over packets of every length
// up to past the last load. The shapes vary what the generator relies on:
// the fail verdict (0 or not), which branch fails, the test kind, a chain
// end that returns A, a constant or goes on, and extra jumps into the
// middle of a chain (which must keep its tests apart).
func TestNativeTestChains(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	sizes := []uint16{BPF_W, BPF_H, BPF_B}
	tests := []uint16{BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET}
	pkt := make([]byte, 96)
	for n := 0; n < 3000; n++ {
		tests := tests
		links := 2 + r.IntN(4)
		var prog []Insn
		// Placeholders for the fail and pass targets, fixed below.
		type jumpFix struct {
			at         int
			failOnTrue bool
		}
		var fixes []jumpFix
		for l := 0; l < links; l++ {
			k := uint32(r.IntN(40))
			prog = append(prog, Insn{Code: BPF_LD | sizes[r.IntN(3)] | BPF_ABS, K: k})
			if r.IntN(3) == 0 {
				prog = append(prog, Insn{Code: BPF_ALU | BPF_AND | BPF_K, K: r.Uint32() >> r.IntN(32)})
			}
			v := uint32(r.IntN(4))
			if r.IntN(2) == 0 {
				v = r.Uint32() >> r.IntN(32)
			}
			prog = append(prog, Insn{Code: BPF_JMP | tests[r.IntN(4)] | BPF_K, K: v})
			fixes = append(fixes, jumpFix{len(prog) - 1, r.IntN(2) == 0})
		}
		// The end: pass returns A or a constant, or goes on to one more
		// test that picks between two constants.
		var passAt int
		switch r.IntN(3) {
		case 0:
			passAt = len(prog)
			prog = append(prog, Insn{Code: BPF_RET | BPF_A})
		case 1:
			passAt = len(prog)
			prog = append(prog, Insn{Code: BPF_RET | BPF_K, K: 1 + uint32(r.IntN(100))})
		default:
			passAt = len(prog)
			prog = append(prog,
				Insn{Code: BPF_JMP | BPF_JGT | BPF_K, K: uint32(r.IntN(300)), Jt: 0, Jf: 1},
				Insn{Code: BPF_RET | BPF_K, K: 77},
				Insn{Code: BPF_RET | BPF_A})
		}
		failAt := len(prog)
		failK := uint32(0)
		if r.IntN(2) == 0 {
			failK = 5 + uint32(r.IntN(100))
		}
		prog = append(prog, Insn{Code: BPF_RET | BPF_K, K: failK})
		for li, f := range fixes {
			next := f.at + 1
			if li == len(fixes)-1 {
				next = passAt
			}
			off := func(to int) uint8 { return uint8(to - f.at - 1) }
			if f.failOnTrue {
				prog[f.at].Jt, prog[f.at].Jf = off(failAt), off(next)
			} else {
				prog[f.at].Jt, prog[f.at].Jf = off(next), off(failAt)
			}
		}
		// Now and then a second way into the middle of the chain.
		if r.IntN(4) == 0 && len(fixes) > 1 {
			mid := fixes[0].at + 1 // the load after the first test
			pre := []Insn{{Code: BPF_LD | BPF_W | BPF_LEN}, {Code: BPF_JMP | BPF_JGT | BPF_K, K: 60, Jt: 0, Jf: 0}}
			// Jump straight to mid (shifted by the prefix) when len > 60.
			pre[1].Jt = uint8(mid + 2 - 2)
			prog = append(pre, prog...)
		}
		p, err := Compile(prog, 0)
		if err != nil {
			t.Fatalf("program %d: %v\n%s", n, err, Disassemble(prog))
		}
		for i := range pkt {
			pkt[i] = byte(r.Uint32())
			if r.IntN(3) == 0 {
				pkt[i] = byte(r.IntN(3)) // small values make equality tests pass
			}
		}
		for l := 0; l <= len(pkt); l++ {
			got, want := p.Run(pkt[:l], uint32(l)), Filter(prog, pkt[:l], uint32(l))
			if got != want {
				t.Fatalf("program %d, packet of %d bytes: native %d, interpreter %d\n%s", n, l, got, want, Disassemble(prog))
			}
		}
	}
}
