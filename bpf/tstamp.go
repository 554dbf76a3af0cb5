package bpf

import (
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Timestamp format and flags of BIOCSTSTAMP/BIOCGTSTAMP (sys/net/bpf.h,
// r209216). The value is a format OR flags.
const (
	BPF_T_MICROTIME   = 0x0000 // struct timeval in a bpf_hdr (the default)
	BPF_T_NANOTIME    = 0x0001 // struct bpf_ts, bt_frac in ns, in a bpf_xhdr
	BPF_T_BINTIME     = 0x0002 // struct bpf_ts, bt_frac in 2^-64 s
	BPF_T_NONE        = 0x0003 // no stamp: the fields are zero
	BPF_T_FORMAT_MASK = 0x0003

	BPF_T_NORMAL         = 0x0000 // full-precision clock read
	BPF_T_FAST           = 0x0100 // tick-precision clock read
	BPF_T_MONOTONIC      = 0x0200 // time since boot, boottime not added
	BPF_T_MONOTONIC_FAST = 0x0300
	BPF_T_FLAG_MASK      = 0x0300
)

// ValidTimestamp is BPF_T_VALID: BPF_T_NONE alone, or a real format with no
// bits outside the format and flag masks. bpf.h's rule makes
// BPF_T_NONE|BPF_T_FAST invalid though BPF_T_NONE is valid.
func ValidTimestamp(t uint32) bool {
	return t == BPF_T_NONE ||
		(t&BPF_T_FORMAT_MASK != BPF_T_NONE && t&^(BPF_T_FORMAT_MASK|BPF_T_FLAG_MASK) == 0)
}

// TSMode is the per-interface timestamp configuration of net.bpf.tscfg
// (r228986): whether and how the clock is read for a packet, once for all
// the descriptors listening on the interface. A descriptor's BIOCSTSTAMP
// only chooses the output format and realtime versus monotonic.
type TSMode int32

const (
	TSDefault  TSMode = iota // use the Stack's Settings.TSCfgDefault
	TSNone                   // never read the clock: stamps are zero
	TSFast                   // tick-precision read (getbinuptime)
	TSNormal                 // full-precision read (binuptime)
	TSExternal               // the driver's stamp for the frame; a normal read when it gave none
)

var tsModeNames = [...]string{"default", "none", "fast", "normal", "external"}

func (m TSMode) String() string {
	if m >= 0 && int(m) < len(tsModeNames) {
		return tsModeNames[m]
	}
	return "TSMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseTSMode reads the names net.bpf.tscfg accepts, wrapping EINVAL for
// anything else.
func ParseTSMode(s string) (TSMode, error) {
	for i, n := range tsModeNames {
		if s == n {
			return TSMode(i), nil
		}
	}
	return 0, errorf("tscfg", syscall.EINVAL, "unknown timestamp mode %q (want default, none, fast, normal or external)", s)
}

// Clock is the time source of a Stack. Uptime is time since boot; realtime
// stamps add BootTime. It is an interface so tests run on a FakeClock.
type Clock interface {
	// Uptime is a full-precision read (FreeBSD binuptime).
	Uptime() time.Duration
	// UptimeFast is a cheap read of tick precision (getbinuptime).
	UptimeFast() time.Duration
	// BootTime is the realtime of boot, in ns since the Unix epoch.
	BootTime() int64
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports false if f already ran or started.
	Stop() bool
}

// SystemClock reads Go's monotonic clock. Its fast read is FreeBSD's
// getbinuptime: a value a ticker refreshes once per tick, so reading it is
// one atomic load instead of a clock read (which costs 100+ ns where the
// vDSO is unavailable). The ticker starts on the first fast read; Stop ends
// it.
//
// Where the CPU has an invariant time-stamp counter (amd64), a full read is
// FreeBSD's binuptime over the TSC timecounter instead of a call into Go's
// clock: the counter read, scaled by timehands that a windup derives from
// Go's monotonic clock every windupCycles. That costs about 9 ns against 23
// for time.Since on the development machine, and the stamp is most of the
// cost of a captured 64-byte frame.
type SystemClock struct {
	boot   time.Time // carries the monotonic reading Uptime subtracts from
	bootNs int64     // boot.UnixNano()
	tick   time.Duration

	fastOnce sync.Once
	fast     atomic.Int64 // uptime at the last tick, ns
	stop     chan struct{}
	stopOnce sync.Once

	tc tsc // the TSC timecounter; unused without haveCycles
}

// NewSystemClock returns a clock whose boot is now and whose fast reads
// have the precision of one tick of 1/hz s.
func NewSystemClock(hz int) *SystemClock {
	if hz <= 0 {
		hz = DefaultHz
	}
	now := time.Now()
	c := &SystemClock{boot: now, bootNs: now.UnixNano(), tick: time.Second / time.Duration(hz), stop: make(chan struct{})}
	c.tc.cur.Store(&blankHands)
	return c
}

// Uptime is a full-precision read. On the TSC it is the counter and the
// current timehands; a stale or missing (still calibrating) one sends the
// read to the windup. Without the TSC, time.Since on a Time that carries a
// monotonic reading subtracts monotonic values and never reads the wall
// clock (time.Now would read both).
func (c *SystemClock) Uptime() time.Duration {
	if haveCycles {
		if up, ok := c.tc.read(cycles()); ok {
			return time.Duration(up)
		}
		return time.Duration(c.tc.windup(c.sample))
	}
	return c.monotonic()
}

func (c *SystemClock) monotonic() time.Duration { return time.Since(c.boot) }

// sample is the windup's pair of readings: the counter and Go's clock.
func (c *SystemClock) sample() (uint64, int64) { return cycles(), int64(c.monotonic()) }

// read converts a counter value with the current hands. It fails when
// there are none yet, when they are stale (the value is windupCycles or
// more past their start, or before it: d wrapped, as for a read on a CPU
// whose counter lags the one that wound up), or when the windup rewrote
// them under the reader.
func (t *tsc) read(cyc uint64) (int64, bool) {
	th := t.cur.Load() // never nil: NewSystemClock stores blank hands
	gen := th.gen.Load()
	d := cyc - th.cyc0.Load()
	up := th.up0.Load() + int64(d*th.scale.Load()>>32)
	return up, d < windupCycles && gen != 0 && th.gen.Load() == gen
}

// The TSC timecounter, after FreeBSD's kern_tc.c. A timehands maps counter
// values to uptime: up = up0 + (cycles - cyc0) * scale / 2^32. The windup
// writes the next of a ring of hands and publishes it; readers check the
// generation before and after, as binuptime does with th_generation, so a
// reader that raced with the rewrite of its hands (the ring came round
// while it was preempted) retries through the windup. The ring means a
// windup allocates nothing, so neither does a tap that happens to run it.
const (
	// windupCycles bounds the counter interval one timehands covers: about
	// 10 ms at 3 GHz, so the product in Uptime (scale below 2^36) cannot
	// overflow and the scale error stays far below a microsecond.
	windupCycles = 1 << 25
	// calibCycles is the shortest interval the first scale is measured
	// over; reads before it use Go's clock.
	calibCycles = 1 << 22
	maxScale    = 1 << 36 // counters slower than 62.5 MHz are not used
	// maxSkew is how far ahead of Go's clock the hands may extrapolate
	// before the windup takes the counter to have jumped.
	maxSkew = int64(time.Millisecond)
	nHands  = 4
)

type timehands struct {
	gen   atomic.Uint32 // 0 while the windup writes the fields
	cyc0  atomic.Uint64 // counter value the hands start at
	up0   atomic.Int64  // uptime at cyc0, ns
	scale atomic.Uint64 // ns per counter tick, 32.32 fixed point
}

// blankHands (generation 0) is where the clock starts: reads fail on it
// and go to the windup, which calibrates.
var blankHands timehands

type tsc struct {
	cur atomic.Pointer[timehands]

	mu     sync.Mutex // serializes windups; protects the fields below
	hands  [nHands]timehands
	next   int    // index of the hands the next windup writes
	gen    uint32 // last generation written
	calCyc uint64 // counter and uptime where calibration started: the
	calUp  int64  // scale is measured from there, its error shrinking with time
}

// windup publishes new hands and returns the uptime now. The scale is the
// ratio of Go's monotonic clock to the counter since calibration started. The
// hands start where the old ones would have read (time never steps back);
// if that is ahead of Go's clock, the new scale is lowered to give the
// difference back over the next interval, the way FreeBSD slews the
// timecounter for NTP, and if behind, the hands start at Go's clock. A
// counter that jumped (ahead of Go's clock by more than maxSkew, or back
// past the calibration start) restarts the calibration.
func (t *tsc) windup(sample func() (cyc uint64, up int64)) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	cyc, up := sample()
	if v, ok := t.read(cyc); ok {
		return v // another reader wound up while this one waited
	}
	old := t.cur.Load()
	if old == &blankHands {
		old = nil
	}
	dc, du := cyc-t.calCyc, up-t.calUp
	if t.calCyc == 0 || dc >= 1<<63 {
		// The first windup, or the counter went back past where
		// calibration started (a resumed VM): calibrate from here.
		t.recalibrate(cyc, up)
		return up
	}
	if dc < calibCycles || du <= 0 || uint64(du)>>32 >= dc {
		return up // still calibrating, or a counter too slow to use
	}
	scale, _ := bits.Div64(uint64(du)>>32, uint64(du)<<32, dc)
	if scale == 0 || scale >= maxScale {
		return up
	}
	start := up
	if old != nil {
		hi, lo := bits.Mul64(cyc-old.cyc0.Load(), old.scale.Load())
		ext := old.up0.Load() + int64(hi<<32|lo>>32)
		switch {
		case hi >= 1<<31:
			// Too far past the old hands to extrapolate: start at Go's
			// clock.
		case ext > up+maxSkew:
			// The counter ran ahead of Go's clock by more than any scale
			// error explains: it jumped (a migrated or resumed VM). Go's
			// clock is right; stamps step back to it once, and the scale
			// is measured afresh, without the jump in it.
			t.recalibrate(cyc, up)
			return up
		case ext > up:
			start = ext
			give := uint64(ext-up) << 32 / windupCycles
			scale -= min(give, scale/2)
		}
	}
	th := &t.hands[t.next]
	t.next = (t.next + 1) % nHands
	if t.gen++; t.gen == 0 {
		t.gen = 1
	}
	th.gen.Store(0)
	th.cyc0.Store(cyc)
	th.up0.Store(start)
	th.scale.Store(scale)
	th.gen.Store(t.gen)
	t.cur.Store(th)
	return start
}

// recalibrate restarts the scale's measurement at (cyc, up) and withdraws
// the hands, so reads use Go's clock until calibCycles have passed. t.mu
// held.
func (t *tsc) recalibrate(cyc uint64, up int64) {
	t.calCyc, t.calUp = cyc, up
	t.cur.Store(&blankHands)
}

func (c *SystemClock) UptimeFast() time.Duration {
	c.fastOnce.Do(c.startTicker)
	return time.Duration(c.fast.Load())
}

func (c *SystemClock) startTicker() {
	c.fast.Store(int64(c.Uptime().Truncate(c.tick)))
	go func() {
		t := time.NewTicker(c.tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.fast.Store(int64(c.Uptime().Truncate(c.tick)))
			case <-c.stop:
				return
			}
		}
	}()
}

// Stop ends the fast-read ticker, if it runs.
func (c *SystemClock) Stop()           { c.stopOnce.Do(func() { close(c.stop) }) }
func (c *SystemClock) BootTime() int64 { return c.bootNs }
func (c *SystemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// FakeClock is a manual clock for deterministic tests: time moves only
// through Set and Advance, which also run the AfterFunc calls that fall due.
// It counts reads so tests can check one read per packet. It is safe for
// concurrent use.
type FakeClock struct {
	now   atomic.Int64 // uptime, ns
	boot  int64
	tick  time.Duration
	reads atomic.Int64 // Uptime and UptimeFast calls

	mu     sync.Mutex
	timers []*fakeTimer // protected by mu
}

type fakeTimer struct {
	c     *FakeClock
	when  time.Duration
	f     func()
	fired bool // protected by c.mu
}

// NewFakeClock returns a clock at uptime 0 whose boot was at boot (ns since
// the epoch) and whose fast reads round down to tick.
func NewFakeClock(boot int64, tick time.Duration) *FakeClock {
	if tick <= 0 {
		tick = time.Millisecond
	}
	return &FakeClock{boot: boot, tick: tick}
}

func (c *FakeClock) Uptime() time.Duration {
	c.reads.Add(1)
	return time.Duration(c.now.Load())
}

func (c *FakeClock) UptimeFast() time.Duration {
	c.reads.Add(1)
	return time.Duration(c.now.Load()).Truncate(c.tick)
}

func (c *FakeClock) BootTime() int64 { return c.boot }

// Reads returns how many times Uptime or UptimeFast was called.
func (c *FakeClock) Reads() int64 { return c.reads.Load() }

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) { c.Set(time.Duration(c.now.Load()) + d) }

// Set moves the clock to uptime t (never backwards) and runs, in their own
// goroutines, the AfterFunc calls due by then.
func (c *FakeClock) Set(t time.Duration) {
	c.mu.Lock()
	if int64(t) > c.now.Load() {
		c.now.Store(int64(t))
	}
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.when <= t {
			tm.fired = true
			due = append(due, tm)
		} else {
			kept = append(kept, tm)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, tm := range due {
		go tm.f()
	}
}

// Pending returns the number of AfterFunc calls not yet due.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	t := &fakeTimer{c: c, when: time.Duration(c.now.Load()) + d, f: f}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	if d <= 0 {
		c.Set(time.Duration(c.now.Load()))
	}
	return t
}

func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.fired {
		return false
	}
	for i, o := range c.timers {
		if o == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
	t.fired = true
	return true
}

// pktStamp is the per-packet clock read shared by every descriptor a tap
// delivers the packet to: the clock is read at most once per packet,
// lazily, by the first matching descriptor that wants a stamp.
type pktStamp struct {
	read bool  // up holds the packet's stamp
	zero bool  // the interface's tscfg is none: stamps are zero
	up   int64 // uptime ns; before read, the driver's stamp or noStamp
}

// get reads the clock for the packet as the interface's tscfg says.
func (st *pktStamp) get(b *If) {
	st.read = true
	s := b.stack
	switch TSMode(b.tsmode.Load()) {
	case TSNone:
		st.zero = true
		return
	case TSFast:
		if c := s.sys; c != nil {
			st.up = int64(c.UptimeFast())
		} else {
			st.up = int64(s.clock.UptimeFast())
		}
		return
	case TSExternal:
		if st.up != noStamp {
			return
		}
	}
	// A full-precision read. The system clock is called directly, not
	// through the Clock interface, and without a helper in between: each
	// call level is measurable at line rate.
	if c := s.sys; c != nil {
		st.up = int64(c.Uptime())
	} else {
		st.up = int64(s.clock.Uptime())
	}
}

// bootTime is the clock's BootTime, without the interface call for the
// system clock, whose boot time never changes.
func (s *Stack) bootTime() int64 {
	if c := s.sys; c != nil {
		return c.bootNs
	}
	return s.clock.BootTime()
}

// encodeStamp turns t, ns since boot for the monotonic formats or since
// the epoch for the others, into the two 64-bit fields of a record header
// in the format tstamp asks for: (tv_sec, tv_usec) for microtime, (bt_sec,
// bt_frac) for nanotime (ns) and bintime (2^-64 s).
func encodeStamp(tstamp uint32, t int64) (sec int64, frac uint64) {
	format := tstamp & BPF_T_FORMAT_MASK
	if format == BPF_T_NONE {
		return 0, 0
	}
	var ns uint64
	if t >= 0 {
		// Unsigned division by a constant is a multiply and a shift,
		// without the signed fix-ups.
		s := uint64(t) / uint64(time.Second)
		sec, ns = int64(s), uint64(t)-s*uint64(time.Second)
	} else {
		sec = t / int64(time.Second)
		n := t % int64(time.Second)
		if n < 0 {
			sec--
			n += int64(time.Second)
		}
		ns = uint64(n)
	}
	switch format {
	case BPF_T_MICROTIME:
		frac = ns / 1000
	case BPF_T_NANOTIME:
		frac = ns
	case BPF_T_BINTIME:
		// bt_frac = ns * 2^64 / 1e9, exact to the floor.
		frac, _ = bits.Div64(ns, 0, uint64(time.Second))
	}
	return sec, frac
}
