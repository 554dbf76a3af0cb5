package kern

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/baretap/baretap/board/imx6ul"
)

// Time comes from the ARM generic timer's virtual counter (CNTVCT), which runs at CNTFRQ
// from reset and never stops. QEMU 7.2: CNTFRQ is preset to 62.5 MHz (16 ns per tick). On
// silicon the boot loader programs SYS_CNT and CNTFRQ (8 MHz on the i.MX6UL).

var (
	timerHz   uint64 // CNTFRQ
	tickTicks uint64 // tickNS in counter ticks
	bootCount uint64 // CNTVCT at rt0
	// realtimeOffset is added to the monotonic clock for CLOCK_REALTIME, in ns. There is no
	// battery-backed clock in QEMU 7.2 (SNVS SRTC reads 0), so it starts at a fixed epoch
	// (2026-01-01T00:00:00Z) until clock_settime sets it.
	realtimeOffset int64 = 1767225600 * 1_000_000_000
)

func timeInit() {
	timerHz = uint64(readCNTFRQ())
	if timerHz == 0 {
		// Nobody set the counter up (a bare boot on silicon): start SYS_CNT and tell the
		// CPU its rate. CNTFRQ is writable here because the kernel runs in Secure PL1.
		imx6ul.EnableSystemCounter()
		writeCNTFRQ(imx6ul.SysCounterHz)
		timerHz = imx6ul.SysCounterHz
	}
	tickTicks = nsToTicks(tickNS)
}

// ticksToNS converts counter ticks to nanoseconds without overflowing for centuries.
func ticksToNS(t uint64) uint64 {
	return t/timerHz*1_000_000_000 + t%timerHz*1_000_000_000/timerHz
}

func nsToTicks(ns uint64) uint64 {
	return ns/1_000_000_000*timerHz + ns%1_000_000_000*timerHz/1_000_000_000
}

// monotonicNS is CLOCK_MONOTONIC: time since rt0.
func monotonicNS() uint64 {
	return ticksToNS(readCNTVCT() - bootCount)
}

// Clock ids (linux/time.h).
const (
	clockRealtime         = 0
	clockMonotonic        = 1
	clockProcessCPUTime   = 2
	clockThreadCPUTime    = 3
	clockMonotonicRaw     = 4
	clockRealtimeCoarse   = 5
	clockMonotonicCoarse  = 6
	clockBoottime         = 7
	clockRealtimeAlarm    = 8
	clockBoottimeAlarm    = 9
	clockTAI              = 11
	nanosecondsPerSecond  = 1_000_000_000
	nanosecondsPerMilli   = 1_000_000
	maxRelativeTimeoutSec = 1 << 31
)

// clockNS returns the clock's time in ns, or false for an unknown clock.
func clockNS(clk int32) (int64, bool) {
	switch clk {
	case clockRealtime, clockRealtimeCoarse, clockRealtimeAlarm, clockTAI:
		return int64(monotonicNS()) + realtimeOffset, true
	case clockMonotonic, clockMonotonicRaw, clockMonotonicCoarse, clockBoottime,
		clockBoottimeAlarm, clockProcessCPUTime, clockThreadCPUTime:
		return int64(monotonicNS()), true
	}
	return 0, false
}

// vdsoClock is the body of the vDSO's __vdso_clock_gettime (32-bit timespec). It runs in
// the calling thread, in SYS mode, with g = kgAny: it must not allocate, and interrupts may
// arrive while it runs.
func vdsoClock(clk int32, ts uintptr) int32 {
	stats.vdsoCalls++
	ns, ok := clockNS(clk)
	if !ok {
		return -errEINVAL
	}
	*(*unix.Timespec)(unsafe.Pointer(ts)) = unix.Timespec{
		Sec:  int32(ns / nanosecondsPerSecond),
		Nsec: int32(ns % nanosecondsPerSecond),
	}
	return 0
}
