package bpf

import (
	"syscall"
)

// linkHdrLen is the link header bpf_movein expects in front of a written
// frame, by DLT; ok is false for link types the write path does not
// support.
func linkHdrLen(dlt uint32) (n int, ok bool) {
	switch dlt {
	case DLT_EN10MB:
		return 14, true
	case DLT_NULL, DLT_PPP:
		return 4, true
	case DLT_RAW:
		return 0, true
	}
	return 0, false
}

// Write is write(2) on the descriptor: inject one frame, link header
// included, on the attached interface (bpfwrite). The write filter must
// accept the whole frame; the payload after the link header must fit the
// MTU. With header-complete off, an Ethernet frame's source address is
// replaced by the interface's. With feedback on, the frame is also
// delivered to the interface's input as if received; a BPF_D_INOUT writer
// then suppresses the transmit-side tap of the original so listeners see
// the frame once.
//
// Errors: ENXIO not attached; ENETDOWN interface down; EMSGSIZE shorter
// than the link header or payload over the MTU; EPERM rejected by the
// write filter; EIO for a link type without a write path; EBADF when not
// open for writing or closed; the interface's own error from Transmit. A
// zero-length write returns 0 and counts as failed, as in bpf.c.
func (d *Desc) Write(p []byte) (int, error) {
	const op = "write"
	s := d.s
	s.mu.Lock()
	b := d.bif
	dir := d.dir
	s.mu.Unlock()

	d.mu.Lock()
	if err := d.checkOpen(op); err != nil {
		d.mu.Unlock()
		return 0, err
	}
	d.wcount++
	hdrcmplt, feedback, wprog := d.hdrcmplt, d.feedback, d.wprog
	fail := func(errno syscall.Errno, format string, args ...any) (int, error) {
		d.wdcount++
		d.mu.Unlock()
		return 0, errorf(op, errno, format, args...)
	}
	if d.oflags&OpenWrite == 0 {
		return fail(syscall.EBADF, "descriptor not open for writing")
	}
	if b == nil {
		return fail(syscall.ENXIO, "not attached to an interface")
	}
	ifp := b.ifp
	if !ifp.IsUp() {
		return fail(syscall.ENETDOWN, "%s is down", ifp.Name())
	}
	if len(p) == 0 {
		d.wdcount++
		d.mu.Unlock()
		return 0, nil
	}
	hlen, ok := linkHdrLen(b.dlt)
	if !ok {
		return fail(syscall.EIO, "no write path for DLT %d", b.dlt)
	}
	if len(p) < hlen {
		return fail(syscall.EMSGSIZE, "%d bytes is shorter than the %d-byte link header", len(p), hlen)
	}
	if mtu := ifp.MTU(); len(p)-hlen > mtu {
		return fail(syscall.EMSGSIZE, "payload of %d bytes exceeds %s's MTU %d", len(p)-hlen, ifp.Name(), mtu)
	}
	if wprog != nil && wprog.Run(p, uint32(len(p))) == 0 {
		return fail(syscall.EPERM, "frame rejected by the write filter")
	}
	d.wfcount++
	d.mu.Unlock()

	// The frame is copied, like bpf_movein's mbuf: the caller's slice is
	// never modified and the interface may hold on to nothing.
	frame := append([]byte(nil), p...)
	if !hdrcmplt && b.dlt == DLT_EN10MB {
		copy(frame[6:12], ifp.HardwareAddr())
	}
	var fb []byte
	if feedback {
		fb = append([]byte(nil), frame...)
	}
	if err := ifp.Transmit(frame, !(feedback && dir == BPF_D_INOUT)); err != nil {
		d.mu.Lock()
		d.wdcount++
		d.mu.Unlock()
		return 0, &Error{Op: op, Errno: syscall.EIO, Detail: "transmit on " + ifp.Name(), Cause: err}
	}
	if fb != nil {
		ifp.Input(fb)
	}
	return len(p), nil
}
