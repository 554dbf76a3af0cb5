package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePlatform is a real, in-memory Platform: a machine whose clock moves
// one tick forward every time it is read and which records power-offs.
type fakePlatform struct {
	mu       sync.Mutex
	stats    KernelStats
	tick     time.Duration
	poweroff []int
}

func newFakePlatform() *fakePlatform {
	return &fakePlatform{
		stats: KernelStats{
			RAMSize:         512 << 20,
			RAMMapped:       270 << 20,
			RAMFree:         241 << 20,
			DMASize:         4 << 20,
			DMAUsed:         96 << 10,
			TimerHz:         62_500_000,
			Uptime:          1500 * time.Millisecond,
			Syscalls:        204,
			UnknownSyscalls: 1,
			IRQs:            37,
			ContextSwitches: 58,
			Threads:         4,
		},
		tick: 250 * time.Millisecond,
	}
}

func (p *fakePlatform) Stats() KernelStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	p.stats.Uptime += p.tick
	return st
}

func (p *fakePlatform) Poweroff(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.poweroff = append(p.poweroff, code)
}

func (p *fakePlatform) poweroffs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.poweroff...)
}

// terminal is the operator's end of an in-memory serial line: it types
// into the console through a pipe and collects everything the console
// prints.
type terminal struct {
	t    *testing.T
	keys *io.PipeWriter
	done chan error

	mu   sync.Mutex
	cond *sync.Cond
	out  bytes.Buffer
	read int // bytes of out already returned by untilPrompt
}

func (term *terminal) Write(p []byte) (int, error) {
	term.mu.Lock()
	defer term.mu.Unlock()
	term.out.Write(p)
	term.cond.Broadcast()
	return len(p), nil
}

// startConsole runs a console on an in-memory terminal and waits for the
// first prompt. The banner ends with a newline, so the first prompt starts
// a row like every other.
func startConsole(t *testing.T, p Platform) (*terminal, *Console) {
	t.Helper()
	in, keys := io.Pipe()
	term := &terminal{t: t, keys: keys, done: make(chan error, 1)}
	term.cond = sync.NewCond(&term.mu)
	c := NewConsole(ConsoleConfig{In: in, Out: term, Platform: p, Version: "v1.2.3-test"})
	c.Banner()
	go func() { term.done <- c.Run() }()
	t.Cleanup(func() {
		keys.Close()
		select {
		case <-term.done:
		case <-time.After(10 * time.Second):
			t.Error("console still running 10 s after its input closed")
		}
	})
	term.untilPrompt()
	return term, c
}

// untilPrompt waits for the next prompt and returns what came before it,
// ending with the newline before the prompt.
// The deadline only guards against a hung console; nothing is timed.
func (term *terminal) untilPrompt() string {
	term.t.Helper()
	deadline := time.AfterFunc(10*time.Second, func() {
		term.mu.Lock()
		defer term.mu.Unlock()
		term.cond.Broadcast()
	})
	defer deadline.Stop()
	start := time.Now()
	term.mu.Lock()
	defer term.mu.Unlock()
	for {
		// A prompt that starts a row; redraws of the line being edited
		// start with "\r" and do not count.
		rest := term.out.Bytes()[term.read:]
		if i := bytes.Index(rest, []byte("\n"+Prompt)); i >= 0 {
			term.read += i + 1 + len(Prompt)
			return string(rest[:i+1])
		}
		if time.Since(start) >= 10*time.Second {
			term.t.Fatalf("no prompt after 10 s; console printed %q", term.out.String())
		}
		term.cond.Wait()
	}
}

// run types keys and returns the console's answer up to the next prompt,
// without the echo of the typed line.
func (term *terminal) run(keys string) string {
	term.t.Helper()
	if _, err := io.WriteString(term.keys, keys); err != nil {
		term.t.Fatalf("typing %q: %v", keys, err)
	}
	out := term.untilPrompt()
	// The echo ends with the line terminator; the answer follows it.
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return out
}

func (term *terminal) all() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

func TestBanner(t *testing.T) {
	term, _ := startConsole(t, newFakePlatform())
	want := fmt.Sprintf("baretap v1.2.3-test (%s %s/%s)\nRAM 512.0 MiB, generic timer 62.5 MHz, up 1.5s\ntype help for commands\n%s",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, Prompt)
	if got := term.all(); got != want {
		t.Errorf("banner:\n%q\nwant\n%q", got, want)
	}
}

func TestCommands(t *testing.T) {
	p := newFakePlatform()
	term, _ := startConsole(t, p)
	goVersion := fmt.Sprintf("(%s %s/%s)", runtime.Version(), runtime.GOOS, runtime.GOARCH)

	t.Run("version", func(t *testing.T) {
		if got, want := term.run("version\r"), "baretap v1.2.3-test "+goVersion+"\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("help", func(t *testing.T) {
		got := term.run("help\r")
		// Every registered command is listed, sorted by name; later
		// issues register more, so the core set is checked separately.
		var names []string
		for name := range commands {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, core := range []string{"help", "kstat", "mem", "poweroff", "uptime", "version"} {
			if commands[core].run == nil {
				t.Errorf("core command %q is not registered", core)
			}
		}
		var want strings.Builder
		for _, name := range names {
			cmd := commands[name]
			fmt.Fprintf(&want, "  %-22s %s\n", synopsis(cmd), cmd.summary)
		}
		if got != want.String() {
			t.Errorf("got\n%s\nwant\n%s", got, want.String())
		}
		if got, want := term.run("help poweroff\r"), "usage: poweroff [status]\n  "+commands["poweroff"].summary+"\n"; got != want {
			t.Errorf("help poweroff: got %q, want %q", got, want)
		}
	})

	t.Run("uptime increases", func(t *testing.T) {
		re := regexp.MustCompile(`^up (\S+)\n$`)
		var last time.Duration
		for i := range 3 {
			got := term.run("uptime\r")
			m := re.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("uptime printed %q", got)
			}
			d, err := time.ParseDuration(m[1])
			if err != nil {
				t.Fatalf("uptime %q: %v", m[1], err)
			}
			if i > 0 && d-last != p.tick {
				t.Errorf("uptime went from %v to %v, the platform clock moved %v", last, d, p.tick)
			}
			last = d
		}
	})

	t.Run("mem", func(t *testing.T) {
		got := term.run("mem\r")
		figures := parseFigures(t, got)
		st := p.stats
		for name, want := range map[string]uint64{
			"ram-size": st.RAMSize, "ram-mapped": st.RAMMapped, "ram-free": st.RAMFree,
			"dma-size": st.DMASize, "dma-used": st.DMAUsed,
		} {
			if figures[name] != want {
				t.Errorf("%s = %d, the platform says %d", name, figures[name], want)
			}
		}
		// The Go figures are the host runtime's own: check that they are
		// there and hang together.
		if !(figures["heap-alloc"] > 0 && figures["heap-alloc"] <= figures["heap-sys"] &&
			figures["heap-inuse"] <= figures["heap-sys"] && figures["heap-sys"] < figures["sys"]) {
			t.Errorf("inconsistent Go figures: %v", figures)
		}
		if figures["goroutines"] < 2 { // the test and the console at least
			t.Errorf("goroutines = %d", figures["goroutines"])
		}
		if !strings.Contains(got, "  ram-size        536870912 B  (512.0 MiB)\n") {
			t.Errorf("ram-size line not in the documented shape:\n%s", got)
		}
	})

	t.Run("kstat", func(t *testing.T) {
		figures := parseFigures(t, term.run("kstat\r"))
		st := p.stats
		for name, want := range map[string]uint64{
			"syscalls": st.Syscalls, "unknown-syscalls": st.UnknownSyscalls, "irqs": st.IRQs,
			"context-switches": st.ContextSwitches, "threads": uint64(st.Threads), "timer-hz": st.TimerHz,
		} {
			if figures[name] != want {
				t.Errorf("%s = %d, the platform says %d", name, figures[name], want)
			}
		}
	})

	t.Run("empty lines", func(t *testing.T) {
		if got := term.run("\r   \r"); got != "" {
			t.Errorf("empty line printed %q", got)
		}
		if got := term.untilPrompt(); got != "   \n" {
			t.Errorf("blank line printed %q", got)
		}
	})
}

// parseFigures reads "  name  value [B ...]" lines into a map.
func parseFigures(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^  (\S+)\s+(\d+)( B  \(.*\))?$`)
	figures := map[string]uint64{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		figures[m[1]] = n
	}
	if len(figures) == 0 {
		t.Fatalf("no figures in %q", out)
	}
	return figures
}

func TestErrors(t *testing.T) {
	term, _ := startConsole(t, newFakePlatform())
	tests := []struct{ line, want string }{
		{"x", `unknown command "x": try help`},
		{"reboot now", `unknown command "reboot": try help`},
		{"VERSION", `unknown command "VERSION": try help`},
		{"version 2", `version: unexpected argument "2": usage: version`},
		{"uptime -p", `uptime: unexpected argument "-p": usage: uptime`},
		{"mem all", `mem: unexpected argument "all": usage: mem`},
		{"kstat x", `kstat: unexpected argument "x": usage: kstat`},
		{"help mem uptime", `help: unexpected argument "uptime": usage: help [command]`},
		{"help nosuch", `help: no command "nosuch": help lists them`},
		{"poweroff now", `poweroff: status "now" is not a number from 0 to 255: usage: poweroff [status]`},
		{"poweroff 256", `poweroff: status "256" is not a number from 0 to 255: usage: poweroff [status]`},
		{"poweroff -1", `poweroff: status "-1" is not a number from 0 to 255: usage: poweroff [status]`},
		{"poweroff 1 2", `poweroff: unexpected argument "2": usage: poweroff [status]`},
	}
	for _, tc := range tests {
		if got := term.run(tc.line + "\r"); got != tc.want+"\n" {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want+"\n")
		}
	}
	// The console is still there and answers.
	if got := term.run("uptime\r"); !strings.HasPrefix(got, "up ") {
		t.Errorf("after the errors, uptime printed %q", got)
	}
}

func TestConsoleKeys(t *testing.T) {
	p := newFakePlatform()
	term, _ := startConsole(t, p)
	versionLine := fmt.Sprintf("baretap v1.2.3-test (%s %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)

	if got := term.run("verx\x7fsion\r"); got != versionLine {
		t.Errorf("backspace: got %q", got)
	}
	// Up arrow recalls version; the answer comes again.
	if got := term.run(up + "\r"); got != versionLine {
		t.Errorf("history: got %q", got)
	}
	// Ctrl-C drops the half-typed line and prompts again; the command
	// after it, in the same burst of input, still runs.
	if got := term.untilPromptAfter("poweroff\x03"); got != "poweroff^C\n" {
		t.Errorf("ctrl-c: printed %q", got)
	}
	if got := term.run("version\r"); got != versionLine {
		t.Errorf("after ctrl-c: got %q", got)
	}
	// Ctrl-D on an empty line does not end the console.
	if got := term.untilPromptAfter("\x04"); got != "\n(the console stays open: poweroff stops baretap)\n" {
		t.Errorf("ctrl-d: printed %q", got)
	}
	if got := term.run("ver\t\r"); got != versionLine {
		t.Errorf("tab completion: got %q", got)
	}
	if offs := p.poweroffs(); len(offs) != 0 {
		t.Errorf("the platform was powered off: %v", offs)
	}
}

// untilPromptAfter types keys and returns everything up to the next prompt.
func (term *terminal) untilPromptAfter(keys string) string {
	term.t.Helper()
	if _, err := io.WriteString(term.keys, keys); err != nil {
		term.t.Fatalf("typing %q: %v", keys, err)
	}
	return term.untilPrompt()
}

func TestPoweroff(t *testing.T) {
	for _, tc := range []struct {
		line string
		code int
	}{{"poweroff", 0}, {"poweroff 3", 3}, {"poweroff 255", 255}} {
		p := newFakePlatform()
		in, keys := io.Pipe()
		var out bytes.Buffer
		c := NewConsole(ConsoleConfig{In: in, Out: &out, Platform: p, Version: "v"})
		done := make(chan error, 1)
		go func() { done <- c.Run() }()
		io.WriteString(keys, tc.line+"\r")
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%q: Run returned %v", tc.line, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: Run still running 10 s after poweroff", tc.line)
		}
		keys.Close()
		if got := p.poweroffs(); len(got) != 1 || got[0] != tc.code {
			t.Errorf("%q: platform powered off with %v, want [%d]", tc.line, got, tc.code)
		}
		if want := fmt.Sprintf("powering off (status %d)\n", tc.code); !strings.HasSuffix(out.String(), want) {
			t.Errorf("%q: printed %q, want it to end with %q", tc.line, out.String(), want)
		}
	}
}

func TestRunEndsWithInput(t *testing.T) {
	p := newFakePlatform()
	var out bytes.Buffer
	c := NewConsole(ConsoleConfig{In: strings.NewReader("uptime\rmem"), Out: &out, Platform: p, Version: "v"})
	if err := c.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Both commands ran, the unterminated last one too.
	if !strings.Contains(out.String(), "\nup ") || !strings.Contains(out.String(), "kernel:\n") {
		t.Errorf("output %q lacks the uptime or mem answer", out.String())
	}
	if len(p.poweroffs()) != 0 {
		t.Error("end of input powered the platform off")
	}
}

func TestConcurrentOutput(t *testing.T) {
	// A goroutine printing while the operator types (a running capture
	// will) must not race with the echo; go test -race checks.
	term, c := startConsole(t, newFakePlatform())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			c.Printf("event %d\n", i)
		}
	})
	for range 10 {
		term.run("kstat\r")
	}
	wg.Wait()
	for i := range 50 {
		if !strings.Contains(term.all(), fmt.Sprintf("event %d\n", i)) {
			t.Fatalf("event %d lost", i)
		}
	}
}

func TestAddCR(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(ConsoleConfig{In: strings.NewReader("version\r"), Out: &out, AddCR: true, Platform: newFakePlatform(), Version: "v9"})
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Count(got, "\n") != strings.Count(got, "\r\n") || strings.Count(got, "\n") < 2 {
		t.Errorf("every LF must follow a CR: %q", got)
	}
	if !strings.Contains(got, "baretap v9 (") {
		t.Errorf("version answer missing: %q", got)
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering help twice did not panic")
		}
	}()
	register(command{name: "help", run: cmdHelp})
}

// FuzzExec runs arbitrary command lines: the console must never panic, an
// unknown verb must get the unknown-command error, and only a well-formed
// poweroff may power the platform off.
func FuzzExec(f *testing.F) {
	for _, seed := range []string{"help", "help mem", "mem", "kstat", "uptime", "version", "poweroff 7", "poweroff 1 2", "x y z", "  \t ", "poweroff -0", "help help help"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p := newFakePlatform()
		var out bytes.Buffer
		c := NewConsole(ConsoleConfig{In: strings.NewReader(""), Out: &out, Platform: p, Version: "v"})
		err := c.Exec(line)
		args := strings.Fields(line)
		if len(args) == 0 {
			if err != nil || out.Len() != 0 {
				t.Fatalf("blank line %q: %v, printed %q", line, err, out.String())
			}
			return
		}
		if _, known := commands[args[0]]; !known {
			if want := fmt.Sprintf("unknown command %q: try help\n", args[0]); out.String() != want {
				t.Fatalf("%q printed %q, want %q", line, out.String(), want)
			}
			return
		}
		offs := p.poweroffs()
		if len(offs) > 0 {
			if args[0] != "poweroff" || len(offs) != 1 || !errors.Is(err, errPoweroff) {
				t.Fatalf("%q powered off with %v (err %v)", line, offs, err)
			}
			want := 0
			if len(args) == 2 {
				n, err := strconv.Atoi(args[1])
				if err != nil || n < 0 || n > 255 {
					t.Fatalf("%q powered off with status %d though %q is no status", line, offs[0], args[1])
				}
				want = n
			}
			if offs[0] != want {
				t.Fatalf("%q powered off with status %d, want %d", line, offs[0], want)
			}
		}
		var usage *usageError
		if errors.As(err, &usage) && !strings.Contains(out.String(), ": usage: "+args[0]) {
			t.Fatalf("%q: usage error without the synopsis: %q", line, out.String())
		}
	})
}
