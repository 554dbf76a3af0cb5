package route

import (
	"bufio"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/baretap/baretap/internal/benchdata"
)

// benchDir finds ../shared/bench relative to the module root.
func benchDir(tb testing.TB) string {
	tb.Helper()
	return benchdata.Dir(tb, "prefixes-v4.txt.gz")
}

func readGzLines(tb testing.TB, path string, fn func(line string)) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}

type oracleCase struct {
	addr netip.Addr
	want netip.Prefix // invalid: no route
}

type corpus struct {
	v4, v6  []netip.Prefix
	oracle4 []oracleCase
	oracle6 []oracleCase
}

var (
	corpusOnce sync.Once
	corpusData *corpus
)

// loadCorpus parses the shared tables once per test binary.
func loadCorpus(tb testing.TB) *corpus {
	dir := benchDir(tb)
	corpusOnce.Do(func() {
		c := &corpus{}
		parseP := func(dst *[]netip.Prefix) func(string) {
			return func(l string) {
				p, err := netip.ParsePrefix(l)
				if err != nil {
					tb.Fatalf("corpus prefix %q: %v", l, err)
				}
				*dst = append(*dst, p)
			}
		}
		parseO := func(dst *[]oracleCase) func(string) {
			return func(l string) {
				f := strings.Fields(l)
				if len(f) != 2 {
					tb.Fatalf("oracle line %q", l)
				}
				a, err := netip.ParseAddr(f[0])
				if err != nil {
					tb.Fatal(err)
				}
				oc := oracleCase{addr: a}
				if f[1] != "-" {
					if oc.want, err = netip.ParsePrefix(f[1]); err != nil {
						tb.Fatal(err)
					}
				}
				*dst = append(*dst, oc)
			}
		}
		readGzLines(tb, filepath.Join(dir, "prefixes-v4.txt.gz"), parseP(&c.v4))
		readGzLines(tb, filepath.Join(dir, "prefixes-v6.txt.gz"), parseP(&c.v6))
		readGzLines(tb, filepath.Join(dir, "lpm-oracle-v4.txt.gz"), parseO(&c.oracle4))
		readGzLines(tb, filepath.Join(dir, "lpm-oracle-v6.txt.gz"), parseO(&c.oracle6))
		corpusData = c
	})
	if corpusData == nil {
		tb.Fatal("corpus failed to load earlier")
	}
	return corpusData
}

// nhFor gives every prefix a next hop derived from it, spread over n
// distinct gateways, so a wrong match shows up as a wrong next hop.
func nhFor(p netip.Prefix, n int) NextHop {
	return nhOfG(nhG(p, n), p.Addr().Is4())
}

// nhG is the gateway number nhFor picked.
func nhG(p netip.Prefix, n int) uint32 {
	h := uint32(2166136261)
	for _, b := range p.Addr().AsSlice() {
		h = (h ^ uint32(b)) * 16777619
	}
	h = (h ^ uint32(p.Bits())) * 16777619
	return h % uint32(n)
}

func nhOfG(g uint32, is4 bool) NextHop {
	var gw netip.Addr
	if is4 {
		gw = netip.AddrFrom4([4]byte{10, byte(g >> 16), byte(g >> 8), byte(g)})
	} else {
		gw = netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(g >> 8), 15: byte(g)})
	}
	return NextHop{Gateway: gw, IfIndex: 1 + g%4}
}
