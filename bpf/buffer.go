package bpf

import (
	"syscall"
)

// Store/hold/free double buffering (sys/net/bpf.c catchpacket and bpfread,
// sys/net/bpf_buffer.c). The descriptor owns two buffers and three slots:
// the store buffer taps append to, the hold buffer waiting for the
// consumer, and the free one. Rotation moves store to hold and free to
// store; a packet that does not fit while there is no free buffer is
// dropped, so the driver never waits. The zero-copy mode (zbuf.go) shares
// this code through canWriteStore, canFreeHold, bufHeld and bufFull, as
// bpf.c does through its bpf_buf* switch functions.

// catch stores one packet the read filter accepted with verdict snap
// (catchpacket). d.mu held; called by taps once they checked that d is
// still attached to b in the listener's counting period. The wire length
// is len(pkt).
func (d *Desc) catch(b *If, pkt []byte, snap uint32, st *pktStamp) {
	d.fcount++
	// A consumer may have handed a zero-copy hold buffer back since the
	// last packet; taking it back here costs no system call.
	if d.free < 0 && d.canFreeHold() {
		d.reclaimHoldLocked()
	}
	hdrlen := b.bhlen
	caplen := len(pkt)
	if uint64(snap) < uint64(caplen) {
		caplen = int(snap)
	}
	totlen := hdrlen + caplen
	if totlen > d.bufsize {
		// Truncate to the buffer, never split a packet across buffers.
		totlen = d.bufsize
		caplen = totlen - hdrlen
		if caplen < 0 {
			d.dcount++
			return
		}
	}
	wake := d.immediate
	curlen := WordAlign(d.slen)
	if curlen+totlen > d.bufsize || !d.canWriteStore() {
		if d.free < 0 {
			d.bufFull()
			d.dcount++
			return
		}
		d.rotateLocked()
		wake = true
		curlen = 0
	}
	var sec int64
	var frac uint64
	if ts := d.tstamp; ts&BPF_T_FORMAT_MASK != BPF_T_NONE {
		if !st.read {
			st.get(b)
		}
		if !st.zero {
			t := st.up
			if ts&BPF_T_MONOTONIC == 0 {
				t += b.stack.bootTime()
			}
			sec, frac = encodeStamp(ts, t)
		}
	}
	rec := d.bufs[d.store].mem[curlen : curlen+totlen]
	putHeader(rec, sec, frac, uint32(caplen), uint32(len(pkt)), hdrlen)
	copy(rec[hdrlen:], pkt)
	d.slen = curlen + totlen
	d.ccount++
	if wake {
		d.wakeLocked()
	}
}

// rotateLocked is ROTATE_BUFFERS: store becomes hold, free becomes store.
// The caller made sure free exists. d.mu held.
func (d *Desc) rotateLocked() {
	d.hold, d.hlen = d.store, d.slen
	d.store, d.slen = d.free, 0
	d.free = -1
	d.bufHeld()
}

// reclaimHoldLocked returns the hold buffer to the free slot. d.mu held.
func (d *Desc) reclaimHoldLocked() {
	d.free = d.hold
	d.hold, d.hlen = -1, 0
	d.bufs[d.free].assigned = false
}

// resetLocked is reset_d: free the hold buffer (in zero-copy mode only if
// the consumer acknowledged it), empty the store buffer (only if still
// ours), zero the counters and start a new counting period, which the
// caller publishes to the interface's taps. s.mu and d.mu held.
func (d *Desc) resetLocked() {
	for d.holdInUse {
		d.holdCond.Wait()
	}
	if d.hold >= 0 && (d.bufmode != BPF_BUFMODE_ZBUF || d.canFreeHold()) {
		d.reclaimHoldLocked()
	}
	if d.store >= 0 && d.canWriteStore() {
		d.slen = 0
	}
	d.cnt = new(tapCounts)
	d.fcount, d.dcount, d.ccount = 0, 0, 0
	d.wcount, d.wfcount, d.wdcount = 0, 0, 0
}

// Read is read(2) on the descriptor: it returns the records of one whole
// buffer, copied into p, which must be exactly BufferLen() bytes.
//
// Without immediate mode it sleeps until a buffer fills. In immediate
// mode, non-blocking mode or after the read timeout it returns the
// partially filled store buffer; a timeout with nothing captured returns
// 0, nil. Errors: EINVAL for a p of the wrong size (bpf.4 says EIO, bpf.c
// returns EINVAL: we follow the code), EOPNOTSUPP in zero-copy mode,
// EWOULDBLOCK when non-blocking and empty, ENXIO when not attached or
// detached while waiting, EBADF after Close.
func (d *Desc) Read(p []byte) (int, error) {
	const op = "read"
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(op); err != nil {
		return 0, err
	}
	if d.oflags&OpenRead == 0 {
		return 0, errorf(op, syscall.EBADF, "descriptor not open for reading")
	}
	if d.bufmode != BPF_BUFMODE_BUFFER {
		return 0, errorf(op, syscall.EOPNOTSUPP, "zero-copy mode: consume the shared buffers")
	}
	if len(p) != d.bufsize {
		return 0, errorf(op, syscall.EINVAL, "read of %d bytes; must be exactly the buffer size %d", len(p), d.bufsize)
	}
	for d.holdInUse {
		d.holdCond.Wait()
	}
	timedOut := false
	for d.hold < 0 {
		if d.slen != 0 && (d.immediate || d.nonblock || timedOut) {
			d.rotateLocked()
			break
		}
		if d.bif == nil {
			return 0, errorf(op, syscall.ENXIO, "not attached to an interface")
		}
		if d.nonblock {
			return 0, errorf(op, syscall.EWOULDBLOCK, "no packets buffered")
		}
		if timedOut {
			return 0, nil
		}
		var err error
		timedOut, err = d.sleepLocked()
		if err != nil {
			return 0, err
		}
		if timedOut && d.hold < 0 && d.slen == 0 {
			return 0, nil
		}
	}
	// Copy without the lock so taps keep filling the store buffer;
	// holdInUse keeps Flush, SetBufferLen and other readers off.
	d.holdInUse = true
	src := d.bufs[d.hold].mem[:d.hlen]
	d.mu.Unlock()
	n := copy(p, src)
	d.mu.Lock()
	d.free = d.hold
	d.hold, d.hlen = -1, 0
	d.holdInUse = false
	d.holdCond.Broadcast()
	return n, nil
}

// sleepLocked waits for a wakeup, the read timeout, detach or close. It
// reports whether the timeout fired. d.mu held, released while asleep.
func (d *Desc) sleepLocked() (timedOut bool, err error) {
	wake := d.wake
	var fired chan struct{}
	var t Timer
	if d.rtout > 0 {
		fired = make(chan struct{})
		t = d.s.clock.AfterFunc(d.rtoutDuration(d.rtHz), func() { close(fired) })
	}
	d.sleepers++
	d.mu.Unlock()
	select {
	case <-wake:
	case <-fired:
	}
	if t != nil && !t.Stop() {
		<-fired
		timedOut = true
	}
	d.mu.Lock()
	d.sleepers--
	if d.closed {
		return false, errorf("read", syscall.EBADF, "descriptor closed while reading")
	}
	return timedOut, nil
}
