// Command firmware is the baretap image: a stock-Go linux/arm program that
// runs on the baretap kernel (package kern) instead of Linux, on an NXP
// i.MX6UL board or under qemu-system-arm -M mcimx6ul-evk.
//
// After boot it prints a banner and serves the operator console on UART1:
// a "baretap>" prompt with line editing, history and the commands listed by
// "help". The console logic (this file, lineedit.go and the cmd_*.go
// command files) is portable Go, unit-tested on the host against a fake
// Platform; only main_arm.go knows the kernel.
//
// Adding a command: create cmd_<name>.go with an init function that calls
// register(command{...}); nothing else needs to change.
package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// version is set at link time: -X main.version=$(git describe).
var version = "dev"

// Prompt is what the console prints when it waits for a command.
const Prompt = "baretap> "

// KernelStats is the kernel's view of the machine, as kern.Stats reports it
// on the board (the kern package itself only builds for GOARCH=arm).
type KernelStats struct {
	RAMSize   uint64 // bytes of board RAM
	RAMMapped uint64 // bytes handed out by mmap
	RAMFree   uint64 // bytes left in the kernel's range allocator
	DMASize   uint64 // bytes of DMA-coherent memory
	DMAUsed   uint64
	TimerHz   uint64        // generic timer frequency (CNTFRQ)
	Uptime    time.Duration // since the kernel's entry point

	Syscalls, UnknownSyscalls, IRQs, ContextSwitches uint64
	Threads                                          int
}

// Platform is what the console needs from the machine it runs on.
// Implementations must be safe for concurrent use.
type Platform interface {
	// Stats returns a snapshot of the kernel's counters.
	Stats() KernelStats
	// Poweroff stops the machine with the given exit status. On the board
	// it does not return; a host platform may return, and the console then
	// ends its Run.
	Poweroff(code int)
}

// command is one console verb. Commands live in a package-level table that
// is written only by init functions (register) and read-only afterwards.
type command struct {
	name    string
	args    string // synopsis of the arguments, "" when there are none
	summary string // one line for help
	run     func(c *Console, args []string) error
}

var commands = map[string]command{}

// register adds a command at init time. Duplicate names are a programming
// error and panic at startup, before the console exists.
func register(cmd command) {
	if _, dup := commands[cmd.name]; dup {
		panic("console: command " + cmd.name + " registered twice")
	}
	if cmd.name == "" || strings.ContainsAny(cmd.name, " \t") || cmd.run == nil {
		panic(fmt.Sprintf("console: malformed command %q", cmd.name))
	}
	commands[cmd.name] = cmd
}

// commandNames returns the registered names in sorted order.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// errPoweroff ends Run after the poweroff command (on a host platform,
// where Poweroff returns).
var errPoweroff = errors.New("powered off")

// usageError reports bad arguments to a command; the console prints it
// together with the command's synopsis.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badUsage(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// Console is the operator console: it reads command lines from a line
// editor and writes answers to the same terminal.
//
// Locking: mu serialises writes to out, so a command running in another
// goroutine (a future capture printing packets) cannot interleave with the
// echo. Run is called from one goroutine only.
type Console struct {
	mu  sync.Mutex // protects out
	out io.Writer

	ed       *lineEditor
	platform Platform
	version  string
	started  time.Time // when the console started, for Go-side uptime
}

// ConsoleConfig describes the terminal and machine a console runs on.
type ConsoleConfig struct {
	In  io.Reader
	Out io.Writer
	// AddCR sends "\r\n" for every "\n". Set it when the output is not
	// already translated: the baretap kernel's UART write adds the CR
	// itself (like a Linux tty with ONLCR), a raw-mode host tty does not.
	AddCR    bool
	Platform Platform
	Version  string
}

// NewConsole returns a console on the given terminal.
func NewConsole(cfg ConsoleConfig) *Console {
	out := cfg.Out
	if cfg.AddCR {
		out = &crlfWriter{w: out}
	}
	c := &Console{
		out:      out,
		platform: cfg.Platform,
		version:  cfg.Version,
		started:  time.Now(),
	}
	c.ed = newLineEditor(cfg.In, lockedWriter{c}, Prompt)
	c.ed.complete = completeCommand
	return c
}

// Banner prints the boot banner: what is running, on how much RAM, with
// which timer.
func (c *Console) Banner() {
	st := c.platform.Stats()
	c.Printf("baretap %s (%s %s/%s)\n", c.version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	c.Printf("RAM %s, generic timer %s, up %s\n",
		formatBytes(st.RAMSize), formatHz(st.TimerHz), st.Uptime.Round(time.Millisecond))
	c.Printf("type help for commands\n")
}

// Run serves command lines until the input ends or poweroff. It returns nil
// after poweroff or the end of input, and the terminal's error otherwise.
func (c *Console) Run() error {
	for {
		line, err := c.ed.ReadLine()
		switch {
		case errors.Is(err, ErrInterrupted):
			continue
		case errors.Is(err, ErrEndOfTransmission):
			c.Printf("(the console stays open: poweroff stops baretap)\n")
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("console: %w", err)
		}
		if err := c.Exec(line); errors.Is(err, errPoweroff) {
			return nil
		}
	}
}

// Exec runs one command line and prints its output or its error. The error
// is returned as well, for callers that need it (tests, scripts).
func (c *Console) Exec(line string) error {
	args := strings.Fields(line)
	if len(args) == 0 {
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		err := fmt.Errorf("unknown command %q: try help", args[0])
		c.Printf("%v\n", err)
		return err
	}
	err := cmd.run(c, args[1:])
	var usage *usageError
	switch {
	case err == nil, errors.Is(err, errPoweroff):
	case errors.As(err, &usage):
		c.Printf("%s: %v: usage: %s\n", cmd.name, err, synopsis(cmd))
	default:
		c.Printf("%s: %v\n", cmd.name, err)
	}
	return err
}

// Printf writes to the console terminal.
func (c *Console) Printf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, a...)
}

func synopsis(cmd command) string {
	if cmd.args == "" {
		return cmd.name
	}
	return cmd.name + " " + cmd.args
}

// completeCommand returns the command names that start with prefix.
func completeCommand(prefix string) []string {
	var matches []string
	for _, name := range commandNames() {
		if strings.HasPrefix(name, prefix) {
			matches = append(matches, name)
		}
	}
	return matches
}

// lockedWriter lets the line editor's echo take the console's output lock.
type lockedWriter struct{ c *Console }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.out.Write(p)
}

// crlfWriter turns every "\n" into "\r\n", the line end a terminal in raw
// mode needs.
type crlfWriter struct {
	w   io.Writer
	buf []byte
}

func (w *crlfWriter) Write(p []byte) (int, error) {
	w.buf = w.buf[:0]
	for _, b := range p {
		if b == '\n' {
			w.buf = append(w.buf, '\r')
		}
		w.buf = append(w.buf, b)
	}
	if _, err := w.w.Write(w.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// formatBytes prints a byte count in binary units with the exact figure.
func formatBytes(n uint64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib:
		return fmt.Sprintf("%.1f KiB", float64(n)/kib)
	}
	return fmt.Sprintf("%d B", n)
}

func formatHz(hz uint64) string {
	switch {
	case hz >= 1e6:
		return fmt.Sprintf("%g MHz", float64(hz)/1e6)
	case hz >= 1e3:
		return fmt.Sprintf("%g kHz", float64(hz)/1e3)
	}
	return fmt.Sprintf("%d Hz", hz)
}
