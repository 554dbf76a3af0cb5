package bpf

import (
	"testing"
	"time"
)

// fakeCounter drives the timecounter's windup with chosen counter and
// Go-clock values, so the windup's calibration, continuity and slewing are
// checked exactly, on any architecture.
type fakeCounter struct{ cyc, up int64 }

func (f *fakeCounter) sample() (uint64, int64) { return uint64(f.cyc), f.up }

// at3GHz sets the counter to cyc and Go's clock to cyc/3 ns plus off.
func (f *fakeCounter) at3GHz(cyc, off int64) { f.cyc, f.up = cyc, cyc/3+off }

// newFakeTimecounter returns a timecounter as NewSystemClock starts it and
// a fake counter at cyc.
func newFakeTimecounter(cyc int64) (*tsc, *fakeCounter) {
	tc := new(tsc)
	tc.cur.Store(&blankHands)
	f := &fakeCounter{}
	f.at3GHz(cyc, 0)
	return tc, f
}

// calibrate runs the two windups that start and end the calibration on a
// 3 GHz line, over span counter ticks from where f is.
func calibrate(tc *tsc, f *fakeCounter, span int64) {
	tc.windup(f.sample)
	f.at3GHz(f.cyc+span, 0)
	tc.windup(f.sample)
}

func TestTimecounterCalibration(t *testing.T) {
	tc, f := newFakeTimecounter(1000)
	// The first windup only records where calibration starts.
	if got := tc.windup(f.sample); got != f.up {
		t.Fatalf("first windup returned %d, want Go's clock %d", got, f.up)
	}
	if _, ok := tc.read(2000); ok {
		t.Fatal("a read succeeded before the clock was calibrated")
	}
	// Too short an interval to measure the scale: Go's clock again.
	f.at3GHz(1000+calibCycles/2, 0)
	if got := tc.windup(f.sample); got != f.up {
		t.Fatalf("windup during calibration returned %d, want %d", got, f.up)
	}
	if _, ok := tc.read(uint64(f.cyc)); ok {
		t.Fatal("hands published before calibCycles had passed")
	}
	f.at3GHz(1000+2*calibCycles, 0)
	if got := tc.windup(f.sample); got != f.up {
		t.Fatalf("calibrating windup returned %d, want %d", got, f.up)
	}
	// Now reads convert the counter at 1/3 ns per cycle, to within the
	// 32.32 scale's rounding (under a nanosecond over windupCycles).
	base := f.cyc
	for _, d := range []int64{0, 1, 3, 300, 1 << 20, windupCycles - 1} {
		got, ok := tc.read(uint64(base + d))
		want := (base + d) / 3
		if !ok || got < want-1 || got > want+1 {
			t.Errorf("read(base+%d) = %d, %v; want %d±1", d, got, ok, want)
		}
	}
	// Stale hands and counters behind them are refused.
	for _, c := range []int64{base + windupCycles, base + 1<<40, base - 1} {
		if _, ok := tc.read(uint64(c)); ok {
			t.Errorf("read(%d) accepted hands starting at %d", c, base)
		}
	}
	// A counter that went backwards since calibration is not used.
	f.cyc, f.up = 10, f.up+1
	if got := tc.windup(f.sample); got != f.up {
		t.Errorf("windup with a counter behind calibration returned %d, want Go's clock %d", got, f.up)
	}
}

// TestTimecounterSlew: when Go's clock runs slower than the hands
// extrapolate (NTP slewing it, or calibration error), the next hands start
// where the old ones would have read and run slow until Go's clock catches
// up; when it runs faster, the hands step forward to it. Either way reads
// at increasing counter values never decrease.
func TestTimecounterSlew(t *testing.T) {
	tc, f := newFakeTimecounter(5000)
	calibrate(tc, f, 4*calibCycles)
	cyc := f.cyc

	last := int64(-1)
	check := func(c int64) int64 {
		t.Helper()
		v, ok := tc.read(uint64(c))
		if !ok {
			v = tc.windup(f.sample)
		}
		if v < last {
			t.Fatalf("clock went back: %d after %d (counter %d)", v, last, c)
		}
		last = v
		return v
	}
	step := int64(windupCycles / 8)
	var excess int64
	offs := []int64{0, -4000, -4000, -4000, -4000, +20000, +20000, +20000, +20000, +20000}
	for i, off := range offs {
		// Go's clock sits off ns from the 3 GHz line at this windup;
		// read along the interval after it.
		cyc += windupCycles
		f.at3GHz(cyc, off)
		v := check(cyc)
		if v < f.up {
			t.Errorf("windup %d: hands start at %d, behind Go's clock %d", i, v, f.up)
		}
		if i > 0 && off > offs[i-1] && v != f.up {
			t.Errorf("windup %d: Go's clock stepped ahead to %d, hands start at %d", i, f.up, v)
		}
		if i >= len(offs)-3 {
			// The offset is steady again. The scale, measured since
			// calibration, took in the 24 us step, so each interval
			// overshoots a little; the windup gives that back over the
			// next interval, and the overshoot shrinks as the baseline
			// grows.
			if e := v - f.up; e > 5000 || (i > len(offs)-3 && e >= excess) {
				t.Errorf("windup %d: hands %d ns ahead of a steady Go clock (%d at the windup before)", i, e, excess)
			}
		}
		excess = v - f.up
		for c := cyc + step; c < cyc+windupCycles; c += step {
			check(c)
		}
	}
}

// TestTimecounterGeneration: a reader holding hands the windup is
// rewriting (generation 0, or changed) must not use them.
func TestTimecounterGeneration(t *testing.T) {
	tc, f := newFakeTimecounter(1)
	calibrate(tc, f, calibCycles)
	th := tc.cur.Load()
	if _, ok := tc.read(uint64(f.cyc + 10)); !ok {
		t.Fatal("fresh hands refused")
	}
	g := th.gen.Load()
	th.gen.Store(0)
	if _, ok := tc.read(uint64(f.cyc + 10)); ok {
		t.Error("hands being rewritten (generation 0) were used")
	}
	th.gen.Store(g)
	// Wind up nHands times: the ring comes back round to th, rewritten.
	for range nHands {
		f.at3GHz(f.cyc+windupCycles, 0)
		tc.windup(f.sample)
	}
	if tc.cur.Load() != th || th.gen.Load() == g {
		t.Fatalf("after %d windups the ring did not reuse the hands with a new generation", nHands)
	}
}

// TestSystemClockCounter: on a machine with an invariant TSC, Uptime reads
// the counter; every read must lie between Go's monotonic clock read just
// before and just after it, give or take the scale's error, across many
// windups, and never step back.
func TestSystemClockCounter(t *testing.T) {
	if !haveCycles {
		t.Skip("no invariant TSC: SystemClock reads Go's clock only")
	}
	c := NewSystemClock(DefaultHz)
	defer c.Stop()
	const tol = 50 * time.Microsecond
	var last time.Duration
	reads := 0
	for c.tc.cur.Load().gen.Load() < 12 && reads < 1<<26 {
		m0 := c.monotonic()
		u := c.Uptime()
		m1 := c.monotonic()
		if u < m0-tol || u > m1+tol {
			t.Fatalf("read %d: uptime %v outside Go's clock [%v, %v] ± %v", reads, u, m0, m1, tol)
		}
		if u < last {
			t.Fatalf("read %d: uptime %v after %v", reads, u, last)
		}
		last = u
		reads++
	}
	c.tc.mu.Lock()
	gens := c.tc.gen
	c.tc.mu.Unlock()
	if gens < 12 {
		t.Fatalf("only %d windups in %d reads", gens, reads)
	}
}

// TestTimecounterJump: a counter that jumps ahead of Go's clock (a VM
// resumed or migrated) is not extrapolated: the windup returns Go's clock,
// withdraws the hands and measures the scale afresh, so that the jump does
// not stay in it.
func TestTimecounterJump(t *testing.T) {
	tc, f := newFakeTimecounter(100)
	calibrate(tc, f, 4*calibCycles)
	if _, ok := tc.read(uint64(f.cyc + 1)); !ok {
		t.Fatal("no hands after calibration")
	}
	// 30 s of counter while Go's clock moved 1 ms.
	up := f.up + int64(time.Millisecond)
	f.cyc, f.up = f.cyc+90_000_000_000, up
	if got := tc.windup(f.sample); got != up {
		t.Fatalf("windup after the jump returned %d, want Go's clock %d", got, up)
	}
	if _, ok := tc.read(uint64(f.cyc + 1)); ok {
		t.Fatal("hands still used after the counter jumped")
	}
	// Calibrated again from the jump on: 1/3 ns per cycle, offset by
	// where Go's clock was at the jump.
	base, baseUp := f.cyc, f.up
	f.cyc, f.up = base+4*calibCycles, baseUp+4*calibCycles/3
	tc.windup(f.sample)
	got, ok := tc.read(uint64(f.cyc + 3000))
	if want := f.up + 1000; !ok || got < want-1 || got > want+1 {
		t.Errorf("after recalibration read = %d, %v; want %d±1", got, ok, want)
	}
}
