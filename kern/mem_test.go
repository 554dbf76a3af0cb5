package kern

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"
)

// pageModel is the oracle for Ranges: one bool per page of the managed region, with the
// placement rules written the naive way.
type pageModel struct {
	lo   uintptr
	free []bool
}

func newPageModel(lo uintptr, pages int) *pageModel {
	m := &pageModel{lo: lo, free: make([]bool, pages)}
	for i := range m.free {
		m.free[i] = true
	}
	return m
}

func (m *pageModel) hi() uintptr { return m.lo + uintptr(len(m.free))*PageSize }

func (m *pageModel) set(start, end uintptr, free bool) {
	for a := start; a < end; a += PageSize {
		if a >= m.lo && a < m.hi() {
			m.free[(a-m.lo)/PageSize] = free
		}
	}
}

func (m *pageModel) allFree(start, end uintptr) bool {
	if start < m.lo || end > m.hi() || end <= start {
		return false
	}
	for a := start; a < end; a += PageSize {
		if !m.free[(a-m.lo)/PageSize] {
			return false
		}
	}
	return true
}

// mapAnon is Linux's placement: fixed at hint; else at hint if free; else the highest
// address where it fits.
func (m *pageModel) mapAnon(hint, length uintptr, fixed bool) (uintptr, bool) {
	if fixed {
		if hint < m.lo || hint+length > m.hi() {
			return 0, false
		}
		m.set(hint, hint+length, false)
		return hint, true
	}
	if hint != 0 && m.allFree(hint, hint+length) {
		m.set(hint, hint+length, false)
		return hint, true
	}
	for a := m.hi() - length; a >= m.lo && a < m.hi(); a -= PageSize {
		if m.allFree(a, a+length) {
			m.set(a, a+length, false)
			return a, true
		}
	}
	return 0, false
}

func (m *pageModel) allocLow(size, align uintptr) (uintptr, bool) {
	for a := (m.lo + align - 1) &^ (align - 1); a+size <= m.hi(); a += align {
		if m.allFree(a, a+size) {
			m.set(a, a+size, false)
			return a, true
		}
	}
	return 0, false
}

// runs returns the free runs of the model, as Ranges should hold them.
func (m *pageModel) runs() []span {
	var r []span
	for i := 0; i < len(m.free); i++ {
		if !m.free[i] {
			continue
		}
		j := i
		for j < len(m.free) && m.free[j] {
			j++
		}
		r = append(r, span{m.lo + uintptr(i)*PageSize, m.lo + uintptr(j)*PageSize})
		i = j
	}
	return r
}

func checkSame(t testing.TB, step string, r *Ranges, m *pageModel) {
	t.Helper()
	want := m.runs()
	got := r.r[:r.n]
	if len(got) != len(want) {
		t.Fatalf("%s: %d free ranges %x, want %d %x", step, len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: free range %d is %x, want %x (all: %x)", step, i, got[i], want[i], got)
		}
	}
	var free uintptr
	for _, s := range want {
		free += s.end - s.start
	}
	if r.FreeBytes() != free || r.UsedBytes() != m.hi()-m.lo-free {
		t.Fatalf("%s: free %d used %d, want %d %d", step, r.FreeBytes(), r.UsedBytes(), free, m.hi()-m.lo-free)
	}
}

const testLo uintptr = 0x80200000

func TestRangesReuseAfterMunmap(t *testing.T) {
	var r Ranges
	r.Init(testLo, testLo+64*PageSize)
	a, ok := r.Map(0, 16*PageSize, false)
	if !ok || a != testLo+48*PageSize {
		t.Fatalf("first map at %#x %v, want top-down %#x", a, ok, testLo+48*PageSize)
	}
	b, _ := r.Map(0, 16*PageSize, false)
	if b != testLo+32*PageSize {
		t.Fatalf("second map at %#x", b)
	}
	if !r.Release(a, a+16*PageSize) {
		t.Fatal("release failed")
	}
	c, ok := r.Map(0, 16*PageSize, false)
	if !ok || c != a {
		t.Fatalf("after munmap the same size came back at %#x, want the freed %#x", c, a)
	}
	// Everything mapped then freed: one coalesced range again.
	r.Release(b, b+16*PageSize)
	r.Release(c, c+16*PageSize)
	if r.Holes() != 1 || r.FreeBytes() != 64*PageSize {
		t.Fatalf("after freeing everything: %d ranges, %d free", r.Holes(), r.FreeBytes())
	}
}

func TestRangesHolesAndCoalescing(t *testing.T) {
	var r Ranges
	r.Init(testLo, testLo+10*PageSize)
	// Use everything, then free pages 1, 3, 5: three holes.
	if !r.Take(testLo, testLo+10*PageSize) || r.Holes() != 0 {
		t.Fatal("take all")
	}
	for _, p := range []uintptr{1, 3, 5} {
		r.Release(testLo+p*PageSize, testLo+(p+1)*PageSize)
	}
	if r.Holes() != 3 {
		t.Fatalf("%d holes, want 3", r.Holes())
	}
	// A 2-page request does not fit in any 1-page hole.
	if _, ok := r.Map(0, 2*PageSize, false); ok {
		t.Fatal("2 pages fitted in 1-page holes")
	}
	// Freeing 2 and 4 joins 1..5 into one hole.
	r.Release(testLo+2*PageSize, testLo+3*PageSize)
	r.Release(testLo+4*PageSize, testLo+5*PageSize)
	if r.Holes() != 1 || !r.IsFree(testLo+PageSize, testLo+6*PageSize) {
		t.Fatalf("not coalesced: %x", r.r[:r.n])
	}
	// A hinted mapping into the hole lands at the hint.
	if a, ok := r.Map(testLo+2*PageSize, 2*PageSize, false); !ok || a != testLo+2*PageSize {
		t.Fatalf("hinted map at %#x %v", a, ok)
	}
	// A hint that is in use is not honoured: the mapping goes elsewhere (top-down).
	if a, ok := r.Map(testLo+2*PageSize, PageSize, false); !ok || a != testLo+5*PageSize {
		t.Fatalf("busy hint gave %#x %v, want %#x", a, ok, testLo+5*PageSize)
	}
	// MAP_FIXED over used memory succeeds (it replaces the mapping).
	if a, ok := r.Map(testLo+8*PageSize, PageSize, true); !ok || a != testLo+8*PageSize {
		t.Fatalf("fixed map %#x %v", a, ok)
	}
	// Outside the region, fixed fails.
	if _, ok := r.Map(testLo+9*PageSize, 2*PageSize, true); ok {
		t.Fatal("fixed map past the end succeeded")
	}
}

func TestRangesBadRequests(t *testing.T) {
	var r Ranges
	r.Init(testLo, testLo+4*PageSize)
	for _, c := range []struct {
		hint, length uintptr
		fixed        bool
	}{{0, 0, false}, {0, 100, false}, {testLo + 1, PageSize, true}, {0, 5 * PageSize, false}, {^uintptr(0) &^ (PageSize - 1), 2 * PageSize, true}} {
		if a, ok := r.Map(c.hint, c.length, c.fixed); ok {
			t.Errorf("Map(%#x, %#x, %v) = %#x, want failure", c.hint, c.length, c.fixed, a)
		}
	}
	if _, ok := r.AllocLow(PageSize, 3); ok {
		t.Error("AllocLow with a non-power-of-two alignment succeeded")
	}
	if r.FreeBytes() != 4*PageSize {
		t.Errorf("failed requests changed the set: %x", r.r[:r.n])
	}
}

func TestRangesTableFull(t *testing.T) {
	var r Ranges
	pages := 2*maxRanges + 2
	r.Init(testLo, testLo+uintptr(pages)*PageSize)
	r.Take(testLo, testLo+uintptr(pages)*PageSize)
	for i := 0; i < maxRanges; i++ {
		p := uintptr(2 * i)
		if !r.Release(testLo+p*PageSize, testLo+(p+1)*PageSize) {
			t.Fatalf("release %d failed early", i)
		}
	}
	before := r.r[:r.n]
	n := r.n
	// One more isolated hole does not fit in the table: refused, nothing changed.
	last := testLo + uintptr(pages-1)*PageSize
	if r.Release(last, last+PageSize) {
		t.Fatal("release beyond the table capacity succeeded")
	}
	if r.n != n || r.r[n-1] != before[n-1] {
		t.Fatal("a refused release changed the table")
	}
	// A release that merges needs no new entry and still works.
	if !r.Release(testLo+PageSize, testLo+2*PageSize) || r.n != n-1 {
		t.Fatalf("merging release: n=%d", r.n)
	}
}

// testSeed returns the seed of a randomized test: KERN_TEST_SEED if set, else a fresh one,
// logged so that a failure can be replayed.
func testSeed(t *testing.T) int64 {
	seed := rand.Int63()
	if s := os.Getenv("KERN_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("KERN_TEST_SEED=%d", seed)
	return seed
}

// TestRangesAgainstPageModel drives Ranges and the page model with the same random
// mmap/munmap/fixed/alloc sequence and compares them after every step.
func TestRangesAgainstPageModel(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	const pages = 256
	for round := 0; round < 50; round++ {
		var r Ranges
		r.Init(testLo, testLo+pages*PageSize)
		m := newPageModel(testLo, pages)
		for step := 0; step < 400; step++ {
			if t.Failed() {
				t.Fatalf("round %d step %d", round, step)
			}
			runOp(t, &r, m, rng.Uint32(), rng.Uint32())
		}
	}
}

// runOp applies one operation chosen by op to both implementations.
func runOp(t testing.TB, r *Ranges, m *pageModel, op, arg uint32) {
	pages := uint32(len(m.free))
	length := uintptr(arg%16+1) * PageSize
	addr := m.lo + uintptr(arg>>8%pages)*PageSize
	name := ""
	switch op % 5 {
	case 0, 1:
		hint := uintptr(0)
		if op&8 != 0 {
			hint = addr
		}
		name = fmt.Sprintf("Map(%#x, %#x)", hint, length)
		a, ok := r.Map(hint, length, false)
		wa, wok := m.mapAnon(hint, length, false)
		if a != wa || ok != wok {
			t.Fatalf("%s = %#x %v, want %#x %v", name, a, ok, wa, wok)
		}
	case 2:
		name = fmt.Sprintf("Map(%#x, %#x, fixed)", addr, length)
		a, ok := r.Map(addr, length, true)
		wa, wok := m.mapAnon(addr, length, true)
		if a != wa || ok != wok {
			t.Fatalf("%s = %#x %v, want %#x %v", name, a, ok, wa, wok)
		}
	case 3:
		name = fmt.Sprintf("Release(%#x, %#x)", addr, addr+length)
		if !r.Release(addr, addr+length) {
			t.Fatalf("%s refused", name)
		}
		m.set(addr, addr+length, true)
	case 4:
		align := uintptr(PageSize) << (arg >> 24 % 4)
		name = fmt.Sprintf("AllocLow(%#x, %#x)", length, align)
		a, ok := r.AllocLow(length, align)
		wa, wok := m.allocLow(length, align)
		if a != wa || ok != wok {
			t.Fatalf("%s = %#x %v, want %#x %v", name, a, ok, wa, wok)
		}
	}
	checkSame(t, name, r, m)
}

// FuzzRanges runs operation sequences from the fuzzer against the page model.
func FuzzRanges(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{2, 0, 0, 16, 3, 0, 0, 8, 0, 255, 4, 9, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var r Ranges
		const pages = 64
		r.Init(testLo, testLo+pages*PageSize)
		m := newPageModel(testLo, pages)
		for i := 0; i+4 <= len(ops) && i < 4*200; i += 4 {
			op := uint32(ops[i])
			arg := uint32(ops[i+1]) | uint32(ops[i+2])<<8 | uint32(ops[i+3])<<24
			runOp(t, &r, m, op, arg)
		}
	})
}

// BenchmarkRangesMapUnmap measures an mmap/munmap pair on a 1 GiB region whose top half is
// in use with 64 one-page holes (top-down placement fills the top first, as the runtime's
// mappings do) against the anchor, the naive page model, run in the same benchmark, and
// reports the ratio. The kernel runs this with interrupts masked, so it must not allocate.
func BenchmarkRangesMapUnmap(b *testing.B) {
	const pages = 1 << 18 // 1 GiB
	var r Ranges
	r.Init(testLo, testLo+pages*PageSize)
	m := newPageModel(testLo, pages)
	// Fragment both the same way: the top half used, with 64 one-page holes.
	half := testLo + pages/2*PageSize
	r.Take(half, testLo+pages*PageSize)
	m.set(half, testLo+pages*PageSize, false)
	for i := uintptr(0); i < 64; i++ {
		a := half + i*64*PageSize
		r.Release(a, a+PageSize)
		m.set(a, a+PageSize, true)
	}
	const length = 64 * PageSize
	var anchor float64
	b.Run("anchor=pagemodel", func(b *testing.B) {
		for b.Loop() {
			a, _ := m.mapAnon(0, length, false)
			m.set(a, a+length, true)
		}
		anchor = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("ranges", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a, ok := r.Map(0, length, false)
			if !ok || !r.Release(a, a+length) {
				b.Fatal("map/unmap failed")
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if anchor > 0 {
			b.ReportMetric(anchor/ns, "x-faster-than-anchor")
		}
	})
}
