package route

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

// The benchmarks run gaissmai/bart.Table, the anchor of
// ../shared/bench/README.md, on the same table and the same addresses in
// the same run, and report its time and the ratio: x-bart > 1 means ours is
// faster. bart stores an index into the same next-hop array ours uses, and
// its lookups fetch the next hop through it, so both do the same work.

const benchNHs = 256 // distinct next hops in the benchmark tables (DXR paper: ~200-500)

type benchEnv struct {
	ours   *Table
	bart   *bart.Table[uint32]
	nhs    []NextHop
	rand4  []netip.Addr // uniform random
	drawn4 []netip.Addr // inside random table prefixes
	hot4   []netip.Addr // 1,024 table-drawn addresses
	rand6  []netip.Addr
	drawn6 []netip.Addr
	hot6   []netip.Addr
}

var (
	benchOnce sync.Once
	benchData *benchEnv
)

// nhIndex is where benchNextHops put nhFor(p, benchNHs).
func nhIndex(p netip.Prefix) uint32 {
	i := 2 * nhG(p, benchNHs)
	if !p.Addr().Is4() {
		i++
	}
	return i
}

func buildBart(ps []netip.Prefix) *bart.Table[uint32] {
	bt := new(bart.Table[uint32])
	for _, p := range ps {
		bt.Insert(p, nhIndex(p))
	}
	return bt
}

func benchNextHops() []NextHop {
	var nhs []NextHop
	for g := range uint32(benchNHs) {
		for _, is4 := range []bool{true, false} {
			nh, _ := normalize(nhOfG(g, is4), is4)
			nhs = append(nhs, nh)
		}
	}
	return nhs
}

func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func loadBench(b testing.TB) *benchEnv {
	c := loadCorpus(b)
	benchOnce.Do(func() {
		e := &benchEnv{nhs: benchNextHops()}
		e.ours = fullTableNH(b, c, benchNHs)
		all := append(append([]netip.Prefix{}, c.v4...), c.v6...)
		e.bart = buildBart(all)
		r := rand.New(rand.NewPCG(1, 2))
		const n = 1 << 16
		for range n {
			var a4 [4]byte
			var a6 [16]byte
			for i := range a4 {
				a4[i] = byte(r.Uint32())
			}
			for i := range a6 {
				a6[i] = byte(r.Uint32())
			}
			a6[0] = 0x20 | a6[0]&0x1f // 2000::/3, as the oracle
			e.rand4 = append(e.rand4, netip.AddrFrom4(a4))
			e.rand6 = append(e.rand6, netip.AddrFrom16(a6))
			e.drawn4 = append(e.drawn4, randomIn(r, c.v4[r.IntN(len(c.v4))]))
			e.drawn6 = append(e.drawn6, randomIn(r, c.v6[r.IntN(len(c.v6))]))
		}
		e.hot4 = e.drawn4[:1024]
		e.hot6 = e.drawn6[:1024]
		benchData = e
	})
	return benchData
}

func fullTableNH(tb testing.TB, c *corpus, nhs int) *Table {
	t := NewTable()
	for _, ps := range [][]netip.Prefix{c.v4, c.v6} {
		for _, p := range ps {
			if err := t.Add(Route{Prefix: p, NextHop: nhFor(p, nhs)}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return t
}

var sinkU uint32

// pair times ours over b.N operations (the benchmark's ns/op), then the
// anchor over the same b.N, and reports the anchor and the ratio.
func pair(b *testing.B, ours, anchor func(n int)) {
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	t0 := time.Now()
	ours(b.N)
	d0 := time.Since(t0)
	b.StopTimer()
	t1 := time.Now()
	anchor(b.N)
	d1 := time.Since(t1)
	b.ReportMetric(float64(d1.Nanoseconds())/float64(b.N), "bart-ns/op")
	b.ReportMetric(float64(d1)/float64(d0), "x-bart")
}

func lookupPair(b *testing.B, e *benchEnv, addrs []netip.Addr) {
	mask := len(addrs) - 1
	pair(b, func(n int) {
		s := uint32(0)
		for i := range n {
			nh, _ := e.ours.Lookup(addrs[i&mask])
			s += nh.IfIndex
		}
		sinkU = s
	}, func(n int) {
		s := uint32(0)
		for i := range n {
			if v, ok := e.bart.Lookup(addrs[i&mask]); ok {
				s += e.nhs[v].IfIndex
			}
		}
		sinkU = s
	})
}

func BenchmarkLookupV4FullTable(b *testing.B) {
	e := loadBench(b)
	b.Run("random", func(b *testing.B) { lookupPair(b, e, e.rand4) })
	b.Run("drawn", func(b *testing.B) { lookupPair(b, e, e.drawn4) })
	b.Run("hot1024", func(b *testing.B) { lookupPair(b, e, e.hot4) })
}

func BenchmarkLookupV6FullTable(b *testing.B) {
	e := loadBench(b)
	b.Run("random", func(b *testing.B) { lookupPair(b, e, e.rand6) })
	b.Run("drawn", func(b *testing.B) { lookupPair(b, e, e.drawn6) })
	b.Run("hot1024", func(b *testing.B) { lookupPair(b, e, e.hot6) })
}
