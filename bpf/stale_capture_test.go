package bpf

import (
	"testing"
	"time"
)

// Taps walk a published listener list without a lock, so a tap may still
// run on the list from before a configuration change completed. These tests
// replay that interleaving deterministically: they keep the list a tap
// would have loaded, make the change, then tap through the stale list.

// staleList is the reader list a tap on b would walk right now.
func staleList(t *testing.T, b *If) []listener {
	t.Helper()
	ls := b.taps.Load()
	if ls == nil {
		t.Fatal("no readers published")
	}
	return *ls
}

// readAll returns the records buffered in a BUFFER-mode descriptor.
func readAll(t *testing.T, d *Desc) []Record {
	t.Helper()
	n, _ := d.BufferLen()
	buf := make([]byte, n)
	d.SetNonblock(true)
	defer d.SetNonblock(false)
	var out []Record
	for {
		got, err := d.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, records(t, buf[:got])...)
	}
}

func TestStaleListenerAfterSetFilter(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	old := staleList(t, bs[0])
	// BIOCSETF with a reject-all filter flushes; the old accept-all
	// listener's match must not reach the buffer or the counters.
	if err := d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 0)}); err != nil {
		t.Fatal(err)
	}
	bs[0].tap(&old, ethFrame(64, 1), tapIn, noStamp)
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("stale match counted after BIOCSETF: %+v", st)
	}
	if r := readAll(t, d); len(r) != 0 {
		t.Errorf("stale match stored after BIOCSETF: %d records", len(r))
	}
	// The new list rejects, and counts it.
	bs[0].Mtap(ethFrame(64, 2), false)
	if st := mustStats(t, d); st.Received != 1 || st.Filtered != 1 {
		t.Errorf("after one rejected frame: %+v", st)
	}
}

func TestStaleListenerRejectionAfterFlush(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	if err := d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 0)}); err != nil {
		t.Fatal(err)
	}
	old := staleList(t, bs[0])
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// A rejection counted by a tap that loaded the list before the flush
	// belongs to the period the flush ended.
	bs[0].tap(&old, ethFrame(64, 1), tapIn, noStamp)
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("stale rejection counted after BIOCFLUSH: %+v", st)
	}
}

func TestStaleListenerAfterSetFilterNoReset(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	old := staleList(t, bs[0])
	// BIOCSETFNR keeps the counting period: a frame the old filter
	// matched in flight is stored, as if it had arrived just before.
	if err := d.SetFilterNoReset([]Insn{Stmt(BPF_RET|BPF_K, 0)}); err != nil {
		t.Fatal(err)
	}
	bs[0].tap(&old, ethFrame(64, 7), tapIn, noStamp)
	if st := mustStats(t, d); st.Received != 1 || st.Captured != 1 {
		t.Errorf("in-flight match after BIOCSETFNR: %+v", st)
	}
	if r := readAll(t, d); len(r) != 1 || r[0].Datalen != 64 {
		t.Errorf("in-flight match after BIOCSETFNR: records %+v", r)
	}
}

func TestStaleListenerAfterDetachAndReattach(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	_, bs1 := newIfp(t, s, "eth1")
	d := attached(t, s, "eth0")
	old := staleList(t, bs[0])
	// Moving to eth1 ends the eth0 attachment: a late eth0 tap stores
	// nothing, neither on eth1's buffers nor in the counters.
	if err := d.SetInterface("eth1"); err != nil {
		t.Fatal(err)
	}
	bs[0].tap(&old, ethFrame(64, 1), tapIn, noStamp)
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("stale eth0 tap counted on eth1: %+v", st)
	}
	bs1[0].Mtap(ethFrame(70, 2), false)
	if r := readAll(t, d); len(r) != 1 || r[0].Datalen != 70 {
		t.Errorf("eth1 records %+v, want the one eth1 frame", r)
	}
	// The interface departing detaches without a reset: a late tap finds
	// the descriptor no longer attached and stores nothing.
	old = staleList(t, bs1[0])
	before := mustStats(t, d)
	s.Detach(bs1[0].Interface())
	bs1[0].tap(&old, ethFrame(64, 3), tapIn, noStamp)
	if st := mustStats(t, d); st != before {
		t.Errorf("stale tap after detach: stats %+v, were %+v", st, before)
	}
	if bs1[0].PeersPresent() {
		t.Error("readers left on a detached interface")
	}
}

// TestOneClockReadPerPacketStale: the lazy clock read stays one per packet
// whatever the listeners, including stale ones whose match is discarded.
func TestOneClockReadPerPacketStale(t *testing.T) {
	s, clk := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	for i := 0; i < 3; i++ {
		attached(t, s, "eth0")
	}
	clk.Advance(time.Second)
	before := clk.Reads()
	bs[0].Mtap(ethFrame(64, 1), false)
	if n := clk.Reads() - before; n != 1 {
		t.Errorf("%d clock reads for one packet to 3 listeners", n)
	}
	// As in FreeBSD, a packet no filter accepts is not stamped.
	_, bs1 := newIfp(t, s, "eth1")
	for i := 0; i < 2; i++ {
		d := attached(t, s, "eth1")
		if err := d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	before = clk.Reads()
	bs1[0].Mtap(ethFrame(64, 2), false)
	if n := clk.Reads() - before; n != 0 {
		t.Errorf("%d clock reads for a packet every filter rejected", n)
	}
}

// TestStaleListenerTimestampChange: a listener published while the
// descriptor wanted no stamp still gets one when the format changed before
// the tap reached the descriptor (catch reads the clock itself), and a
// listener that wanted a stamp costs at most the one read per packet.
func TestStaleListenerTimestampChange(t *testing.T) {
	s, clk := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	if err := d.SetTimestamp(BPF_T_NONE); err != nil {
		t.Fatal(err)
	}
	old := staleList(t, bs[0])
	if old[0].stamp {
		t.Fatal("listener of a BPF_T_NONE descriptor wants a stamp")
	}
	if err := d.SetTimestamp(BPF_T_NANOTIME | BPF_T_MONOTONIC); err != nil {
		t.Fatal(err)
	}
	clk.Set(3*time.Second + 250)
	before := clk.Reads()
	bs[0].tap(&old, ethFrame(64, 1), tapIn, noStamp)
	if n := clk.Reads() - before; n != 1 {
		t.Errorf("%d clock reads for the stale listener's packet, want 1", n)
	}
	r := readAll(t, d)
	if len(r) != 1 || r[0].Sec != 3 || r[0].Frac != 250 {
		t.Fatalf("records %+v, want one stamped 3 s 250 ns", r)
	}
}
