package bpf

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/baretap/baretap/internal/benchdata"

	xbpf "golang.org/x/net/bpf"

	"github.com/baretap/baretap/pcap"
)

// This file holds the independent oracles the filter machine is checked
// against: the shared corpus (filters compiled by tcpdump 4.99.3 /
// libpcap 1.10.3, with per-frame verdicts that x/net/bpf, libpcap's
// bpf_filter, Linux and tcpdump -r agree on), the tcpdump binary itself, and
// golang.org/x/net/bpf's VM run next to ours.

// corpusFilter is one entry of filters.json joined with filters-oracle.json.
type corpusFilter struct {
	Expr    string
	Insns   []Insn
	Matches int
	Bitmap  []byte // bit i (byte i/8, LSB first) = frame i accepted
}

type corpus struct {
	Dir     string
	Filters []corpusFilter
	Frames  []pcap.Frame
}

var (
	corpusOnce sync.Once
	corpusData *corpus
	corpusErr  error
	corpusSkip string
)

// benchDir returns ../shared/bench relative to the module root ("" and a
// reason when absent).
func benchDir() (string, string) {
	dir, err := benchdata.Locate("traffic.pcap", "filters.json", "filters-oracle.json")
	if err != nil {
		return "", err.Error()
	}
	return dir, ""
}

// loadCorpus reads the shared corpus once per test binary, or skips.
func loadCorpus(tb testing.TB) *corpus {
	tb.Helper()
	corpusOnce.Do(func() {
		dir, skip := benchDir()
		if dir == "" {
			corpusSkip = skip
			return
		}
		corpusData, corpusErr = readCorpus(dir)
	})
	if corpusSkip != "" {
		tb.Skip(corpusSkip)
	}
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	return corpusData
}

func readCorpus(dir string) (*corpus, error) {
	var filters []struct {
		Expr  string `json:"expr"`
		Insns []struct {
			Code uint16 `json:"code"`
			Jt   uint8  `json:"jt"`
			Jf   uint8  `json:"jf"`
			K    uint32 `json:"k"`
		} `json:"insns"`
	}
	var oracle struct {
		Frames  int `json:"frames"`
		Filters []struct {
			Expr    string `json:"expr"`
			Matches int    `json:"matches"`
			Bitmap  string `json:"bitmap"`
		} `json:"filters"`
	}
	for name, v := range map[string]any{"filters.json": &filters, "filters-oracle.json": &oracle} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, errors.New(name + ": " + err.Error())
		}
	}
	if len(filters) != len(oracle.Filters) {
		return nil, errors.New("filters.json and filters-oracle.json list different numbers of filters")
	}
	hdr, frames, err := pcap.ReadFile(filepath.Join(dir, "traffic.pcap"))
	if err != nil {
		return nil, err
	}
	if hdr.LinkType != pcap.LinkTypeEthernet {
		return nil, errors.New("traffic.pcap is not LINKTYPE_ETHERNET")
	}
	if len(frames) != oracle.Frames {
		return nil, errors.New("traffic.pcap frame count differs from filters-oracle.json")
	}
	c := &corpus{Dir: dir, Frames: frames}
	for i, f := range filters {
		o := oracle.Filters[i]
		if o.Expr != f.Expr {
			return nil, errors.New("filters.json and filters-oracle.json disagree on filter order at " + f.Expr)
		}
		bm, err := base64.StdEncoding.DecodeString(o.Bitmap)
		if err != nil {
			return nil, errors.New(f.Expr + ": bitmap: " + err.Error())
		}
		if len(bm)*8 < len(frames) {
			return nil, errors.New(f.Expr + ": bitmap shorter than the frame count")
		}
		cf := corpusFilter{Expr: f.Expr, Matches: o.Matches, Bitmap: bm}
		for _, in := range f.Insns {
			cf.Insns = append(cf.Insns, Insn{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K})
		}
		c.Filters = append(c.Filters, cf)
	}
	return c, nil
}

func (f *corpusFilter) accepted(i int) bool { return f.Bitmap[i/8]>>(i%8)&1 == 1 }

// The one corpus filter FreeBSD's validator must reject: libpcap compiles
// `ip6 protochain` into a loop closed by a backward ja.
const protochainExpr = "ip6 protochain 6"

// TestCorpusVerdicts is acceptance point 1: for every corpus filter, the
// interpreter and both compiled paths (machine code where this platform has
// a generator, and the portable ops) accept exactly the frames the oracle
// bitmap says, frame by frame, with the wire length from the pcap record.
func TestCorpusVerdicts(t *testing.T) {
	c := loadCorpus(t)
	for _, f := range c.Filters {
		t.Run(f.Expr, func(t *testing.T) {
			prog, err := Compile(f.Insns, DefaultMaxInsns)
			if f.Expr == protochainExpr {
				// Validate rejects it; Filter still runs it the way
				// libpcap does (backward ja), so its verdicts are
				// checked below against the libpcap oracle.
				if !errors.Is(err, ErrInvalidProgram) || err.Error() != "instruction 18: ja -15 jumps backward (k=0xfffffff1); classic BPF allows only forward jumps" {
					t.Fatalf("Compile(%s) error = %v", f.Expr, err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			type path struct {
				name string
				run  func(pkt []byte, wirelen uint32) uint32
			}
			paths := []path{{"interpreter", func(pkt []byte, w uint32) uint32 { return Filter(f.Insns, pkt, w) }}}
			if prog != nil {
				port, err := CompilePortable(f.Insns, DefaultMaxInsns)
				if err != nil {
					t.Fatal(err)
				}
				name := "compiled (ops)"
				if prog.Native() {
					name = "compiled (native)"
				}
				paths = append(paths, path{name, prog.Run}, path{"portable", port.Run})
			}
			for _, path := range paths {
				miss, n := 0, 0
				for i, fr := range c.Frames {
					want := f.accepted(i)
					got := path.run(fr.Data, uint32(fr.Length)) != 0
					if got != want {
						if miss < 5 {
							t.Errorf("%s: frame %d: accepted=%v, oracle %v", path.name, i, got, want)
						}
						miss++
					}
					if got {
						n++
					}
				}
				if miss != 0 || n != f.Matches {
					t.Errorf("%s: %d mismatches over %d frames; matched %d, oracle %d", path.name, miss, len(c.Frames), n, f.Matches)
				}
			}
		})
	}
}

// tcpdumpPath returns the tcpdump binary or skips the test.
func tcpdumpPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: `make deps` installs it (apt-get install tcpdump)")
	}
	return p
}

func runTcpdump(t *testing.T, tcpdump string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tcpdump, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tcpdump %q: %v: %s", args, err, ee.Stderr)
		}
		t.Fatalf("tcpdump %q: %v", args, err)
	}
	return string(out)
}

// TestCorpusTcpdumpFormats compiles every corpus expression with the
// installed tcpdump in all three output forms: ParseProgram must read -ddd
// and -dd into exactly the corpus instructions (acceptance point 2, parser
// half), and Disassemble must print exactly what -d prints (point 5).
func TestCorpusTcpdumpFormats(t *testing.T) {
	c := loadCorpus(t)
	tcpdump := tcpdumpPath(t)
	for _, f := range c.Filters {
		t.Run(f.Expr, func(t *testing.T) {
			for _, form := range []string{"-ddd", "-dd"} {
				text := runTcpdump(t, tcpdump, "-y", "EN10MB", form, f.Expr)
				got, err := ParseProgram(text)
				if err != nil {
					t.Fatalf("ParseProgram(tcpdump %s): %v", form, err)
				}
				if !equalInsns(got, f.Insns) {
					t.Errorf("tcpdump %s parsed to\n%v\nwant corpus\n%v", form, got, f.Insns)
				}
			}
			want := runTcpdump(t, tcpdump, "-y", "EN10MB", "-d", f.Expr)
			if got := Disassemble(f.Insns); got != want {
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				for i := range max(len(gl), len(wl)) {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Errorf("line %d: got %q, tcpdump -d %q", i+1, g, w)
					}
				}
			}
		})
	}
}

func equalInsns(a, b []Insn) bool {
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

// xnetVM builds golang.org/x/net/bpf's VM for prog, or returns an error
// when x/net/bpf refuses the program.
func xnetVM(prog []Insn) (*xbpf.VM, error) {
	raw := make([]xbpf.Instruction, len(prog))
	for i, in := range prog {
		raw[i] = xbpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	return xbpf.NewVM(raw)
}

// xnetComparable reports whether x/net/bpf and FreeBSD define the same
// result for a validated program, and if not, why. Each exclusion is a
// documented difference, not a bug in either:
//
//   - empty program: FreeBSD accepts all, x/net/bpf refuses to build a VM;
//   - ld/ldh/ldb [k] with k >= 0xfffff000: x/net/bpf decodes these as Linux
//     ancillary loads (SKF_AD_OFF + n) and rejects all but "len" (which it
//     answers with the packet length); on FreeBSD they are ordinary loads
//     far past the end of any packet, so verdict 0;
//   - ldx #pktlen (BPF_LDX|BPF_W|BPF_LEN): x/net/bpf decodes every LEN-mode
//     load as LoadExtension{ExtLen}, which writes A, not X;
//   - neg (BPF_ALU|BPF_NEG): x/net/bpf decodes it as NegateA, but its VM
//     has no case for NegateA and fails with "unknown Instruction";
//
// and, at run time, wire length: x/net/bpf has no separate wire length
// (its "len" is len(pkt)), so comparisons pass wirelen = len(pkt).
//
// On 32-bit platforms (GOARCH=arm, our target) x/net/bpf is not a usable
// oracle at all: it converts jump offsets and load offsets to int, so a
// backward ja (k >= 2^31) passes NewVM, and an indexed load's X+k wraps
// into the packet or to a negative index that panics (seen under
// qemu-arm). Comparisons run on 64-bit hosts only.
func xnetComparable(prog []Insn) (bool, string) {
	if strconv.IntSize < 64 {
		return false, "x/net/bpf offsets wrap in a 32-bit int"
	}
	if len(prog) == 0 {
		return false, "empty program"
	}
	for _, in := range prog {
		switch in.Code {
		case BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS:
			if in.K >= 0xfffff000 {
				return false, "absolute load in the Linux ancillary range"
			}
		case BPF_LDX | BPF_W | BPF_LEN:
			return false, "ldx #pktlen"
		case BPF_ALU | BPF_NEG:
			return false, "neg"
		}
	}
	return true, ""
}

// TestCorpusAgainstXnet runs x/net/bpf over the corpus next to all three of
// our paths: a second, live check of the oracle bitmaps.
func TestCorpusAgainstXnet(t *testing.T) {
	if ok, why := xnetComparable(arpProg); !ok {
		t.Skip(why)
	}
	c := loadCorpus(t)
	for _, f := range c.Filters {
		vm, err := xnetVM(f.Insns)
		if f.Expr == protochainExpr {
			if err == nil {
				t.Errorf("x/net/bpf accepted %s", f.Expr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: x/net/bpf: %v", f.Expr, err)
		}
		prog, err := Compile(f.Insns, 0)
		if err != nil {
			t.Fatal(err)
		}
		port, err := CompilePortable(f.Insns, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, fr := range c.Frames {
			want, err := vm.Run(fr.Data)
			if err != nil {
				t.Fatal(err)
			}
			n := uint32(len(fr.Data))
			if got := Filter(f.Insns, fr.Data, n); got != uint32(want) {
				t.Fatalf("%s frame %d: interpreter %d, x/net/bpf %d", f.Expr, i, got, want)
			}
			if got := prog.Run(fr.Data, n); got != uint32(want) {
				t.Fatalf("%s frame %d: compiled (native=%v) %d, x/net/bpf %d", f.Expr, i, prog.Native(), got, want)
			}
			if got := port.Run(fr.Data, n); got != uint32(want) {
				t.Fatalf("%s frame %d: portable %d, x/net/bpf %d", f.Expr, i, got, want)
			}
		}
	}
}
