package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnableEnv is the environment variable that turns the QEMU tests on.
const EnableEnv = "BARETAP_QEMU"

// QEMU is the emulator the harness runs.
const QEMU = "qemu-system-arm"

// Machine and CPU of every run: the i.MX6UL EVK model of QEMU 7.2.
var machineArgs = []string{"-M", "mcimx6ul-evk", "-cpu", "cortex-a7"}

// DefaultMemory is the board RAM the harness gives QEMU (-m).
const DefaultMemory = "512M"

// DefaultTimeout bounds a run whose Options do not say otherwise.
const DefaultTimeout = 60 * time.Second

// Linker settings of every image: QEMU loads the ELF's PT_LOAD segments
// and jumps to its entry point. -T must be the load address (0x80010000,
// the start of DDR plus 64 KiB) plus 0x1000, because the ELF header page
// comes first; with -T 0x80010000 the text segment gets a negative file
// offset (see ../shared/facts/baremetal-go.md, pitfall 1).
const (
	TextAddress = "0x80011000"
	// KernelEntry is the firmware's entry point, the kernel's rt0.
	KernelEntry = "github.com/baretap/baretap/kern.rt0"
)

// RequireQEMU skips the test unless QEMU tests are enabled (EnableEnv=1)
// and qemu-system-arm is installed.
//
// Benchmarks skip only when QEMU is missing: asking for them (go test
// -bench, make bench) is enough.
func RequireQEMU(tb testing.TB) {
	tb.Helper()
	if _, bench := tb.(*testing.B); !bench && os.Getenv(EnableEnv) != "1" {
		tb.Skipf("QEMU tests are off: set %s=1 (make test-qemu does)", EnableEnv)
	}
	if _, err := exec.LookPath(QEMU); err != nil {
		tb.Skipf("%s is not installed (make deps installs it: apt-get install qemu-system-arm)", QEMU)
	}
}

// ModuleRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("qemu: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildSpec describes one image.
type BuildSpec struct {
	// Package is the main package, relative to the module root
	// ("./cmd/firmware").
	Package string
	// Output is the ELF path, relative to the module root
	// ("build/firmware.elf").
	Output string
	// Entry is the entry point symbol for the linker's -E; KernelEntry
	// when empty.
	Entry string
	// LDFlags are more linker flags, such as -X settings.
	LDFlags []string
}

func (s BuildSpec) key() string {
	return strings.Join(append([]string{s.Package, s.Output, s.Entry}, s.LDFlags...), "\x00")
}

// Image is a built firmware image.
type Image struct {
	Path string // absolute path of the ELF
	Size int64  // bytes
}

// builds caches images per test binary: each spec is built once, and
// concurrent callers wait for the first.
var builds struct {
	sync.Mutex
	done map[string]*buildResult
}

type buildResult struct {
	once  sync.Once
	image Image
	err   error
}

// Build links the image described by spec with the stock toolchain, once
// per test binary, and fails the test when the build fails.
func Build(tb testing.TB, spec BuildSpec) Image {
	tb.Helper()
	builds.Lock()
	if builds.done == nil {
		builds.done = map[string]*buildResult{}
	}
	r, ok := builds.done[spec.key()]
	if !ok {
		r = &buildResult{}
		builds.done[spec.key()] = r
	}
	builds.Unlock()
	r.once.Do(func() { r.image, r.err = build(spec) })
	if r.err != nil {
		tb.Fatal(r.err)
	}
	return r.image
}

func build(spec BuildSpec) (Image, error) {
	root, err := ModuleRoot()
	if err != nil {
		return Image{}, err
	}
	entry := spec.Entry
	if entry == "" {
		entry = KernelEntry
	}
	out := filepath.Join(root, spec.Output)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Image{}, err
	}
	ldflags := strings.Join(append([]string{"-E", entry, "-T", TextAddress}, spec.LDFlags...), " ")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags", ldflags, "-o", out, spec.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm", "GOARM=7", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return Image{}, fmt.Errorf("building %s: %v\n%s", spec.Package, err, msg)
	}
	st, err := os.Stat(out)
	if err != nil {
		return Image{}, err
	}
	return Image{Path: out, Size: st.Size()}, nil
}

// goTool returns the go command of the toolchain running the tests.
func goTool() string {
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		if p := filepath.Join(goroot, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FirmwareVersion is the version string Firmware links into the image:
// what `make firmware` uses (git describe --always --dirty), or "dev"
// outside a git checkout.
func FirmwareVersion() string {
	root, err := ModuleRoot()
	if err != nil {
		return "dev"
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "dev"
	}
	return string(bytes.TrimSpace(out))
}

// Firmware builds ./cmd/firmware into build/firmware.elf, as `make
// firmware` does, with FirmwareVersion as its version.
func Firmware(tb testing.TB) (Image, string) {
	tb.Helper()
	RequireQEMU(tb)
	v := firmwareVersion()
	img := Build(tb, BuildSpec{
		Package: "./cmd/firmware",
		Output:  "build/firmware.elf",
		LDFlags: []string{"-X", "main.version=" + v},
	})
	return img, v
}

// The version is computed once per test binary, so every test agrees with
// the image it boots even if the tree changes while the tests run.
var firmwareVersion = sync.OnceValue(FirmwareVersion)

// Options describe one QEMU run.
type Options struct {
	// Image is the ELF given to -kernel.
	Image string
	// Memory is the RAM size (-m); DefaultMemory when empty.
	Memory string
	// NoSemihosting leaves out -semihosting, so the image must power off
	// through the SoC (SNVS) as it would on a board.
	NoSemihosting bool
	// NICs are -netdev specifications (without the "-netdev"), one per
	// ENET in order: ENET1 first. Each must carry an id=. HostLink makes
	// them.
	NICs []string
	// UART2 is the QEMU chardev for the second UART (-serial), such as
	// "file:/tmp/x" or "tcp:127.0.0.1:4555,server=on,wait=off". Empty
	// leaves it unconnected.
	UART2 string
	// Extra arguments are appended to the command line.
	Extra []string
	// Args, when set, replaces the whole command line (everything after
	// qemu-system-arm): for checking the documented hand-typed commands.
	// Image, Memory, NoSemihosting, NICs, UART2 and Extra are then unused.
	Args []string
	// Timeout is the hard bound of the run; DefaultTimeout when zero.
	Timeout time.Duration
}

// CommandLine returns the qemu-system-arm arguments for o.
func (o Options) CommandLine() []string {
	if o.Args != nil {
		return o.Args
	}
	mem := o.Memory
	if mem == "" {
		mem = DefaultMemory
	}
	args := append([]string{}, machineArgs...)
	// UART1 (serial0) on stdio without the monitor mux that -nographic
	// adds, so every byte a test sends reaches the guest (the mux would
	// take Ctrl-A for itself).
	args = append(args, "-m", mem, "-display", "none", "-monitor", "none", "-serial", "stdio")
	if o.UART2 != "" {
		args = append(args, "-serial", o.UART2)
	}
	if !o.NoSemihosting {
		args = append(args, "-semihosting")
	}
	args = append(args, "-kernel", o.Image)
	for _, nd := range o.NICs {
		id := netdevID(nd)
		args = append(args, "-netdev", nd, "-net", "nic,netdev="+id)
	}
	return append(args, o.Extra...)
}

func netdevID(spec string) string {
	for _, f := range strings.Split(spec, ",") {
		if id, ok := strings.CutPrefix(f, "id="); ok {
			return id
		}
	}
	return ""
}

// Machine is one running QEMU.
type Machine struct {
	tb      testing.TB
	cmd     *exec.Cmd
	stdin   interface{ Write([]byte) (int, error) }
	args    []string
	started time.Time
	done    chan struct{} // closed when QEMU has exited and its output is in

	mu       sync.Mutex
	cond     *sync.Cond
	raw      bytes.Buffer // everything QEMU wrote to stdout, as is
	stderr   bytes.Buffer
	text     []byte // stdout with CR LF turned into LF
	heldCR   bool   // stdout chunk ended in CR: decided by the next chunk
	cursor   int    // text before cursor has been matched by Expect
	exited   bool
	status   int   // exit status when exited normally, -1 when killed
	waitErr  error // how the process ended, from os/exec
	timedOut bool  // killed by the hard bound
}

// Boot starts QEMU and returns the running machine. The test fails if QEMU
// cannot start. QEMU is killed when the test ends.
func Boot(tb testing.TB, o Options) *Machine {
	tb.Helper()
	RequireQEMU(tb)
	if o.Args == nil && o.Image == "" {
		tb.Fatal("qemu.Boot: Options.Image is empty")
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	m := &Machine{tb: tb, args: o.CommandLine(), done: make(chan struct{})}
	m.cond = sync.NewCond(&m.mu)
	m.cmd = exec.Command(QEMU, m.args...)
	// Relative paths (build/firmware.elf) mean what they mean in the
	// Makefile and the README.
	if root, err := ModuleRoot(); err == nil {
		m.cmd.Dir = root
	}
	m.cmd.Stdout = outputSink{m, false}
	m.cmd.Stderr = outputSink{m, true}
	// The child dies with the test process, whatever kills it.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.cmd.WaitDelay = 5 * time.Second
	stdin, err := m.cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("qemu: %v", err)
	}
	m.stdin = stdin
	if _, bench := tb.(*testing.B); !bench {
		tb.Logf("%s %s", QEMU, strings.Join(m.args, " "))
	}
	m.started = time.Now()
	if err := m.cmd.Start(); err != nil {
		tb.Fatalf("qemu: starting %s: %v", QEMU, err)
	}
	hardBound := time.AfterFunc(timeout, func() {
		m.mu.Lock()
		m.timedOut = true
		m.mu.Unlock()
		_ = m.cmd.Process.Kill()
	})
	go func() {
		err := m.cmd.Wait()
		hardBound.Stop()
		m.mu.Lock()
		m.exited = true
		m.waitErr = err
		m.status = m.cmd.ProcessState.ExitCode()
		if m.heldCR {
			m.text = append(m.text, '\r')
			m.heldCR = false
		}
		m.cond.Broadcast()
		m.mu.Unlock()
		close(m.done)
	}()
	tb.Cleanup(m.cleanup)
	return m
}

// outputSink copies QEMU's stdout or stderr into the machine.
type outputSink struct {
	m      *Machine
	stderr bool
}

func (s outputSink) Write(p []byte) (int, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.stderr {
		m.stderr.Write(p)
		m.cond.Broadcast()
		return len(p), nil
	}
	m.raw.Write(p)
	for _, b := range p {
		if m.heldCR {
			m.heldCR = false
			if b != '\n' {
				m.text = append(m.text, '\r')
			}
		}
		if b == '\r' {
			m.heldCR = true
			continue
		}
		m.text = append(m.text, b)
	}
	m.cond.Broadcast()
	return len(p), nil
}

// cleanup kills QEMU if it still runs, saves the log, and prints it when
// the test failed.
func (m *Machine) cleanup() {
	m.kill()
	<-m.done
	log := m.Log()
	if root, err := ModuleRoot(); err == nil {
		dir := filepath.Join(root, "build", "qemu-logs")
		name := strings.NewReplacer("/", "_", " ", "_").Replace(m.tb.Name()) + ".log"
		if os.MkdirAll(dir, 0o755) == nil {
			_ = os.WriteFile(filepath.Join(dir, name), []byte(log), 0o644)
		}
	}
	if m.tb.Failed() {
		m.tb.Logf("QEMU console log:\n%s", log)
	}
}

func (m *Machine) kill() {
	select {
	case <-m.done:
	default:
		_ = m.cmd.Process.Kill()
	}
}

// Log returns the command line, the whole console output and QEMU's
// stderr.
func (m *Machine) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s %s\n", QEMU, strings.Join(m.args, " "))
	b.Write(bytes.ReplaceAll(m.raw.Bytes(), []byte("\r\n"), []byte("\n")))
	if m.stderr.Len() > 0 {
		fmt.Fprintf(&b, "\n--- %s stderr ---\n%s", QEMU, m.stderr.Bytes())
	}
	if m.exited {
		fmt.Fprintf(&b, "\n--- %s", m.describeExit())
	}
	return b.String()
}

// Output returns the console text so far (CR LF as LF).
func (m *Machine) Output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.text)
}

// describeExit says how QEMU ended; mu must be held.
func (m *Machine) describeExit() string {
	switch {
	case m.timedOut:
		return fmt.Sprintf("killed: ran past its hard time bound after %v", time.Since(m.started).Round(time.Millisecond))
	case m.status >= 0:
		return fmt.Sprintf("exited with status %d after %v", m.status, time.Since(m.started).Round(time.Millisecond))
	}
	return fmt.Sprintf("ended: %v", m.waitErr)
}

// ErrTimeout is wrapped by Expect and Wait errors when their time ran out.
var ErrTimeout = errors.New("timed out")

// ErrExited is wrapped by Expect errors when QEMU ended before the output
// appeared.
var ErrExited = errors.New("QEMU exited")

// Expect waits until the console output after the previous match matches
// the regular expression pattern, moves past the match and returns the
// match and its submatches. It returns an error wrapping ErrTimeout when
// timeout passes first, or ErrExited when QEMU ends first.
func (m *Machine) Expect(pattern string, timeout time.Duration) ([]string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("qemu: Expect: %w", err)
	}
	deadline := time.Now().Add(timeout)
	wake := time.AfterFunc(timeout, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer wake.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		rest := m.text[m.cursor:]
		if loc := re.FindSubmatchIndex(rest); loc != nil {
			match := make([]string, len(loc)/2)
			for i := range match {
				if loc[2*i] >= 0 {
					match[i] = string(rest[loc[2*i]:loc[2*i+1]])
				}
			}
			m.cursor += loc[1]
			return match, nil
		}
		if m.exited {
			return nil, fmt.Errorf("qemu: expecting %q: %w (%s); unmatched output %q", pattern, ErrExited, m.describeExit(), tail(rest))
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("qemu: expecting %q: %w after %v; unmatched output %q", pattern, ErrTimeout, timeout, tail(rest))
		}
		m.cond.Wait()
	}
}

// MustExpect is Expect that fails the test on error.
func (m *Machine) MustExpect(pattern string, timeout time.Duration) []string {
	m.tb.Helper()
	match, err := m.Expect(pattern, timeout)
	if err != nil {
		m.tb.Fatal(err)
	}
	return match
}

func tail(b []byte) string {
	const max = 400
	if len(b) > max {
		return "…" + string(b[len(b)-max:])
	}
	return string(b)
}

// Send types line and Enter (CR, what a terminal sends) on UART1.
func (m *Machine) Send(line string) error {
	return m.SendKeys(line + "\r")
}

// SendKeys writes keys to UART1 as they are.
func (m *Machine) SendKeys(keys string) error {
	select {
	case <-m.done:
		return fmt.Errorf("qemu: sending %q: %w", keys, ErrExited)
	default:
	}
	if _, err := m.stdin.Write([]byte(keys)); err != nil {
		return fmt.Errorf("qemu: sending %q: %w", keys, err)
	}
	return nil
}

// Wait waits for QEMU to exit and returns its exit status. When timeout
// passes first, it kills QEMU and returns an error wrapping ErrTimeout; when
// QEMU was killed or hit its hard bound, an error saying so.
func (m *Machine) Wait(timeout time.Duration) (int, error) {
	select {
	case <-m.done:
	case <-time.After(timeout):
		m.kill()
		<-m.done
		return -1, fmt.Errorf("qemu: still running after %v, killed: %w", timeout, ErrTimeout)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.timedOut {
		return -1, fmt.Errorf("qemu: %s: %w", m.describeExit(), ErrTimeout)
	}
	if m.status < 0 {
		return -1, fmt.Errorf("qemu: %s", m.describeExit())
	}
	return m.status, nil
}

// Kill stops QEMU at once and waits for it to be gone.
func (m *Machine) Kill() {
	m.kill()
	<-m.done
}

// PID returns QEMU's process id.
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture QEMU hosts here.
const userHZ = 100

// maxTicks is the most USER_HZ ticks a time.Duration holds (292 years).
const maxTicks = uint64(math.MaxInt64 / int64(time.Second/userHZ))

// CPUTime returns the user plus system CPU time QEMU has used so far, from
// /proc/PID/stat (fields 14 utime and 15 stime, in USER_HZ ticks).
func (m *Machine) CPUTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.PID()))
	if err != nil {
		return 0, fmt.Errorf("qemu: CPU time: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime+stime from the contents of /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so the fields are counted after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("qemu: /proc stat: no command name")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state), so field n is fields[n-3].
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("qemu: /proc stat: %d fields after the command name, want more than %d", len(fields), stime)
	}
	var ticks uint64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("qemu: /proc stat: CPU time %q: %w", f, err)
		}
		ticks += n
		if n > maxTicks || ticks > maxTicks {
			return 0, fmt.Errorf("qemu: /proc stat: CPU time %q ticks does not fit a time.Duration", f)
		}
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// HostLink is a UDP link between one of the board's ENETs and a socket in
// the test: QEMU sends every frame the ENET transmits as one datagram to
// Conn, and takes datagrams sent to QEMUAddr as received frames.
type HostLink struct {
	Netdev   string       // for Options.NICs
	Conn     *net.UDPConn // the test's end, bound on 127.0.0.1
	QEMUAddr *net.UDPAddr // QEMU's end
}

// NewHostLink opens the test's end of a link for the netdev named id, on
// 127.0.0.1 (no root needed). It is closed when the test ends.
func NewHostLink(tb testing.TB, id string) *HostLink {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("qemu: host link: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	port, err := FreeUDPPort()
	if err != nil {
		tb.Fatal(err)
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	qemuAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	return &HostLink{
		Netdev:   DgramNetdev(id, qemuAddr.Port, local.Port),
		Conn:     conn,
		QEMUAddr: qemuAddr,
	}
}

// DgramNetdev returns a -netdev dgram specification: QEMU binds
// 127.0.0.1:localPort and sends to 127.0.0.1:remotePort.
func DgramNetdev(id string, localPort, remotePort int) string {
	return fmt.Sprintf("dgram,id=%s,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d",
		id, localPort, remotePort)
}

// SocketNetdev returns the older -netdev socket,udp= form of DgramNetdev.
func SocketNetdev(id string, localPort, remotePort int) string {
	return fmt.Sprintf("socket,id=%s,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", id, remotePort, localPort)
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("qemu: finding a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
