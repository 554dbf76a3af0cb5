package qemu

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKernStdinNetpoller: os.Stdin is registered with the netpoller (fd 0 reports
// O_NONBLOCK), so a goroutine reading it parks there: the kernel thread count stays the same
// while it waits, and a ticker goroutine keeps running.
func TestKernStdinNetpoller(t *testing.T) {
	m := Boot(t, Options{Image: tortureImage(t, "echo"), Timeout: 40 * time.Second})
	m.MustExpect(`echo: ready`, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := m.Send("hello"); err != nil {
		t.Fatal(err)
	}
	g := m.MustExpect(`echo: "hello" ticks=(\d+) threads=(\d+) \(at start (\d+)\)`, 10*time.Second)
	if ticks, _ := strconv.Atoi(g[1]); ticks < 3 {
		t.Errorf("ticker ran %d times while stdin was read, want >= 3", ticks)
	}
	if g[2] != g[3] {
		t.Errorf("threads %s while reading stdin, %s at start: the read held a kernel thread", g[2], g[3])
	}
	if err := m.Send("quit"); err != nil {
		t.Fatal(err)
	}
	if status, err := m.Wait(10 * time.Second); err != nil || status != 0 {
		t.Errorf("exit: status %d, %v", status, err)
	}
}

// TestKernVDSO measures the clock reads of 10,000 time.Now calls with the in-image vDSO
// and without it (VDSO=0), and checks the clock rate against the host's.
func TestKernVDSO(t *testing.T) {
	type result struct{ vdso, trapped, syscalls int }
	run := func(img string) result {
		m := Boot(t, Options{Image: img, Timeout: 40 * time.Second})
		g := m.MustExpect(`clock: 10000 time.Now calls in \S+: vdso_calls=(\d+) clock_syscalls=(\d+) syscalls=(\d+) monotonic=true`, 20*time.Second)
		m.MustExpect(`clock: mark 0\r?\n`, 5*time.Second)
		t0 := time.Now()
		cpu0, err := m.CPUTime()
		if err != nil {
			t.Fatal(err)
		}
		m.MustExpect(`clock: mark 2s`, 10*time.Second)
		host := time.Since(t0)
		cpu1, err := m.CPUTime()
		if err != nil {
			t.Fatal(err)
		}
		// Idle is WFI until the next deadline: QEMU should hardly use the host CPU while the
		// image sleeps 2 s (a busy-polling idle loop would use about 2 s).
		t.Logf("QEMU used %v of host CPU during a 2 s sleep", cpu1-cpu0)
		if cpu1-cpu0 > 500*time.Millisecond {
			t.Errorf("QEMU used %v of CPU while the image slept 2 s: idle is not WFI", cpu1-cpu0)
		}
		// QEMU's generic timer follows the host clock; 2 s in the image must be about
		// 2 s outside (the bounds allow for a loaded host).
		if host < 1900*time.Millisecond || host > 3*time.Second {
			t.Errorf("2 s in the image took %v on the host", host)
		}
		if status, err := m.Wait(10 * time.Second); err != nil || status != 0 {
			t.Errorf("exit: status %d, %v", status, err)
		}
		var r result
		r.vdso, _ = strconv.Atoi(g[1])
		r.trapped, _ = strconv.Atoi(g[2])
		r.syscalls, _ = strconv.Atoi(g[3])
		return r
	}
	with := run(tortureImage(t, "clock"))
	without := run(tortureImage(t, "clock", "github.com/baretap/baretap/kern.VDSO=0"))
	t.Logf("10000 time.Now: with vDSO %d vDSO calls, %d clock syscalls, %d syscalls; without: %d clock syscalls, %d syscalls",
		with.vdso, with.trapped, with.syscalls, without.trapped, without.syscalls)
	if with.trapped != 0 || with.vdso < 10000 {
		t.Errorf("with the vDSO: %d clock syscalls and %d vDSO calls, want 0 and >= 10000", with.trapped, with.vdso)
	}
	if without.trapped < 10000 || without.vdso != 0 {
		t.Errorf("without the vDSO: %d clock syscalls and %d vDSO calls, want >= 10000 and 0", without.trapped, without.vdso)
	}
}

// TestKernIRQFile: an interrupt claimed with kern.IRQFile, raised at the GIC, is read
// through an os.File by a goroutine parked in the netpoller; claims of a busy or invalid
// line fail.
func TestKernIRQFile(t *testing.T) {
	out, status := runToExit(t, Options{Image: tortureImage(t, "irq")}, 30*time.Second)
	if status != 0 || !regexp.MustCompile(`PASS irqfd: counts=\[1 2 3\]`).MatchString(out) {
		t.Errorf("status %d:\n%s", status, out)
	}
}

// TestKernPoweroffWithoutSemihosting: booted by hand without -semihosting (the command line
// a user types), the image still ends QEMU: SNVS power-off, status 0, with the program's
// non-zero status printed.
//
// The image is linked with two environment variables (kern.Env), which it prints.
func TestKernPoweroffWithoutSemihosting(t *testing.T) {
	img := tortureImage(t, "exit", "github.com/baretap/baretap/kern.Env=BARETAP_A=1 GODEBUG=madvdontneed=1")
	out, status := runToExit(t, Options{
		Args:    []string{"-M", "mcimx6ul-evk", "-m", "512M", "-nographic", "-kernel", img},
		Timeout: 30 * time.Second,
	}, 20*time.Second)
	if status != 0 {
		t.Errorf("status %d, want 0 (SNVS power-off)", status)
	}
	if !regexp.MustCompile(`kern: exit status 7`).MatchString(out) {
		t.Errorf("exit status not printed:\n%s", out)
	}
	if !strings.Contains(out, `torture: args ["baretap"] env ["BARETAP_A=1" "GODEBUG=madvdontneed=1"]`) {
		t.Errorf("argv/environment not as linked:\n%s", out)
	}
	if !strings.Contains(out, "torture: stdout mode Dcrw--w----") {
		t.Errorf("fstat of the console is not a character device:\n%s", out)
	}
	// With semihosting the status passes through.
	_, status = runToExit(t, Options{Image: img}, 20*time.Second)
	if status != 7 {
		t.Errorf("with -semihosting: status %d, want 7", status)
	}
}

// TestKernWatchdog: with Watchdog=1 (WDOG1, 1 s timeout) the kernel services the watchdog
// from the timer and the idle loop, so a program that sleeps 2 s runs to the end on one boot;
// a kernel that hangs with interrupts masked is reset by the watchdog (QEMU 7.2's imx2.wdt
// resets the machine, which boots the image again).
func TestKernWatchdog(t *testing.T) {
	const wd = "github.com/baretap/baretap/kern.Watchdog=1"
	out, status := runToExit(t, Options{Image: tortureImage(t, "clock", wd)}, 30*time.Second)
	if status != 0 || strings.Count(out, "baretap kern:") != 1 || !strings.Contains(out, "clock: mark 2s") {
		t.Errorf("serviced watchdog: status %d, output:\n%s", status, out)
	}
	m := Boot(t, Options{Image: tortureImage(t, "hang", wd), Timeout: 30 * time.Second})
	m.MustExpect(`kern: hanging with interrupts masked`, 20*time.Second)
	t0 := time.Now()
	m.MustExpect(`baretap kern:`, 10*time.Second)
	t.Logf("watchdog reset %v after the hang", time.Since(t0).Round(10*time.Millisecond))
	m.Kill()
}

// TestKernBlockingRead: with O_NONBLOCK cleared on fd 0, read(0) blocks its thread in the
// kernel until the UART receive interrupt; with it set, read(0) says EAGAIN.
func TestKernBlockingRead(t *testing.T) {
	m := Boot(t, Options{Image: tortureImage(t, "blockread"), Timeout: 30 * time.Second})
	m.MustExpect(`blockread: ready`, 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	if err := m.SendKeys("abc"); err != nil {
		t.Fatal(err)
	}
	m.MustExpect(`PASS blockread: non-blocking read: resource temporarily unavailable; blocking read: "a(bc?)?"`, 10*time.Second)
	if status, err := m.Wait(10 * time.Second); err != nil || status != 0 {
		t.Errorf("exit: status %d, %v", status, err)
	}
}
