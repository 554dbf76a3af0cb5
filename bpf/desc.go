package bpf

import (
	"math"
	"sync"
	"syscall"
	"time"
)

// Direction is the BIOCSDIRECTION value: which packets of the interface a
// descriptor sees (sys/net/bpf.h).
type Direction uint32

const (
	BPF_D_IN    Direction = 0 // received only
	BPF_D_INOUT Direction = 1 // both (the default)
	BPF_D_OUT   Direction = 2 // sent only
)

// BufMode is the BIOCSETBUFMODE value.
type BufMode uint32

const (
	BPF_BUFMODE_BUFFER BufMode = 1 // kernel buffers copied out by Read
	BPF_BUFMODE_ZBUF   BufMode = 2 // consumer buffers shared with the kernel
)

// OpenFlags are the FREAD/FWRITE bits of open(2) on /dev/bpf.
type OpenFlags uint8

const (
	OpenRead      OpenFlags = 1
	OpenWrite     OpenFlags = 2
	OpenReadWrite           = OpenRead | OpenWrite
)

// Timeval is struct timeval, the BIOCSRTIMEOUT argument.
type Timeval struct {
	Sec, Usec int64
}

// Stats are a descriptor's counters. BIOCGSTATS reports Received (bs_recv)
// and Dropped (bs_drop); the others are the netstat -B counters FreeBSD
// keeps beside them, plus Filtered and Captured.
//
// Every packet that passes the direction check is either matched or
// filtered, and every matched packet is either captured or dropped, so
// Received = Matched + Filtered and Matched = Captured + Dropped. FreeBSD
// counts bs_recv separately with a per-CPU counter(9); here that would be
// one more atomic per packet and descriptor, so Received is the sum of
// the two counters the tap keeps anyway: Matched under the descriptor lock
// it takes for a match, Filtered with one atomic for a rejection. Received
// is checked independently against interface counters and the corpus
// frame count in the tests.
type Stats struct {
	Received uint64 // passed the direction check (bs_recv)
	Filtered uint64 // rejected by the read filter
	Matched  uint64 // accepted by the read filter (fcount)
	Captured uint64 // stored in a buffer
	Dropped  uint64 // accepted but no buffer space (bs_drop)

	Written     uint64 // write calls (wcount)
	WritePassed uint64 // writes that passed the write filter (wfcount)
	WriteFailed uint64 // writes that failed (wdcount)
}

// buffer is one of the descriptor's two capture buffers.
type buffer struct {
	mem      []byte // record area
	zbuf     []byte // zero-copy: the whole consumer buffer, header first
	assigned bool   // zero-copy: handed to the consumer (ZBUF_FLAG_ASSIGNED)
}

// Desc is a capture descriptor, FreeBSD's struct bpf_d: what an open of
// /dev/bpf returns. Its methods are the ioctls, named after them in their
// docs, plus Read, Write and Close. All methods are safe for concurrent
// use.
type Desc struct {
	s      *Stack
	oflags OpenFlags

	// Attachment; protected by s.mu, and bif also by d.mu (Read and
	// taps check it).
	bif     *If
	promisc bool
	writer  int // bd_writer: writer-only upgrade countdown

	// The read side taps see through the interface's published list;
	// protected by s.mu.
	rprog *Program
	dir   Direction

	mu       sync.Mutex // BPFD_LOCK; everything below
	cnt      *tapCounts // current counting period; also protected by s.mu
	holdCond sync.Cond  // signalled when holdInUse clears
	closed   bool
	locked   bool // BIOCLOCK; written under s.mu and d.mu
	wprog    *Program

	bufmode           BufMode
	bufsize           int
	bufs              [2]buffer
	allocated         bool // buffers exist (BUFFER: allocated; ZBUF: set)
	store, hold, free int8 // index into bufs or -1
	slen, hlen        int
	holdInUse         bool

	immediate, nonblock, hdrcmplt, feedback bool
	tstamp                                  uint32 // also protected by s.mu
	rtout                                   int    // read timeout, ticks
	rtHz                                    int    // ticks per second when rtout was set

	sleepers int
	wake     chan struct{} // closed and replaced to wake sleeping readers

	fcount, dcount, ccount   uint64
	wcount, wfcount, wdcount uint64
}

// Open returns a new descriptor with FreeBSD's defaults: buffer mode
// BUFFER with net.bpf.bufsize, direction INOUT, microsecond stamps,
// header-complete off. flags says whether it may read and write; a
// descriptor that cannot read stays writer-only (see SetFilter).
func (s *Stack) Open(flags OpenFlags) *Desc {
	s.mu.Lock()
	bufsize := s.settings.BufSize
	s.mu.Unlock()
	d := &Desc{
		s:       s,
		oflags:  flags,
		dir:     BPF_D_INOUT,
		bufmode: BPF_BUFMODE_BUFFER,
		bufsize: bufsize,
		store:   -1, hold: -1, free: -1,
		tstamp: BPF_T_MICROTIME,
		wake:   make(chan struct{}),
		cnt:    new(tapCounts),
	}
	if flags&OpenRead == 0 {
		// bpfopen: a descriptor opened without FREAD starts as a writer.
		d.writer = 2
	}
	d.holdCond.L = &d.mu
	return d
}

// checkLocked fails configuration calls after BIOCLOCK (EPERM). Its callers
// are exactly the ioctls missing from bpfioctl's whitelist. Either s.mu or
// d.mu held.
func (d *Desc) checkLocked(op string) error {
	if d.locked {
		return errorf(op, syscall.EPERM, "descriptor is locked (BIOCLOCK)")
	}
	if d.closed {
		return errorf(op, syscall.EBADF, "descriptor is closed")
	}
	return nil
}

func (d *Desc) checkOpen(op string) error {
	if d.closed {
		return errorf(op, syscall.EBADF, "descriptor is closed")
	}
	return nil
}

// Close detaches the descriptor (dropping its promiscuous reference) and
// wakes blocked readers, which fail with EBADF.
func (d *Desc) Close() error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.bif != nil {
		d.detachLocked(false)
	}
	d.mu.Lock()
	d.closed = true
	d.wakeLocked()
	d.mu.Unlock()
	return nil
}

// d.mu held.
func (d *Desc) wakeLocked() {
	if d.sleepers > 0 {
		close(d.wake)
		d.wake = make(chan struct{})
	}
}

// attachLocked puts d on b's reader list, or on its writer-only list when
// net.bpf.optimize_writers is set or d has not earned a reader place yet
// (bpf_attachd). s.mu held.
func (d *Desc) attachLocked(b *If) {
	if d.bif != nil {
		d.detachLocked(false)
	}
	writerOnly := d.s.settings.OptimizeWriters || d.writer > 0
	if writerOnly && d.writer == 0 {
		d.writer = 2
	}
	d.mu.Lock()
	d.bif = b
	d.mu.Unlock()
	if writerOnly {
		b.wlist = append(b.wlist, d)
	} else {
		b.dlist = appendDesc(b.dlist, d)
		b.publish()
	}
	if !writerOnly {
		d.s.notify(b, true)
	}
}

// appendDesc and removeDesc build a new slice rather than edit in place,
// so a slice handed out earlier (Detach's victims) never changes under its
// holder.
func appendDesc(l []*Desc, d *Desc) []*Desc {
	n := make([]*Desc, len(l), len(l)+1)
	copy(n, l)
	return append(n, d)
}

func removeDesc(l []*Desc, d *Desc) ([]*Desc, bool) {
	for i, o := range l {
		if o == d {
			n := make([]*Desc, 0, len(l)-1)
			n = append(n, l[:i]...)
			return append(n, l[i+1:]...), true
		}
	}
	return l, false
}

// detachLocked takes d off its attach point (bpf_detachd). departing is
// true when the interface itself is going away: then, as FreeBSD does, the
// promiscuous reference is not handed back to the departing interface.
// Blocked readers are woken. s.mu held.
func (d *Desc) detachLocked(departing bool) {
	b := d.bif
	var wasReader bool
	b.dlist, wasReader = removeDesc(b.dlist, d)
	if wasReader {
		b.publish()
	} else {
		b.wlist, _ = removeDesc(b.wlist, d)
	}
	// A tap still walking the old list finds bif changed and stores
	// nothing.
	d.mu.Lock()
	d.bif = nil
	d.wakeLocked()
	d.mu.Unlock()
	if wasReader {
		d.s.notify(b, false)
	}
	if d.promisc {
		d.promisc = false
		if !departing {
			// bpf_detachd ignores the error too: the descriptor is
			// leaving whatever the interface says.
			_ = b.ifp.SetPromisc(false)
		}
	}
}

// upgradeLocked moves a writer-only descriptor to the reader list
// (bpf_upgraded). s.mu held.
func (d *Desc) upgradeLocked() {
	b := d.bif
	if b == nil {
		return
	}
	var was bool
	b.wlist, was = removeDesc(b.wlist, d)
	if was {
		b.dlist = appendDesc(b.dlist, d)
		b.publish()
	}
	if was {
		d.s.notify(b, true)
	}
}

// SetFilter is BIOCSETF: install prog as the read filter (an empty prog
// removes it: accept everything) and flush the buffers and counters.
// EINVAL if prog is longer than net.bpf.maxinsns or invalid.
func (d *Desc) SetFilter(prog []Insn) error { return d.setf("BIOCSETF", prog) }

// SetFilterNoReset is BIOCSETFNR: like SetFilter without the flush.
func (d *Desc) SetFilterNoReset(prog []Insn) error { return d.setf("BIOCSETFNR", prog) }

// SetWriteFilter is BIOCSETWF: frames written that this filter rejects
// fail with EPERM. An empty prog removes it.
func (d *Desc) SetWriteFilter(prog []Insn) error { return d.setf("BIOCSETWF", prog) }

func (d *Desc) setf(op string, insns []Insn) error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	max := s.settings.MaxInsns
	if len(insns) > max {
		return errorf(op, syscall.EINVAL, "program of %d instructions exceeds net.bpf.maxinsns (%d)", len(insns), max)
	}
	var prog *Program
	if len(insns) > 0 {
		p, err := Compile(insns, max)
		if err != nil {
			return &Error{Op: op, Errno: syscall.EINVAL, Detail: "filter rejected", Cause: err}
		}
		prog = p
	}
	if op == "BIOCSETWF" {
		d.mu.Lock()
		d.wprog = prog
		d.mu.Unlock()
		return nil
	}
	upgrade := d.checkUpgrade(op, insns)
	d.rprog = prog
	if op == "BIOCSETF" {
		d.mu.Lock()
		d.resetLocked()
		d.mu.Unlock()
	}
	if b := d.bif; b != nil {
		// Taps still running the old filter count their rejections into
		// the old period and, after BIOCSETF, store nothing.
		b.publish()
	}
	if upgrade {
		d.upgradeLocked()
	}
	return nil
}

// checkUpgrade is bpf_check_upgrade: whether this read filter moves a
// writer-only descriptor to the reader list. libpcap's pcap_open_live
// first sets a one-instruction "ret #snaplen" filter; that one only counts
// down, so the descriptor moves on the second such filter. Any other
// program, or any BIOCSETFNR, moves it at once; an empty program never
// does. s.mu held.
func (d *Desc) checkUpgrade(op string, insns []Insn) bool {
	if d.writer == 0 || len(insns) == 0 {
		return false
	}
	snap := op == "BIOCSETF" && len(insns) == 1 && insns[0].Code == BPF_RET|BPF_K
	if !snap {
		d.writer = 0
		return true
	}
	d.writer--
	return d.writer == 0
}

// BufferLen is BIOCGBLEN: the buffer size, which Read requires exactly.
func (d *Desc) BufferLen() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCGBLEN"); err != nil {
		return 0, err
	}
	return d.bufsize, nil
}

// SetBufferLen is BIOCSBLEN: it must precede SetInterface (EINVAL after),
// clamps n to [BPF_MINBUFSIZE, net.bpf.maxbufsize] without failing, and
// returns the size in effect, as FreeBSD writes it back. EOPNOTSUPP in
// zero-copy mode.
func (d *Desc) SetBufferLen(n int) (int, error) {
	const op = "BIOCSBLEN"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return 0, err
	}
	if d.bufmode != BPF_BUFMODE_BUFFER {
		return 0, errorf(op, syscall.EOPNOTSUPP, "not in BPF_BUFMODE_BUFFER")
	}
	if d.bif != nil {
		return 0, errorf(op, syscall.EINVAL, "descriptor already attached; set the size before BIOCSETIF")
	}
	if n > s.settings.MaxBufSize {
		n = s.settings.MaxBufSize
	} else if n < BPF_MINBUFSIZE {
		n = BPF_MINBUFSIZE
	}
	for d.holdInUse {
		d.holdCond.Wait()
	}
	d.bufsize = n
	d.allocBuffersLocked()
	return n, nil
}

// allocBuffersLocked allocates the two BUFFER-mode buffers: store and free.
// d.mu held.
func (d *Desc) allocBuffersLocked() {
	d.bufs[0] = buffer{mem: make([]byte, d.bufsize)}
	d.bufs[1] = buffer{mem: make([]byte, d.bufsize)}
	d.store, d.free, d.hold = 0, 1, -1
	d.slen, d.hlen = 0, 0
	d.allocated = true
}

// SetInterface is BIOCSETIF: attach to the first attach point of the
// interface called name (leaving the current one), allocating the buffers
// if needed, then flush. ENXIO if there is no such interface or it is being
// detached; EINVAL in zero-copy mode without buffers (BIOCSETZBUF first).
func (d *Desc) SetInterface(name string) error {
	const op = "BIOCSETIF"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	b := s.lookupIf(name)
	if b == nil {
		return errorf(op, syscall.ENXIO, "no interface %q attached to bpf", name)
	}
	d.mu.Lock()
	if !d.allocated {
		if d.bufmode == BPF_BUFMODE_ZBUF {
			d.mu.Unlock()
			return errorf(op, syscall.EINVAL, "zero-copy mode needs BIOCSETZBUF before BIOCSETIF")
		}
		d.allocBuffersLocked()
	}
	d.mu.Unlock()
	if b != d.bif {
		d.attachLocked(b)
	}
	d.reset(b)
	return nil
}

// reset flushes d and publishes its new counting period to b's taps (if
// attached). s.mu held.
func (d *Desc) reset(b *If) {
	d.mu.Lock()
	d.resetLocked()
	d.mu.Unlock()
	if b != nil {
		b.publish()
	}
}

// Interface is BIOCGETIF: the attached interface's name. EINVAL if not
// attached.
func (d *Desc) Interface() (string, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkOpen("BIOCGETIF"); err != nil {
		return "", err
	}
	if d.bif == nil {
		return "", errorf("BIOCGETIF", syscall.EINVAL, "not attached")
	}
	return d.bif.ifp.Name(), nil
}

// DLT is BIOCGDLT: the attach point's link type. EINVAL if not attached.
func (d *Desc) DLT() (uint32, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkOpen("BIOCGDLT"); err != nil {
		return 0, err
	}
	if d.bif == nil {
		return 0, errorf("BIOCGDLT", syscall.EINVAL, "not attached")
	}
	return d.bif.dlt, nil
}

// DLTList is BIOCGDLTLIST: the link types of the attached interface, in
// attach order, copied into buf. With a nil buf it only returns the count
// (bfl_list == NULL); ENOMEM if buf is shorter than the count; EINVAL if
// not attached.
func (d *Desc) DLTList(buf []uint32) (int, error) {
	const op = "BIOCGDLTLIST"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkOpen(op); err != nil {
		return 0, err
	}
	if d.bif == nil {
		return 0, errorf(op, syscall.EINVAL, "not attached")
	}
	n := 0
	for _, b := range s.ifs {
		if b.ifp == d.bif.ifp && !b.dying {
			if buf != nil {
				if n >= len(buf) {
					return 0, errorf(op, syscall.ENOMEM, "list of %d entries too short", len(buf))
				}
				buf[n] = b.dlt
			}
			n++
		}
	}
	return n, nil
}

// SetDLT is BIOCSDLT: move to the attach point of the same interface with
// link type dlt and flush; the promiscuous reference moves with the
// descriptor (FreeBSD drops and retakes it; here the count never touches
// zero, so the hardware sees no off/on flap). EINVAL if not attached or the
// interface does not offer dlt.
func (d *Desc) SetDLT(dlt uint32) error {
	const op = "BIOCSDLT"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	if d.bif == nil {
		return errorf(op, syscall.EINVAL, "not attached")
	}
	if d.bif.dlt == dlt {
		return nil
	}
	var nb *If
	for _, b := range s.ifs {
		if b.ifp == d.bif.ifp && b.dlt == dlt && !b.dying {
			nb = b
			break
		}
	}
	if nb == nil {
		return errorf(op, syscall.EINVAL, "%s does not offer DLT %d", d.bif.ifp.Name(), dlt)
	}
	promisc := d.promisc
	d.promisc = false // keep the reference: same interface
	d.attachLocked(nb)
	d.promisc = promisc
	d.reset(nb)
	return nil
}

// SetImmediate is BIOCIMMEDIATE: deliver each packet to Read as soon as it
// is captured rather than when a buffer fills.
func (d *Desc) SetImmediate(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCIMMEDIATE"); err != nil {
		return err
	}
	d.immediate = on
	return nil
}

// SetNonblock is FIONBIO: Read returns EWOULDBLOCK instead of sleeping.
// FIONBIO is not on bpfioctl's BIOCLOCK whitelist, so it fails with EPERM
// on a locked descriptor: we follow the code.
func (d *Desc) SetNonblock(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("FIONBIO"); err != nil {
		return err
	}
	d.nonblock = on
	return nil
}

// Promisc is BIOCPROMISC: take one promiscuous reference on the attached
// interface, once per descriptor; it is dropped on detach and close.
// EINVAL if not attached.
func (d *Desc) Promisc() error {
	const op = "BIOCPROMISC"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	if d.bif == nil {
		return errorf(op, syscall.EINVAL, "not attached")
	}
	if d.promisc {
		return nil
	}
	if err := d.bif.ifp.SetPromisc(true); err != nil {
		return &Error{Op: op, Errno: syscall.EIO, Detail: d.bif.ifp.Name(), Cause: err}
	}
	d.promisc = true
	return nil
}

// Direction is BIOCGDIRECTION. BIOCGDIRECTION is not on the BIOCLOCK
// whitelist, so a locked descriptor gets EPERM (bpf.c quirk, followed).
func (d *Desc) Direction() (Direction, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked("BIOCGDIRECTION"); err != nil {
		return 0, err
	}
	return d.dir, nil
}

// SetDirection is BIOCSDIRECTION. EINVAL for values other than BPF_D_IN,
// BPF_D_INOUT and BPF_D_OUT.
func (d *Desc) SetDirection(dir Direction) error {
	const op = "BIOCSDIRECTION"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	if dir > BPF_D_OUT {
		return errorf(op, syscall.EINVAL, "direction %d is not BPF_D_IN, BPF_D_INOUT or BPF_D_OUT", dir)
	}
	d.dir = dir
	if b := d.bif; b != nil {
		b.publish()
	}
	return nil
}

// SetSeeSent is BIOCSSEESENT, the older spelling of BIOCSDIRECTION: true
// means BPF_D_INOUT, false BPF_D_IN.
func (d *Desc) SetSeeSent(on bool) error {
	if on {
		return d.SetDirection(BPF_D_INOUT)
	}
	return d.SetDirection(BPF_D_IN)
}

// SetFeedback is BIOCFEEDBACK: frames written are also delivered to the
// interface's input, as if received. It is on the BIOCLOCK whitelist
// though it is a setter (bpf.c quirk, followed).
func (d *Desc) SetFeedback(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCFEEDBACK"); err != nil {
		return err
	}
	d.feedback = on
	return nil
}

// SetHeaderComplete is BIOCSHDRCMPLT: when off (the default) Write fills in
// the Ethernet source address with the interface's own.
func (d *Desc) SetHeaderComplete(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("BIOCSHDRCMPLT"); err != nil {
		return err
	}
	d.hdrcmplt = on
	return nil
}

// HeaderComplete is BIOCGHDRCMPLT.
func (d *Desc) HeaderComplete() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCGHDRCMPLT"); err != nil {
		return false, err
	}
	return d.hdrcmplt, nil
}

// Lock is BIOCLOCK: from now on only the whitelisted ioctls work; the
// others fail with EPERM. It cannot be undone.
func (d *Desc) Lock() error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCLOCK"); err != nil {
		return err
	}
	d.locked = true
	return nil
}

// tickUsec is the length of one tick in µs.
func (s *Stack) tickUsec() int64 { return 1000000 / int64(s.settings.Hz) }

// SetReadTimeout is BIOCSRTIMEOUT. The value is checked like itimerfix
// (EINVAL for negative fields or Usec >= 1e6; a non-zero value below one
// tick becomes one tick) and kept in ticks as tvtohz(tv)-1, so
// ReadTimeout returns it rounded up to a whole tick. Zero means none.
func (d *Desc) SetReadTimeout(tv Timeval) error {
	const op = "BIOCSRTIMEOUT"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if tv.Sec < 0 || tv.Usec < 0 || tv.Usec >= 1000000 {
		return errorf(op, syscall.EINVAL, "timeval {%d, %d} out of range", tv.Sec, tv.Usec)
	}
	tick := s.tickUsec()
	if tv.Sec == 0 && tv.Usec != 0 && tv.Usec < tick {
		tv.Usec = tick
	}
	// tvtohz: ticks to wait, counting the partial current tick.
	var ticks int64
	if tv.Sec <= math.MaxInt64/1000000-1 {
		ticks = (tv.Sec*1000000+tv.Usec+tick-1)/tick + 1
	} else {
		ticks = math.MaxInt32
	}
	if ticks > math.MaxInt32 {
		ticks = math.MaxInt32
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(op); err != nil {
		return err
	}
	d.rtout = int(ticks - 1)
	d.rtHz = s.settings.Hz
	return nil
}

// ReadTimeout is BIOCGRTIMEOUT.
func (d *Desc) ReadTimeout() (Timeval, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCGRTIMEOUT"); err != nil {
		return Timeval{}, err
	}
	if d.rtout == 0 {
		return Timeval{}, nil
	}
	hz := int64(d.rtHz)
	t := int64(d.rtout)
	return Timeval{Sec: t / hz, Usec: (t % hz) * (1000000 / hz)}, nil
}

// rtoutDuration is the read timeout as a duration. s.mu or d.mu held.
func (d *Desc) rtoutDuration(hz int) time.Duration {
	return time.Duration(d.rtout) * (time.Second / time.Duration(hz))
}

// Flush is BIOCFLUSH: discard buffered packets and zero the counters.
func (d *Desc) Flush() error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.checkOpen("BIOCFLUSH"); err != nil {
		return err
	}
	d.reset(d.bif)
	return nil
}

// Stats is BIOCGSTATS, extended with the counters described on Stats.
// Received is derived from the two others, so the identities hold even
// while other goroutines tap.
func (d *Desc) Stats() (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCGSTATS"); err != nil {
		return Stats{}, err
	}
	filtered := d.cnt.filtered.Load()
	return Stats{
		Received:    d.fcount + filtered,
		Filtered:    filtered,
		Matched:     d.fcount,
		Captured:    d.ccount,
		Dropped:     d.dcount,
		Written:     d.wcount,
		WritePassed: d.wfcount,
		WriteFailed: d.wdcount,
	}, nil
}

// Version is BIOCVERSION.
func (d *Desc) Version() (major, minor int) { return BPF_MAJOR_VERSION, BPF_MINOR_VERSION }

// SetTimestamp is BIOCSTSTAMP: the record timestamp format and flags
// (BPF_T_*). EINVAL unless ValidTimestamp. On the BIOCLOCK whitelist
// though it is a setter (bpf.c quirk, followed).
func (d *Desc) SetTimestamp(t uint32) error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("BIOCSTSTAMP"); err != nil {
		return err
	}
	if !ValidTimestamp(t) {
		return errorf("BIOCSTSTAMP", syscall.EINVAL, "timestamp type %#x is not valid (BPF_T_VALID)", t)
	}
	d.tstamp = t
	if b := d.bif; b != nil {
		b.publish() // taps read the clock for it before its lock
	}
	return nil
}

// Timestamp is BIOCGTSTAMP. Not on the BIOCLOCK whitelist: EPERM once
// locked (bpf.c quirk, followed).
func (d *Desc) Timestamp() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("BIOCGTSTAMP"); err != nil {
		return 0, err
	}
	return d.tstamp, nil
}

// BufMode is BIOCGETBUFMODE.
func (d *Desc) BufMode() (BufMode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("BIOCGETBUFMODE"); err != nil {
		return 0, err
	}
	return d.bufmode, nil
}

// SetBufMode is BIOCSETBUFMODE. EINVAL for an unknown mode or zero-copy
// while net.bpf.zerocopy_enable is off; EBUSY once buffers exist or the
// descriptor is attached.
func (d *Desc) SetBufMode(m BufMode) error {
	const op = "BIOCSETBUFMODE"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	switch {
	case m == BPF_BUFMODE_BUFFER:
	case m == BPF_BUFMODE_ZBUF && s.settings.ZeroCopyEnable:
	case m == BPF_BUFMODE_ZBUF:
		return errorf(op, syscall.EINVAL, "zero-copy disabled (net.bpf.zerocopy_enable)")
	default:
		return errorf(op, syscall.EINVAL, "unknown buffer mode %d", m)
	}
	if d.allocated || d.bif != nil {
		return errorf(op, syscall.EBUSY, "buffers already allocated or descriptor attached")
	}
	d.bufmode = m
	return nil
}

// Pending is FIONREAD: bytes buffered (store plus hold).
func (d *Desc) Pending() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen("FIONREAD"); err != nil {
		return 0, err
	}
	for d.holdInUse {
		d.holdCond.Wait()
	}
	return d.slen + d.hlen, nil
}

// Poll is poll(2)/select(2) readiness for reading: a buffer is waiting for
// the consumer (in zero-copy mode: handed over and not yet acknowledged),
// or immediate mode is on and the store buffer holds records. A descriptor
// that is not attached is always ready (FreeBSD reports POLLHUP), so a
// Read there fails at once with ENXIO.
func (d *Desc) Poll() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.bif == nil {
		return true
	}
	if d.hold >= 0 && !d.holdInUse && !d.canFreeHold() {
		return true
	}
	return d.immediate && d.slen != 0
}
