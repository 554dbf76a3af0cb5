package bpf

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Driver taps (bpf_tap, bpf_mtap, bpf_mtap2). A driver calls them on every
// frame it receives (out = false) and sends (out = true). Each is a single
// atomic load when no descriptor listens, and allocates nothing per
// packet. The frame is only read during the call.

// tap direction of a frame, as a bit tested against a listener's skip mask.
const (
	tapAny uint8 = 0 // bpf_tap: no direction check
	tapIn  uint8 = 1
	tapOut uint8 = 2
)

// listener is one reader as taps see it: the descriptor with the read
// filter, direction and counting period it had when the interface's
// reader list was last published. Listeners are immutable; any change
// publishes a new list (If.publish).
type listener struct {
	d     *Desc
	prog  *Program // nil: accept the whole packet
	cnt   *tapCounts
	skip  uint8 // tap directions this descriptor does not see
	stamp bool  // the descriptor's timestamp format is not BPF_T_NONE
}

// tapCounts is a descriptor's counting period: every reset of the counters
// (BIOCSETF, BIOCFLUSH, attach, ZeroCounters) starts a new one. A tap
// counts a rejection into the period its listener was published with, and
// stores a match only if that period is still the descriptor's current
// one, so a tap that raced with a reset leaves no trace after it.
type tapCounts struct {
	filtered atomic.Uint64 // rejected by the read filter
}

// skipOf maps BIOCSDIRECTION to the tap directions a descriptor ignores.
func skipOf(dir Direction) uint8 {
	switch dir {
	case BPF_D_IN:
		return tapOut
	case BPF_D_OUT:
		return tapIn
	}
	return 0
}

// PeersPresent is bpf_peers_present: whether any descriptor listens.
func (b *If) PeersPresent() bool { return b != nil && b.npeers.Load() != 0 }

// noStamp is the ext argument of tap when the driver gave no timestamp.
const noStamp = math.MinInt64

// Mtap is bpf_mtap: hand a received (out false) or transmitted (out true)
// frame to the listeners. The wire length is len(pkt). Mtap inlines into
// the driver, so the idle path is one load and a branch; that is why the
// idle check reads npeers (a generic atomic.Pointer load, or a call with
// more arguments, would put Mtap over the inlining budget).
func (b *If) Mtap(pkt []byte, out bool) {
	if b != nil && b.npeers.Load() != 0 {
		b.mtap(pkt, out)
	}
}

//go:noinline
func (b *If) mtap(pkt []byte, out bool) {
	b.tap(b.taps.Load(), pkt, dirOf(out), noStamp)
}

// MtapStamp is Mtap with the driver's own timestamp for the frame (uptime,
// e.g. from the MAC's 1588 timer), used when the interface's tscfg is
// "external" (FreeBSD's MTAG_BPF_TIMESTAMP tag). A negative uptime is
// taken as 0.
func (b *If) MtapStamp(pkt []byte, out bool, uptime time.Duration) {
	if b != nil && b.npeers.Load() != 0 {
		b.tap(b.taps.Load(), pkt, dirOf(out), max(int64(uptime), 0))
	}
}

// Tap is bpf_tap: a flat buffer with no direction information, so every
// listener sees it whatever its direction setting.
func (b *If) Tap(pkt []byte) {
	if b != nil && b.npeers.Load() != 0 {
		b.tap(b.taps.Load(), pkt, tapAny, noStamp)
	}
}

// mtap2Pool holds the scratch buffers Mtap2 joins header and frame in.
var mtap2Pool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Mtap2 is bpf_mtap2: hand the listeners hdr followed by pkt (for example
// a 4-byte DLT_NULL address family). FreeBSD chains an on-stack mbuf in
// front of the packet; the filter here reads flat memory, so the two are
// joined in a pooled scratch buffer (no allocation once warm).
func (b *If) Mtap2(hdr, pkt []byte, out bool) {
	if b == nil || b.npeers.Load() == 0 {
		return
	}
	bp := mtap2Pool.Get().(*[]byte)
	buf := append(append((*bp)[:0], hdr...), pkt...)
	b.tap(b.taps.Load(), buf, dirOf(out), noStamp)
	*bp = buf[:0]
	mtap2Pool.Put(bp)
}

func dirOf(out bool) uint8 {
	if out {
		return tapOut
	}
	return tapIn
}

// tap walks a published reader list: direction check, run the read filter
// with no lock held, count a rejection with one atomic add, and only for a
// match read the clock (once per packet), take the descriptor lock, check
// that the listener's counting period is still current and store the
// packet. Per packet that is no lock
// at all for the list, and per listener one atomic for a rejection or the
// descriptor lock and its release for a match (see locking.go).
//
// ext is the driver's stamp (MtapStamp), or noStamp. The clock is read at
// most once per packet, by the first descriptor that stores it with a
// timestamp. The wire length is len(pkt). lp is the list the caller
// loaded; nil (the last reader left since the idle check) is no listener.
func (b *If) tap(lp *[]listener, pkt []byte, dir uint8, ext int64) {
	if lp == nil {
		return
	}
	st := pktStamp{up: ext}
	wirelen := uint32(len(pkt))
	for i, ls := 0, *lp; i < len(ls); i++ {
		l := &ls[i]
		if l.skip&dir != 0 {
			continue
		}
		snap := ^uint32(0) // no filter: the whole packet
		if l.prog != nil {
			if snap = l.prog.Run(pkt, wirelen); snap == 0 {
				l.cnt.filtered.Add(1)
				continue
			}
		}
		if l.stamp && !st.read {
			// FreeBSD reads the clock under the descriptor lock; here it
			// is read just before taking it, which is measurably cheaper
			// (the clock read waits for earlier instructions, the lock's
			// atomic among them). catch reads it if the format changed
			// since this listener was published.
			st.get(b)
		}
		d := l.d
		d.mu.Lock()
		if d.cnt == l.cnt && d.bif == b {
			d.catch(b, pkt, snap, &st)
		}
		d.mu.Unlock()
	}
}
