package kern

import (
	"unsafe"

	"github.com/baretap/baretap/board/imx6ul"
	board "github.com/baretap/baretap/board/mcimx6ulevk"
)

// Link-time options (go build -ldflags "-X github.com/baretap/baretap/kern.NAME=VALUE").
// They are strings because -X only sets strings.
var (
	// Env is extra environment for the program, space separated NAME=VALUE pairs
	// (e.g. "GODEBUG=asyncpreemptoff=1").
	Env string
	// MMU=0 leaves the MMU and caches off (no nil-pointer guard).
	MMU string
	// VDSO=0 hides the vDSO, so every clock read is a system call.
	VDSO string
	// Verbose=1 prints kernel statistics at exit.
	Verbose string
	// Watchdog=N starts WDOG1 with an N second timeout, serviced by the timer tick.
	Watchdog string
)

const (
	kstackSize  = 64 << 10 // must match KSTACK_SIZE in entry_arm.s
	kstackGuard = 4096     // must match KGUARD
	bootStackSz = 256 << 10
)

// Exit statuses of the kernel's own making.
const (
	exitKernelFault = 125
	exitUserFault   = 124
)

var (
	kstack      [kstackSize]byte
	kg          [64]uintptr // fake g for the trap path: stack bounds of kstack, everything else 0
	kgAny       [64]uintptr // fake g for the vDSO: stack bounds cover all memory
	vectorSpace [24]uint32
	bootStack   [bootStackSz]byte

	console = imx6ul.UART{Base: board.ConsoleBase, IRQ: board.ConsoleIRQ}
	gic     = imx6ul.GIC{Dist: imx6ul.GICD_BASE, CPU: imx6ul.GICC_BASE}
	wdog    = imx6ul.WDOG{Base: imx6ul.WDOG1_BASE}

	semihostTrapped bool // set by trap when a semihosting SVC was taken as an exception
	semihostOK      bool
	mmuOn           bool
)

// kinit runs once, from rt0, in SVC mode with interrupts masked and g = kg, before the Go
// runtime exists: it must not allocate. It sets up the machine and returns the initial stack
// pointer of the program (argc, argv, envp, auxv, as Linux would).
func kinit() uintptr {
	bootCount = readCNTVCT()
	kgAny[0], kgAny[1], kgAny[2], kgAny[3] = 0, ^uintptr(0), 0, 0
	console.Init()
	timeInit()

	ramStart = board.RAMStart
	ramEnd = board.RAMStart + board.RAMSize
	dmaStart := ramEnd - board.DMASize
	if MMU != "0" {
		mmuInit(dmaStart)
		mmuOn = true
	}
	heapStart := (imageEnd() + PageSize - 1) &^ (PageSize - 1)
	heap.Init(heapStart, dmaStart)
	dma.Init(dmaStart, ramEnd)

	gic.Init()
	gic.Enable(imx6ul.IRQ_VTIMER)
	gic.Enable(console.IRQ)
	console.SetRXInterrupt(true)

	// Semihosting is there only if QEMU runs with -semihosting; otherwise the SVC traps.
	semihostTrapped = false
	semihost(semihostErrno, 0)
	semihostOK = !semihostTrapped

	entropyInit()
	fdInit()
	watchdogInit()

	t := &threads[0]
	t.tid = 1
	t.state = threadRunning
	nthreads = 1
	cur = 0

	kputs("baretap kern: ")
	kputDec(uint64(board.RAMSize >> 20))
	kputs(" MiB RAM, heap ")
	kputHex(uint32(heapStart))
	kputs("-")
	kputHex(uint32(dmaStart))
	kputs(", timer ")
	kputDec(timerHz)
	kputs(" Hz")
	if mmuOn {
		kputs(", mmu")
	}
	if semihostOK {
		kputs(", semihosting")
	}
	kputs("\n")
	return initialStack()
}

func initialStack() uintptr {
	var random [16]byte
	fillRandom(random[:])
	var aux [4]AuxEntry
	n := 0
	aux[n] = AuxEntry{AT_PAGESZ, PageSize}
	n++
	aux[n] = AuxEntry{AT_HWCAP, CortexA7HWCAP}
	n++
	aux[n] = AuxEntry{AT_CLKTCK, 100}
	n++
	if VDSO != "0" {
		if base, ok := vdsoInit(); ok {
			aux[n] = AuxEntry{AT_SYSINFO_EHDR, uint32(base)}
			n++
		}
	}
	// Environment: the -X Env words.
	var envWords [16]string
	ne := SplitEnv(Env, envWords[:])
	argv := [1]string{"baretap"}
	base := uintptr(unsafe.Pointer(&bootStack[0]))
	sp, ok := BuildStack(bootStack[:], base, argv[:], envWords[:ne], aux[:n], &random)
	if !ok {
		kputs("kern: initial stack does not fit\n")
		poweroff(exitKernelFault)
	}
	return sp
}

// Semihosting operations (ARM "Semihosting for AArch32 and AArch64", 2.0).
const (
	semihostErrno        = 0x13
	semihostExitExtended = 0x20
	adpStoppedAppExit    = 0x20026
)

var exitBlock [2]uint32

// poweroff ends the machine with status code. Under QEMU with -semihosting the status is
// QEMU's exit status (SYS_EXIT_EXTENDED). Without it, the SNVS power-off ends QEMU 7.2 with
// status 0 whatever the code, so a non-zero code is printed first. On silicon the SNVS
// switches the PMIC off.
func poweroff(code int) {
	if semihostOK {
		exitBlock[0] = adpStoppedAppExit
		exitBlock[1] = uint32(code)
		semihost(semihostExitExtended, uintptr(unsafe.Pointer(&exitBlock[0])))
	}
	if code != 0 {
		kputs("kern: exit status ")
		kputInt(int64(code))
		kputs("\n")
	}
	imx6ul.PowerOff()
	for {
		wfi()
	}
}

// Entropy. QEMU 7.2 models no hardware RNG for this machine (the i.MX6UL CAAM TRNG
// registers read as zero and the ULL's RNGB is absent), so getrandom and AT_RANDOM come from
// a SplitMix64 generator seeded from, and continually re-mixed with, the generic counter.
// Under QEMU the counter is predictable: this is NOT cryptographically strong. On silicon
// it must be replaced by the CAAM TRNG.
var entropy uint64

func entropyInit() {
	entropy = readCNTVCT() ^ 0x9e3779b97f4a7c15
}

func fillRandom(b []byte) {
	for i := 0; i < len(b); i += 8 {
		entropy += 0x9e3779b97f4a7c15 ^ readCNTVCT()<<32
		z := entropy
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(z >> (8 * j))
		}
	}
}

var (
	wdogOn     bool
	wdogPeriod uint64 // counter ticks between services: a quarter of the timeout
	wdogLast   uint64
)

func watchdogInit() {
	wdog.DisablePowerDownCounter()
	n, ok := ParseSeconds(Watchdog)
	if Watchdog != "" && !ok {
		kputs("kern: Watchdog=")
		kputs(Watchdog)
		kputs(" is not a number of seconds (1-128); watchdog off\n")
	}
	if ok && n > 0 {
		if n > 128 {
			n = 128
		}
		wdog.Start(2 * n)
		wdogOn = true
		wdogPeriod = uint64(n) * timerHz / 4
		wdogLast = readCNTVCT()
	}
}

// watchdogDeadline caps the timer deadline d so that the kernel wakes in time to service
// the watchdog even when no thread has anything due.
func watchdogDeadline(d uint64) uint64 {
	if !wdogOn {
		return d
	}
	w := wdogLast + wdogPeriod
	if d == 0 || w < d {
		return w
	}
	return d
}

// watchdogService restarts WDOG1 from the timer interrupt and the idle loop: if the kernel
// stops taking interrupts (a hang with interrupts masked), the watchdog resets the board.
func watchdogService() {
	if wdogOn {
		wdog.Service()
		wdogLast = readCNTVCT()
	}
}
