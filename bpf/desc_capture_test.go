package bpf

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestOpenDefaultsAndIndependence(t *testing.T) {
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	a, b := attached(t, s, "eth0"), attached(t, s, "eth0")
	if n, _ := a.BufferLen(); n != BPF_DEFAULTBUFSIZE {
		t.Errorf("BIOCGBLEN = %d, want %d", n, BPF_DEFAULTBUFSIZE)
	}
	if dir, _ := a.Direction(); dir != BPF_D_INOUT {
		t.Errorf("direction %d, want BPF_D_INOUT", dir)
	}
	if ts, _ := a.Timestamp(); ts != BPF_T_MICROTIME {
		t.Errorf("tstamp %#x, want BPF_T_MICROTIME", ts)
	}
	if m, _ := a.BufMode(); m != BPF_BUFMODE_BUFFER {
		t.Errorf("bufmode %d", m)
	}
	if hc, _ := a.HeaderComplete(); hc {
		t.Error("header complete on by default")
	}
	if maj, min := a.Version(); maj != 1 || min != 1 {
		t.Errorf("version %d.%d", maj, min)
	}
	// Independent filters and counters: a rejects everything.
	if err := a.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 0)}); err != nil {
		t.Fatal(err)
	}
	ifp := s.lookupIf("eth0")
	ifp.Mtap(ethFrame(60, 1), false)
	sa, sb := mustStats(t, a), mustStats(t, b)
	if sa.Received != 1 || sa.Matched != 0 || sa.Filtered != 1 {
		t.Errorf("a: %+v", sa)
	}
	if sb.Received != 1 || sb.Captured != 1 {
		t.Errorf("b: %+v", sb)
	}
}

func TestSetInterface(t *testing.T) {
	s, _ := fixture(t, nil)
	e0, _ := newIfp(t, s, "eth0")
	e1, _ := newIfp(t, s, "eth1")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	wantErrno(t, d.SetInterface("nope0"), syscall.ENXIO)
	if _, err := d.Interface(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("BIOCGETIF unattached: %v, want EINVAL", err)
	}
	if err := d.SetInterface("eth0"); err != nil {
		t.Fatal(err)
	}
	if name, err := d.Interface(); err != nil || name != "eth0" {
		t.Errorf("BIOCGETIF = %q, %v", name, err)
	}
	e0.Input(ethFrame(60, 1))
	if st := mustStats(t, d); st.Received != 1 || st.Captured != 1 {
		t.Fatalf("eth0: %+v", st)
	}
	// Re-attach elsewhere: detached from eth0, flushed.
	if err := d.SetInterface("eth1"); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("after SETIF counters not reset: %+v", st)
	}
	if n, _ := d.Pending(); n != 0 {
		t.Errorf("FIONREAD %d after SETIF", n)
	}
	e0.Input(ethFrame(60, 2))
	e1.Input(ethFrame(60, 3))
	e1.Input(ethFrame(60, 4))
	if st := mustStats(t, d); st.Received != 2 || st.Captured != 2 {
		t.Errorf("eth1: %+v", st)
	}
	if s.lookupIf("eth0").Readers() != 0 || s.lookupIf("eth1").Readers() != 1 {
		t.Error("reader lists not updated")
	}
}

func TestSetBufferLenClamps(t *testing.T) {
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	for _, c := range []struct{ in, want int }{{1 << 30, BPF_MAXBUFSIZE}, {1, BPF_MINBUFSIZE}, {-5, BPF_MINBUFSIZE}, {8192, 8192}} {
		got, err := d.SetBufferLen(c.in)
		if err != nil || got != c.want {
			t.Errorf("BIOCSBLEN(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if n, _ := d.BufferLen(); n != c.want {
			t.Errorf("BIOCGBLEN after SBLEN(%d) = %d", c.in, n)
		}
	}
	// A lower net.bpf.maxbufsize clamps lower.
	set := s.Settings()
	set.MaxBufSize = 65536
	if err := s.SetSettings(set); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.SetBufferLen(1 << 20); got != 65536 {
		t.Errorf("clamped to %d, want 65536", got)
	}
	if err := d.SetInterface("eth0"); err != nil {
		t.Fatal(err)
	}
	_, err := d.SetBufferLen(4096)
	wantErrno(t, err, syscall.EINVAL)
}

func TestReadWrongSize(t *testing.T) {
	// bpf.4 documents EIO for a read whose size is not the buffer size;
	// bpf.c returns EINVAL. We follow the code.
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	d.SetImmediate(true)
	s.lookupIf("eth0").Mtap(ethFrame(60, 1), false)
	_, err := d.Read(make([]byte, BPF_DEFAULTBUFSIZE-1))
	wantErrno(t, err, syscall.EINVAL)
	n, err := d.Read(make([]byte, BPF_DEFAULTBUFSIZE))
	if err != nil || n != 26+60 {
		t.Fatalf("read = %d, %v", n, err)
	}
}

func TestSetFilterErrors(t *testing.T) {
	s, _ := fixture(t, nil)
	d := s.Open(OpenReadWrite)
	defer d.Close()
	long := make([]Insn, DefaultMaxInsns+1)
	long[len(long)-1] = Stmt(BPF_RET|BPF_K, 1)
	wantErrno(t, d.SetFilter(long), syscall.EINVAL)
	ok := make([]Insn, DefaultMaxInsns)
	ok[len(ok)-1] = Stmt(BPF_RET|BPF_K, 1)
	if err := d.SetFilter(ok); err != nil {
		t.Fatalf("%d-instruction program: %v", DefaultMaxInsns, err)
	}
	bad := [][]Insn{
		{Stmt(BPF_JMP|BPF_JA, 0xfffffff1), Stmt(BPF_RET|BPF_K, 1)}, // backward ja (ip6 protochain)
		{Stmt(BPF_MISC|BPF_TAX, 0)},                                // no return at the end
		{Stmt(BPF_ALU|BPF_DIV|BPF_K, 0), Stmt(BPF_RET|BPF_A, 0)},   // divide by constant 0
		{Stmt(BPF_ST, 16), Stmt(BPF_RET|BPF_K, 1)},                 // M[16]
	}
	for i, p := range bad {
		for _, set := range []func([]Insn) error{d.SetFilter, d.SetFilterNoReset, d.SetWriteFilter} {
			err := set(p)
			wantErrno(t, err, syscall.EINVAL)
			if !errors.Is(err, ErrInvalidProgram) {
				t.Errorf("program %d: %v does not wrap ErrInvalidProgram", i, err)
			}
		}
	}
	// net.bpf.maxinsns is a setting of the Stack.
	set := s.Settings()
	set.MaxInsns = 4
	s.SetSettings(set)
	wantErrno(t, d.SetFilter(make([]Insn, 5)), syscall.EINVAL)
}

func TestSetFilterFlushesSetFNRDoesNot(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	for i := 0; i < 3; i++ {
		bs[0].Mtap(ethFrame(60, uint32(i)), false)
	}
	accept := []Insn{Stmt(BPF_RET|BPF_K, 0xffff)}
	if err := d.SetFilterNoReset(accept); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, d); st.Received != 3 {
		t.Errorf("BIOCSETFNR reset counters: %+v", st)
	}
	if n, _ := d.Pending(); n == 0 {
		t.Error("BIOCSETFNR flushed the buffer")
	}
	if err := d.SetFilter(accept); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("BIOCSETF kept counters: %+v", st)
	}
	if n, _ := d.Pending(); n != 0 {
		t.Errorf("BIOCSETF left %d bytes", n)
	}
	// Removing the filter (empty program) accepts whole packets.
	if err := d.SetFilter(nil); err != nil {
		t.Fatal(err)
	}
	bs[0].Mtap(ethFrame(1514, 0), false)
	d.SetImmediate(true)
	buf := make([]byte, BPF_DEFAULTBUFSIZE)
	n, err := d.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if r := records(t, buf[:n]); len(r) != 1 || r[0].Caplen != 1514 {
		t.Errorf("no filter: %+v", r)
	}
}

func TestSnapLenFromVerdict(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	d.SetImmediate(true)
	if err := d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 100)}); err != nil {
		t.Fatal(err)
	}
	f := ethFrame(1514, 7)
	bs[0].Mtap(f, false)
	bs[0].Mtap(ethFrame(60, 8), false) // shorter than the snap length
	buf := make([]byte, BPF_DEFAULTBUFSIZE)
	n, err := d.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r := records(t, buf[:n])
	if len(r) != 2 {
		t.Fatalf("%d records", len(r))
	}
	if r[0].Caplen != 100 || r[0].Datalen != 1514 || !bytes.Equal(r[0].Data, f[:100]) {
		t.Errorf("snap 100: caplen %d datalen %d", r[0].Caplen, r[0].Datalen)
	}
	if r[1].Caplen != 60 || r[1].Datalen != 60 {
		t.Errorf("short frame: caplen %d datalen %d", r[1].Caplen, r[1].Datalen)
	}
	// A packet larger than the buffer is truncated to it, never split.
	d2 := s.Open(OpenReadWrite)
	defer d2.Close()
	d2.SetBufferLen(256)
	d2.SetInterface("eth0")
	d2.SetImmediate(true)
	bs[0].Mtap(f, false)
	buf = make([]byte, 256)
	n, err = d2.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r = records(t, buf[:n])
	if len(r) != 1 || int(r[0].Hdrlen)+int(r[0].Caplen) != 256 || r[0].Datalen != 1514 {
		t.Errorf("truncated record: %+v", r)
	}
}

func TestDirection(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, _ := newIfp(t, s, "eth0")
	in, out, both := attached(t, s, "eth0"), attached(t, s, "eth0"), attached(t, s, "eth0")
	if err := in.SetDirection(BPF_D_IN); err != nil {
		t.Fatal(err)
	}
	if err := out.SetSeeSent(true); err != nil { // INOUT, then OUT
		t.Fatal(err)
	}
	out.SetDirection(BPF_D_OUT)
	wantErrno(t, both.SetDirection(3), syscall.EINVAL)
	ifp.Input(ethFrame(60, 1))
	if err := ifp.Transmit(ethFrame(60, 2), true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    *Desc
		want uint64
	}{{in, 1}, {out, 1}, {both, 2}} {
		if st := mustStats(t, c.d); st.Received != c.want || st.Captured != c.want {
			t.Errorf("direction %v: %+v, want %d", c.d.dir, st, c.want)
		}
	}
	// bpf_tap has no direction: everyone sees it.
	s.lookupIf("eth0").Tap(ethFrame(60, 3))
	if st := mustStats(t, out); st.Received != 2 {
		t.Errorf("Tap skipped a BPF_D_OUT listener: %+v", st)
	}
	in.SetSeeSent(false)
	if dir, _ := in.Direction(); dir != BPF_D_IN {
		t.Errorf("SEESENT(0) = %d", dir)
	}
}

func TestDLTListAndSetDLT(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, bs := newIfp(t, s, "wlan0", DLT_EN10MB, DLT_NULL, DLT_IEEE802_11_RADIO)
	d := s.Open(OpenReadWrite)
	defer d.Close()
	_, err := d.DLT()
	wantErrno(t, err, syscall.EINVAL)
	_, err = d.DLTList(nil)
	wantErrno(t, err, syscall.EINVAL)
	wantErrno(t, d.SetDLT(DLT_NULL), syscall.EINVAL)
	d.SetInterface("wlan0")
	if dlt, _ := d.DLT(); dlt != DLT_EN10MB {
		t.Errorf("BIOCGDLT = %d, want the first attached (EN10MB)", dlt)
	}
	if n, err := d.DLTList(nil); n != 3 || err != nil {
		t.Errorf("count = %d, %v", n, err)
	}
	_, err = d.DLTList(make([]uint32, 2))
	wantErrno(t, err, syscall.ENOMEM)
	l := make([]uint32, 4)
	n, _ := d.DLTList(l)
	if n != 3 || l[0] != DLT_EN10MB || l[1] != DLT_NULL || l[2] != DLT_IEEE802_11_RADIO {
		t.Errorf("list %v (%d)", l, n)
	}
	wantErrno(t, d.SetDLT(DLT_RAW), syscall.EINVAL)
	d.Promisc()
	if err := d.SetDLT(DLT_NULL); err != nil {
		t.Fatal(err)
	}
	if refs, toggles := ifp.promiscRefs(); refs != 1 || toggles != 1 {
		t.Errorf("promisc after SDLT: refs %d toggles %d, want 1, 1", refs, toggles)
	}
	d.SetImmediate(true)
	bs[0].Mtap(ethFrame(60, 1), false)                             // EN10MB point: not ours any more
	bs[1].Mtap2([]byte{2, 0, 0, 0}, []byte{0x45, 0, 0, 20}, false) // DLT_NULL: AF_INET + 4 bytes
	buf := make([]byte, BPF_DEFAULTBUFSIZE)
	n, err = d.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r := records(t, buf[:n])
	if len(r) != 1 {
		t.Fatalf("%d records", len(r))
	}
	// bh_hdrlen = BPF_WORDALIGN(4 + 26) - 4 = 28: the IP header after
	// the 4-byte DLT_NULL header lands on an 8-byte boundary.
	if r[0].Hdrlen != 28 || r[0].Caplen != 8 || r[0].Datalen != 8 || (int(r[0].Hdrlen)+4)%BPF_ALIGNMENT != 0 {
		t.Errorf("DLT_NULL record %+v", r[0])
	}
	if !bytes.Equal(r[0].Data, []byte{2, 0, 0, 0, 0x45, 0, 0, 20}) {
		t.Errorf("Mtap2 data % x", r[0].Data)
	}
}

func TestPromiscRefcount(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, _ := newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	wantErrno(t, d.Promisc(), syscall.EINVAL)
	d.SetInterface("eth0")
	d.Promisc()
	d.Promisc() // once per descriptor
	d2 := attached(t, s, "eth0")
	d2.Promisc()
	if refs, toggles := ifp.promiscRefs(); refs != 2 || toggles != 1 {
		t.Errorf("refs %d toggles %d, want 2, 1", refs, toggles)
	}
	d.Close()
	if refs, _ := ifp.promiscRefs(); refs != 1 {
		t.Errorf("after close refs %d", refs)
	}
	// Re-attaching elsewhere drops it too.
	newIfp(t, s, "eth1")
	d2.SetInterface("eth1")
	if refs, toggles := ifp.promiscRefs(); refs != 0 || toggles != 2 {
		t.Errorf("after SETIF elsewhere refs %d toggles %d", refs, toggles)
	}
}

func TestLockWhitelist(t *testing.T) {
	s, _ := fixture(t, nil)
	newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	if err := d.Lock(); err != nil {
		t.Fatal(err)
	}
	ret := []Insn{Stmt(BPF_RET|BPF_K, 1)}
	denied := map[string]error{
		"BIOCSETF":       d.SetFilter(ret),
		"BIOCSETFNR":     d.SetFilterNoReset(ret),
		"BIOCSETWF":      d.SetWriteFilter(ret),
		"BIOCSETIF":      d.SetInterface("eth0"),
		"BIOCSDLT":       d.SetDLT(DLT_EN10MB),
		"BIOCPROMISC":    d.Promisc(),
		"BIOCSDIRECTION": d.SetDirection(BPF_D_IN),
		"BIOCSHDRCMPLT":  d.SetHeaderComplete(true),
		"BIOCSETBUFMODE": d.SetBufMode(BPF_BUFMODE_BUFFER),
		"BIOCSETZBUF":    d.SetZBuf(nil, nil),
		"FIONBIO":        d.SetNonblock(true),
	}
	_, denied["BIOCSBLEN"] = d.SetBufferLen(64)
	// Getters missing from bpfioctl's whitelist fail too (bpf.c quirk).
	_, denied["BIOCGTSTAMP"] = d.Timestamp()
	_, denied["BIOCGDIRECTION"] = d.Direction()
	_, denied["BIOCGETBUFMODE"] = d.BufMode()
	_, denied["BIOCGETZMAX"] = d.ZMax()
	for op, err := range denied {
		if !errors.Is(err, syscall.EPERM) {
			t.Errorf("%s after BIOCLOCK: %v, want EPERM", op, err)
		}
	}
	// The whitelist, including the two setters bpf.c lets through.
	allowed := map[string]error{
		"BIOCFLUSH":     d.Flush(),
		"BIOCSTSTAMP":   d.SetTimestamp(BPF_T_NANOTIME),
		"BIOCFEEDBACK":  d.SetFeedback(true),
		"BIOCIMMEDIATE": d.SetImmediate(true),
		"BIOCSRTIMEOUT": d.SetReadTimeout(Timeval{Sec: 1}),
		"BIOCLOCK":      d.Lock(),
	}
	_, allowed["BIOCGBLEN"] = d.BufferLen()
	_, allowed["BIOCGDLT"] = d.DLT()
	_, allowed["BIOCGDLTLIST"] = d.DLTList(nil)
	_, allowed["BIOCGETIF"] = d.Interface()
	_, allowed["BIOCGRTIMEOUT"] = d.ReadTimeout()
	_, allowed["BIOCGSTATS"] = d.Stats()
	_, allowed["BIOCGHDRCMPLT"] = d.HeaderComplete()
	_, allowed["FIONREAD"] = d.Pending()
	for op, err := range allowed {
		if err != nil {
			t.Errorf("%s after BIOCLOCK: %v", op, err)
		}
	}
}

func TestReadTimeoutRoundTrip(t *testing.T) {
	s, _ := fixture(t, nil) // hz = 1000
	d := s.Open(OpenReadWrite)
	defer d.Close()
	for _, c := range []struct{ in, want Timeval }{
		{Timeval{1, 234500}, Timeval{1, 235000}}, // rounded up to a whole tick
		{Timeval{0, 1}, Timeval{0, 1000}},        // below one tick: one tick
		{Timeval{0, 0}, Timeval{0, 0}},           // no timeout
		{Timeval{3, 0}, Timeval{3, 0}},
	} {
		if err := d.SetReadTimeout(c.in); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.ReadTimeout(); got != c.want {
			t.Errorf("SRTIMEOUT %+v: GRTIMEOUT %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []Timeval{{-1, 0}, {0, -1}, {0, 1000000}} {
		wantErrno(t, d.SetReadTimeout(bad), syscall.EINVAL)
	}
}

func waitSleeping(t *testing.T, d *Desc) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.mu.Lock()
		n := d.sleepers
		d.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("reader never went to sleep")
		}
		time.Sleep(time.Millisecond)
	}
}

type readResult struct {
	n   int
	err error
	buf []byte
}

func goRead(d *Desc, size int) chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		buf := make([]byte, size)
		n, err := d.Read(buf)
		ch <- readResult{n, err, buf[:max(n, 0)]}
	}()
	return ch
}

func TestReadModes(t *testing.T) {
	s, clk := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	size := BPF_DEFAULTBUFSIZE

	t.Run("immediate", func(t *testing.T) {
		d := attached(t, s, "eth0")
		d.SetImmediate(true)
		ch := goRead(d, size)
		waitSleeping(t, d)
		bs[0].Mtap(ethFrame(60, 1), false)
		r := <-ch
		if r.err != nil || len(records(t, r.buf)) != 1 {
			t.Fatalf("immediate read: %d, %v", r.n, r.err)
		}
	})
	t.Run("nonblocking", func(t *testing.T) {
		d := attached(t, s, "eth0")
		d.SetNonblock(true)
		_, err := d.Read(make([]byte, size))
		wantErrno(t, err, syscall.EWOULDBLOCK)
		bs[0].Mtap(ethFrame(60, 1), false)
		n, err := d.Read(make([]byte, size))
		if err != nil || n == 0 {
			t.Fatalf("non-blocking partial read: %d, %v", n, err)
		}
	})
	t.Run("timeout-empty", func(t *testing.T) {
		d := attached(t, s, "eth0")
		d.SetReadTimeout(Timeval{0, 500000})
		ch := goRead(d, size)
		waitSleeping(t, d)
		clk.Advance(499 * time.Millisecond)
		select {
		case r := <-ch:
			t.Fatalf("returned before the timeout: %+v", r)
		case <-time.After(20 * time.Millisecond):
		}
		clk.Advance(time.Millisecond)
		if r := <-ch; r.n != 0 || r.err != nil {
			t.Fatalf("timeout with nothing: %d, %v; want 0, nil", r.n, r.err)
		}
	})
	t.Run("timeout-one-record", func(t *testing.T) {
		d := attached(t, s, "eth0")
		d.SetReadTimeout(Timeval{1, 0})
		ch := goRead(d, size)
		waitSleeping(t, d)
		bs[0].Mtap(ethFrame(60, 1), false)
		clk.Advance(time.Second)
		r := <-ch
		if r.err != nil || len(records(t, r.buf)) != 1 {
			t.Fatalf("timeout with a record: %d, %v", r.n, r.err)
		}
	})
	t.Run("blocking-until-full", func(t *testing.T) {
		d := s.Open(OpenReadWrite)
		defer d.Close()
		d.SetBufferLen(256)
		d.SetInterface("eth0")
		ch := goRead(d, 256)
		waitSleeping(t, d)
		per := WordAlign(26 + 60)
		for i := 0; i < 256/per; i++ {
			bs[0].Mtap(ethFrame(60, uint32(i)), false)
		}
		select {
		case r := <-ch:
			t.Fatalf("read returned before the buffer filled: %+v", r)
		case <-time.After(20 * time.Millisecond):
		}
		bs[0].Mtap(ethFrame(60, 99), false) // does not fit: rotate, wake
		r := <-ch
		if r.err != nil || len(records(t, r.buf)) != 256/per {
			t.Fatalf("blocking read: %d, %v", r.n, r.err)
		}
	})
	t.Run("unattached", func(t *testing.T) {
		d := s.Open(OpenReadWrite)
		defer d.Close()
		_, err := d.Read(make([]byte, size))
		wantErrno(t, err, syscall.ENXIO)
	})
	t.Run("closed-while-blocked", func(t *testing.T) {
		d := s.Open(OpenReadWrite)
		d.SetInterface("eth0")
		ch := goRead(d, size)
		waitSleeping(t, d)
		d.Close()
		r := <-ch
		wantErrno(t, r.err, syscall.EBADF)
	})
}

func TestDoubleBufferDrops(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	d.SetBufferLen(256)
	d.SetInterface("eth0")
	per := WordAlign(26 + 60) // 88: two records fill 176, a third would end at 264 > 256
	perBuf := 256 / per
	for i := 0; i < 2*perBuf+3; i++ {
		bs[0].Mtap(ethFrame(60, uint32(i)), false)
	}
	st := mustStats(t, d)
	if st.Captured != uint64(2*perBuf) || st.Dropped != 3 || st.Received != uint64(2*perBuf+3) {
		t.Fatalf("stats %+v", st)
	}
	if n, _ := d.Pending(); n != 2*(perBuf*per-(per-26-60)) {
		t.Errorf("FIONREAD = %d", n)
	}
	buf := make([]byte, 256)
	n, err := d.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r := records(t, buf[:n])
	for i, rec := range r {
		if seq := uint32(rec.Data[42])<<24 | uint32(rec.Data[43])<<16 | uint32(rec.Data[44])<<8 | uint32(rec.Data[45]); seq != uint32(i) {
			t.Errorf("record %d carries seq %d", i, seq)
		}
	}
	if len(r) != perBuf {
		t.Errorf("first read: %d records, want %d", len(r), perBuf)
	}
	// The freed buffer takes new packets again.
	bs[0].Mtap(ethFrame(60, 100), false)
	if st := mustStats(t, d); st.Captured != uint64(2*perBuf+1) {
		t.Errorf("after read: %+v", st)
	}
}

func TestRecordLayoutEthernet(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	d.SetImmediate(true)
	lens := []int{60, 61, 63, 99, 14, 1514}
	for i, n := range lens {
		bs[0].Mtap(ethFrame(n, uint32(i)), false)
	}
	buf := make([]byte, BPF_DEFAULTBUFSIZE)
	n, err := d.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i, want := range lens {
		r, next, err := ParseRecord(buf[off:n])
		if err != nil {
			t.Fatal(err)
		}
		// bh_hdrlen = BPF_WORDALIGN(14 + 26) - 14 = 26; the IP header
		// (after the 14-byte Ethernet header) starts at record + 40.
		if r.Hdrlen != 26 || int(r.Caplen) != want || (off+26+14)%BPF_ALIGNMENT != 0 {
			t.Errorf("record %d at %d: %+v", i, off, r)
		}
		if want >= 34 && buf[off+40] != 0x45 {
			t.Errorf("record %d: IP header not at record+40", i)
		}
		off += next
	}
	if off < n {
		t.Errorf("%d bytes after the last record", n-off)
	}
}

func TestTimestampFormats(t *testing.T) {
	s, clk := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	clk.Set(90*time.Second + 123456789)
	boot := clk.BootTime()
	cases := []struct {
		ts   uint32
		sec  int64
		frac uint64
	}{
		{BPF_T_MICROTIME, boot/1e9 + 90, 123456},
		{BPF_T_NANOTIME, boot/1e9 + 90, 123456789},
		{BPF_T_NANOTIME | BPF_T_MONOTONIC, 90, 123456789},
		{BPF_T_MICROTIME | BPF_T_MONOTONIC, 90, 123456},
		{BPF_T_BINTIME | BPF_T_MONOTONIC, 90, 0x1f9add3739635f31}, // floor(0.123456789 * 2^64)
		{BPF_T_NONE, 0, 0},
	}
	var ds []*Desc
	for _, c := range cases {
		d := attached(t, s, "eth0")
		d.SetImmediate(true)
		if err := d.SetTimestamp(c.ts); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	before := clk.Reads()
	bs[0].Mtap(ethFrame(60, 1), false)
	if got := clk.Reads() - before; got != 1 {
		t.Errorf("%d clock reads for one packet and %d listeners, want 1", got, len(ds))
	}
	for i, d := range ds {
		buf := make([]byte, BPF_DEFAULTBUFSIZE)
		n, err := d.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		r := records(t, buf[:n])[0]
		if r.Sec != cases[i].sec || r.Frac != cases[i].frac {
			t.Errorf("tstamp %#x: (%d, %d), want (%d, %d)", cases[i].ts, r.Sec, r.Frac, cases[i].sec, cases[i].frac)
		}
	}
	// Only BPF_T_NONE listeners: no clock read at all.
	for _, d := range ds[:5] {
		d.Close()
	}
	before = clk.Reads()
	bs[0].Mtap(ethFrame(60, 2), false)
	if clk.Reads() != before {
		t.Error("clock read for a BPF_T_NONE listener")
	}
}

func TestTimestampValidation(t *testing.T) {
	s, _ := fixture(t, nil)
	d := s.Open(OpenReadWrite)
	defer d.Close()
	for _, ok := range []uint32{BPF_T_MICROTIME, BPF_T_NANOTIME | BPF_T_FAST, BPF_T_BINTIME | BPF_T_MONOTONIC_FAST, BPF_T_NONE} {
		if err := d.SetTimestamp(ok); err != nil {
			t.Errorf("%#x: %v", ok, err)
		}
		if got, _ := d.Timestamp(); got != ok {
			t.Errorf("BIOCGTSTAMP = %#x, want %#x", got, ok)
		}
	}
	// BPF_T_NONE alone is valid, BPF_T_NONE|BPF_T_FAST is not (bpf.h).
	for _, bad := range []uint32{BPF_T_NONE | BPF_T_FAST, 0x4, 0x1000, BPF_T_MICROTIME | 0x400} {
		wantErrno(t, d.SetTimestamp(bad), syscall.EINVAL)
	}
}

func TestTSConfig(t *testing.T) {
	s, clk := fixture(t, nil)
	_, b0 := newIfp(t, s, "eth0")
	_, b1 := newIfp(t, s, "eth1")
	d0, d1 := attached(t, s, "eth0"), attached(t, s, "eth1")
	for _, d := range []*Desc{d0, d1} {
		d.SetImmediate(true)
		d.SetTimestamp(BPF_T_NANOTIME | BPF_T_MONOTONIC)
	}
	clk.Set(5*time.Second + 7654321)
	stampOf := func(d *Desc) (int64, uint64) {
		t.Helper()
		buf := make([]byte, BPF_DEFAULTBUFSIZE)
		n, err := d.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		r := records(t, buf[:n])
		return r[len(r)-1].Sec, r[len(r)-1].Frac
	}
	// tscfg.eth0 = none: zero stamps on eth0 only, and no clock read.
	if err := s.SetTSConfig("eth0", TSNone); err != nil {
		t.Fatal(err)
	}
	before := clk.Reads()
	b0[0].Mtap(ethFrame(60, 1), false)
	if clk.Reads() != before {
		t.Error("tscfg none read the clock")
	}
	b1[0].Mtap(ethFrame(60, 1), false)
	if sec, frac := stampOf(d0); sec != 0 || frac != 0 {
		t.Errorf("eth0 none: (%d, %d)", sec, frac)
	}
	if sec, frac := stampOf(d1); sec != 5 || frac != 7654321 {
		t.Errorf("eth1 normal: (%d, %d)", sec, frac)
	}
	// tscfg.default = fast: eth1 (left at default) reads tick precision.
	if err := s.SetTSConfigDefault(TSFast); err != nil {
		t.Fatal(err)
	}
	b1[0].Mtap(ethFrame(60, 2), false)
	if sec, frac := stampOf(d1); sec != 5 || frac != 7000000 {
		t.Errorf("eth1 fast: (%d, %d)", sec, frac)
	}
	// external: the driver's stamp verbatim; a normal read without one.
	s.SetTSConfig("eth0", TSExternal)
	b0[0].MtapStamp(ethFrame(60, 3), false, 42*time.Millisecond)
	if sec, frac := stampOf(d0); sec != 0 || frac != 42000000 {
		t.Errorf("external: (%d, %d)", sec, frac)
	}
	b0[0].Mtap(ethFrame(60, 4), false)
	if sec, frac := stampOf(d0); sec != 5 || frac != 7654321 {
		t.Errorf("external without a stamp: (%d, %d)", sec, frac)
	}
	if own, eff, _ := s.TSConfig("eth1"); own != TSDefault || eff != TSFast {
		t.Errorf("eth1 tscfg %v/%v", own, eff)
	}
	wantErrno(t, s.SetTSConfigDefault(TSDefault), syscall.EINVAL)
	wantErrno(t, s.SetTSConfig("eth9", TSNone), syscall.ENXIO)
	wantErrno(t, s.SetTSConfig("eth0", 7), syscall.EINVAL)
	for _, name := range []string{"default", "none", "fast", "normal", "external"} {
		m, err := ParseTSMode(name)
		if err != nil || m.String() != name {
			t.Errorf("ParseTSMode(%q) = %v, %v", name, m, err)
		}
	}
	_, err := ParseTSMode("precise")
	wantErrno(t, err, syscall.EINVAL)
}

func TestOptimizeWriters(t *testing.T) {
	s, _ := fixture(t, func(set *Settings) { set.OptimizeWriters = true })
	_, bs := newIfp(t, s, "eth0")
	var events []bool
	s.Track(func(_ Interface, dlt uint32, attach bool) { events = append(events, attach) })
	d := attached(t, s, "eth0")
	if bs[0].PeersPresent() {
		t.Fatal("writer-only descriptor made peers present")
	}
	bs[0].Mtap(ethFrame(60, 1), false)
	if st := mustStats(t, d); st.Received != 0 {
		t.Fatalf("writer-only descriptor received: %+v", st)
	}
	snap := []Insn{Stmt(BPF_RET|BPF_K, 65535)}
	d.SetFilter(nil) // an empty program never upgrades
	d.SetFilter(snap)
	bs[0].Mtap(ethFrame(60, 2), false)
	if st := mustStats(t, d); st.Received != 0 || len(events) != 0 {
		t.Fatalf("first snaplen BIOCSETF upgraded: %+v, events %v", st, events)
	}
	d.SetFilter(snap)
	bs[0].Mtap(ethFrame(60, 3), false)
	if st := mustStats(t, d); st.Received != 1 || len(events) != 1 || !events[0] {
		t.Fatalf("second snaplen BIOCSETF did not upgrade: %+v, events %v", st, events)
	}
	// BIOCSETFNR upgrades at once, as does any real program.
	d2 := attached(t, s, "eth0")
	d2.SetFilterNoReset(snap)
	d3 := attached(t, s, "eth0")
	d3.SetFilter([]Insn{Stmt(BPF_LD|BPF_H|BPF_ABS, 12), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x800, 0, 1), Stmt(BPF_RET|BPF_K, 65535), Stmt(BPF_RET|BPF_K, 0)})
	if got := bs[0].Readers(); got != 3 {
		t.Errorf("readers %d, want 3", got)
	}
}

func TestTrackEvents(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, _ := newIfp(t, s, "eth0")
	type ev struct {
		name   string
		dlt    uint32
		attach bool
	}
	var evs []ev
	cancel := s.Track(func(i Interface, dlt uint32, attach bool) { evs = append(evs, ev{i.Name(), dlt, attach}) })
	d := s.Open(OpenReadWrite)
	d.SetInterface("eth0")
	d.Close()
	w := s.Open(OpenWrite) // writer-only: no events
	w.SetInterface("eth0")
	w.Close()
	want := []ev{{"eth0", DLT_EN10MB, true}, {"eth0", DLT_EN10MB, false}}
	if len(evs) != 2 || evs[0] != want[0] || evs[1] != want[1] {
		t.Errorf("events %v, want %v", evs, want)
	}
	cancel()
	d = attached(t, s, "eth0")
	if len(evs) != 2 {
		t.Error("event after cancel")
	}
	_ = ifp
}

func TestWrite(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, _ := newIfp(t, s, "eth0")
	w := s.Open(OpenReadWrite)
	defer w.Close()
	_, err := w.Write(ethFrame(60, 0))
	wantErrno(t, err, syscall.ENXIO)
	w.SetInterface("eth0")
	ifp.up.Store(false)
	_, err = w.Write(ethFrame(60, 0))
	wantErrno(t, err, syscall.ENETDOWN)
	ifp.up.Store(true)
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Errorf("empty write: %d, %v", n, err)
	}
	_, err = w.Write(make([]byte, 13))
	wantErrno(t, err, syscall.EMSGSIZE)
	_, err = w.Write(ethFrame(14+1501, 0))
	wantErrno(t, err, syscall.EMSGSIZE)
	if n, err := w.Write(ethFrame(14+1500, 0)); n != 1514 || err != nil {
		t.Errorf("MTU-sized write: %d, %v", n, err)
	}
	// Write filter: only IPv6 passes.
	w.SetWriteFilter([]Insn{Stmt(BPF_LD|BPF_H|BPF_ABS, 12), Jump(BPF_JMP|BPF_JEQ|BPF_K, 0x86dd, 0, 1), Stmt(BPF_RET|BPF_K, 65535), Stmt(BPF_RET|BPF_K, 0)})
	_, err = w.Write(ethFrame(60, 0))
	wantErrno(t, err, syscall.EPERM)
	w.SetWriteFilter(nil)
	// Header complete off: the source MAC becomes the interface's.
	f := ethFrame(60, 1)
	w.Write(f)
	w.SetHeaderComplete(true)
	w.Write(f)
	ifp.mu.Lock()
	sent := ifp.sent
	ifp.mu.Unlock()
	last2 := sent[len(sent)-2:]
	if !bytes.Equal(last2[0][6:12], ifp.addr) || !bytes.Equal(last2[1][6:12], f[6:12]) {
		t.Errorf("source MACs % x / % x", last2[0][6:12], last2[1][6:12])
	}
	if !bytes.Equal(f[6:12], []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}) {
		t.Error("Write modified the caller's frame")
	}
	st := mustStats(t, w)
	// 8 writes since SETIF (whose flush zeroed the ENXIO one): ENETDOWN,
	// empty, 2x EMSGSIZE and EPERM failed; three passed.
	if st.Written != 8 || st.WriteFailed != 5 || st.WritePassed != 3 {
		t.Errorf("write counters %+v", st)
	}
	// Transmit failure.
	ifp.mu.Lock()
	ifp.failTx = syscall.ENOBUFS
	ifp.mu.Unlock()
	_, err = w.Write(f)
	if !errors.Is(err, syscall.ENOBUFS) {
		t.Errorf("transmit error lost: %v", err)
	}
	ifp.mu.Lock()
	ifp.failTx = nil
	ifp.mu.Unlock()
	// Unsupported link type.
	s2, _ := fixture(t, nil)
	newIfp(t, s2, "wlan0", DLT_IEEE802_11)
	w2 := attached(t, s2, "wlan0")
	_, err = w2.Write(make([]byte, 40))
	wantErrno(t, err, syscall.EIO)
	// Write-only descriptors cannot read, read-only cannot write.
	ro := s.Open(OpenRead)
	ro.SetInterface("eth0")
	_, err = ro.Write(f)
	wantErrno(t, err, syscall.EBADF)
	ro.Close()
}

func TestFeedback(t *testing.T) {
	s, _ := fixture(t, nil)
	ifp, _ := newIfp(t, s, "eth0")
	w := attached(t, s, "eth0")
	listener := attached(t, s, "eth0")
	in := attached(t, s, "eth0")
	in.SetDirection(BPF_D_IN)
	w.SetFeedback(true)
	if _, err := w.Write(ethFrame(60, 1)); err != nil {
		t.Fatal(err)
	}
	ifp.mu.Lock()
	nin, nout := len(ifp.inputs), len(ifp.sent)
	ifp.mu.Unlock()
	if nin != 1 || nout != 1 {
		t.Fatalf("feedback: %d inputs, %d sent", nin, nout)
	}
	// The INOUT writer, an INOUT listener and an IN listener each see
	// the frame exactly once: as received.
	for _, d := range []*Desc{w, listener, in} {
		if st := mustStats(t, d); st.Captured != 1 {
			t.Errorf("captured %d, want 1", st.Captured)
		}
	}
	// Without feedback an IN listener sees nothing of a write.
	w.SetFeedback(false)
	w.Write(ethFrame(60, 2))
	if st := mustStats(t, in); st.Captured != 1 {
		t.Errorf("IN listener saw an outgoing write: %+v", st)
	}
}

func TestFlushAndPending(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	for i := 0; i < 5; i++ {
		bs[0].Mtap(ethFrame(61, uint32(i)), false)
	}
	if n, _ := d.Pending(); n != 4*WordAlign(26+61)+26+61 {
		t.Errorf("FIONREAD = %d", n)
	}
	d.Flush()
	if n, _ := d.Pending(); n != 0 {
		t.Errorf("FIONREAD after flush = %d", n)
	}
	if st := mustStats(t, d); st != (Stats{}) {
		t.Errorf("stats after flush %+v", st)
	}
}

func TestZeroCountersSkipsWriters(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	r := attached(t, s, "eth0")
	w := s.Open(OpenWrite)
	defer w.Close()
	w.SetInterface("eth0")
	bs[0].Mtap(ethFrame(60, 1), false)
	r.Write(ethFrame(60, 1))
	r.Write(nil) // a failed write: wdcount
	w.Write(ethFrame(60, 2))
	s.ZeroCounters()
	st := mustStats(t, r)
	// bpf_zero_counters leaves wdcount alone (we follow the code).
	if st.Received != 0 || st.Captured != 0 || st.Written != 0 || st.WriteFailed != 1 {
		t.Errorf("reader after zero: %+v", st)
	}
	// ...and does not walk the writer-only list.
	if st := mustStats(t, w); st.Written != 1 {
		t.Errorf("writer-only descriptor zeroed: %+v", st)
	}
}

func TestCloseThenUse(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := attached(t, s, "eth0")
	d.Close()
	if bs[0].PeersPresent() {
		t.Error("closed descriptor still listed")
	}
	_, err := d.Read(make([]byte, BPF_DEFAULTBUFSIZE))
	wantErrno(t, err, syscall.EBADF)
	wantErrno(t, d.SetFilter(nil), syscall.EBADF)
}

func TestSettingsValidate(t *testing.T) {
	for _, mod := range []func(*Settings){
		func(s *Settings) { s.MaxInsns = 0 },
		func(s *Settings) { s.MaxBufSize = 16 },
		func(s *Settings) { s.BufSize = s.MaxBufSize + 1 },
		func(s *Settings) { s.TSCfgDefault = TSDefault },
		func(s *Settings) { s.Hz = 0 },
	} {
		set := DefaultSettings()
		mod(&set)
		if _, err := NewStack(set, nil); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: %v", set, err)
		}
	}
}

func TestPoll(t *testing.T) {
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	d := s.Open(OpenReadWrite)
	defer d.Close()
	if !d.Poll() {
		t.Error("unattached descriptor should poll ready (POLLHUP)")
	}
	d.SetBufferLen(256)
	d.SetInterface("eth0")
	if d.Poll() {
		t.Error("empty descriptor ready")
	}
	bs[0].Mtap(ethFrame(60, 1), false)
	if d.Poll() {
		t.Error("ready with a partial store buffer and immediate off")
	}
	d.SetImmediate(true)
	if !d.Poll() {
		t.Error("not ready in immediate mode with a record stored")
	}
	d.SetImmediate(false)
	for i := 0; i < 3; i++ { // fill the store buffer and rotate
		bs[0].Mtap(ethFrame(60, 1), false)
	}
	if !d.Poll() {
		t.Error("not ready with a hold buffer")
	}
	d.Read(make([]byte, 256))
	if d.Poll() {
		t.Error("ready after the hold buffer was read")
	}
	// Zero-copy: ready while a buffer is handed over and unacknowledged.
	z, a, _ := zdesc(t, s, "eth0", PageSize)
	for i := 0; i < 100 && !ZBufOwned(a); i++ {
		bs[0].Mtap(ethFrame(200, 1), false)
	}
	if !ZBufOwned(a) || !z.Poll() {
		t.Fatal("zero-copy descriptor not ready with buffer A handed over")
	}
	ZBufAck(a)
	if z.Poll() {
		t.Error("ready after the consumer acknowledged")
	}
}

func TestSystemClock(t *testing.T) {
	c := NewSystemClock(1000)
	defer c.Stop()
	u0 := c.Uptime()
	f0 := c.UptimeFast()
	time.Sleep(50 * time.Millisecond)
	u1, f1 := c.Uptime(), c.UptimeFast()
	if u1-u0 < 50*time.Millisecond {
		t.Errorf("uptime advanced %v over a 50ms sleep", u1-u0)
	}
	if f1 <= f0 || f1%time.Millisecond != 0 || f1 > u1 {
		t.Errorf("fast reads %v -> %v (uptime %v): want tick multiples that advance", f0, f1, u1)
	}
	// The wall clock and the uptime clock (the TSC where there is one)
	// differ by microseconds; a boot time off by more is wrong.
	if b := c.BootTime(); b+int64(u1) > time.Now().UnixNano()+int64(time.Millisecond) {
		t.Errorf("boot time %v after uptime %v", time.Unix(0, b), u1)
	}
	fired := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	c.Stop()
	c.Stop() // idempotent
}
