package bpf

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Zero-copy buffers (sys/net/bpf_zerocopy.c, bpf(4) "Zero-copy buffer
// mode"). The consumer supplies two equal, page-aligned buffers of whole
// pages. Each starts with a struct bpf_zbuf_header; records follow in the
// Read format. Ownership is decided by the generation numbers alone:
//
//   - the kernel owns a buffer while bzh_kernel_gen == bzh_user_gen;
//   - handing a buffer to the consumer writes bzh_kernel_len and then
//     increments bzh_kernel_gen with release semantics;
//   - the consumer, done with it, stores bzh_kernel_gen into bzh_user_gen
//     with release semantics.
//
// The kernel never writes a buffer the consumer owns: a buffer handed over
// is flagged assigned (ZBUF_FLAG_ASSIGNED) and taps drop packets rather
// than append to it until the acknowledgement is noticed, lazily, on the
// next packet or flush. Both buffers may belong to the consumer at once.
//
// This file is the one place the capture code uses unsafe: the header
// words live in the consumer's []byte and are accessed with sync/atomic,
// as the C code does with atomic_load_acq_int/atomic_add_rel_int. The
// buffers are page aligned, so the words are aligned.

// SIZEOF_BPF_ZBUF_HEADER is sizeof(struct bpf_zbuf_header): three counters
// and five padding words. Records start at this offset.
const SIZEOF_BPF_ZBUF_HEADER = 32

// zbufHeader is struct bpf_zbuf_header.
type zbufHeader struct {
	kernelGen atomic.Uint32 // bzh_kernel_gen
	kernelLen atomic.Uint32 // bzh_kernel_len
	userGen   atomic.Uint32 // bzh_user_gen
	_         [5]uint32
}

func zhdr(buf []byte) *zbufHeader {
	return (*zbufHeader)(unsafe.Pointer(unsafe.SliceData(buf)))
}

func pageAligned(buf []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%PageSize == 0
}

// AllocZBuf returns a page-aligned buffer of size bytes for SetZBuf (the
// consumer's mmap). size should be a multiple of PageSize.
func AllocZBuf(size int) []byte {
	raw := make([]byte, size+PageSize)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % PageSize; r != 0 {
		off = int(PageSize - r)
	}
	return raw[off : off+size : off+size]
}

// ZBufOwned reports whether the consumer owns buf: bzh_user_gen !=
// bzh_kernel_gen, the latter loaded with acquire semantics.
func ZBufOwned(buf []byte) bool {
	h := zhdr(buf)
	return h.userGen.Load() != h.kernelGen.Load()
}

// ZBufRecords returns the records of a consumer-owned buffer: the
// bzh_kernel_len bytes after the header. Call only after ZBufOwned.
func ZBufRecords(buf []byte) []byte {
	n := int(zhdr(buf).kernelLen.Load())
	if n > len(buf)-SIZEOF_BPF_ZBUF_HEADER {
		n = len(buf) - SIZEOF_BPF_ZBUF_HEADER
	}
	return buf[SIZEOF_BPF_ZBUF_HEADER : SIZEOF_BPF_ZBUF_HEADER+n]
}

// ZBufAck hands buf back to the kernel: bzh_user_gen = bzh_kernel_gen,
// stored with release semantics. The consumer must not touch the records
// afterwards.
func ZBufAck(buf []byte) {
	h := zhdr(buf)
	h.userGen.Store(h.kernelGen.Load())
}

// ZBufGens returns (bzh_kernel_gen, bzh_kernel_len, bzh_user_gen).
func ZBufGens(buf []byte) (kernelGen, kernelLen, userGen uint32) {
	h := zhdr(buf)
	return h.kernelGen.Load(), h.kernelLen.Load(), h.userGen.Load()
}

// assignLocked hands buffer i to the consumer with n bytes of records
// (zbuf_bufheld / bpf_zerocopy_buffull): at most once per fill. d.mu held.
func (d *Desc) assignLocked(i int8, n int) {
	bf := &d.bufs[i]
	if bf.assigned {
		return
	}
	h := zhdr(bf.zbuf)
	h.kernelLen.Store(uint32(n))
	h.kernelGen.Add(1)
	bf.assigned = true
}

// bufHeld is bpf_bufheld: a zero-copy buffer entering the hold slot goes
// to the consumer. d.mu held.
func (d *Desc) bufHeld() {
	if d.bufmode == BPF_BUFMODE_ZBUF {
		d.assignLocked(d.hold, d.hlen)
	}
}

// bufFull is bpf_buffull: the store buffer is full and there is no free
// buffer. In zero-copy mode the store buffer goes to the consumer as well,
// so both buffers can be consumer-owned at once. d.mu held.
func (d *Desc) bufFull() {
	if d.bufmode == BPF_BUFMODE_ZBUF && d.slen > 0 {
		d.assignLocked(d.store, d.slen)
	}
}

// canWriteStore is bpf_canwritebuf: the store buffer is not handed to the
// consumer. Only zero-copy buffers are ever assigned, so the buffer mode
// need not be tested on this per-packet path. d.mu held.
func (d *Desc) canWriteStore() bool {
	return !d.bufs[d.store].assigned
}

// canFreeHold is bpf_canfreebuf: the consumer acknowledged the zero-copy
// hold buffer (in BUFFER mode Read frees it instead). d.mu held.
func (d *Desc) canFreeHold() bool {
	if d.bufmode != BPF_BUFMODE_ZBUF || d.hold < 0 {
		return false
	}
	h := zhdr(d.bufs[d.hold].zbuf)
	return h.kernelGen.Load() == h.userGen.Load()
}

// ZMax is BIOCGETZMAX: the largest size of one zero-copy buffer,
// BPF_MAX_PAGES pages. EOPNOTSUPP unless in zero-copy mode; EPERM once
// locked (not on the whitelist).
func (d *Desc) ZMax() (int, error) {
	const op = "BIOCGETZMAX"
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return 0, err
	}
	if d.bufmode != BPF_BUFMODE_ZBUF {
		return 0, errorf(op, syscall.EOPNOTSUPP, "not in BPF_BUFMODE_ZBUF")
	}
	return BPF_MAX_PAGES * PageSize, nil
}

// SetZBuf is BIOCSETZBUF: register the consumer's buffers a and b, once,
// before SetInterface. Both must be non-empty, of equal length, a whole
// number of pages, at most ZMax bytes, page aligned and disjoint. The
// headers are zeroed (both buffers kernel-owned), a becomes the store
// buffer and b the free one, and the capture size becomes the length less
// the header. EOPNOTSUPP unless in zero-copy mode; EINVAL for every bad
// argument, when buffers are already set or the descriptor is attached.
func (d *Desc) SetZBuf(a, b []byte) error {
	const op = "BIOCSETZBUF"
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(op); err != nil {
		return err
	}
	if d.bufmode != BPF_BUFMODE_ZBUF {
		return errorf(op, syscall.EOPNOTSUPP, "not in BPF_BUFMODE_ZBUF")
	}
	switch {
	case d.allocated:
		return errorf(op, syscall.EINVAL, "buffers already set")
	case d.bif != nil:
		return errorf(op, syscall.EINVAL, "descriptor already attached")
	case len(a) == 0 || len(b) == 0:
		return errorf(op, syscall.EINVAL, "nil or empty buffer")
	case len(a) != len(b):
		return errorf(op, syscall.EINVAL, "buffers of different lengths %d and %d", len(a), len(b))
	case len(a)%PageSize != 0:
		return errorf(op, syscall.EINVAL, "length %d is not a multiple of the page size %d", len(a), PageSize)
	case len(a) > BPF_MAX_PAGES*PageSize:
		return errorf(op, syscall.EINVAL, "length %d exceeds BIOCGETZMAX (%d)", len(a), BPF_MAX_PAGES*PageSize)
	case !pageAligned(a) || !pageAligned(b):
		return errorf(op, syscall.EINVAL, "buffer not page aligned")
	case overlap(a, b):
		return errorf(op, syscall.EINVAL, "buffers overlap")
	}
	for i, buf := range [2][]byte{a, b} {
		clear(buf[:SIZEOF_BPF_ZBUF_HEADER])
		d.bufs[i] = buffer{mem: buf[SIZEOF_BPF_ZBUF_HEADER:], zbuf: buf}
	}
	d.store, d.free, d.hold = 0, 1, -1
	d.slen, d.hlen = 0, 0
	d.bufsize = len(a) - SIZEOF_BPF_ZBUF_HEADER
	d.allocated = true
	return nil
}

func overlap(a, b []byte) bool {
	pa := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	pb := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// RotZBuf is BIOCROTZBUF: if no buffer is waiting for the consumer and the
// store buffer holds records, hand it over now and return it with its
// record length; otherwise return nil, 0 and change nothing. The consumer
// must still check ownership with ZBufOwned. EOPNOTSUPP unless in
// zero-copy mode.
func (d *Desc) RotZBuf() ([]byte, int, error) {
	const op = "BIOCROTZBUF"
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(op); err != nil {
		return nil, 0, err
	}
	if d.bufmode != BPF_BUFMODE_ZBUF {
		return nil, 0, errorf(op, syscall.EOPNOTSUPP, "not in BPF_BUFMODE_ZBUF")
	}
	if !d.allocated {
		return nil, 0, nil
	}
	// Notice an acknowledgement first, as catchpacket would.
	if d.free < 0 && d.canFreeHold() {
		d.reclaimHoldLocked()
	}
	if d.hold >= 0 || d.slen == 0 || d.free < 0 {
		return nil, 0, nil
	}
	d.rotateLocked()
	return d.bufs[d.hold].zbuf, d.hlen, nil
}
