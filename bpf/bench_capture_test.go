package bpf

import (
	"testing"
	"time"
)

// Benchmarks of the tap path (acceptance point 6). Each reports, beside
// ns/op, B/op and allocs/op: Mfps (million frames per second on one
// goroutine) and x-anchor, the ratio to an anchor sub-benchmark run just
// before in the same run: a plain copy of the same 64-byte frame into a
// buffer, or for the corpus benchmark the 8 filters alone.

// copyAnchor runs the anchor as a sub-benchmark of b and returns its
// ns/op: a plain copy of a 64-byte frame into a 4 KiB buffer.
func copyAnchor(b *testing.B) float64 {
	var ns float64
	b.Run("anchor=copy64", func(b *testing.B) {
		src := ethFrame(64, 1)
		dst := make([]byte, 4096)
		off := 0
		b.ReportAllocs()
		for b.Loop() {
			copy(dst[off:off+64], src)
			off = (off + 64) & 4095
		}
		ns = perOp(b)
	})
	return ns
}

func perOp(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

// report adds Mfps and the ratio to the anchor.
func report(b *testing.B, anchor float64) {
	ns := perOp(b)
	if anchor > 0 {
		b.ReportMetric(ns/anchor, "x-anchor")
	}
	if ns > 0 {
		b.ReportMetric(1e3/ns, "Mfps")
	}
}

func benchStack(b *testing.B) (*Stack, *If) {
	b.Helper()
	clk := NewSystemClock(DefaultHz) // the real clock
	b.Cleanup(clk.Stop)
	s, err := NewStack(DefaultSettings(), clk)
	if err != nil {
		b.Fatal(err)
	}
	_, bs := newIfp(b, s, "eth0")
	return s, bs[0]
}

// BenchmarkTapNoListener: the idle tap, one atomic load (target <= 2 ns).
func BenchmarkTapNoListener(b *testing.B) {
	anchor := copyAnchor(b)
	b.Run("tap", func(b *testing.B) {
		_, bif := benchStack(b)
		f := ethFrame(64, 1)
		b.ReportAllocs()
		for b.Loop() {
			bif.Mtap(f, false)
		}
		report(b, anchor)
	})
}

// zconsumer is a zero-copy consumer walking records in the tapping
// goroutine: it checks ownership with one acquire load, walks the records
// and acknowledges.
type zconsumer struct {
	bufs    [2][]byte
	next    int
	records int
}

func (z *zconsumer) poll() {
	for ZBufOwned(z.bufs[z.next]) {
		recs := ZBufRecords(z.bufs[z.next])
		for off := 0; off < len(recs); {
			_, adv, err := ParseRecord(recs[off:])
			if err != nil {
				panic(err)
			}
			z.records++
			off += adv
		}
		ZBufAck(z.bufs[z.next])
		z.next ^= 1
	}
}

const benchBufPages = 64 // 256 KiB per buffer

func zeroCopyListener(b *testing.B, s *Stack, mod func(*Desc)) (*Desc, *zconsumer) {
	d := s.Open(OpenReadWrite)
	b.Cleanup(func() { d.Close() })
	d.SetBufMode(BPF_BUFMODE_ZBUF)
	z := &zconsumer{bufs: [2][]byte{AllocZBuf(benchBufPages * PageSize), AllocZBuf(benchBufPages * PageSize)}}
	if err := d.SetZBuf(z.bufs[0], z.bufs[1]); err != nil {
		b.Fatal(err)
	}
	if mod != nil {
		mod(d)
	}
	if err := d.SetInterface("eth0"); err != nil {
		b.Fatal(err)
	}
	return d, z
}

func checkNoDrops(b *testing.B, d *Desc, consumed int) {
	st, _ := d.Stats()
	if st.Dropped != 0 || int(st.Captured) < consumed {
		b.Fatalf("consumer fell behind: %+v, consumed %d", st, consumed)
	}
}

// BenchmarkTapZeroCopy64: one accept-all listener, 64-byte frames, into a
// zero-copy consumer on the same goroutine (target >= 14.88 Mfps).
func BenchmarkTapZeroCopy64(b *testing.B) {
	anchor := copyAnchor(b)
	for _, tc := range stampCases {
		b.Run(tc.name, func(b *testing.B) {
			s, bif := benchStack(b)
			s.SetTSConfig("eth0", tc.tscfg)
			benchZeroCopy(b, s, bif, tc.ts, anchor)
		})
	}
}

// benchZeroCopy taps 64-byte frames into one accept-all zero-copy
// listener whose consumer polls every 64 frames and walks the records.
func benchZeroCopy(b *testing.B, s *Stack, bif *If, ts uint32, anchor float64) {
	d, z := zeroCopyListener(b, s, func(d *Desc) { d.SetTimestamp(ts) })
	f := ethFrame(64, 1)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		bif.Mtap(f, false)
		if i++; i&63 == 0 {
			z.poll()
		}
	}
	b.StopTimer()
	report(b, anchor)
	checkNoDrops(b, d, z.records)
}

// stampCases are the timestamp settings both single-listener benchmarks
// run with: the default (microseconds, a full clock read per packet), the
// per-interface "fast" clock (a cached tick value) and no stamp.
var stampCases = []struct {
	name  string
	ts    uint32
	tscfg TSMode
}{
	{"stamp=microtime/tscfg=normal", BPF_T_MICROTIME, TSNormal},
	{"stamp=microtime/tscfg=fast", BPF_T_MICROTIME, TSFast},
	{"stamp=none", BPF_T_NONE, TSNormal},
}

// BenchmarkTapCopyRead64: the same through the copying read path: the
// consumer polls, reads the hold buffer into its own buffer (one copy)
// and walks the records. Each case first runs the zero-copy path with the
// same settings as its anchor, so x-anchor here is copy / zero-copy, the
// ratio acceptance point 6 asks to be >= 2, measured in one run.
//
// A second anchor copies one record's bytes between two buffers of the
// benchmark's size, which is the work the copying path adds to the
// zero-copy one: both run the same tap into a buffer, and Read then moves
// the bytes to the consumer. For the ratio to reach 2, moving a record
// would have to cost as much as the whole tap, which itself writes that
// record and reads the clock; the anchor shows how far apart they are.
func BenchmarkTapCopyRead64(b *testing.B) {
	for _, tc := range stampCases {
		b.Run(tc.name, func(b *testing.B) {
			var zc, mm float64
			b.Run("anchor=zerocopy", func(b *testing.B) {
				s, bif := benchStack(b)
				s.SetTSConfig("eth0", tc.tscfg)
				benchZeroCopy(b, s, bif, tc.ts, 0)
				zc = perOp(b)
			})
			b.Run("anchor=memmove-record", func(b *testing.B) {
				_, bif := benchStack(b)
				rec := WordAlign(bif.bhlen + 64)
				src := make([]byte, benchBufPages*PageSize)
				dst := make([]byte, len(src))
				b.ReportAllocs()
				off := 0
				for b.Loop() {
					copy(dst[off:off+rec], src[off:off+rec])
					if off += rec; off+rec > len(src) {
						off = 0
					}
				}
				mm = perOp(b)
			})
			b.Run("read", func(b *testing.B) {
				s, bif := benchStack(b)
				s.SetTSConfig("eth0", tc.tscfg)
				benchCopyRead(b, s, bif, tc.ts, zc)
				if mm > 0 {
					// the copying path's extra time per frame, in record copies
					b.ReportMetric((perOp(b)-zc)/mm, "extra-in-memmoves")
				}
			})
		})
	}
}

func benchCopyRead(b *testing.B, s *Stack, bif *If, ts uint32, anchor float64) {
	d := s.Open(OpenReadWrite)
	defer d.Close()
	d.SetTimestamp(ts)
	size, _ := d.SetBufferLen(benchBufPages*PageSize - SIZEOF_BPF_ZBUF_HEADER)
	d.SetInterface("eth0")
	user := make([]byte, size)
	f := ethFrame(64, 1)
	consumed := 0
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		bif.Mtap(f, false)
		if i++; i&63 == 0 && d.Poll() {
			n, err := d.Read(user)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < n; {
				_, adv, err := ParseRecord(user[off:n])
				if err != nil {
					b.Fatal(err)
				}
				consumed++
				off += adv
			}
		}
	}
	b.StopTimer()
	report(b, anchor)
	checkNoDrops(b, d, consumed)
}

// BenchmarkTap8CorpusFilters: 8 zero-copy listeners with 8 different
// corpus filters, fed the corpus frames in order. The anchor is running the
// same 8 compiled programs on the same frames without the capture
// machinery.
func BenchmarkTap8CorpusFilters(b *testing.B) {
	c := loadCaptureCorpus(b)
	var progs []*Program
	var insns [][]Insn
	for _, f := range c.filters {
		p, err := Compile(f.insns, DefaultMaxInsns)
		if err != nil {
			continue
		}
		progs = append(progs, p)
		insns = append(insns, f.insns)
		if len(progs) == 8 {
			break
		}
	}
	frames := make([][]byte, len(c.frames))
	for i := range c.frames {
		frames[i] = c.frames[i].Data
	}
	var anchor float64
	b.Run("anchor=8-programs", func(b *testing.B) {
		i := 0
		var sink uint32
		for b.Loop() {
			f := frames[i]
			for _, p := range progs {
				sink += p.Run(f, uint32(len(f)))
			}
			if i++; i == len(frames) {
				i = 0
			}
		}
		_ = sink
		anchor = perOp(b)
	})
	b.Run("tap", func(b *testing.B) {
		s, bif := benchStack(b)
		var ds []*Desc
		var zs []*zconsumer
		for _, in := range insns {
			d, z := zeroCopyListener(b, s, func(d *Desc) { d.SetFilter(in) })
			ds, zs = append(ds, d), append(zs, z)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			bif.Mtap(frames[i], false)
			if i++; i == len(frames) {
				i = 0
			}
			if i&63 == 0 {
				for _, z := range zs {
					z.poll()
				}
			}
		}
		b.StopTimer()
		report(b, anchor)
		for j, d := range ds {
			checkNoDrops(b, d, zs[j].records)
		}
	})
}

// TestTapAllocs: the tap paths allocate nothing per packet (no listener,
// a zero-copy listener, a copying listener, Mtap2 once warm, external
// stamps).
func TestTapAllocs(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	f := ethFrame(64, 1)
	if n := testing.AllocsPerRun(1000, func() { bs[0].Mtap(f, false) }); n != 0 {
		t.Errorf("idle tap: %.1f allocs", n)
	}
	d := s.Open(OpenReadWrite)
	defer d.Close()
	d.SetBufMode(BPF_BUFMODE_ZBUF)
	z := &zconsumer{bufs: [2][]byte{AllocZBuf(PageSize), AllocZBuf(PageSize)}}
	d.SetZBuf(z.bufs[0], z.bufs[1])
	d.SetInterface("eth0")
	d.SetFilter([]Insn{Stmt(BPF_LD|BPF_H|BPF_ABS, 12), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x800, 0, 1), Stmt(BPF_RET|BPF_K, 65535), Stmt(BPF_RET|BPF_K, 0)})
	c := attached(t, s, "eth0")
	_ = c
	hdr := []byte{2, 0, 0, 0}
	bs[0].Mtap2(hdr, f, true) // warm the scratch pool
	for name, fn := range map[string]func(){
		"Mtap":      func() { bs[0].Mtap(f, false) },
		"MtapStamp": func() { bs[0].MtapStamp(f, true, time.Second) },
		"Tap":       func() { bs[0].Tap(f) },
		"Mtap2":     func() { bs[0].Mtap2(hdr, f, false) },
	} {
		if n := testing.AllocsPerRun(1000, func() { fn(); z.poll() }); n != 0 {
			t.Errorf("%s with listeners: %.1f allocs per packet", name, n)
		}
	}
	if st := mustStats(t, d); st.Captured == 0 {
		t.Error("nothing captured")
	}
}
