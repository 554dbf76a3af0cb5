package pair

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func frame(n int, src net.HardwareAddr, seq byte) []byte {
	f := make([]byte, n)
	copy(f[0:6], macB)
	copy(f[6:12], src)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[n-1] = seq
	return f
}

func setup(t *testing.T) (*bpf.Stack, *nic.Ifnet, *nic.Ifnet) {
	t.Helper()
	s, err := bpf.NewStack(bpf.DefaultSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b, err := New("pa0", "pb0", 1500, macA, macB)
	if err != nil {
		t.Fatal(err)
	}
	for _, ifp := range []*nic.Ifnet{a, b} {
		if _, err := ifp.AttachBPF(s, bpf.DLT_EN10MB, 14); err != nil {
			t.Fatal(err)
		}
	}
	return s, a, b
}

func open(t *testing.T, s *bpf.Stack, name string) *bpf.Desc {
	t.Helper()
	d := s.Open(bpf.OpenReadWrite)
	if err := d.SetInterface(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func stats(t *testing.T, d *bpf.Desc) bpf.Stats {
	t.Helper()
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Received != st.Matched+st.Filtered || st.Matched != st.Captured+st.Dropped {
		t.Errorf("counters do not add up: %+v", st)
	}
	return st
}

// TestPairDeliversAndTaps: frames output on one end are input on the
// other; the taps see them as TX on the sender and RX on the receiver;
// interface counters and descriptor counters agree.
func TestPairDeliversAndTaps(t *testing.T) {
	s, a, b := setup(t)
	var got [][]byte
	b.SetInput(func(_ *nic.Ifnet, f []byte) { got = append(got, bytes.Clone(f)) })
	da, db := open(t, s, "pa0"), open(t, s, "pb0")
	dain := open(t, s, "pa0")
	dain.SetDirection(bpf.BPF_D_IN)
	const n = 10
	for i := 0; i < n; i++ {
		if err := a.Output(frame(60+i, macA, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	b.Output(frame(60, macB, 99)) // one frame back
	if len(got) != n || got[3][len(got[3])-1] != 3 {
		t.Fatalf("peer input hook saw %d frames", len(got))
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.OPackets != n || sb.IPackets != n || sa.OBytes != sb.IBytes || sb.OPackets != 1 || sa.IPackets != 1 {
		t.Errorf("interface counters a %+v b %+v", sa, sb)
	}
	// Interface-level counts agree with what the INOUT listeners saw.
	if st := stats(t, da); st.Received != sa.OPackets+sa.IPackets {
		t.Errorf("pa0 listener received %d, interface moved %d", st.Received, sa.OPackets+sa.IPackets)
	}
	if st := stats(t, db); st.Received != sb.OPackets+sb.IPackets {
		t.Errorf("pb0 listener received %d, interface moved %d", st.Received, sb.OPackets+sb.IPackets)
	}
	if st := stats(t, dain); st.Received != sa.IPackets {
		t.Errorf("pa0 BPF_D_IN listener received %d, want %d", st.Received, sa.IPackets)
	}
}

func TestPairPromiscThroughBPF(t *testing.T) {
	s, a, _ := setup(t)
	d := open(t, s, "pa0")
	d2 := open(t, s, "pa0")
	d.Promisc()
	d2.Promisc()
	e := DriverOf(a)
	if !e.HardwarePromisc() || a.PromiscRefs() != 2 || a.Flags()&nic.FlagPromisc == 0 {
		t.Fatal("promiscuous mode not switched on")
	}
	d.Close()
	if !e.HardwarePromisc() || a.PromiscRefs() != 1 {
		t.Fatal("one close switched promiscuous mode off")
	}
	d2.Close()
	if e.HardwarePromisc() || a.PromiscRefs() != 0 {
		t.Fatal("promiscuous mode left on after the last close")
	}
}

func TestPairUnplugAndDown(t *testing.T) {
	_, a, b := setup(t)
	e := DriverOf(a)
	e.Plug(false)
	if err := a.Output(frame(60, macA, 0)); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("unplugged: %v", err)
	}
	if a.LinkState() != nic.LinkDown || b.LinkState() != nic.LinkDown {
		t.Error("link state not down on both ends")
	}
	e.Plug(true)
	b.SetUp(false)
	if err := a.Output(frame(60, macA, 0)); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.IQDrops != 1 || st.IPackets != 0 {
		t.Errorf("down receiver: %+v", st)
	}
	if st := a.Stats(); st.OErrors != 1 || st.OPackets != 1 {
		t.Errorf("sender: %+v", st)
	}
}

// TestPairInjection writes through a descriptor on one end: the frame
// crosses the cable with the interface's source address (header-complete
// off); with feedback, the writer's own interface receives it too and an
// INOUT listener sees it once.
func TestPairInjection(t *testing.T) {
	s, a, b := setup(t)
	var atB, atA [][]byte
	b.SetInput(func(_ *nic.Ifnet, f []byte) { atB = append(atB, bytes.Clone(f)) })
	a.SetInput(func(_ *nic.Ifnet, f []byte) { atA = append(atA, bytes.Clone(f)) })
	w := open(t, s, "pa0")
	fake := net.HardwareAddr{0x02, 0xde, 0xad, 0xbe, 0xef, 0x01}
	if _, err := w.Write(frame(60, fake, 1)); err != nil {
		t.Fatal(err)
	}
	if len(atB) != 1 || !bytes.Equal(atB[0][6:12], macA) {
		t.Fatalf("peer got %d frames, src % x", len(atB), atB[0][6:12])
	}
	w.SetHeaderComplete(true)
	w.SetFeedback(true)
	if _, err := w.Write(frame(60, fake, 2)); err != nil {
		t.Fatal(err)
	}
	if len(atB) != 2 || !bytes.Equal(atB[1][6:12], fake) || len(atA) != 1 {
		t.Fatalf("feedback: peer %d, self %d", len(atB), len(atA))
	}
	// w saw write 1 as TX and write 2 once (as RX, fed back).
	if st := stats(t, w); st.Captured != 2 || st.Written != 2 || st.WriteFailed != 0 {
		t.Errorf("writer stats %+v", st)
	}
	a.SetMTU(40)
	if _, err := w.Write(frame(60, fake, 3)); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("over MTU: %v", err)
	}
}

func TestPairDetachBPF(t *testing.T) {
	s, a, _ := setup(t)
	a.AttachBPF(s, bpf.DLT_NULL, 4)
	d := open(t, s, "pa0")
	if n := a.DetachBPF(s); n != 2 {
		t.Fatalf("detached %d attach points, want 2", n)
	}
	if a.BPF() != nil {
		t.Error("primary attach point kept")
	}
	if err := a.Output(frame(60, macA, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Interface(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("descriptor still attached: %v", err)
	}
	if s.AttachPoints() != 1 { // pb0 stays
		t.Errorf("%d attach points left", s.AttachPoints())
	}
}

// TestPairOutputAllocs: the packet path through the pair allocates
// nothing, with and without a listener.
func TestPairOutputAllocs(t *testing.T) {
	s, a, b := setup(t)
	f := frame(64, macA, 0)
	b.SetInput(func(*nic.Ifnet, []byte) {})
	if n := testing.AllocsPerRun(1000, func() { a.Output(f) }); n != 0 {
		t.Errorf("no listener: %.1f allocs per frame", n)
	}
	d := s.Open(bpf.OpenReadWrite)
	defer d.Close()
	d.SetBufMode(bpf.BPF_BUFMODE_ZBUF)
	za, zb := bpf.AllocZBuf(bpf.PageSize), bpf.AllocZBuf(bpf.PageSize)
	d.SetZBuf(za, zb)
	d.SetInterface("pb0")
	if n := testing.AllocsPerRun(1000, func() {
		a.Output(f)
		for _, z := range [][]byte{za, zb} {
			if bpf.ZBufOwned(z) {
				bpf.ZBufAck(z)
			}
		}
	}); n != 0 {
		t.Errorf("zero-copy listener: %.1f allocs per frame", n)
	}
	if st := stats(t, d); st.Captured == 0 {
		t.Error("listener captured nothing")
	}
}
