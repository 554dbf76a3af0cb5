package bpf

// LOCKING MODEL
//
// The capture side of this package follows FreeBSD's sys/net/bpf.c after
// its move from the per-interface rwlock to epoch-protected lists (2019):
// taps take no lock to walk an interface's readers, and the descriptor
// mutex only for a matching packet. There are two locks, always taken in
// this order and never in the other direction:
//
//	Stack.mu  >  Desc.mu
//
// Stack.mu (sync.Mutex; FreeBSD's global BPF_LOCK) protects:
//   - Stack.ifs, the list of attach points, and each If's reader list
//     (If.dlist), writer-only list (If.wlist), dying flag and tscfg;
//   - Stack.settings and Stack.track (the bpf_track subscribers);
//   - a descriptor's attachment (Desc.bif, Desc.promisc, Desc.writer), its
//     read filter (Desc.rprog) and direction (Desc.dir), with Desc.mu its
//     timestamp format (Desc.tstamp), and every configuration call that
//     can change what a tap sees.
//     Every ioctl-like method of Desc that changes them takes it first.
//     Track callbacks run with it held, so they must not call back into
//     the Stack.
//
// If.taps is what taps read instead of a lock: an atomic pointer to an
// immutable slice of listeners, one per reader, each holding the reader's
// filter, direction, whether it wants a timestamp, and counting period
// (tapCounts) as they were when the slice was made. Every change to one of
// them publishes a new slice under Stack.mu (If.publish), then its length
// in If.npeers, which the bpf_peers_present() check loads: one atomic load
// when nobody listens. A tap that passed that check may still find the
// list gone (nil) and does nothing. The garbage collector frees an old
// slice once the last tap walking it returns, which is the grace period
// FreeBSD's epoch provides.
//
// Desc.mu (sync.Mutex; FreeBSD's BPFD_LOCK) protects the descriptor's
// buffers (store/hold/free slots and lengths), the counters a matching
// packet updates (matched, captured, dropped), the write counters, the
// per-descriptor options read while catching a packet (timestamp format,
// immediate) and Desc.cnt, the current counting period (written under
// both locks). Taps take it only after the filter accepted the packet.
//
// A tap may run on a listener that is no longer current: a filter change,
// flush or detach can complete while a tap still walks the previous slice.
// The counting period makes that harmless. A rejection is counted with one
// atomic add into the period of the listener that rejected it. A match is
// stored only if, under Desc.mu, the descriptor is still attached to the
// tapping interface and its period is still the listener's. Every reset of
// the counters (BIOCSETF, BIOCFLUSH, attach, ZeroCounters) starts a new
// period before publishing, so a tap that raced with the reset leaves no
// trace: a flushed descriptor never receives a packet matched by its
// previous filter, and Received = Matched + Filtered and Matched =
// Captured + Dropped hold at every instant (Received is the sum). Changes
// that do not reset (BIOCSETFNR, BIOCSDIRECTION) keep the period, so a
// packet the old filter matched in flight is stored as if it had arrived
// just before the change.
//
// No lock is held while a descriptor's Write hands a frame to the
// interface's Transmit or Input (the interface taps that frame and takes
// the locks above itself), and Read releases Desc.mu while it copies the
// hold buffer out (holdInUse keeps Flush and other readers off it
// meanwhile), so the driver is never blocked behind a consumer's copy.
//
// The driver never blocks and never sleeps in a tap: when both buffers are
// full the packet is counted as dropped.
//
// Why not FreeBSD's 2012 design, a per-interface rwlock taps take for
// reading: in Go the read lock and its release are two atomic read-modify-
// write operations per packet, about 15 ns on the development machine, a
// fifth of the 67 ns a 64-byte frame may take at 10 GbE line rate. The
// published list costs one plain load instead.
//
// Why a rejection still costs an atomic add: FreeBSD counts bd_rcount with
// per-CPU counter(9) counters, which Go cannot express (a plain increment
// from two tapping goroutines is a data race). Counting one "received" per
// packet on the interface instead, and deriving each descriptor's
// rejections from it, would make a tap racing with a flush count a packet
// into the new period, or need the grace period this design avoids.
