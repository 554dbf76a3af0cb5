package qemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The harness is tested with the minimal images of testdata/minimal, which
// need no kernel: each entry point is one behaviour (exit, hang, echo).
func minimalImage(tb testing.TB, entry string) string {
	tb.Helper()
	RequireQEMU(tb)
	return Build(tb, BuildSpec{
		Package: "./qemu/testdata/minimal",
		Output:  "build/qemu/minimal-" + entry + ".elf",
		Entry:   "main." + entry,
	}).Path
}

func TestCommandLine(t *testing.T) {
	o := Options{
		Image: "fw.elf",
		NICs:  []string{DgramNetdev("enet1", 5001, 5002), SocketNetdev("enet2", 5003, 5004)},
		UART2: "file:/tmp/uart2",
		Extra: []string{"-d", "guest_errors"},
	}
	want := []string{
		"-M", "mcimx6ul-evk", "-cpu", "cortex-a7", "-m", "512M",
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-serial", "file:/tmp/uart2",
		"-semihosting", "-kernel", "fw.elf",
		"-netdev", "dgram,id=enet1,local.type=inet,local.host=127.0.0.1,local.port=5001,remote.type=inet,remote.host=127.0.0.1,remote.port=5002",
		"-net", "nic,netdev=enet1",
		"-netdev", "socket,id=enet2,udp=127.0.0.1:5004,localaddr=127.0.0.1:5003",
		"-net", "nic,netdev=enet2",
		"-d", "guest_errors",
	}
	if got := o.CommandLine(); !slices.Equal(got, want) {
		t.Errorf("CommandLine:\n got %q\nwant %q", got, want)
	}
	o = Options{Image: "fw.elf", Memory: "128M", NoSemihosting: true}
	want = []string{"-M", "mcimx6ul-evk", "-cpu", "cortex-a7", "-m", "128M", "-display", "none", "-monitor", "none", "-serial", "stdio", "-kernel", "fw.elf"}
	if got := o.CommandLine(); !slices.Equal(got, want) {
		t.Errorf("CommandLine:\n got %q\nwant %q", got, want)
	}
	raw := []string{"-M", "mcimx6ul-evk", "-nographic", "-kernel", "x.elf"}
	if got := (Options{Image: "ignored", Args: raw}).CommandLine(); !slices.Equal(got, raw) {
		t.Errorf("Args not used as is: %q", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses, then fields 3..17.
	stat := "4242 (qemu (arm) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 4 0 12345\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 2870 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v, want %v (287 ticks of 10 ms)", got, want)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -5 7"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted it", bad)
		}
	}
	// The real file of this process parses.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if _, err := parseStatCPU(b); err != nil {
		t.Errorf("/proc/self/stat: %v", err)
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("4242 (qemu-system-arm) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 4 0 12345\n"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 18446744073709551615 1"))
	f.Fuzz(func(t *testing.T, stat []byte) {
		d, err := parseStatCPU(stat)
		if err == nil && d < 0 {
			t.Fatalf("negative CPU time %v from %q", d, stat)
		}
	})
}

func TestBootAndPoweroff(t *testing.T) {
	img := minimalImage(t, "exitZero")
	for _, semihosting := range []bool{true, false} {
		t.Run(fmt.Sprintf("semihosting=%v", semihosting), func(t *testing.T) {
			uart2 := filepath.Join(t.TempDir(), "uart2.txt")
			m := Boot(t, Options{Image: img, NoSemihosting: !semihosting, UART2: "file:" + uart2, Timeout: 30 * time.Second})
			m.MustExpect(`minimal: hello\n`, 20*time.Second)
			status, err := m.Wait(20 * time.Second)
			if err != nil || status != 0 {
				t.Fatalf("Wait = %d, %v; want 0, nil", status, err)
			}
			got, err := os.ReadFile(uart2)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "minimal: uart2\n" {
				t.Errorf("UART2 file holds %q", got)
			}
			if !strings.Contains(m.Log(), "exited with status 0") {
				t.Errorf("log does not record the exit:\n%s", m.Log())
			}
		})
	}
}

func TestSendAndExpect(t *testing.T) {
	m := Boot(t, Options{Image: minimalImage(t, "echo"), Timeout: 30 * time.Second})
	m.MustExpect(`minimal: echo\n`, 20*time.Second)
	if err := m.Send("hello baretap"); err != nil {
		t.Fatal(err)
	}
	// The echo sends the CR back; a CR LF pair becomes LF for Expect, a
	// lone CR stays.
	if err := m.SendKeys("!line two\r\n"); err != nil {
		t.Fatal(err)
	}
	match := m.MustExpect(`(hello \w+)\r!(line \w+)\n`, 10*time.Second)
	if match[1] != "hello baretap" || match[2] != "line two" {
		t.Errorf("submatches %q", match)
	}
	// Expect moves past a match: the same text does not match twice.
	if _, err := m.Expect(`hello`, 300*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("second Expect of the same text: %v, want ErrTimeout", err)
	}
	if _, err := m.Expect(`(`, time.Second); err == nil {
		t.Error("Expect accepted a bad pattern")
	}
	if err := m.SendKeys("q"); err != nil {
		t.Fatal(err)
	}
	if status, err := m.Wait(20 * time.Second); err != nil || status != 0 {
		t.Fatalf("Wait = %d, %v; want 0, nil", status, err)
	}
	if err := m.Send("late"); !errors.Is(err, ErrExited) {
		t.Errorf("Send after exit: %v, want ErrExited", err)
	}
	if out := m.Output(); !strings.Contains(out, "hello baretap\r!line two\n") {
		t.Errorf("Output %q", out)
	}
}

// gone reports whether process pid has been reaped.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestWaitTimeoutKills(t *testing.T) {
	m := Boot(t, Options{Image: minimalImage(t, "hang"), Timeout: 60 * time.Second})
	m.MustExpect(`minimal: hang\n`, 20*time.Second)
	if _, err := m.Expect(`never printed`, 200*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("Expect: %v, want ErrTimeout", err)
	}
	status, err := m.Wait(time.Second)
	if !errors.Is(err, ErrTimeout) || status != -1 {
		t.Errorf("Wait = %d, %v; want -1 and ErrTimeout", status, err)
	}
	if !gone(m.PID()) {
		t.Errorf("QEMU (pid %d) still exists after Wait timed out", m.PID())
	}
}

func TestHardBound(t *testing.T) {
	m := Boot(t, Options{Image: minimalImage(t, "hang"), Timeout: 3 * time.Second})
	// Expect with a longer timeout than the run's bound returns when QEMU
	// is killed, not when its own timeout passes.
	_, err := m.Expect(`never printed`, 60*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("Expect: %v, want ErrExited", err)
	}
	if _, err := m.Wait(time.Second); !errors.Is(err, ErrTimeout) {
		t.Errorf("Wait: %v, want ErrTimeout (hard bound)", err)
	}
	if !strings.Contains(m.Log(), "hard time bound") {
		t.Errorf("log does not say why QEMU ended:\n%s", m.Log())
	}
	if !gone(m.PID()) {
		t.Errorf("QEMU (pid %d) still exists", m.PID())
	}
}

func TestBadCommandLine(t *testing.T) {
	m := Boot(t, Options{Image: minimalImage(t, "hang"), Extra: []string{"-no-such-option"}, Timeout: 30 * time.Second})
	status, err := m.Wait(20 * time.Second)
	if err != nil || status == 0 {
		t.Fatalf("Wait = %d, %v; want a failure status", status, err)
	}
	if !strings.Contains(m.Log(), "-no-such-option") || !strings.Contains(m.Log(), "stderr") {
		t.Errorf("QEMU's complaint is not in the log:\n%s", m.Log())
	}
}

func TestNICs(t *testing.T) {
	enet1 := NewHostLink(t, "enet1")
	port, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	m := Boot(t, Options{
		Image:   minimalImage(t, "hang"),
		NICs:    []string{enet1.Netdev, SocketNetdev("enet2", port, peer)},
		Timeout: 30 * time.Second,
	})
	m.MustExpect(`minimal: hang\n`, 20*time.Second)
	// QEMU holds both of its ports: binding them again fails.
	for _, p := range []int{enet1.QEMUAddr.Port, port} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			c.Close()
			t.Errorf("UDP port %d is free: QEMU did not attach that netdev", p)
		}
	}
	// A frame sent to the board does not disturb it (no driver yet).
	if _, err := enet1.Conn.WriteToUDP(make([]byte, 60), enet1.QEMUAddr); err != nil {
		t.Errorf("sending a frame to ENET1: %v", err)
	}
	m.Kill()
}

func TestIdleImageCPU(t *testing.T) {
	// The hang image sleeps in WFI: QEMU must then use (almost) no host
	// CPU, which is what the firmware idle test relies on to measure.
	m := Boot(t, Options{Image: minimalImage(t, "hang"), Timeout: 30 * time.Second})
	m.MustExpect(`minimal: hang\n`, 20*time.Second)
	before, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	const window = 2 * time.Second
	time.Sleep(window)
	after, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	used := after - before
	t.Logf("QEMU used %v of CPU in %v of WFI (%.1f%% of a core)", used, window, 100*used.Seconds()/window.Seconds())
	if used > window/20 {
		t.Errorf("QEMU used %v of CPU over %v with the guest in WFI", used, window)
	}
}

func TestBusyImageCPU(t *testing.T) {
	// The echo image polls the UART in a tight loop: the meter must see
	// it, or the idle figures above would prove nothing.
	m := Boot(t, Options{Image: minimalImage(t, "echo"), Timeout: 30 * time.Second})
	m.MustExpect(`minimal: echo\n`, 20*time.Second)
	before, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(time.Second)
	after, err := m.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	window := time.Since(start)
	share := (after - before).Seconds() / window.Seconds()
	t.Logf("busy guest: QEMU used %v of CPU in %v (%.0f%% of a core)", after-before, window.Round(time.Millisecond), 100*share)
	// Even on a loaded 2-core host a spinning guest gets far more than
	// the 5% the idle tests allow.
	if share < 0.10 {
		t.Errorf("QEMU used only %.1f%% of a core with the guest spinning", 100*share)
	}
}
