package bpf

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testIfp is a real in-memory interface for this package's tests: the
// package may not import nic (nic imports bpf), so it re-implements the
// little of an ifnet that bpf uses. Transmit taps the frame as sent on its
// primary attach point and records it; Input taps it as received.
type testIfp struct {
	name string
	mtu  int
	addr net.HardwareAddr
	up   atomic.Bool
	b    atomic.Pointer[If]

	mu           sync.Mutex
	promisc      int      // reference count; protected by mu
	hwToggles    int      // 0<->1 transitions; protected by mu
	sent, inputs [][]byte // protected by mu
	failTx       error    // protected by mu
}

func (t *testIfp) Name() string                   { return t.name }
func (t *testIfp) MTU() int                       { return t.mtu }
func (t *testIfp) IsUp() bool                     { return t.up.Load() }
func (t *testIfp) HardwareAddr() net.HardwareAddr { return t.addr }

func (t *testIfp) SetPromisc(on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.promisc
	if on {
		t.promisc++
	} else {
		t.promisc--
	}
	if (old == 0) != (t.promisc == 0) {
		t.hwToggles++
	}
	return nil
}

func (t *testIfp) Transmit(frame []byte, tapOut bool) error {
	t.mu.Lock()
	err := t.failTx
	if err == nil {
		t.sent = append(t.sent, append([]byte(nil), frame...))
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if tapOut {
		t.b.Load().Mtap(frame, true)
	}
	return nil
}

func (t *testIfp) Input(frame []byte) {
	t.b.Load().Mtap(frame, false)
	t.mu.Lock()
	t.inputs = append(t.inputs, append([]byte(nil), frame...))
	t.mu.Unlock()
}

func (t *testIfp) promiscRefs() (refs, toggles int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.promisc, t.hwToggles
}

// fixture builds a Stack on a FakeClock (boot at 2026-01-01T00:00:00Z).
func fixture(t testing.TB, mod func(*Settings)) (*Stack, *FakeClock) {
	t.Helper()
	set := DefaultSettings()
	if mod != nil {
		mod(&set)
	}
	clk := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Millisecond)
	s, err := NewStack(set, clk)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

// newIfp attaches an up interface with the given DLTs (EN10MB if none);
// the first is its primary attach point.
func newIfp(t testing.TB, s *Stack, name string, dlts ...uint32) (*testIfp, []*If) {
	t.Helper()
	if len(dlts) == 0 {
		dlts = []uint32{DLT_EN10MB}
	}
	ifp := &testIfp{name: name, mtu: 1500, addr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}}
	ifp.up.Store(true)
	var bs []*If
	for _, dlt := range dlts {
		hl := 14
		switch dlt {
		case DLT_NULL, DLT_PPP:
			hl = 4
		case DLT_RAW:
			hl = 0
		case DLT_IEEE802_11_RADIO, DLT_IEEE802_11:
			hl = 24
		}
		b, err := s.Attach(ifp, dlt, hl)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	ifp.b.Store(bs[0])
	return ifp, bs
}

// ethFrame returns an n-byte IPv4/UDP-looking Ethernet frame (n >= 14)
// carrying seq at offset 42 when there is room.
func ethFrame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	if n >= 34 {
		f[14] = 0x45
		f[23] = 17 // UDP
	}
	if n >= 46 {
		binary.BigEndian.PutUint32(f[42:], seq)
	}
	for i := 46; i < n; i++ {
		f[i] = byte(i)
	}
	return f
}

// records parses every record of a buffer, failing the test on a bad one.
func records(t testing.TB, buf []byte) []Record {
	t.Helper()
	var out []Record
	for off := 0; off < len(buf); {
		r, next, err := ParseRecord(buf[off:])
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		if off%BPF_ALIGNMENT != 0 {
			t.Fatalf("record at %d not aligned to %d", off, BPF_ALIGNMENT)
		}
		out = append(out, r)
		off += next
	}
	return out
}

// attached opens a read-write descriptor attached to name.
func attached(t testing.TB, s *Stack, name string) *Desc {
	t.Helper()
	d := s.Open(OpenReadWrite)
	if err := d.SetInterface(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustStats(t testing.TB, d *Desc) Stats {
	t.Helper()
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	checkIdentities(t, st)
	return st
}

// checkIdentities asserts the two counter identities of acceptance point 2.
func checkIdentities(t testing.TB, st Stats) {
	t.Helper()
	if st.Received != st.Matched+st.Filtered {
		t.Errorf("received %d != matched %d + filtered %d", st.Received, st.Matched, st.Filtered)
	}
	if st.Matched != st.Captured+st.Dropped {
		t.Errorf("matched %d != captured %d + dropped %d", st.Matched, st.Captured, st.Dropped)
	}
}

func wantErrno(t testing.TB, err error, want syscall.Errno) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want errno %v", err, want)
	}
}

func runtimeGosched() { runtime.Gosched() }
