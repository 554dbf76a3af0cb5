package kern

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// File descriptors: the console (0, 1, 2), epoll instances, eventfds (the runtime's
// netpollBreak) and interrupt fds. Everything the runtime's netpoller can wait on is an fd
// here: epoll_pwait blocks the calling thread until one of its registered fds becomes ready
// or the timeout passes, and interrupt handlers make fds ready.
//
// Readiness follows Linux: eventfds are level-triggered (readable while the counter is
// non-zero); the console and interrupt fds, which the runtime registers with EPOLLET, report
// a rising edge once (new input, a new interrupt).

const maxFDs = 64

type fdKind uint8

const (
	fdFree fdKind = iota
	fdConsole
	fdEpoll
	fdEventfd
	fdIRQ
)

type fdesc struct {
	kind    fdKind
	flags   int32  // O_NONBLOCK, as fcntl(F_GETFL) reports it
	counter uint64 // eventfd value, or interrupts taken (irq fd)
	seen    uint64 // irq fd: counter at the last read
	edge    bool   // an edge-triggered readiness not yet reported
	irq     int32

	// epoll registration: at most one epoll instance per fd (the runtime uses one).
	epfd   int32
	events uint32
	data   uint64
}

var fds [maxFDs]fdesc

const (
	epollIn     = unix.EPOLLIN
	epollOut    = unix.EPOLLOUT
	epollET     = 1 << 31
	epollCtlAdd = unix.EPOLL_CTL_ADD
	epollCtlDel = unix.EPOLL_CTL_DEL
	epollCtlMod = unix.EPOLL_CTL_MOD
	// struct epoll_event on arm EABI: u32 events, 4 bytes of padding, u64 data (x/sys/unix
	// splits the data into Fd and Pad).
	epollEvSize  = unsafe.Sizeof(unix.EpollEvent{})
	epollEvData  = unsafe.Offsetof(unix.EpollEvent{}.Fd)
	oNonblock    = unix.O_NONBLOCK
	oRDWR        = unix.O_RDWR
	consoleRXCap = 1024
)

// The console receive ring, filled by the UART interrupt and drained by read(0).
var (
	rxBuf  [consoleRXCap]byte
	rxHead int // next byte to read
	rxLen  int
)

func fdInit() {
	for i := range fds {
		fds[i].epfd = -1
	}
	for i := 0; i < 3; i++ {
		fds[i].kind = fdConsole
		fds[i].flags = oRDWR
	}
	// fd 0 says O_NONBLOCK, so os.NewFile registers it with the netpoller and a goroutine
	// reading os.Stdin parks there instead of holding a kernel thread.
	fds[0].flags |= oNonblock
}

func fdGet(fd int32) *fdesc {
	if fd < 0 || fd >= maxFDs || fds[fd].kind == fdFree {
		return nil
	}
	return &fds[fd]
}

// fdAlloc returns the lowest free descriptor, set up as kind, or -EMFILE.
func fdAlloc(kind fdKind) int32 {
	for i := range fds {
		if fds[i].kind == fdFree {
			fds[i] = fdesc{kind: kind, epfd: -1, irq: -1, flags: oRDWR}
			return int32(i)
		}
	}
	return -errEMFILE
}

func sysClose(fd int32) int32 {
	d := fdGet(fd)
	if d == nil {
		return -errEBADF
	}
	if d.kind == fdConsole {
		return 0 // the console stays
	}
	if d.kind == fdIRQ && d.irq >= 0 {
		irqDetach(int(d.irq))
	}
	if d.kind == fdEpoll {
		for i := range fds {
			if fds[i].epfd == fd {
				fds[i].epfd = -1
			}
		}
	}
	*d = fdesc{epfd: -1}
	return 0
}

func sysFcntl(fd, cmd, arg int32) int32 {
	d := fdGet(fd)
	if d == nil {
		return -errEBADF
	}
	switch cmd {
	case unix.F_GETFD:
		return unix.FD_CLOEXEC
	case unix.F_SETFD:
		return 0
	case unix.F_GETFL:
		return d.flags
	case unix.F_SETFL:
		d.flags = d.flags&^oNonblock | arg&oNonblock
		return 0
	case unix.F_DUPFD_CLOEXEC, unix.F_DUPFD:
		return -errEMFILE
	}
	return -errEINVAL
}

func sysWrite(fd int32, buf uintptr, n int32) int32 {
	d := fdGet(fd)
	if d == nil {
		return -errEBADF
	}
	if n < 0 || !userOK(buf, uintptr(n)) {
		return -errEFAULT
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), n)
	switch d.kind {
	case fdConsole:
		for _, c := range b {
			kputc(c)
		}
		return n
	case fdEventfd:
		if n < 8 {
			return -errEINVAL
		}
		d.counter += *(*uint64)(unsafe.Pointer(buf))
		epollNotify()
		return 8
	}
	return -errEINVAL
}

func sysRead(f *frame, fd int32, buf uintptr, n int32) int32 {
	d := fdGet(fd)
	if d == nil {
		return -errEBADF
	}
	if n < 0 || !userOK(buf, uintptr(n)) {
		return -errEFAULT
	}
	switch d.kind {
	case fdConsole:
		if r := consoleRead(buf, n); r > 0 || n == 0 {
			return r
		}
		if d.flags&oNonblock != 0 {
			return -errEAGAIN
		}
		// Blocking mode (after F_SETFL without O_NONBLOCK): park this thread until input.
		block(f, waitRead, 0)
		t := &threads[cur]
		t.waitFD, t.waitBuf, t.waitLen = fd, buf, n
		return 0
	case fdEventfd:
		if n < 8 {
			return -errEINVAL
		}
		if d.counter == 0 {
			return -errEAGAIN
		}
		*(*uint64)(unsafe.Pointer(buf)) = d.counter
		d.counter = 0
		return 8
	case fdIRQ:
		// Like a Linux UIO device: a 32-bit count of all interrupts so far, once per new
		// interrupt. Reading re-enables the line the handler masked.
		if n < 4 {
			return -errEINVAL
		}
		if d.counter == d.seen {
			return -errEAGAIN
		}
		d.seen = d.counter
		*(*uint32)(unsafe.Pointer(buf)) = uint32(d.counter)
		if d.irq >= 0 {
			gic.Enable(int(d.irq))
		}
		return 4
	}
	return -errEINVAL
}

func consoleRead(buf uintptr, n int32) int32 {
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), n)
	i := 0
	for i < len(b) && rxLen > 0 {
		b[i] = rxBuf[rxHead]
		rxHead = (rxHead + 1) % consoleRXCap
		rxLen--
		i++
	}
	return int32(i)
}

// consoleInterrupt drains the UART into the receive ring (so the level-triggered line
// drops) and makes fd 0 ready.
func consoleInterrupt() {
	got := false
	for {
		c, ok := console.GetByte()
		if !ok {
			break
		}
		if rxLen == consoleRXCap {
			stats.rxDropped++
			continue
		}
		rxBuf[(rxHead+rxLen)%consoleRXCap] = c
		rxLen++
		got = true
	}
	if !got {
		return
	}
	for i := 0; i < 3; i++ {
		if fds[i].kind == fdConsole {
			fds[i].edge = true
		}
	}
	// A thread blocked in read(0) gets the bytes now.
	for i := range threads {
		t := &threads[i]
		if t.state == threadBlocked && t.wait == waitRead && rxLen > 0 {
			wakeThread(t, consoleRead(t.waitBuf, t.waitLen))
		}
	}
	epollNotify()
}

func sysEpollCreate() int32 {
	return fdAlloc(fdEpoll)
}

func sysEventfd(initval uint32) int32 {
	fd := fdAlloc(fdEventfd)
	if fd >= 0 {
		fds[fd].counter = uint64(initval)
		fds[fd].flags |= oNonblock
	}
	return fd
}

func sysEpollCtl(epfd, op, fd int32, ev uintptr) int32 {
	e := fdGet(epfd)
	d := fdGet(fd)
	if e == nil || d == nil {
		return -errEBADF
	}
	if e.kind != fdEpoll || d.kind == fdEpoll {
		return -errEINVAL
	}
	switch op {
	case epollCtlAdd, epollCtlMod:
		if !userOK(ev, epollEvSize) {
			return -errEFAULT
		}
		if op == epollCtlAdd && d.epfd >= 0 {
			return -errEEXIST
		}
		if op == epollCtlMod && d.epfd != epfd {
			return -errENOENT
		}
		d.epfd = epfd
		d.events = *(*uint32)(unsafe.Pointer(ev))
		d.data = *(*uint64)(unsafe.Pointer(ev + epollEvData))
		// Linux reports an edge for whatever is already ready at registration.
		d.edge = true
		epollNotify()
		return 0
	case epollCtlDel:
		if d.epfd != epfd {
			return -errENOENT
		}
		d.epfd = -1
		return 0
	}
	return -errEINVAL
}

// readyEvents returns the events fd d would report now (clearing an edge it consumes when
// consume is set).
func readyEvents(d *fdesc, consume bool) uint32 {
	var ev uint32
	switch d.kind {
	case fdEventfd:
		if d.counter > 0 {
			ev = epollIn
		}
	case fdConsole:
		if rxLen > 0 && (d.edge || d.events&epollET == 0) {
			ev = epollIn
		}
	case fdIRQ:
		if d.counter != d.seen && (d.edge || d.events&epollET == 0) {
			ev = epollIn
		}
	}
	ev &= d.events
	if ev != 0 && consume {
		d.edge = false
	}
	return ev
}

// epollCollect writes up to max ready events of instance epfd to buf and returns how many.
func epollCollect(epfd int32, buf uintptr, max int32) int32 {
	n := int32(0)
	for i := range fds {
		if n >= max {
			break
		}
		d := &fds[i]
		if d.epfd != epfd {
			continue
		}
		ev := readyEvents(d, true)
		if ev == 0 {
			continue
		}
		p := buf + uintptr(n)*epollEvSize
		e := (*unix.EpollEvent)(unsafe.Pointer(p))
		e.Events, e.PadFd = ev, 0
		*(*uint64)(unsafe.Pointer(p + epollEvData)) = d.data
		n++
	}
	return n
}

func sysEpollWait(f *frame, epfd int32, buf uintptr, max, timeoutMS int32) int32 {
	e := fdGet(epfd)
	if e == nil || e.kind != fdEpoll {
		return -errEBADF
	}
	if max <= 0 {
		return -errEINVAL
	}
	if !userOK(buf, uintptr(max)*epollEvSize) {
		return -errEFAULT
	}
	if n := epollCollect(epfd, buf, max); n > 0 || timeoutMS == 0 {
		return n
	}
	var deadline uint64
	if timeoutMS > 0 {
		deadline = deadlineAfter(int64(timeoutMS) * nanosecondsPerMilli)
	}
	block(f, waitEpoll, deadline)
	t := &threads[cur]
	t.waitFD, t.waitBuf, t.waitLen = epfd, buf, max
	return 0
}

// epollNotify completes the epoll_pwait of every thread whose instance now has events.
func epollNotify() {
	for i := range threads {
		t := &threads[i]
		if t.state != threadBlocked || t.wait != waitEpoll {
			continue
		}
		if n := epollCollect(t.waitFD, t.waitBuf, t.waitLen); n > 0 {
			wakeThread(t, n)
		}
	}
}
