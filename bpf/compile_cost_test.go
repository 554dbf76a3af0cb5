package bpf

import (
	"os"
	"testing"
)

// TestCostPass runs one compiled pass over the corpus for the filter named
// by BPF_COST_EXPR, and nothing else, so that an instruction-counting tool
// can measure a path deterministically on a noisy machine:
//
//	BPF_COST_EXPR=tcp valgrind --tool=callgrind --branch-sim=yes \
//	    --toggle-collect='*compiledPass*' ./bpf.test -test.run TestCostPass
//
// The pass runs Compile's program (machine code where this platform has a
// generator), or CompilePortable's when BPF_COST_PATH=portable. Valgrind
// translates the generated code like any other, so its instructions and
// branches are counted too. It checks the pass accepted as many frames as
// the oracle says.
func TestCostPass(t *testing.T) {
	expr := os.Getenv("BPF_COST_EXPR")
	if expr == "" {
		t.Skip("set BPF_COST_EXPR to a corpus expression to run one measured pass")
	}
	compile := Compile
	switch path := os.Getenv("BPF_COST_PATH"); path {
	case "", "compiled":
	case "portable":
		compile = CompilePortable
	default:
		t.Fatalf("BPF_COST_PATH=%q: want compiled or portable", path)
	}
	c := loadCorpus(t)
	for _, f := range c.Filters {
		if f.Expr != expr {
			continue
		}
		p, err := compile(f.Insns, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("native code: %v", p.Native())
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
