package bpf

import (
	"math"
	"runtime"
	"sort"
	"testing"
	"time"

	xbpf "golang.org/x/net/bpf"

	"github.com/baretap/baretap/pcap"
)

// BenchmarkCorpus is acceptance point 4. For every corpus filter it runs
// one pass over all traffic.pcap frames (held in memory) with x/net/bpf's
// VM (the anchor), our interpreter (Filter), the compiled path
// (Program.Run from Compile: machine code where this platform has a code
// generator) and the portable ops (Program.Run from CompilePortable, the
// net.bpf.jitter.enable=0 path), interleaved within each iteration so that
// all four see the same machine conditions. It reports ns/frame for each
// and the speed-up over x/net/bpf ("x-vs-xnet", > 1 means faster) and, when
// gcc and libpcap-dev are installed, over libpcap's C bpf_filter run over
// the same frames ("x-vs-libpcap"). allocs/op covers all paths, so 0 shows
// the compiled paths allocate nothing.
//
// "median" reports the median, minimum and maximum over filters of each
// ratio, and re-runs the median filter (by x/net/bpf time); "walk" is the
// memory floor every path pays, and "median-hot" the median filter over one
// cache-resident frame.
//
//	go test -run '^$' -bench BenchmarkCorpus -benchmem ./bpf/
func BenchmarkCorpus(b *testing.B) {
	c := loadCorpus(b)
	frames := c.Frames
	nf := float64(len(frames))
	type result struct {
		expr                             string
		xnet, interp, compiled, portable float64 // ns/frame
	}
	var results []result
	libpcap := libpcapTimes(b, c) // nil when gcc or libpcap-dev is absent
	if p, err := Compile(arpProg, 0); err == nil && p.Native() {
		b.Logf("compiled = native code (%s)", runtime.GOARCH)
	} else {
		b.Logf("compiled = portable ops (no code generator on %s/%s)", runtime.GOOS, runtime.GOARCH)
	}

	b.Run("walk", func(b *testing.B) {
		// Anchor for the memory floor: the loop plus one read of each
		// frame's EtherType, which every filter pays before any work.
		var sink byte
		for b.Loop() {
			for i := range frames {
				if d := frames[i].Data; len(d) > 12 {
					sink += d[12]
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nf, "ns/frame")
		_ = sink
	})

	// measure runs the four paths interleaved and returns their ns/frame.
	measure := func(b *testing.B, insns []Insn, frames []pcap.Frame) result {
		prog, _ := Compile(insns, 0)
		port, _ := CompilePortable(insns, 0)
		vm, _ := xnetVM(insns)
		var tx, ti, tc, tp time.Duration
		for b.Loop() {
			t0 := time.Now()
			xnetPass(vm, frames)
			t1 := time.Now()
			interpPass(insns, frames)
			t2 := time.Now()
			compiledPass(prog, frames)
			t3 := time.Now()
			compiledPass(port, frames)
			t4 := time.Now()
			tx, ti, tc, tp = tx+t1.Sub(t0), ti+t2.Sub(t1), tc+t3.Sub(t2), tp+t4.Sub(t3)
		}
		n := float64(b.N) * float64(len(frames))
		r := result{
			xnet:     float64(tx.Nanoseconds()) / n,
			interp:   float64(ti.Nanoseconds()) / n,
			compiled: float64(tc.Nanoseconds()) / n,
			portable: float64(tp.Nanoseconds()) / n,
		}
		b.ReportMetric(r.xnet, "xnet-ns/frame")
		b.ReportMetric(r.interp, "interp-ns/frame")
		b.ReportMetric(r.compiled, "compiled-ns/frame")
		b.ReportMetric(r.portable, "portable-ns/frame")
		b.ReportMetric(r.xnet/r.interp, "interp-x-vs-xnet")
		b.ReportMetric(r.xnet/r.compiled, "compiled-x-vs-xnet")
		b.ReportMetric(r.xnet/r.portable, "portable-x-vs-xnet")
		return r
	}

	for _, f := range c.Filters {
		_, err := Compile(f.Insns, 0)
		_, xerr := xnetVM(f.Insns)
		if err != nil || xerr != nil {
			// ip6 protochain: only the interpreter can run it.
			b.Run(f.Expr, func(b *testing.B) {
				for b.Loop() {
					interpPass(f.Insns, frames)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nf, "interp-ns/frame")
			})
			continue
		}
		var r result
		b.Run(f.Expr, func(b *testing.B) {
			r = measure(b, f.Insns, frames)
			if ns, ok := libpcap[f.Expr]; ok {
				b.ReportMetric(ns, "libpcap-ns/frame")
				b.ReportMetric(ns/r.compiled, "compiled-x-vs-libpcap")
				b.ReportMetric(ns/r.portable, "portable-x-vs-libpcap")
			}
		})
		r.expr = f.Expr
		if r.xnet > 0 && r.interp > 0 && r.compiled > 0 && r.portable > 0 {
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		return
	}

	// The median filter by anchor time, re-measured with the paths
	// interleaved so that they share the same machine conditions.
	sort.Slice(results, func(i, j int) bool { return results[i].xnet < results[j].xnet })
	med := results[len(results)/2]
	var mf *corpusFilter
	for i := range c.Filters {
		if c.Filters[i].Expr == med.expr {
			mf = &c.Filters[i]
		}
	}
	// spread returns the median, minimum and maximum over filters of
	// anchor time / path time, and the filters at the extremes.
	spread := func(anchor, path func(result) float64) (medv, minv, maxv float64, minExpr, maxExpr string) {
		v := make([]float64, len(results))
		minv, maxv = math.Inf(1), math.Inf(-1)
		for i, r := range results {
			v[i] = anchor(r) / path(r)
			if v[i] < minv {
				minv, minExpr = v[i], r.expr
			}
			if v[i] > maxv {
				maxv, maxExpr = v[i], r.expr
			}
		}
		sort.Float64s(v)
		return v[len(v)/2], minv, maxv, minExpr, maxExpr
	}
	xnetOf := func(r result) float64 { return r.xnet }
	libpcapOf := func(r result) float64 { return libpcap[r.expr] }
	paths := []struct {
		name string
		get  func(result) float64
	}{
		{"compiled", func(r result) float64 { return r.compiled }},
		{"portable", func(r result) float64 { return r.portable }},
		{"interp", func(r result) float64 { return r.interp }},
	}
	b.Run("median", func(b *testing.B) {
		b.Logf("median filter by x/net/bpf time: %q", mf.Expr)
		measure(b, mf.Insns, frames)
		for _, p := range paths {
			m, lo, hi, loExpr, hiExpr := spread(xnetOf, p.get)
			b.ReportMetric(m, "median-"+p.name+"-x-vs-xnet")
			b.ReportMetric(lo, "min-"+p.name+"-x-vs-xnet")
			b.ReportMetric(hi, "max-"+p.name+"-x-vs-xnet")
			b.Logf("%s vs x/net/bpf: median %.2fx, min %.2fx (%s), max %.2fx (%s)", p.name, m, lo, loExpr, hi, hiExpr)
			if libpcap == nil || p.name == "interp" {
				continue
			}
			m, lo, hi, loExpr, hiExpr = spread(libpcapOf, p.get)
			b.ReportMetric(m, "median-"+p.name+"-x-vs-libpcap")
			b.ReportMetric(lo, "min-"+p.name+"-x-vs-libpcap")
			b.ReportMetric(hi, "max-"+p.name+"-x-vs-libpcap")
			b.Logf("%s vs libpcap: median %.2fx, min %.2fx (%s), max %.2fx (%s)", p.name, m, lo, loExpr, hi, hiExpr)
		}
		if libpcap != nil {
			b.ReportMetric(libpcap[mf.Expr], "libpcap-ns/frame")
		}
	})

	// The median filter over one frame repeated: cache-resident data and
	// branches the predictor learns, which isolates the cost of
	// interpretation from the memory and misprediction costs every
	// implementation pays on real traffic.
	b.Run("median-hot", func(b *testing.B) {
		prog, _ := Compile(mf.Insns, 0)
		var fr pcap.Frame
		for i := range frames {
			if prog.Run(frames[i].Data, uint32(frames[i].Length)) != 0 {
				fr = frames[i] // a frame the filter accepts: the longest path
				break
			}
		}
		hot := make([]pcap.Frame, 4096)
		for i := range hot {
			hot[i] = fr
		}
		measure(b, mf.Insns, hot)
	})
}

// benchSink keeps the verdicts alive so the passes cannot be optimised out.
var benchSink uint32

func interpPass(insns []Insn, frames []pcap.Frame) {
	var acc uint32
	for i := range frames {
		acc += Filter(insns, frames[i].Data, uint32(frames[i].Length))
	}
	benchSink += acc
}

func compiledPass(p *Program, frames []pcap.Frame) {
	var acc uint32
	for i := range frames {
		acc += p.Run(frames[i].Data, uint32(frames[i].Length))
	}
	benchSink += acc
}

func xnetPass(vm *xbpf.VM, frames []pcap.Frame) {
	var acc uint32
	for i := range frames {
		v, _ := vm.Run(frames[i].Data)
		acc += uint32(v)
	}
	benchSink += acc
}
