package bpf

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMultiDLTDetach is acceptance point 4: an interface attached with
// three DLTs is fully detached by one Detach; readers blocked on each DLT
// wake with ENXIO; no attach point is left; taps through the old attach
// points are no-ops; SETIF to the departed name fails with ENXIO.
func TestMultiDLTDetach(t *testing.T) {
	s, _ := fixture(t, nil)
	other, _ := newIfp(t, s, "eth1")
	ifp, bs := newIfp(t, s, "wlan0", DLT_EN10MB, DLT_IEEE802_11, DLT_IEEE802_11_RADIO)
	var events atomic.Int32
	s.Track(func(_ Interface, _ uint32, attach bool) {
		if !attach {
			events.Add(1)
		}
	})
	if s.AttachPoints() != 4 {
		t.Fatalf("%d attach points", s.AttachPoints())
	}
	var ds []*Desc
	var chans []chan readResult
	for _, dlt := range []uint32{DLT_EN10MB, DLT_IEEE802_11, DLT_IEEE802_11_RADIO} {
		d := attached(t, s, "wlan0")
		if err := d.SetDLT(dlt); err != nil {
			t.Fatal(err)
		}
		d.Promisc()
		ds = append(ds, d)
		chans = append(chans, goRead(d, BPF_DEFAULTBUFSIZE))
		waitSleeping(t, d)
	}
	w := s.Open(OpenWrite) // a writer-only descriptor is detached too
	defer w.Close()
	w.SetInterface("wlan0")
	if refs, _ := ifp.promiscRefs(); refs != 3 {
		t.Fatalf("promisc refs %d", refs)
	}
	events.Store(0) // SetDLT moves counted as detaches from EN10MB
	if n := s.Detach(ifp); n != 3 {
		t.Fatalf("Detach removed %d attach points, want 3", n)
	}
	for i, ch := range chans {
		select {
		case r := <-ch:
			if !errors.Is(r.err, syscall.ENXIO) {
				t.Errorf("reader on DLT %d: %v, want ENXIO", i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reader on DLT %d not woken", i)
		}
	}
	if s.AttachPoints() != 1 || s.lookupIf("wlan0") != nil {
		t.Errorf("attach points leaked: %d left", s.AttachPoints())
	}
	for _, b := range bs {
		if b.PeersPresent() || len(b.dlist) != 0 || len(b.wlist) != 0 {
			t.Error("detached attach point still lists descriptors")
		}
		b.Mtap(ethFrame(60, 1), false) // dead_bpf_if: nothing happens
		b.Mtap2([]byte{1, 2}, ethFrame(60, 1), true)
	}
	if events.Load() != 3 {
		t.Errorf("%d detach events, want 3", events.Load())
	}
	for _, d := range append(ds, w) {
		if _, err := d.Interface(); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("descriptor still attached: %v", err)
		}
		wantErrno(t, d.SetInterface("wlan0"), syscall.ENXIO)
		_, err := d.Write(ethFrame(60, 0))
		wantErrno(t, err, syscall.ENXIO)
	}
	if n := s.Detach(ifp); n != 0 {
		t.Errorf("second Detach removed %d", n)
	}
	// Descriptors can move on to a live interface.
	if err := ds[0].SetInterface("eth1"); err != nil {
		t.Fatal(err)
	}
	other.Input(ethFrame(60, 1))
	if st := mustStats(t, ds[0]); st.Captured != 1 {
		t.Errorf("after re-attach: %+v", st)
	}
}

// TestTapRaceStress is acceptance point 5: taps on several goroutines
// while other goroutines attach, change filters, change direction, read,
// flush, detach and close descriptors. Run with -race. At the end every
// descriptor's counters still add up, and frames never reach a descriptor
// whose filter rejects them.
func TestTapRaceStress(t *testing.T) {
	s, _ := fixture(t, nil)
	ifA, bsA := newIfp(t, s, "eth0", DLT_EN10MB, DLT_NULL)
	_, bsB := newIfp(t, s, "eth1")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var tapped atomic.Int64
	ipv4 := []Insn{Stmt(BPF_LD|BPF_H|BPF_ABS, 12), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x800, 0, 1), Stmt(BPF_RET|BPF_K, 96), Stmt(BPF_RET|BPF_K, 0)}
	none := []Insn{Stmt(BPF_RET|BPF_K, 0)}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			f := ethFrame(60+g, uint32(g))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch i % 4 {
				case 0:
					bsA[0].Mtap(f, i%8 == 0)
				case 1:
					bsA[1].Mtap2([]byte{2, 0, 0, 0}, f[14:], false)
				case 2:
					bsB[0].Tap(f)
				case 3:
					ifA.Transmit(f, true)
				}
				tapped.Add(1)
			}
		}(g)
	}
	worker := func(seed int) {
		defer wg.Done()
		buf := make([]byte, 1024)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := s.Open(OpenReadWrite)
			d.SetBufferLen(1024)
			name := "eth0"
			if (seed+i)%3 == 0 {
				name = "eth1"
			}
			d.SetInterface(name)
			d.SetNonblock(true)
			for j := 0; j < 20; j++ {
				switch j % 7 {
				case 0:
					d.SetFilter(ipv4)
				case 1:
					d.SetFilterNoReset(nil)
				case 2:
					d.Read(buf)
				case 3:
					d.SetDirection(Direction(j % 3))
				case 4:
					d.SetDLT(DLT_NULL)
				case 5:
					d.Flush()
				case 6:
					st, err := d.Stats()
					if err == nil && (st.Received != st.Matched+st.Filtered || st.Matched != st.Captured+st.Dropped) {
						t.Errorf("counters do not add up mid-run: %+v", st)
					}
				}
				runtime.Gosched()
			}
			// A descriptor that rejects everything must capture nothing.
			d.SetFilter(none)
			bsA[0].Mtap(ethFrame(60, 0), false)
			if st, err := d.Stats(); err == nil && st.Captured != 0 {
				t.Errorf("captured under a reject-all filter: %+v", st)
			}
			d.Close()
		}
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go worker(w)
	}
	// Attach/detach churn on a third interface.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ifp := &testIfp{name: "tmp0", mtu: 1500}
			ifp.up.Store(true)
			b, err := s.Attach(ifp, DLT_EN10MB, 14)
			if err != nil {
				t.Error(err)
				return
			}
			ifp.b.Store(b)
			d := s.Open(OpenReadWrite)
			d.SetInterface("tmp0")
			b.Mtap(ethFrame(60, 0), false)
			go b.Mtap(ethFrame(60, 1), true)
			s.Detach(ifp)
			d.Close()
		}
	}()
	// A zero-copy listener whose consumer acknowledges with atomics only,
	// while four goroutines tap concurrently.
	zd := s.Open(OpenReadWrite)
	zd.SetBufMode(BPF_BUFMODE_ZBUF)
	zbufs := [2][]byte{AllocZBuf(PageSize), AllocZBuf(PageSize)}
	if err := zd.SetZBuf(zbufs[0], zbufs[1]); err != nil {
		t.Fatal(err)
	}
	zd.SetInterface("eth0")
	var zrecs atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			buf := zbufs[next]
			if !ZBufOwned(buf) {
				runtime.Gosched()
				continue
			}
			recs := ZBufRecords(buf)
			for off := 0; off < len(recs); {
				r, adv, err := ParseRecord(recs[off:])
				if err != nil || r.Datalen < 46 {
					t.Errorf("corrupt zero-copy record at %d: %v", off, err)
					return
				}
				zrecs.Add(1)
				off += adv
			}
			ZBufAck(buf)
			next ^= 1
		}
	}()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if st := mustStats(t, zd); st.Captured < uint64(zrecs.Load()) || zrecs.Load() == 0 {
		t.Errorf("zero-copy listener: consumed %d, stats %+v", zrecs.Load(), st)
	}
	zd.Close()
	if tapped.Load() == 0 {
		t.Fatal("no taps ran")
	}
	t.Logf("%d taps", tapped.Load())
}
