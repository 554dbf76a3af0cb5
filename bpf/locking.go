package bpf

// LOCKING MODEL
//
// The capture side of this package re-creates the rwlock design of FreeBSD's
// sys/net/bpf.c (the 2012 rework: per-interface reader/writer lock, the
// descriptor mutex taken only for a matching packet). There are three locks,
// always taken in this order and never in the other direction:
//
//	Stack.mu  >  If.rw  >  Desc.mu
//
// Stack.mu (sync.Mutex; FreeBSD's global BPF_LOCK) protects:
//   - Stack.ifs, the list of attach points, and each If's dying flag and
//     tscfg setting;
//   - Stack.settings and Stack.track (the bpf_track subscribers);
//   - a descriptor's attachment (Desc.bif, Desc.promisc, Desc.writer) and
//     every configuration call that can change what a tap sees.
//     Every ioctl-like method of Desc takes it first. Track callbacks run
//     with it held, so they must not call back into the Stack.
//
// If.rw (sync.RWMutex; FreeBSD's bif_lock) protects the interface's reader
// list (If.dlist), its writer-only list (If.wlist), and the descriptor
// fields a tap reads without the descriptor lock: Desc.rprog (the compiled
// read filter) and Desc.dir (direction). Taps hold the read lock for the
// whole walk of the list; attach, detach, filter changes, direction
// changes, flushes and counter snapshots hold the write lock, so no tap ever
// sees a half-installed filter and counters are read or zeroed while no tap
// is between its "received" and "matched" increments.
//
// If.npeers (atomic) mirrors len(If.dlist). It is written under the write
// lock and read by taps without any lock: it is the bpf_peers_present()
// check, one atomic load when nobody listens.
//
// Desc.mu (sync.Mutex; FreeBSD's BPFD_LOCK) protects the descriptor's
// buffers (store/hold/free slots and lengths), the counters a matching
// packet updates (matched, captured, dropped), the write counters, and the
// per-descriptor options read while catching a packet (timestamp format,
// immediate). Taps take it only after the filter accepted the packet.
// Desc.nfilt (packets rejected by the read filter) is an atomic updated
// under the If read lock alone, as FreeBSD's counter(9) counters are.
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
// Why an RWMutex and not an RCU-published slice (FreeBSD's 2019 epoch
// design): with the read lock, a filter change, flush or detach excludes
// taps, so the counters add up exactly at any instant and a flushed
// descriptor never receives a packet matched by its previous filter.
// Publishing an immutable slice through an atomic pointer would save the
// two read-lock atomics, but Go offers no cheap grace period (no per-CPU
// quiescent states): waiting for in-flight taps would need a per-tap
// counter, which is the same two atomics again. The idle path does not
// touch the lock at all (npeers).
