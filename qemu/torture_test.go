package qemu

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tortureImage builds qemu/torture in the given mode (see its package comment), with more
// -X settings if any.
func tortureImage(tb testing.TB, mode string, ldflags ...string) string {
	tb.Helper()
	RequireQEMU(tb)
	name := mode
	if name == "" {
		name = "all"
	}
	flags := []string{"-X", "main.mode=" + mode}
	for _, f := range ldflags {
		if strings.Contains(f, " ") {
			// The harness joins the flags with spaces; go build's -ldflags honours quotes.
			flags = append(flags, "-X", "'"+f+"'")
		} else {
			flags = append(flags, "-X", f)
		}
		name += "-" + strings.NewReplacer("github.com/baretap/baretap/kern.", "", "=", "", " ", "_").Replace(f)
	}
	return Build(tb, BuildSpec{
		Package: "./qemu/torture",
		Output:  "build/qemu/torture-" + name + ".elf",
		LDFlags: flags,
	}).Path
}

// runToExit boots img and returns the console output and QEMU's exit status.
func runToExit(t *testing.T, o Options, timeout time.Duration) (string, int) {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = timeout + 10*time.Second
	}
	m := Boot(t, o)
	status, err := m.Wait(timeout)
	if err != nil {
		t.Fatalf("QEMU did not exit: %v\n%s", err, m.Output())
	}
	return m.Output(), status
}

// TestTorture runs every check of the torture image: 1,000 goroutines, 300 MB of GC churn,
// timer accuracy, asynchronous preemption, nil-dereference recovery, the standard library,
// DMA allocation and memory reuse.
func TestTorture(t *testing.T) {
	out, status := runToExit(t, Options{Image: tortureImage(t, "")}, 90*time.Second)
	t.Logf("console:\n%s", out)
	for _, check := range []string{"goroutines", "gc", "timers", "preemption", "nilderef", "stdlib", "dma", "memory", "unknown"} {
		re := regexp.MustCompile(`(?m)^(PASS|FAIL) ` + check + `: (.*)$`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s: no result line", check)
			continue
		}
		if m[1] != "PASS" {
			t.Errorf("%s: %s", check, m[2])
		}
	}
	if n := strings.Count(out, "kern: unimplemented syscall 999 (ENOSYS)"); n != 1 {
		t.Errorf("unknown syscall 999 reported %d times, want once", n)
	}
	// The image measures the timers itself; check its figures here too, so that the bound
	// is the test's and not only the image's: median lateness of sleeps, timers and ticker
	// ticks under 10 ms, and nothing early. Single samples can be late when the host does
	// not schedule QEMU (see timers in torture/main.go), so p90 is logged, not bounded.
	m := regexp.MustCompile(`(\w+)_late_us p50=(\d+) p90=(\d+) max=(\d+)`).FindAllStringSubmatch(out, -1)
	if len(m) != 3 {
		t.Fatalf("timer figures: %q", m)
	}
	for _, g := range m {
		if us, _ := strconv.Atoi(g[2]); us >= 10000 {
			t.Errorf("%s lateness median %d us, want < 10 ms", g[1], us)
		}
		t.Logf("%s lateness: median %s us, p90 %s us, max %s us", g[1], g[2], g[3], g[4])
	}
	if !strings.Contains(out, "early=false") {
		t.Errorf("a sleep or timer returned early")
	}
	if !strings.Contains(out, "TORTURE PASS") || status != 0 {
		t.Errorf("exit status %d, want 0 with TORTURE PASS", status)
	}
}

// TestTorturePanic: an unrecovered panic prints the Go traceback and ends QEMU with the
// runtime's exit status 2.
func TestTorturePanic(t *testing.T) {
	out, status := runToExit(t, Options{Image: tortureImage(t, "panic")}, 30*time.Second)
	if status != 2 {
		t.Errorf("exit status %d, want 2", status)
	}
	for _, want := range []string{"panic: assignment to entry in nil map", "goroutine 1 [running]:", "main.main()"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTortureKernelFault: a data abort inside the kernel prints the fatal-fault report
// (PC, CPSR, DFSR/DFAR, IFSR/IFAR, registers, thread) and powers off with status 125.
func TestTortureKernelFault(t *testing.T) {
	out, status := runToExit(t, Options{Image: tortureImage(t, "kfault")}, 30*time.Second)
	if status != 125 {
		t.Errorf("exit status %d, want 125", status)
	}
	for _, re := range []string{
		`FATAL kernel fault: data abort in kernel`,
		`pc=0x[0-9a-f]{8} cpsr=0x[0-9a-f]{7}3 tid=1`, // SVC mode
		`dfsr=0x00000005 dfar=0x00000010`,            // translation fault, section, at the address read
		`ifsr=0x[0-9a-f]{8} ifar=0x[0-9a-f]{8}`,
		`r0 =0x00000010`, `r12=0x[0-9a-f]{8}`, `sp=0x[0-9a-f]{8} lr=0x[0-9a-f]{8}`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", re, out)
		}
	}
}
