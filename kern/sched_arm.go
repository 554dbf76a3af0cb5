package kern

// Threads and scheduling.
//
// Every clone makes a kernel thread: a slot in threads holding its saved frame while it is
// not running. One core runs one thread at a time; the kernel itself runs only inside trap,
// with interrupts masked, so the trap path needs no locks. A thread leaves the CPU when it
// blocks (futex, nanosleep, epoll_pwait, a blocking read), yields, exits, or when the timer
// tick finds another runnable thread (round robin, tickNS). A thread woken by an interrupt
// or a deadline preempts the running one at the end of that trap.
//
// Threads and user-mode kern API calls (Stats, IRQFile, AllocDMA) touch kernel state only
// with IRQs masked (irqDisable), which on a single core excludes the kernel.

const (
	maxThreads = 64
	// tickNS is the round-robin time slice. 5 ms lets sysmon run often enough to preempt
	// a goroutine that never blocks (pitfall 6 of facts/baremetal-go.md).
	tickNS = 5_000_000
)

type threadState uint8

const (
	threadFree threadState = iota
	threadRunnable
	threadRunning
	threadBlocked
)

type waitKind uint8

const (
	waitNone waitKind = iota
	waitFutex
	waitSleep
	waitEpoll
	waitRead
)

type thread struct {
	state threadState
	wait  waitKind
	tid   int32
	f     frame // saved context while not running

	deadline uint64 // CNTVCT at which a timed wait ends; 0 = none
	futex    uintptr

	// epoll_pwait / read arguments kept while blocked.
	waitFD  int32
	waitBuf uintptr
	waitLen int32

	sigPending uint64 // bit n-1 for signal n
	sigMask    uint64
	altSP      uintptr
	altSize    uintptr
	altFlags   int32
	faultAddr  uint32 // for a pending synchronous SIGSEGV
	faultCode  int32
	faultFSR   uint32
}

var (
	threads  [maxThreads]thread
	cur      int  // index of the running thread
	nthreads int  // live threads
	resched  bool // switch threads at the end of this trap if another is runnable
	woken    = -1 // the thread most recently woken: it runs next, ahead of round robin
)

// block saves the current context and marks the current thread waiting; resume will then
// pick another thread. The syscall result is written when the thread is woken.
func block(f *frame, w waitKind, deadline uint64) {
	t := &threads[cur]
	t.f = *f
	t.state = threadBlocked
	t.wait = w
	t.deadline = deadline
}

// wakeThread makes a blocked thread runnable with syscall result ret.
func wakeThread(t *thread, ret int32) {
	t.f.r[0] = uint32(ret)
	t.state = threadRunnable
	t.wait = waitNone
	t.deadline = 0
	resched = true
	woken = int(t.tid) - 1
}

// nextRunnable returns the thread to run next, or -1: the thread just woken by an
// interrupt, deadline or another thread if it can run (so a wakeup is not delayed by a
// time slice of a busy thread), else the next one after cur in round-robin order (cur
// itself last).
func nextRunnable() int {
	if w := woken; w >= 0 && w != cur && threads[w].state == threadRunnable {
		return w
	}
	for i := 1; i <= maxThreads; i++ {
		j := (cur + i) % maxThreads
		if threads[j].state == threadRunnable || threads[j].state == threadRunning {
			return j
		}
	}
	return -1
}

// resume chooses the thread to return to and loads its context into f, idling with WFI
// while no thread can run. It then delivers pending signals and programs the timer.
func resume(f *frame) {
	t := &threads[cur]
	if t.state == threadRunning && resched {
		if n := nextRunnable(); n >= 0 && n != cur {
			t.f = *f
			t.state = threadRunnable
		}
	}
	resched = false
	if threads[cur].state != threadRunning {
		next := nextRunnable()
		for next < 0 {
			idle()
			next = nextRunnable()
		}
		// Wakeups during idle are served by this choice.
		woken, resched = -1, false
		*f = threads[next].f
		if next != cur {
			stats.switches++
		}
		cur = next
		threads[cur].state = threadRunning
	}
	deliverSignals(f)
	armTimer()
}

// idle waits for an interrupt with everything masked. WFI wakes on a pending interrupt
// even while CPSR.I is set, and the GIC can be polled (IAR acknowledges regardless), so the
// kernel handles the interrupt here without taking the exception.
func idle() {
	d := watchdogDeadline(earliestDeadline())
	if d != 0 {
		setTimer(d)
	} else {
		writeCNTV_CTL(0)
	}
	wfi()
	handleIRQs()
	expireDeadlines()
	watchdogService()
}

func earliestDeadline() uint64 {
	var d uint64
	for i := range threads {
		t := &threads[i]
		if t.state == threadBlocked && t.deadline != 0 && (d == 0 || t.deadline < d) {
			d = t.deadline
		}
	}
	return d
}

// expireDeadlines wakes every thread whose timed wait has ended.
func expireDeadlines() {
	now := readCNTVCT()
	for i := range threads {
		t := &threads[i]
		if t.state != threadBlocked || t.deadline == 0 || t.deadline > now {
			continue
		}
		switch t.wait {
		case waitFutex:
			wakeThread(t, -errETIMEDOUT)
		case waitEpoll:
			wakeThread(t, 0)
		default:
			wakeThread(t, 0)
		}
	}
}

// armTimer programs the virtual timer for the next event the running thread cannot
// notice by itself: the end of its time slice when others are runnable, else the earliest
// deadline.
func armTimer() {
	d := earliestDeadline()
	others := false
	for i := range threads {
		if i != cur && threads[i].state == threadRunnable {
			others = true
			break
		}
	}
	if others {
		slice := readCNTVCT() + tickTicks
		if d == 0 || slice < d {
			d = slice
		}
	}
	d = watchdogDeadline(d)
	if d == 0 {
		writeCNTV_CTL(0)
		return
	}
	setTimer(d)
}

// setTimer fires the virtual timer interrupt at counter value d.
func setTimer(d uint64) {
	now := readCNTVCT()
	var delta uint64 = 1
	if d > now {
		delta = d - now
	}
	if delta > 0x7fffffff {
		delta = 0x7fffffff
	}
	writeCNTV_TVAL(uint32(delta))
	writeCNTV_CTL(1) // ENABLE, interrupt not masked
}

// timerInterrupt handles PPI 27. The timer output is level: it stays asserted until the
// timer is reprogrammed or disabled, which armTimer does on the way out.
func timerInterrupt() {
	writeCNTV_CTL(0)
	stats.ticks++
	expireDeadlines()
	resched = true
	watchdogService()
}

// newThread takes a free slot for a clone; -1 when the table is full.
func newThread() int {
	for i := range threads {
		if threads[i].state == threadFree {
			t := &threads[i]
			*t = thread{}
			t.tid = int32(i + 1)
			nthreads++
			return i
		}
	}
	return -1
}

// threadByTID returns the live thread with that id, or nil.
func threadByTID(tid int32) *thread {
	i := int(tid) - 1
	if i < 0 || i >= maxThreads || threads[i].state == threadFree {
		return nil
	}
	return &threads[i]
}
