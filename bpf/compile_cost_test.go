package bpf

import (
	"os"
	"testing"
)

// TestCostPass runs one compiled pass over the corpus for the filter named
// by BPF_COST_EXPR, and nothing else, so that an instruction-counting tool
// can measure the compiled path deterministically on a noisy machine:
//
//	BPF_COST_EXPR=tcp valgrind --tool=callgrind --branch-sim=yes \
//	    --toggle-collect='*compiledPass*' ./bpf.test -test.run TestCostPass
//
// It checks the pass accepted as many frames as the oracle says.
func TestCostPass(t *testing.T) {
	expr := os.Getenv("BPF_COST_EXPR")
	if expr == "" {
		t.Skip("set BPF_COST_EXPR to a corpus expression to run one measured pass")
	}
	c := loadCorpus(t)
	for _, f := range c.Filters {
		if f.Expr != expr {
			continue
		}
		p, err := Compile(f.Insns, 0)
		if err != nil {
			t.Fatal(err)
		}
		compiledPass(p, c.Frames)
		n := 0
		for i := range c.Frames {
			if p.Run(c.Frames[i].Data, uint32(c.Frames[i].Length)) != 0 {
				n++
			}
		}
		if n != f.Matches {
			t.Fatalf("%q accepted %d frames, oracle %d", expr, n, f.Matches)
		}
		return
	}
	t.Fatalf("no corpus filter %q", expr)
}
