package kern

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux system calls the Go runtime and the standard library make, answered in-image.
// Numbers, errno values and structure layouts are Linux EABI (golang.org/x/sys/unix for
// linux/arm). Any other number gets -ENOSYS, is counted in Statistics.UnknownSyscalls and
// reported once on the console.

const (
	errEPERM     = int32(unix.EPERM)
	errENOENT    = int32(unix.ENOENT)
	errEINTR     = int32(unix.EINTR)
	errEBADF     = int32(unix.EBADF)
	errEAGAIN    = int32(unix.EAGAIN)
	errENOMEM    = int32(unix.ENOMEM)
	errEFAULT    = int32(unix.EFAULT)
	errEINVAL    = int32(unix.EINVAL)
	errEMFILE    = int32(unix.EMFILE)
	errENOTTY    = int32(unix.ENOTTY)
	errESRCH     = int32(unix.ESRCH)
	errENOSYS    = int32(unix.ENOSYS)
	errENODEV    = int32(unix.ENODEV)
	errETIMEDOUT = int32(unix.ETIMEDOUT)
	errEEXIST    = int32(unix.EEXIST)
	errESPIPE    = int32(unix.ESPIPE)
)

// Kernel-private numbers (above the ARM-private 0x0f0000 range Linux uses).
const (
	sysKernPoweroff = 0x0f1000
	sysKernFault    = 0x0f1001 // read a1 in the kernel: a deliberate kernel fault
	sysKernHang     = 0x0f1002 // spin in the kernel with interrupts masked (watchdog test)
)

type statistics struct {
	syscalls, unknown, irqs, switches, ticks uint64
	vdsoCalls, signals, spuriousIRQs         uint64
	clockGettime                             uint64 // clock_gettime that trapped
	rxDropped                                uint64
}

var (
	stats statistics
	// reported has bit n set once unknown syscall n has been reported.
	reported [1024 / 32]uint32
	// Trace, set with -X github.com/baretap/baretap/kern.Trace=1, prints every syscall.
	Trace string
)

// userOK reports whether [addr, addr+n) lies in RAM: the kernel dereferences user pointers
// directly (one address space), and anything else would fault in the kernel.
func userOK(addr uintptr, n uintptr) bool {
	return addr >= ramStart && addr+n >= addr && addr+n <= ramEnd
}

func doSyscall(f *frame) {
	nr := f.r[7]
	a0, a1, a2, a3 := f.r[0], f.r[1], f.r[2], f.r[3]
	if Trace == "1" {
		kputs("[")
		kputDec(uint64(nr))
		kputs("]")
	}
	var ret int32
	switch nr {
	case unix.SYS_RESTART_SYSCALL:
		ret = -errEINTR
	case unix.SYS_EXIT:
		threadExit(f, int32(a0))
		return
	case unix.SYS_EXIT_GROUP:
		exitGroup(int32(a0))
	case sysKernPoweroff:
		exitGroup(int32(a0))
	case sysKernFault:
		ret = int32(pokeAddr(uintptr(a0)))
	case sysKernHang:
		kputs("kern: hanging with interrupts masked\n")
		for {
		}
	case sysARMCacheflush:
		ret = sysCacheflush(uintptr(a0), uintptr(a1), a2)
	case unix.SYS_READ:
		ret = sysRead(f, int32(a0), uintptr(a1), int32(a2))
	case unix.SYS_WRITE:
		ret = sysWrite(int32(a0), uintptr(a1), int32(a2))
	case unix.SYS_OPEN, unix.SYS_OPENAT, unix.SYS_ACCESS, unix.SYS_FACCESSAT,
		unix.SYS_READLINK, unix.SYS_READLINKAT, unix.SYS_STAT64, unix.SYS_LSTAT64,
		unix.SYS_FSTATAT64, unix.SYS_STATX:
		// No file system.
		ret = -errENOENT
	case unix.SYS_CLOSE:
		ret = sysClose(int32(a0))
	case unix.SYS_FSTAT64:
		ret = sysFstat(int32(a0), uintptr(a1))
	case unix.SYS_GETPID, unix.SYS_GETPPID:
		ret = 1
	case unix.SYS_GETTID:
		ret = threads[cur].tid
	case unix.SYS_GETUID32, unix.SYS_GETEUID32, unix.SYS_GETGID32, unix.SYS_GETEGID32,
		unix.SYS_GETUID, unix.SYS_GETEUID, unix.SYS_GETGID, unix.SYS_GETEGID:
		ret = 0
	case unix.SYS_SCHED_GETAFFINITY:
		ret = sysSchedGetaffinity(uintptr(a1), uintptr(a2))
	case unix.SYS_UNAME:
		ret = sysUname(uintptr(a0))
	case unix.SYS_CLOCK_GETTIME:
		stats.clockGettime++
		ret = sysClockGettime(int32(a0), uintptr(a1), false)
	case unix.SYS_CLOCK_GETTIME64:
		stats.clockGettime++
		ret = sysClockGettime(int32(a0), uintptr(a1), true)
	case unix.SYS_CLOCK_GETRES, unix.SYS_CLOCK_GETRES_TIME64:
		ret = sysClockGetres(int32(a0), uintptr(a1), nr == unix.SYS_CLOCK_GETRES_TIME64)
	case unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_SETTIME64:
		ret = sysClockSettime(int32(a0), uintptr(a1), nr == unix.SYS_CLOCK_SETTIME64)
	case unix.SYS_GETTIMEOFDAY:
		ret = sysGettimeofday(uintptr(a0))
	case unix.SYS_MMAP2:
		ret = sysMmap(uintptr(a0), uintptr(a1), int32(a2), int32(a3), int32(f.r[4]))
	case unix.SYS_MUNMAP:
		ret = sysMunmap(uintptr(a0), uintptr(a1))
	case unix.SYS_MADVISE:
		ret = sysMadvise(uintptr(a0), uintptr(a1), int32(a2))
	case unix.SYS_MPROTECT:
		ret = 0
	case unix.SYS_MINCORE:
		ret = -errENOSYS
	case unix.SYS_BRK:
		ret = 0
	case unix.SYS_PRCTL:
		ret = -errEINVAL
	case unix.SYS_RT_SIGPROCMASK:
		ret = sysSigprocmask(int32(a0), uintptr(a1), uintptr(a2))
	case unix.SYS_RT_SIGACTION:
		ret = sysSigaction(int32(a0), uintptr(a1), uintptr(a2))
	case unix.SYS_SIGALTSTACK:
		ret = sysSigaltstack(f, uintptr(a0), uintptr(a1))
	case unix.SYS_RT_SIGRETURN:
		sigreturn(f)
		return
	case unix.SYS_TGKILL:
		ret = sysKill(int32(a1), int32(a2))
	case unix.SYS_TKILL:
		ret = sysKill(int32(a0), int32(a1))
	case unix.SYS_KILL:
		ret = sysKill(1, int32(a1))
	case unix.SYS_FCNTL, unix.SYS_FCNTL64:
		ret = sysFcntl(int32(a0), int32(a1), int32(a2))
	case unix.SYS_IOCTL:
		ret = -errENOTTY
	case unix.SYS_PREAD64, unix.SYS_PWRITE64, unix.SYS_LSEEK, unix.SYS__LLSEEK:
		ret = -errESPIPE
	case unix.SYS_CLONE:
		ret = sysClone(f, a0, uintptr(a1))
	case unix.SYS_FUTEX:
		ret = sysFutex(f, uintptr(a0), int32(a1), a2, uintptr(a3), false)
	case unix.SYS_FUTEX_TIME64:
		ret = sysFutex(f, uintptr(a0), int32(a1), a2, uintptr(a3), true)
	case unix.SYS_NANOSLEEP:
		ret = sysNanosleep(f, uintptr(a0), false)
	case unix.SYS_CLOCK_NANOSLEEP:
		ret = sysClockNanosleep(f, int32(a0), int32(a1), uintptr(a2), false)
	case unix.SYS_CLOCK_NANOSLEEP_TIME64:
		ret = sysClockNanosleep(f, int32(a0), int32(a1), uintptr(a2), true)
	case unix.SYS_SCHED_YIELD:
		resched = true
		ret = 0
	case unix.SYS_PRLIMIT64, unix.SYS_UGETRLIMIT, unix.SYS_SETRLIMIT:
		// The runtime and syscall package cope with no limits interface.
		ret = -errENOSYS
	case unix.SYS_SETITIMER, unix.SYS_TIMER_CREATE, unix.SYS_TIMER_SETTIME,
		unix.SYS_TIMER_SETTIME64, unix.SYS_TIMER_DELETE:
		// Only CPU profiling uses these.
		ret = -errENOSYS
	case unix.SYS_PIPE2, unix.SYS_PIPE:
		ret = -errENOSYS
	case unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CREATE:
		ret = sysEpollCreate()
	case unix.SYS_EPOLL_CTL:
		ret = sysEpollCtl(int32(a0), int32(a1), int32(a2), uintptr(a3))
	case unix.SYS_EPOLL_WAIT:
		ret = sysEpollWait(f, int32(a0), uintptr(a1), int32(a2), int32(a3))
	case unix.SYS_EPOLL_PWAIT:
		ret = sysEpollWait(f, int32(a0), uintptr(a1), int32(a2), int32(a3))
	case unix.SYS_EVENTFD2, unix.SYS_EVENTFD:
		ret = sysEventfd(a0)
	case unix.SYS_GETRANDOM:
		ret = sysGetrandom(uintptr(a0), uintptr(a1))
	case unix.SYS_SET_TID_ADDRESS:
		ret = threads[cur].tid
	case unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ:
		ret = -errENOSYS
	default:
		ret = -errENOSYS
		unknownSyscall(nr)
	}
	f.r[0] = uint32(ret)
}

// unknownSyscall counts a number the kernel does not implement and names it on the console
// the first time it is seen.
func unknownSyscall(nr uint32) {
	stats.unknown++
	if nr < 1024 {
		if reported[nr/32]&(1<<(nr%32)) != 0 {
			return
		}
		reported[nr/32] |= 1 << (nr % 32)
	}
	kputs("kern: unimplemented syscall ")
	kputDec(uint64(nr))
	kputs(" (ENOSYS)\n")
}

// exitGroup ends the program: it reports what the kernel saw and powers off with code.
func exitGroup(code int32) {
	if stats.unknown != 0 {
		kputs("kern: ")
		kputDec(stats.unknown)
		kputs(" unimplemented syscalls were answered ENOSYS\n")
	}
	if Trace != "" || Verbose != "" {
		printStats()
	}
	poweroff(int(code))
}

func printStats() {
	kputs("kern: syscalls=")
	kputDec(stats.syscalls)
	kputs(" clock_gettime=")
	kputDec(stats.clockGettime)
	kputs(" vdso=")
	kputDec(stats.vdsoCalls)
	kputs(" irqs=")
	kputDec(stats.irqs)
	kputs(" switches=")
	kputDec(stats.switches)
	kputs(" signals=")
	kputDec(stats.signals)
	kputs("\n")
}

func threadExit(f *frame, code int32) {
	t := &threads[cur]
	t.state = threadFree
	nthreads--
	if nthreads == 0 {
		exitGroup(code)
	}
}

// sysFstat describes an fd as struct stat64 (unix.Stat_t on arm): the console is a
// character device (the i.MX UART's Linux major 207, ttymxc0), the rest anonymous inodes.
func sysFstat(fd int32, buf uintptr) int32 {
	d := fdGet(fd)
	if d == nil {
		return -errEBADF
	}
	if !userOK(buf, unsafe.Sizeof(unix.Stat_t{})) {
		return -errEFAULT
	}
	st := (*unix.Stat_t)(unsafe.Pointer(buf))
	*st = unix.Stat_t{Nlink: 1, Blksize: PageSize, Ino: uint64(fd) + 1}
	if d.kind == fdConsole {
		st.Mode = unix.S_IFCHR | 0o620
		st.Rdev = 207<<8 | 16
	} else {
		st.Mode = 0o600 // anon_inode: no file type bits, as Linux reports eventfd/epoll
	}
	return 0
}

func sysSchedGetaffinity(size, mask uintptr) int32 {
	// One CPU: the i.MX6UL has a single Cortex-A7.
	if size < 4 || !userOK(mask, size) {
		return -errEINVAL
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(mask)), size)
	for i := range b {
		b[i] = 0
	}
	b[0] = 1
	return 4
}

func sysUname(buf uintptr) int32 {
	if !userOK(buf, unsafe.Sizeof(unix.Utsname{})) {
		return -errEFAULT
	}
	u := (*unix.Utsname)(unsafe.Pointer(buf))
	*u = unix.Utsname{}
	// A release >= 5.x tells the runtime futex_time64 and friends exist.
	copy(u.Sysname[:], "Linux")
	copy(u.Nodename[:], "baretap")
	copy(u.Release[:], "6.1.0-baretap")
	copy(u.Version[:], "#1")
	copy(u.Machine[:], "armv7l")
	return 0
}

func sysClockGettime(clk int32, ts uintptr, t64 bool) int32 {
	ns, ok := clockNS(clk)
	if !ok {
		return -errEINVAL
	}
	return putTimespec(ts, ns, t64)
}

func sysClockGetres(clk int32, ts uintptr, t64 bool) int32 {
	if _, ok := clockNS(clk); !ok {
		return -errEINVAL
	}
	if ts == 0 {
		return 0
	}
	return putTimespec(ts, int64(nanosecondsPerSecond/timerHz)+1, t64)
}

func sysClockSettime(clk int32, ts uintptr, t64 bool) int32 {
	if clk != clockRealtime {
		return -errEPERM
	}
	ns, ok := getTimespec(ts, t64)
	if !ok {
		return -errEFAULT
	}
	realtimeOffset = ns - int64(monotonicNS())
	return 0
}

func sysGettimeofday(tv uintptr) int32 {
	if tv == 0 {
		return 0
	}
	if !userOK(tv, unsafe.Sizeof(unix.Timeval{})) {
		return -errEFAULT
	}
	ns, _ := clockNS(clockRealtime)
	*(*unix.Timeval)(unsafe.Pointer(tv)) = unix.Timeval{
		Sec:  int32(ns / nanosecondsPerSecond),
		Usec: int32(ns % nanosecondsPerSecond / 1000),
	}
	return 0
}

// putTimespec stores ns as a struct timespec: unix.Timespec (32-bit sec and nsec) or, for
// the *_time64 calls, struct __kernel_timespec {int64 sec, int64 nsec} (x/sys/unix has no
// type for it on arm).
func putTimespec(ts uintptr, ns int64, t64 bool) int32 {
	if t64 {
		if !userOK(ts, 16) {
			return -errEFAULT
		}
		p := (*[2]int64)(unsafe.Pointer(ts))
		p[0] = ns / nanosecondsPerSecond
		p[1] = ns % nanosecondsPerSecond
		return 0
	}
	if !userOK(ts, unsafe.Sizeof(unix.Timespec{})) {
		return -errEFAULT
	}
	*(*unix.Timespec)(unsafe.Pointer(ts)) = unix.Timespec{
		Sec:  int32(ns / nanosecondsPerSecond),
		Nsec: int32(ns % nanosecondsPerSecond),
	}
	return 0
}

// getTimespec reads a struct timespec (see putTimespec) as ns.
func getTimespec(ts uintptr, t64 bool) (int64, bool) {
	if t64 {
		if !userOK(ts, 16) {
			return 0, false
		}
		p := (*[2]int64)(unsafe.Pointer(ts))
		return p[0]*nanosecondsPerSecond + int64(int32(p[1])), true
	}
	if !userOK(ts, unsafe.Sizeof(unix.Timespec{})) {
		return 0, false
	}
	p := (*unix.Timespec)(unsafe.Pointer(ts))
	return int64(p.Sec)*nanosecondsPerSecond + int64(p.Nsec), true
}

// deadlineAfter converts a relative timeout in ns to a CNTVCT deadline (never 0).
func deadlineAfter(ns int64) uint64 {
	if ns < 0 {
		ns = 0
	}
	d := readCNTVCT() + nsToTicks(uint64(ns))
	if d == 0 {
		d = 1
	}
	return d
}

func sysNanosleep(f *frame, req uintptr, t64 bool) int32 {
	ns, ok := getTimespec(req, t64)
	if !ok {
		return -errEFAULT
	}
	block(f, waitSleep, deadlineAfter(ns))
	return 0
}

func sysClockNanosleep(f *frame, clk, flags int32, req uintptr, t64 bool) int32 {
	ns, ok := getTimespec(req, t64)
	if !ok {
		return -errEFAULT
	}
	if flags&unix.TIMER_ABSTIME != 0 {
		now, ok := clockNS(clk)
		if !ok {
			return -errEINVAL
		}
		ns -= now
	}
	block(f, waitSleep, deadlineAfter(ns))
	return 0
}

// Futex operations (linux/futex.h).
const (
	futexWait        = 0
	futexWake        = 1
	futexWaitBitset  = 9
	futexWakeBitset  = 10
	futexPrivateFlag = 128
	futexClockRT     = 256
)

func sysFutex(f *frame, addr uintptr, op int32, val uint32, timeout uintptr, t64 bool) int32 {
	if !userOK(addr, 4) || addr&3 != 0 {
		return -errEFAULT
	}
	switch op &^ (futexPrivateFlag | futexClockRT) {
	case futexWait, futexWaitBitset:
		if *(*uint32)(unsafe.Pointer(addr)) != val {
			return -errEAGAIN
		}
		var deadline uint64
		if timeout != 0 {
			ns, ok := getTimespec(timeout, t64)
			if !ok {
				return -errEFAULT
			}
			if op&^(futexPrivateFlag|futexClockRT) == futexWaitBitset {
				// WAIT_BITSET takes an absolute time.
				clk := int32(clockMonotonic)
				if op&futexClockRT != 0 {
					clk = clockRealtime
				}
				now, _ := clockNS(clk)
				ns -= now
			}
			deadline = deadlineAfter(ns)
		}
		block(f, waitFutex, deadline)
		threads[cur].futex = addr
		return 0
	case futexWake, futexWakeBitset:
		n := int32(0)
		for i := range threads {
			t := &threads[i]
			if n >= int32(val) {
				break
			}
			if t.state == threadBlocked && t.wait == waitFutex && t.futex == addr {
				wakeThread(t, 0)
				n++
			}
		}
		return n
	}
	return -errENOSYS
}

// Clone flags the runtime passes (linux/sched.h); anything that is not a thread in the same
// address space is refused.
const cloneThread = unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND

func sysClone(f *frame, flags uint32, stack uintptr) int32 {
	if flags&cloneThread != cloneThread || stack == 0 {
		return -errEINVAL
	}
	i := newThread()
	if i < 0 {
		return -errEAGAIN
	}
	t := &threads[i]
	t.f = *f
	t.f.r[0] = 0
	t.f.sp = uint32(stack)
	t.sigMask = threads[cur].sigMask
	t.state = threadRunnable
	return t.tid
}

func sysGetrandom(buf, n uintptr) int32 {
	if !userOK(buf, n) {
		return -errEFAULT
	}
	if n > 1<<20 {
		n = 1 << 20
	}
	fillRandom(unsafe.Slice((*byte)(unsafe.Pointer(buf)), n))
	return int32(n)
}
