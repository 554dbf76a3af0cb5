package kern

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/baretap/baretap/board/imx6ul"
)

// The program-facing API. These functions run in the calling goroutine (SYS mode) and
// touch kernel state only with IRQs masked, which on the single core keeps the kernel out.

// Statistics is a snapshot of the kernel's counters.
type Statistics struct {
	RAMSize, RAMMapped, RAMFree                      uint64 // board RAM; bytes currently mapped by mmap; free in the range allocator
	DMASize, DMAUsed                                 uint64
	TimerHz                                          uint64 // generic timer frequency (CNTFRQ)
	Uptime                                           time.Duration
	Syscalls, UnknownSyscalls, IRQs, ContextSwitches uint64
	Threads                                          int
}

// Stats returns the kernel's counters.
func Stats() Statistics {
	s := irqDisable()
	st := Statistics{
		RAMSize:         uint64(ramEnd - ramStart),
		RAMMapped:       uint64(heap.UsedBytes()),
		RAMFree:         uint64(heap.FreeBytes()),
		DMASize:         uint64(dma.Hi() - dma.Lo()),
		DMAUsed:         uint64(dma.UsedBytes()),
		TimerHz:         timerHz,
		Uptime:          time.Duration(ticksToNS(readCNTVCT() - bootCount)),
		Syscalls:        stats.syscalls,
		UnknownSyscalls: stats.unknown,
		IRQs:            stats.irqs,
		ContextSwitches: stats.switches,
		Threads:         nthreads,
	}
	irqRestore(s)
	return st
}

// ClockStats reports how many clock reads went through the vDSO and how many trapped.
func ClockStats() (vdso, syscalls uint64) {
	s := irqDisable()
	vdso, syscalls = stats.vdsoCalls, stats.clockGettime
	irqRestore(s)
	return
}

// Poweroff ends the program and the machine with exit status code. Under QEMU with
// -semihosting that is QEMU's exit status; without it QEMU exits with 0 (see poweroff).
func Poweroff(code int) {
	syscall.RawSyscall(sysKernPoweroff, uintptr(code), 0, 0)
	panic("kern: poweroff returned")
}

// SemihostingAvailable reports whether QEMU was started with -semihosting (exit statuses
// pass through).
func SemihostingAvailable() bool { return semihostOK }

// ErrIRQInUse is returned by IRQFile for a line the kernel or another fd owns.
var ErrIRQInUse = errors.New("interrupt already claimed")

// IRQFile claims GIC interrupt irq (a shared peripheral interrupt, 32 or above) and returns
// an fd for it, in the manner of a Linux UIO device: reading it returns a 4-byte
// little-endian count of the interrupts taken so far, or blocks (in the netpoller, the goroutine
// parks; no thread is held) until the next one. The interrupt handler masks the line at the
// GIC when it fires, because the device keeps it asserted until its driver acknowledges
// it; the read that reports the interrupt unmasks it again. Closing the file releases the
// line.
func IRQFile(irq int) (*os.File, error) {
	if irq < imx6ul.SPI_BASE || irq >= maxIRQ || irq >= gic.Lines() {
		return nil, fmt.Errorf("kern: IRQFile(%d): not a shared peripheral interrupt of this GIC (%d..%d)", irq, imx6ul.SPI_BASE, gic.Lines()-1)
	}
	s := irqDisable()
	if irq == console.IRQ || irqFD[irq] != 0 {
		irqRestore(s)
		return nil, fmt.Errorf("kern: IRQFile(%d): %w", irq, ErrIRQInUse)
	}
	fd := fdAlloc(fdIRQ)
	if fd < 0 {
		irqRestore(s)
		return nil, fmt.Errorf("kern: IRQFile(%d): %w", irq, syscall.Errno(-fd))
	}
	fds[fd].flags |= oNonblock
	irqAttach(irq, fd)
	irqRestore(s)
	return os.NewFile(uintptr(fd), fmt.Sprintf("irq%d", irq)), nil
}

// AllocDMA returns size bytes of uncached, physically contiguous memory aligned to align (a
// power of two), for device descriptors and buffers: virt is also the bus address (the
// kernel identity-maps memory), and buf aliases the same memory. The memory is zeroed. It
// stays allocated until FreeDMA.
func AllocDMA(size, align int) (virt uintptr, buf []byte, err error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 {
		return 0, nil, fmt.Errorf("kern: AllocDMA(%d, %d): size must be positive and align a power of two", size, align)
	}
	if align < 4 {
		align = 4
	}
	n := (uintptr(size) + 3) &^ 3
	s := irqDisable()
	a, ok := dma.AllocLow(n, uintptr(align))
	irqRestore(s)
	if !ok {
		return 0, nil, fmt.Errorf("kern: AllocDMA(%d, %d): DMA region exhausted", size, align)
	}
	buf = unsafe.Slice((*byte)(unsafe.Pointer(a)), size)
	clear(buf)
	return a, buf, nil
}

// FreeDMA returns memory from AllocDMA.
func FreeDMA(virt uintptr, size int) {
	n := (uintptr(size) + 3) &^ 3
	s := irqDisable()
	dma.Release(virt, virt+n)
	irqRestore(s)
}

// Fault makes the kernel itself take a data abort (it reads addr in SVC mode), to show the
// fatal-fault report. It never returns.
func Fault(addr uintptr) {
	syscall.RawSyscall(sysKernFault, addr, 0, 0)
}

// Hang stops the kernel dead: it spins with interrupts masked, so nothing runs any more and
// only the watchdog (link option Watchdog=N) can reset the board. For testing the watchdog.
func Hang() {
	syscall.RawSyscall(sysKernHang, 0, 0, 0)
}
