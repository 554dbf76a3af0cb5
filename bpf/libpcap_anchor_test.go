package bpf

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// libpcapTimes runs testdata/libpcap/anchor.c, libpcap's own bpf_filter in C,
// over the corpus traffic with every corpus program and returns its ns/frame
// per expression: the "faster than libpcap" anchor, measured in the same run
// as the Go paths. It returns nil, after saying why, when gcc or libpcap's
// headers are missing (make deps installs libpcap-dev).
//
// The anchor reports how many frames each program accepted; a count that
// differs from the oracle fails the benchmark, so the C side is known to have
// run the same program over the same frames.
func libpcapTimes(b *testing.B, c *corpus) map[string]float64 {
	b.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Log("libpcap anchor skipped: no gcc")
		return nil
	}
	if _, err := os.Stat("/usr/include/pcap/pcap.h"); err != nil {
		b.Log("libpcap anchor skipped: libpcap headers absent (apt-get install libpcap-dev)")
		return nil
	}
	bin := filepath.Join(b.TempDir(), "anchor")
	if out, err := exec.Command(gcc, "-O2", "-o", bin, "testdata/libpcap/anchor.c", "-lpcap").CombinedOutput(); err != nil {
		b.Fatalf("building the libpcap anchor: %v\n%s", err, out)
	}

	var in strings.Builder
	var exprs []string
	var want []int
	for _, f := range c.Filters {
		in.WriteString(commaForm(f.Insns))
		in.WriteByte('\n')
		exprs = append(exprs, f.Expr)
		want = append(want, f.Matches)
	}
	cmd := exec.Command(bin, filepath.Join(c.Dir, "traffic.pcap"), "300")
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("libpcap anchor: %v", err)
	}
	times := make(map[string]float64, len(exprs))
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan(); i++ {
		var ns float64
		var matches int
		if _, err := fmt.Sscanf(sc.Text(), "%f %d", &ns, &matches); err != nil || i >= len(exprs) {
			b.Fatalf("libpcap anchor: bad line %q", sc.Text())
		}
		if matches != want[i] {
			b.Fatalf("libpcap anchor: %q accepted %d frames, oracle %d", exprs[i], matches, want[i])
		}
		times[exprs[i]] = ns
	}
	if len(times) != len(exprs) {
		b.Fatalf("libpcap anchor: %d results for %d programs", len(times), len(exprs))
	}
	return times
}

// commaForm writes a program in the "N,code jt jf k,..." form ParseProgram
// reads, which is also what the C anchor reads.
func commaForm(prog []Insn) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d", len(prog))
	for _, ins := range prog {
		fmt.Fprintf(&s, ",%d %d %d %d", ins.Code, ins.Jt, ins.Jf, ins.K)
	}
	return s.String()
}

func TestCommaFormRoundTrip(t *testing.T) {
	c := loadCorpus(t)
	for _, f := range c.Filters {
		got, err := ParseProgram(commaForm(f.Insns))
		if err != nil {
			t.Fatalf("%q: %v", f.Expr, err)
		}
		if !equalInsns(got, f.Insns) {
			t.Fatalf("%q: comma form did not round-trip", f.Expr)
		}
	}
}
