package qemu

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The firmware console under QEMU: the real image, the real kernel, the
// UART1 receive interrupt. Answers are checked against what the harness
// knows independently: the version it linked in, the RAM it gave QEMU,
// QEMU's fixed timer rate, the host clock and the host's view of QEMU.

const (
	prompt      = `baretap> `
	bootTimeout = 30 * time.Second // boot to prompt, with a loaded 2-core host
	cmdTimeout  = 10 * time.Second
	// qemuTimerHz is CNTFRQ under QEMU: its generic timer runs at a fixed
	// 62.5 MHz (../shared/facts/imx6ul.md §1.4).
	qemuTimerHz = 62_500_000
	ramBytes    = 512 << 20 // -m 512M
)

// bootFirmware boots build/firmware.elf and waits for the banner and the
// first prompt; it checks the banner against the image and the machine.
func bootFirmware(t *testing.T, o Options) *Machine {
	t.Helper()
	img, version := Firmware(t)
	if o.Args == nil {
		o.Image = img.Path
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	m := Boot(t, o)
	banner := m.MustExpect(`baretap (\S+) \((go\S+) linux/arm\)\nRAM ([^,]+), generic timer ([^,]+), up (\S+)\ntype help for commands\n`+prompt, bootTimeout)
	if banner[1] != version {
		t.Errorf("banner version %q, the image was linked with %q", banner[1], version)
	}
	if banner[3] != "512.0 MiB" {
		t.Errorf("banner RAM %q, QEMU has -m 512M", banner[3])
	}
	if banner[4] != "62.5 MHz" {
		t.Errorf("banner timer %q, QEMU's generic timer runs at 62.5 MHz", banner[4])
	}
	return m
}

// command sends a command line and returns its answer: the text between
// the echoed line and the next prompt.
func command(t *testing.T, m *Machine, line string) string {
	t.Helper()
	if err := m.Send(line); err != nil {
		t.Fatal(err)
	}
	answer := m.MustExpect(`(?s)^(.*?)\n`+prompt, cmdTimeout)[1]
	// The first line is the echo of what was typed (the editor may have
	// redrawn it, so only its end is certain).
	echo, rest, _ := strings.Cut(answer, "\n")
	if !strings.HasSuffix(echo, line) {
		t.Fatalf("%q: echo %q", line, echo)
	}
	if rest == "" {
		return ""
	}
	return rest + "\n"
}

// figures reads the "  name  value [B (...)]" lines of mem and kstat.
func figures(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^  (\S+)\s+(\d+)( B  \(.*\))?$`)
	f := map[string]uint64{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		f[m[1]] = n
	}
	return f
}

func parseUptime(t *testing.T, out string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`^up (\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("uptime answered %q", out)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("uptime %q: %v", m[1], err)
	}
	return d
}

func TestFirmwareConsole(t *testing.T) {
	m := bootFirmware(t, Options{})
	hostStart := time.Now()
	_, version := Firmware(t)

	t.Run("version", func(t *testing.T) {
		got := command(t, m, "version")
		if want := regexp.MustCompile(`^baretap ` + regexp.QuoteMeta(version) + ` \(go\S+ linux/arm\)\n$`); !want.MatchString(got) {
			t.Errorf("version answered %q", got)
		}
	})

	t.Run("help", func(t *testing.T) {
		got := command(t, m, "help")
		for _, name := range []string{"help", "version", "uptime", "mem", "kstat", "poweroff"} {
			if !regexp.MustCompile(`(?m)^  ` + name + `\b`).MatchString(got) {
				t.Errorf("help does not list %s:\n%s", name, got)
			}
		}
	})

	t.Run("uptime increases", func(t *testing.T) {
		first := parseUptime(t, command(t, m, "uptime"))
		time.Sleep(300 * time.Millisecond)
		second := parseUptime(t, command(t, m, "uptime"))
		elapsed := time.Since(hostStart)
		if second <= first {
			t.Errorf("uptime went from %v to %v", first, second)
		}
		// The kernel clock cannot run ahead of the host's: QEMU started
		// before the banner, and uptime counts from the kernel's entry.
		if bound := time.Since(m.started); second > bound {
			t.Errorf("uptime %v exceeds the %v QEMU has been running", second, bound)
		}
		t.Logf("uptime %v then %v; %v on the host clock since the prompt", first, second, elapsed.Round(time.Millisecond))
	})

	t.Run("mem", func(t *testing.T) {
		f := figures(t, command(t, m, "mem"))
		for _, name := range []string{"heap-alloc", "heap-inuse", "heap-sys", "stack-sys", "sys", "gc-cycles", "goroutines", "ram-size", "ram-mapped", "ram-free", "dma-size", "dma-used"} {
			if _, ok := f[name]; !ok {
				t.Fatalf("mem does not report %s: %v", name, f)
			}
		}
		t.Logf("mem: %v", f)
		if f["ram-size"] != ramBytes {
			t.Errorf("ram-size %d, QEMU has -m 512M = %d", f["ram-size"], ramBytes)
		}
		if f["ram-mapped"]+f["ram-free"] > f["ram-size"] {
			t.Errorf("ram-mapped %d + ram-free %d exceed ram-size %d", f["ram-mapped"], f["ram-free"], f["ram-size"])
		}
		// Everything the Go runtime holds came from the kernel's mmap.
		if f["sys"] > f["ram-mapped"] {
			t.Errorf("Go runtime sys %d exceeds the kernel's ram-mapped %d", f["sys"], f["ram-mapped"])
		}
		if !(f["heap-alloc"] > 0 && f["heap-alloc"] <= f["heap-sys"] && f["heap-inuse"] <= f["heap-sys"] && f["heap-sys"] <= f["sys"]) {
			t.Errorf("inconsistent Go runtime figures: %v", f)
		}
		if f["dma-used"] > f["dma-size"] {
			t.Errorf("dma-used %d exceeds dma-size %d", f["dma-used"], f["dma-size"])
		}
		if f["goroutines"] < 1 {
			t.Errorf("goroutines %d", f["goroutines"])
		}
	})

	t.Run("kstat", func(t *testing.T) {
		f := figures(t, command(t, m, "kstat"))
		t.Logf("kstat: %v", f)
		if f["timer-hz"] != qemuTimerHz {
			t.Errorf("timer-hz %d, QEMU's is %d", f["timer-hz"], qemuTimerHz)
		}
		if f["syscalls"] == 0 || f["threads"] == 0 {
			t.Errorf("no syscalls or threads counted: %v", f)
		}
		// Every character typed so far arrived by the UART1 RX interrupt.
		if f["irqs"] == 0 {
			t.Errorf("no interrupts counted after typing commands: %v", f)
		}
		if f["unknown-syscalls"] != 0 {
			t.Errorf("the Go runtime made %d syscalls the kernel does not know", f["unknown-syscalls"])
		}
	})

	t.Run("errors", func(t *testing.T) {
		for line, want := range map[string]string{
			"frobnicate":   `unknown command "frobnicate": try help` + "\n",
			"uptime now":   `uptime: unexpected argument "now": usage: uptime` + "\n",
			"poweroff 300": `poweroff: status "300" is not a number from 0 to 255: usage: poweroff [status]` + "\n",
		} {
			if got := command(t, m, line); got != want {
				t.Errorf("%q answered %q, want %q", line, got, want)
			}
		}
	})

	t.Run("line editing", func(t *testing.T) {
		versionLine := regexp.MustCompile(`\nbaretap ` + regexp.QuoteMeta(version) + ` \(go\S+ linux/arm\)\n` + prompt + `$`)
		// Backspace, then the up arrow recalling that line, then Ctrl-C
		// dropping a half-typed poweroff: all through the UART.
		for _, keys := range []string{"verx\x7fsion\r", "\x1b[A\r", "poweroff\x03version\r"} {
			if err := m.SendKeys(keys); err != nil {
				t.Fatal(err)
			}
			got := m.MustExpect(`(?s)^.*?\n`+prompt, cmdTimeout)[0]
			if keys == "poweroff\x03version\r" {
				if !strings.Contains(got, "poweroff^C\n") {
					t.Errorf("Ctrl-C: %q", got)
				}
				got = m.MustExpect(`(?s)^.*?\n`+prompt, cmdTimeout)[0]
			}
			if !versionLine.MatchString("\n" + got) {
				t.Errorf("keys %q: console printed %q", keys, got)
			}
		}
	})

	t.Run("more keys", func(t *testing.T) {
		// Ctrl-D on an empty line keeps the console; Tab completes.
		if err := m.SendKeys("\x04"); err != nil {
			t.Fatal(err)
		}
		m.MustExpect(`^\n\(the console stays open: poweroff stops baretap\)\n`+prompt, cmdTimeout)
		if err := m.Send("upt\t"); err != nil {
			t.Fatal(err)
		}
		m.MustExpect(`^uptime \n`+`up \S+\n`+prompt, cmdTimeout)
	})

	t.Run("long line", func(t *testing.T) {
		// 241 characters in one burst: the UART receiver holds one
		// character at a time, so every one of them is an interrupt and a
		// wake-up of the blocked read; none may be lost or reordered.
		name := "x" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 6) + strings.Repeat("!", 24)
		if got, want := command(t, m, name), fmt.Sprintf("unknown command %q: try help\n", name); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("poweroff", func(t *testing.T) {
		if err := m.Send("poweroff"); err != nil {
			t.Fatal(err)
		}
		m.MustExpect(`powering off \(status 0\)\n`, cmdTimeout)
		if status, err := m.Wait(cmdTimeout); err != nil || status != 0 {
			t.Fatalf("QEMU ended with %d, %v; want status 0", status, err)
		}
	})
}

func TestFirmwarePoweroffStatus(t *testing.T) {
	// With semihosting the status reaches QEMU's exit status.
	m := bootFirmware(t, Options{})
	if err := m.Send("poweroff 3"); err != nil {
		t.Fatal(err)
	}
	if status, err := m.Wait(cmdTimeout); err != nil || status != 3 {
		t.Fatalf("QEMU ended with %d, %v; want status 3", status, err)
	}
}

// TestFirmwareBootedByHand boots the image with the command lines a person
// types, including the one without -semihosting, where the kernel must
// power off through the SoC.
func TestFirmwareBootedByHand(t *testing.T) {
	for _, args := range [][]string{
		{"-M", "mcimx6ul-evk", "-m", "512M", "-nographic", "-kernel", "build/firmware.elf"},
		{"-M", "mcimx6ul-evk", "-cpu", "cortex-a7", "-m", "512M", "-nographic", "-semihosting", "-kernel", "build/firmware.elf"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			m := bootFirmware(t, Options{Args: args})
			if got := command(t, m, "uptime"); !strings.HasPrefix(got, "up ") {
				t.Errorf("uptime answered %q", got)
			}
			if err := m.Send("poweroff"); err != nil {
				t.Fatal(err)
			}
			if status, err := m.Wait(cmdTimeout); err != nil || status != 0 {
				t.Fatalf("QEMU ended with %d, %v; want status 0", status, err)
			}
		})
	}
}

// TestFirmwareIdleCPU checks a resource, not a time: at the prompt with
// nothing to do, the firmware must leave the host CPU alone (the kernel
// sleeps in WFI until the next timer deadline or interrupt).
func TestFirmwareIdleCPU(t *testing.T) {
	m := bootFirmware(t, Options{})
	// Let the boot's own work (runtime start-up, GC of boot garbage) end.
	time.Sleep(time.Second)
	before, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(3 * time.Second)
	after, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	window := time.Since(start)
	share := (after - before).Seconds() / window.Seconds()
	t.Logf("idle firmware: QEMU used %v of CPU in %v = %.2f%% of one host core (/proc counts in 10 ms ticks)", after-before, window.Round(time.Millisecond), 100*share)
	if share >= 0.05 {
		t.Errorf("idle firmware uses %.1f%% of a host core, limit 5%%", 100*share)
	}
	// Still alive and answering after the idle spell.
	if got := command(t, m, "version"); !strings.HasPrefix(got, "baretap ") {
		t.Errorf("version after idling answered %q", got)
	}
	m.Send("poweroff")
	if status, err := m.Wait(cmdTimeout); err != nil || status != 0 {
		t.Errorf("QEMU ended with %d, %v", status, err)
	}
}

// TestFirmwareImageSize holds the image to its budget of 8 MiB, so that it
// fits the boot media of the target boards with room to spare.
func TestFirmwareImageSize(t *testing.T) {
	img, _ := Firmware(t)
	const budget = 8 << 20
	t.Logf("build/firmware.elf: %d bytes (%.1f MiB), budget %d", img.Size, float64(img.Size)/(1<<20), budget)
	if img.Size > budget {
		t.Errorf("firmware image is %d bytes, over the %d-byte budget", img.Size, budget)
	}
}

func ExampleOptions_CommandLine() {
	o := Options{Image: "build/firmware.elf", NICs: []string{DgramNetdev("enet1", 5555, 5556)}}
	fmt.Println(strings.Join(o.CommandLine(), " "))
	// Output: -M mcimx6ul-evk -cpu cortex-a7 -m 512M -display none -monitor none -serial stdio -semihosting -kernel build/firmware.elf -netdev dgram,id=enet1,local.type=inet,local.host=127.0.0.1,local.port=5555,remote.type=inet,remote.host=127.0.0.1,remote.port=5556 -net nic,netdev=enet1
}
