package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// zdesc opens a zero-copy descriptor with two buffers of size bytes each,
// attached to name.
func zdesc(t testing.TB, s *Stack, name string, size int) (d *Desc, a, b []byte) {
	t.Helper()
	d = s.Open(OpenReadWrite)
	t.Cleanup(func() { d.Close() })
	if err := d.SetBufMode(BPF_BUFMODE_ZBUF); err != nil {
		t.Fatal(err)
	}
	a, b = AllocZBuf(size), AllocZBuf(size)
	if err := d.SetZBuf(a, b); err != nil {
		t.Fatal(err)
	}
	if err := d.SetInterface(name); err != nil {
		t.Fatal(err)
	}
	return d, a, b
}

func TestBufModeErrors(t *testing.T) {
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	wantErrno(t, d.SetBufMode(3), syscall.EINVAL)
	_, err := d.ZMax()
	wantErrno(t, err, syscall.EOPNOTSUPP)
	wantErrno(t, d.SetZBuf(AllocZBuf(PageSize), AllocZBuf(PageSize)), syscall.EOPNOTSUPP)
	_, _, err = d.RotZBuf()
	wantErrno(t, err, syscall.EOPNOTSUPP)
	d.SetBufferLen(1024) // buffers now exist
	wantErrno(t, d.SetBufMode(BPF_BUFMODE_ZBUF), syscall.EBUSY)
	d2 := attached(t, s, "eth0")
	wantErrno(t, d2.SetBufMode(BPF_BUFMODE_ZBUF), syscall.EBUSY)

	// net.bpf.zerocopy_enable off: ZBUF is EINVAL, as on stock FreeBSD.
	s2, _ := fixture(t, func(set *Settings) { set.ZeroCopyEnable = false })
	d3 := s2.Open(OpenReadWrite)
	defer d3.Close()
	wantErrno(t, d3.SetBufMode(BPF_BUFMODE_ZBUF), syscall.EINVAL)
	if DefaultSettings().ZeroCopyEnable != true {
		t.Error("zero-copy should be enabled by default in a unikernel")
	}
}

func TestSetZBufValidation(t *testing.T) {
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	if err := d.SetBufMode(BPF_BUFMODE_ZBUF); err != nil {
		t.Fatal(err)
	}
	if m, err := d.ZMax(); err != nil || m != 512*PageSize {
		t.Errorf("BIOCGETZMAX = %d, %v", m, err)
	}
	wantErrno(t, d.SetInterface("eth0"), syscall.EINVAL) // SETIF before SETZBUF
	_, err := d.Read(make([]byte, BPF_DEFAULTBUFSIZE))
	wantErrno(t, err, syscall.EOPNOTSUPP)
	_, err = d.SetBufferLen(8192)
	wantErrno(t, err, syscall.EOPNOTSUPP)

	big := AllocZBuf(2 * PageSize)
	over := AllocZBuf((BPF_MAX_PAGES + 1) * PageSize)
	for name, c := range map[string][2][]byte{
		"nil":              {nil, AllocZBuf(PageSize)},
		"empty":            {AllocZBuf(PageSize)[:0], AllocZBuf(PageSize)},
		"not page sized":   {AllocZBuf(PageSize)[:PageSize-8], AllocZBuf(PageSize)[:PageSize-8]},
		"unequal":          {AllocZBuf(PageSize), AllocZBuf(2 * PageSize)},
		"over BIOCGETZMAX": {over, AllocZBuf(len(over))},
		"misaligned":       {AllocZBuf(2 * PageSize)[8 : 8+PageSize], AllocZBuf(PageSize)},
		"overlapping":      {big[:PageSize], big[:PageSize]},
	} {
		err := d.SetZBuf(c[0], c[1])
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: %v, want EINVAL", name, err)
		}
	}
	a, b := AllocZBuf(2*PageSize), AllocZBuf(2*PageSize)
	a[0], b[9] = 0xff, 0xff // the kernel zeroes the headers itself
	if err := d.SetZBuf(a, b); err != nil {
		t.Fatal(err)
	}
	if a[0] != 0 || b[9] != 0 || ZBufOwned(a) || ZBufOwned(b) {
		t.Error("headers not zeroed: both buffers must start kernel-owned")
	}
	wantErrno(t, d.SetZBuf(AllocZBuf(PageSize), AllocZBuf(PageSize)), syscall.EINVAL) // once only
	if n, _ := d.BufferLen(); n != 2*PageSize-SIZEOF_BPF_ZBUF_HEADER {
		t.Errorf("capture size %d, want length - 32", n)
	}
	if err := d.SetInterface("eth0"); err != nil {
		t.Fatal(err)
	}
	d4 := s.Open(OpenReadWrite)
	defer d4.Close()
	d4.SetBufMode(BPF_BUFMODE_ZBUF)
	d4.SetZBuf(AllocZBuf(PageSize), AllocZBuf(PageSize))
	d4.SetInterface("eth0")
	wantErrno(t, d4.SetZBuf(AllocZBuf(PageSize), AllocZBuf(PageSize)), syscall.EINVAL)
}

// TestZeroCopyProtocol walks the checklist of facts §2: gens start equal,
// a full buffer is handed over with its length, an ack makes it reusable,
// a consumer that never acks gets both buffers and then drops are counted
// with no byte of either buffer written, ROTZBUF on an empty store is a
// no-op, ROTZBUF with one record hands over buffer A.
func TestZeroCopyProtocol(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d, a, b := zdesc(t, s, "eth0", PageSize)
	tap := func(seq uint32) { bs[0].Mtap(ethFrame(100, seq), false) }

	// (e) ROTZBUF with nothing stored changes nothing.
	if buf, n, err := d.RotZBuf(); buf != nil || n != 0 || err != nil {
		t.Fatalf("ROTZBUF on empty store: %v %d %v", buf != nil, n, err)
	}
	if ZBufOwned(a) || ZBufOwned(b) {
		t.Fatal("ROTZBUF on empty store handed a buffer over")
	}
	per := WordAlign(26 + 100)
	perBuf := (PageSize - SIZEOF_BPF_ZBUF_HEADER) / per
	seq := uint32(0)
	for i := 0; i < perBuf; i++ {
		tap(seq)
		seq++
	}
	if ZBufOwned(a) {
		t.Fatal("buffer handed over before it was full")
	}
	tap(seq) // does not fit: A to the consumer, B becomes the store
	seq++
	// (b) gen+1, len set.
	if kg, kl, ug := ZBufGens(a); kg != 1 || ug != 0 || int(kl) != perBuf*per-(per-26-100) {
		t.Fatalf("A after hand-over: kernel_gen %d kernel_len %d user_gen %d", kg, kl, ug)
	}
	recs := records(t, ZBufRecords(a))
	if len(recs) != perBuf || binary.BigEndian.Uint32(recs[0].Data[42:]) != 0 {
		t.Fatalf("A holds %d records", len(recs))
	}
	// (d) never ack: fill B; it is handed over too, then drops.
	for i := 0; i < perBuf-1; i++ {
		tap(seq)
		seq++
	}
	snapA, snapB := bytes.Clone(a), bytes.Clone(b)
	for i := 0; i < 5; i++ {
		tap(seq)
		seq++
	}
	if !ZBufOwned(a) || !ZBufOwned(b) {
		t.Fatal("both buffers should be consumer-owned")
	}
	snapB = bytes.Clone(b) // B was assigned by the first of those taps
	for i := 0; i < 5; i++ {
		tap(seq)
		seq++
	}
	if !bytes.Equal(a, snapA) || !bytes.Equal(b, snapB) {
		t.Fatal("the kernel wrote a consumer-owned buffer")
	}
	st := mustStats(t, d)
	if st.Captured != uint64(2*perBuf) || st.Dropped != 10 {
		t.Fatalf("stats %+v", st)
	}
	// BIOCFLUSH must not take back unacknowledged buffers.
	d.Flush()
	if !ZBufOwned(a) || !ZBufOwned(b) || !bytes.Equal(a, snapA) {
		t.Fatal("flush touched consumer-owned buffers")
	}
	// (c) ack A: the next packet reclaims it, rotates B (already handed
	// over, no second increment) to hold and writes into A.
	ZBufAck(a)
	tap(seq)
	if kg, _, _ := ZBufGens(b); kg != 1 {
		t.Errorf("B kernel_gen %d, want 1 (assigned once per fill)", kg)
	}
	if ZBufOwned(a) {
		t.Fatal("acknowledged A still consumer-owned")
	}
	ZBufAck(b)
	// (e') ROTZBUF with one record in A: A is handed over and returned.
	buf, n, err := d.RotZBuf()
	if err != nil || &buf[0] != &a[0] || n != 26+100 {
		t.Fatalf("ROTZBUF: %v, %d, %v", buf != nil, n, err)
	}
	if kg, kl, _ := ZBufGens(a); kg != 2 || int(kl) != n {
		t.Errorf("A gen %d len %d after ROTZBUF", kg, kl)
	}
	if r := records(t, ZBufRecords(a)); len(r) != 1 || binary.BigEndian.Uint32(r[0].Data[42:]) != seq {
		t.Errorf("ROTZBUF record %+v", r)
	}
}

// TestZeroCopyStress is acceptance point 3: a producer taps sequence-
// numbered frames while a consumer goroutine takes buffers with acquire
// loads only, checks every record, and verifies that the buffer it owns is
// not modified until it acknowledges it. Under -race any kernel write into
// a consumer-owned buffer is also a reported data race.
func TestZeroCopyStress(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d, a, b := zdesc(t, s, "eth0", 2*PageSize)
	d.SetTimestamp(BPF_T_NONE)
	const frames = 200000
	var done atomic.Bool
	var wg sync.WaitGroup
	var got, violations int
	var lastSeq int64 = -1
	var seqErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		bufs := [2][]byte{a, b}
		next := 0 // buffers are handed over alternately, A first
		snap := make([]byte, len(a))
		consume := func(buf []byte) {
			recs := ZBufRecords(buf)
			copy(snap, buf)
			for off := 0; off < len(recs); {
				r, adv, err := ParseRecord(recs[off:])
				if err != nil {
					seqErr = err
					return
				}
				seq := int64(binary.BigEndian.Uint32(r.Data[42:]))
				if seq <= lastSeq && seqErr == nil {
					seqErr = errors.New("duplicate or reordered record")
				}
				lastSeq = seq
				got++
				off += adv
			}
			if !bytes.Equal(snap, buf) {
				violations++
			}
			ZBufAck(buf)
		}
		for {
			buf := bufs[next]
			if ZBufOwned(buf) {
				consume(buf)
				next ^= 1
				continue
			}
			if done.Load() {
				// Drain: hand over the partial store buffer.
				if ZBufOwned(bufs[next]) {
					continue
				}
				if p, _, _ := d.RotZBuf(); p == nil && !ZBufOwned(bufs[next]) {
					return
				}
				continue
			}
			runtimeGosched()
		}
	}()
	for i := 0; i < frames; i++ {
		bs[0].Mtap(ethFrame(64, uint32(i)), false)
	}
	done.Store(true)
	wg.Wait()
	if seqErr != nil {
		t.Fatal(seqErr)
	}
	if violations != 0 {
		t.Fatalf("%d buffers changed while consumer-owned", violations)
	}
	st := mustStats(t, d)
	if st.Received != frames || uint64(got) != st.Captured || st.Captured+st.Dropped != frames {
		t.Fatalf("consumer got %d; stats %+v", got, st)
	}
	t.Logf("%d frames: %d delivered, %d dropped (consumer slower than producer)", frames, got, st.Dropped)
}
