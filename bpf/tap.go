package bpf

import (
	"math"
	"sync"
	"time"
)

// Driver taps (bpf_tap, bpf_mtap, bpf_mtap2). A driver calls them on every
// frame it receives (out = false) and sends (out = true). Each is a single
// atomic load when no descriptor listens, and allocates nothing per
// packet. The frame is only read during the call.

// tap direction of a frame, for the descriptor's BPF_D_* check.
const (
	tapAny uint8 = iota // bpf_tap: no direction check
	tapIn
	tapOut
)

// PeersPresent is bpf_peers_present: whether any descriptor listens.
func (b *If) PeersPresent() bool { return b != nil && b.npeers.Load() != 0 }

// Mtap is bpf_mtap: hand a received (out false) or transmitted (out true)
// frame to the listeners. The wire length is len(pkt).
func (b *If) Mtap(pkt []byte, out bool) {
	if b != nil && b.npeers.Load() != 0 {
		b.mtap(pkt, out)
	}
}

// mtap is Mtap's body past the idle check, kept apart so that Mtap
// inlines into the driver and the idle path is one load and a branch.
//
//go:noinline
func (b *If) mtap(pkt []byte, out bool) {
	b.tap(pkt, uint32(len(pkt)), dirOf(out), nil)
}

// MtapStamp is Mtap with the driver's own timestamp for the frame (uptime,
// e.g. from the MAC's 1588 timer), used when the interface's tscfg is
// "external" (FreeBSD's MTAG_BPF_TIMESTAMP tag).
func (b *If) MtapStamp(pkt []byte, out bool, uptime time.Duration) {
	if b != nil && b.npeers.Load() != 0 {
		sc := stampCache{hasExt: true, ext: int64(uptime)}
		b.tap(pkt, uint32(len(pkt)), dirOf(out), &sc)
	}
}

// Tap is bpf_tap: a flat buffer with no direction information, so every
// listener sees it whatever its direction setting.
func (b *If) Tap(pkt []byte) {
	if b != nil && b.npeers.Load() != 0 {
		b.tap(pkt, uint32(len(pkt)), tapAny, nil)
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
	b.tap(buf, uint32(len(buf)), dirOf(out), nil)
	*bp = buf[:0]
	mtap2Pool.Put(bp)
}

func dirOf(out bool) uint8 {
	if out {
		return tapOut
	}
	return tapIn
}

// tap walks the reader list under the read lock: direction check, run the
// read filter without the descriptor lock, count a rejection with one
// atomic, and only for a match take the descriptor lock, count it and
// store the packet. Per packet that is the read lock and its release, plus
// per listener two atomic operations for a match (descriptor lock and
// release) or one for a rejection.
func (b *If) tap(pkt []byte, wirelen uint32, dir uint8, sc *stampCache) {
	var local stampCache
	if sc == nil {
		sc = &local
	}
	b.rw.RLock()
	for _, d := range b.dlist {
		switch {
		case dir == tapOut && d.dir == BPF_D_IN, dir == tapIn && d.dir == BPF_D_OUT:
			continue
		}
		snap := uint32(math.MaxUint32) // no filter: the whole packet
		if p := d.rprog; p != nil {
			snap = p.Run(pkt, wirelen)
		}
		if snap == 0 {
			d.nfilt.Add(1)
			continue
		}
		d.mu.Lock()
		d.catch(b, pkt, wirelen, snap, sc)
		d.mu.Unlock()
	}
	b.rw.RUnlock()
}
