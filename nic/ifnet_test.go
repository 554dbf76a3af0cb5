package nic

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
)

// loopDriver is a real minimal driver for these tests: it records what it
// transmits and the promiscuous transitions it is told about.
type loopDriver struct {
	mu      sync.Mutex
	sent    [][]byte
	promisc []bool
	fail    error
}

func (l *loopDriver) Transmit(frame []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.sent = append(l.sent, append([]byte(nil), frame...))
	return nil
}

func (l *loopDriver) SetPromisc(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.promisc = append(l.promisc, on)
	return nil
}

func newTestIfnet(t *testing.T, name string) (*Ifnet, *loopDriver) {
	t.Helper()
	drv := &loopDriver{}
	ifp, err := New(Config{Name: name, MTU: 1500, Addr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Driver: drv})
	if err != nil {
		t.Fatal(err)
	}
	return ifp, drv
}

func TestNewValidation(t *testing.T) {
	drv := &loopDriver{}
	for _, c := range []Config{
		{Name: "", MTU: 1500, Driver: drv},
		{Name: "averyveryverylongname", MTU: 1500, Driver: drv},
		{Name: "eth0", MTU: 0, Driver: drv},
		{Name: "eth0", MTU: 1500},
	} {
		if _, err := New(c); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: %v, want EINVAL", c, err)
		}
	}
	ifp, _ := newTestIfnet(t, "eth0")
	if ifp.IsUp() || ifp.Flags()&FlagPromisc != 0 || ifp.LinkState() != LinkUnknown {
		t.Error("new interface should be down, not promiscuous, link unknown")
	}
	if err := ifp.SetMTU(-1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetMTU(-1): %v", err)
	}
	ifp.SetMTU(9000)
	if ifp.MTU() != 9000 {
		t.Error("SetMTU ignored")
	}
}

func TestPromiscRefcount(t *testing.T) {
	ifp, drv := newTestIfnet(t, "eth0")
	for i := 0; i < 3; i++ {
		if err := ifp.SetPromisc(true); err != nil {
			t.Fatal(err)
		}
	}
	if ifp.PromiscRefs() != 3 || ifp.Flags()&FlagPromisc == 0 {
		t.Errorf("refs %d flags %#x", ifp.PromiscRefs(), ifp.Flags())
	}
	for i := 0; i < 3; i++ {
		ifp.SetPromisc(false)
	}
	if err := ifp.SetPromisc(false); !errors.Is(err, ErrPromiscUnderflow) {
		t.Errorf("underflow: %v", err)
	}
	// The hardware saw exactly one on and one off.
	if len(drv.promisc) != 2 || !drv.promisc[0] || drv.promisc[1] {
		t.Errorf("driver transitions %v, want [true false]", drv.promisc)
	}
	if ifp.Flags()&FlagPromisc != 0 {
		t.Error("IFF_PROMISC still set")
	}
	// A failing driver leaves the count unchanged.
	drv.fail = syscall.EIO
	if err := ifp.SetPromisc(true); !errors.Is(err, syscall.EIO) || ifp.PromiscRefs() != 0 {
		t.Errorf("failed switch: %v, refs %d", err, ifp.PromiscRefs())
	}
}

func TestInputOutputCounters(t *testing.T) {
	ifp, drv := newTestIfnet(t, "eth0")
	var got [][]byte
	ifp.SetInput(func(i *Ifnet, f []byte) { got = append(got, append([]byte(nil), f...)) })
	frame := make([]byte, 60)
	if err := ifp.Output(frame); !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("output while down: %v", err)
	}
	ifp.Input(frame) // dropped: down
	ifp.SetUp(true)
	for i := 0; i < 3; i++ {
		if err := ifp.Output(frame); err != nil {
			t.Fatal(err)
		}
	}
	ifp.Input(frame)
	ifp.Input(frame[:42])
	drv.fail = syscall.ENOBUFS
	if err := ifp.Output(frame); !errors.Is(err, syscall.ENOBUFS) {
		t.Errorf("driver error lost: %v", err)
	}
	want := CounterValues{IPackets: 2, IBytes: 102, IQDrops: 1, OPackets: 3, OBytes: 180, OErrors: 2}
	if st := ifp.Stats(); st != want {
		t.Errorf("counters %+v, want %+v", st, want)
	}
	if len(got) != 2 || len(drv.sent) != 3 {
		t.Errorf("input hook saw %d, driver sent %d", len(got), len(drv.sent))
	}
	ifp.SetInput(nil)
	ifp.Input(frame)
	if len(got) != 2 {
		t.Error("removed input hook still called")
	}
}

func TestList(t *testing.T) {
	var l List
	a, _ := newTestIfnet(t, "eth0")
	b, _ := newTestIfnet(t, "eth1")
	c, _ := newTestIfnet(t, "eth2")
	for _, ifp := range []*Ifnet{a, b} {
		if err := l.Add(ifp); err != nil {
			t.Fatal(err)
		}
	}
	if a.Index() != 1 || b.Index() != 2 {
		t.Errorf("indices %d %d", a.Index(), b.Index())
	}
	dup, _ := newTestIfnet(t, "eth0")
	if err := l.Add(dup); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("duplicate name: %v", err)
	}
	if err := l.Add(a); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("added twice: %v", err)
	}
	if err := l.Remove(a); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(a); !errors.Is(err, syscall.ENXIO) {
		t.Errorf("removed twice: %v", err)
	}
	l.Add(c) // reuses index 1
	if c.Index() != 1 || l.ByIndex(1) != c || l.ByName("eth1") != b || l.ByName("eth0") != nil || l.ByIndex(3) != nil {
		t.Error("lookup after reuse")
	}
	if all := l.All(); len(all) != 2 || all[0] != c || all[1] != b {
		t.Errorf("All = %v", all)
	}
}
