//go:build !arm

package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/term"
)

// On the host the firmware runs its console on the terminal, for trying
// commands without QEMU: go run ./cmd/firmware. The kernel figures are
// stand-ins (uptime and the Go runtime's own view); everything else is the
// code the board runs.

// hostPlatform is the development platform: no kernel, the process is the
// machine.
type hostPlatform struct {
	start   time.Time
	restore func()
}

func (p *hostPlatform) Stats() KernelStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return KernelStats{
		RAMMapped: ms.Sys,
		Uptime:    time.Since(p.start),
		Threads:   runtime.NumGoroutine(),
	}
}

func (p *hostPlatform) Poweroff(code int) {
	p.restore()
	os.Exit(code)
}

func main() {
	p := &hostPlatform{start: time.Now(), restore: func() {}}
	addCR := false
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		// Raw mode: the console does its own echo and editing, as on UART1.
		old, err := term.MakeRaw(fd)
		if err != nil {
			fmt.Fprintf(os.Stderr, "firmware: raw mode: %v\n", err)
			os.Exit(1)
		}
		p.restore = func() { _ = term.Restore(fd, old) }
		addCR = true
	}
	c := NewConsole(ConsoleConfig{In: os.Stdin, Out: os.Stdout, AddCR: addCR, Platform: p, Version: version})
	c.Banner()
	err := c.Run()
	p.restore()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
