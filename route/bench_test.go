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
// its lookups read the next hop through it; ours use LookupNextHop, which
// also hands back the shared record, so both do the same work (Lookup adds
// a copy of the 40-byte NextHop).

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
	all := append(append([]netip.Prefix{}, c.v4...), c.v6...)
	rs := make([]Route, len(all))
	for i, p := range all {
		rs[i] = Route{Prefix: p, NextHop: nhFor(p, nhs)}
	}
	if err := t.AddRoutes(rs); err != nil {
		tb.Fatal(err)
	}
	return t
}

var sinkU uint32

// pairBlock is how many operations each side runs before the other takes
// its turn.
const pairBlock = 1 << 17

// pair runs ours and the anchor over the same b.N operations, alternating
// blocks of pairBlock so that both see the same machine conditions (a
// shared machine's load comes and goes faster than a whole run), and
// reports ours as ns/op, the anchor as bart-ns/op, and the ratio.
// allocs/op covers both.
func pair(b *testing.B, ours, anchor func(lo, hi int)) {
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	var d0, d1 time.Duration
	for lo := 0; lo < b.N; lo += pairBlock {
		hi := min(lo+pairBlock, b.N)
		t0 := time.Now()
		ours(lo, hi)
		t1 := time.Now()
		anchor(lo, hi)
		d0, d1 = d0+t1.Sub(t0), d1+time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(d0.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(d1.Nanoseconds())/float64(b.N), "bart-ns/op")
	b.ReportMetric(float64(d1)/float64(d0), "x-bart")
}

func lookupPair(b *testing.B, e *benchEnv, addrs []netip.Addr) {
	mask := len(addrs) - 1
	pair(b, func(lo, hi int) {
		s := uint32(0)
		for i := lo; i < hi; i++ {
			if nh := e.ours.LookupNextHop(addrs[i&mask]); nh != nil {
				s += nh.IfIndex
			}
		}
		sinkU += s
	}, func(lo, hi int) {
		s := uint32(0)
		for i := lo; i < hi; i++ {
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

func routesFor(ps []netip.Prefix) []Route {
	rs := make([]Route, len(ps))
	for i, p := range ps {
		rs[i] = Route{Prefix: p, NextHop: nhFor(p, benchNHs)}
	}
	return rs
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bytesPair measures the heap each structure holds after building it from
// ps: HeapAlloc after GC, before and after.
func bytesPair(b *testing.B, ps []netip.Prefix) {
	rs := routesFor(ps)
	var ours, anchor float64
	for range b.N {
		h0 := heapInUse()
		t := NewTable()
		if err := t.AddRoutes(rs); err != nil {
			b.Fatal(err)
		}
		h1 := heapInUse()
		bt := new(bart.Table[uint32])
		for _, p := range ps {
			bt.Insert(p, nhIndex(p))
		}
		h2 := heapInUse()
		ours = float64(h1-h0) / float64(len(ps))
		anchor = float64(h2-h1) / float64(len(ps))
		runtime.KeepAlive(t)
		runtime.KeepAlive(bt)
	}
	b.ReportMetric(ours, "B/prefix")
	b.ReportMetric(anchor, "bart-B/prefix")
	b.ReportMetric(ours/anchor, "ratio-to-bart")
}

// BenchmarkBytesV4FullTable: memory per prefix (run it under qemu-arm for
// GOARCH=arm figures).
func BenchmarkBytesV4FullTable(b *testing.B) { bytesPair(b, loadCorpus(b).v4) }

func BenchmarkBytesV6FullTable(b *testing.B) { bytesPair(b, loadCorpus(b).v6) }

// BenchmarkBuildV4FullTable: ns per prefix to load the full table from
// empty, ours one route at a time (Add), ours batched (AddRoutes), bart
// Insert.
func BenchmarkBuildV4FullTable(b *testing.B) { buildPair(b, loadCorpus(b).v4) }

func BenchmarkBuildV6FullTable(b *testing.B) { buildPair(b, loadCorpus(b).v6) }

func buildPair(b *testing.B, ps []netip.Prefix) {
	rs := routesFor(ps)
	var one, batch, anchor time.Duration
	for range b.N {
		t0 := time.Now()
		t := NewTable()
		for _, r := range rs {
			if err := t.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		tb := NewTable()
		if err := tb.AddRoutes(rs); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		bt := new(bart.Table[uint32])
		for _, p := range ps {
			bt.Insert(p, nhIndex(p))
		}
		t3 := time.Now()
		one += t1.Sub(t0)
		batch += t2.Sub(t1)
		anchor += t3.Sub(t2)
	}
	n := float64(b.N * len(ps))
	b.ReportMetric(float64(one.Nanoseconds())/n, "ns/insert")
	b.ReportMetric(float64(batch.Nanoseconds())/n, "batch-ns/insert")
	b.ReportMetric(float64(anchor.Nanoseconds())/n, "bart-ns/insert")
}

// BenchmarkUpdateV4FullTable: one Add plus one Delete of a prefix absent
// from the full table (an incremental update: only the chunk or nodes on
// its path are rebuilt), against bart's Insert plus Delete.
func BenchmarkUpdateV4FullTable(b *testing.B) { updatePair(b, true) }

func BenchmarkUpdateV6FullTable(b *testing.B) { updatePair(b, false) }

func updatePair(b *testing.B, is4 bool) {
	e := loadBench(b)
	r := rand.New(rand.NewPCG(3, 4))
	var fresh []netip.Prefix
	src := e.drawn6
	if is4 {
		src = e.drawn4
	}
	for len(fresh) < 4096 {
		a := src[r.IntN(len(src))]
		l := 17 + r.IntN(16)
		if !is4 {
			l = 33 + r.IntN(32)
		}
		p, _ := a.Prefix(l)
		if _, ok := e.bart.Get(p); !ok {
			fresh = append(fresh, p)
		}
	}
	mask := len(fresh) - 1
	nh := nhFor(fresh[0], benchNHs)
	pair(b, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := fresh[i&mask]
			if err := e.ours.Add(Route{Prefix: p, NextHop: nh}); err != nil {
				b.Fatal(err)
			}
			if err := e.ours.Delete(p); err != nil {
				b.Fatal(err)
			}
		}
	}, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := fresh[i&mask]
			e.bart.Insert(p, 0)
			e.bart.Delete(p)
		}
	})
}

// BenchmarkLookupV4FIBs: lookups spread over 4 FIBs that each hold the
// full table, against the same lookups on 1 FIB, for ours and bart; the
// slowdown metrics are 4-FIB time over 1-FIB time (k is a power of two).
func BenchmarkLookupV4FIBs(b *testing.B) {
	e := loadBench(b)
	c := loadCorpus(b)
	const nfib = 4
	fibs := NewFIBs(nfib)
	rs := routesFor(c.v4)
	for i := range nfib {
		t, _ := fibs.Table(i)
		if err := t.AddRoutes(rs); err != nil {
			b.Fatal(err)
		}
	}
	barts := make([]*bart.Table[uint32], nfib)
	for i := range barts {
		barts[i] = buildBart(c.v4)
	}
	for _, set := range []struct {
		name  string
		addrs []netip.Addr
	}{{"random", e.rand4}, {"drawn", e.drawn4}} {
		b.Run(set.name, func(b *testing.B) {
			addrs := set.addrs
			mask := len(addrs) - 1
			timeIt := func(f func(n int)) time.Duration {
				t0 := time.Now()
				f(b.N)
				return time.Since(t0)
			}
			ours := func(k int) func(int) {
				return func(n int) {
					s := uint32(0)
					for i := range n {
						nh, _ := fibs.Lookup(i&(k-1), addrs[i&mask])
						s += nh.IfIndex
					}
					sinkU = s
				}
			}
			anchor := func(k int) func(int) {
				return func(n int) {
					s := uint32(0)
					for i := range n {
						if v, ok := barts[i&(k-1)].Lookup(addrs[i&mask]); ok {
							s += e.nhs[v].IfIndex
						}
					}
					sinkU = s
				}
			}
			runtime.GC()
			b.ResetTimer()
			o4 := timeIt(ours(nfib))
			b.StopTimer()
			o1 := timeIt(ours(1))
			a4 := timeIt(anchor(nfib))
			a1 := timeIt(anchor(1))
			b.ReportMetric(float64(o4)/float64(o1), "slowdown")
			b.ReportMetric(float64(a4)/float64(a1), "bart-slowdown")
			b.ReportMetric(float64(a4)/float64(o4), "x-bart")
			b.ReportMetric(float64(a4.Nanoseconds())/float64(b.N), "bart-ns/op")
		})
	}
}
