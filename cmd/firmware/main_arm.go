//go:build arm

package main

import (
	"os"

	"github.com/baretap/baretap/kern"
)

// On the board the console runs on UART1 through the kernel: os.Stdin and
// os.Stdout are fd 0 and 1, which kern services. Reading os.Stdin parks the
// goroutine in the netpoller until the UART1 receive interrupt marks fd 0
// ready (no kernel thread is held), and its write(1) turns
// LF into CR LF, so the console sends plain "\n" (AddCR false).

// kernelPlatform is the Platform of the board: the baretap kernel.
type kernelPlatform struct{}

func (kernelPlatform) Stats() KernelStats {
	s := kern.Stats()
	return KernelStats{
		RAMSize:         s.RAMSize,
		RAMMapped:       s.RAMMapped,
		RAMFree:         s.RAMFree,
		DMASize:         s.DMASize,
		DMAUsed:         s.DMAUsed,
		TimerHz:         s.TimerHz,
		Uptime:          s.Uptime,
		Syscalls:        s.Syscalls,
		UnknownSyscalls: s.UnknownSyscalls,
		IRQs:            s.IRQs,
		ContextSwitches: s.ContextSwitches,
		Threads:         s.Threads,
	}
}

func (kernelPlatform) Poweroff(code int) { kern.Poweroff(code) }

func main() {
	c := NewConsole(ConsoleConfig{In: os.Stdin, Out: os.Stdout, Platform: kernelPlatform{}, Version: version})
	c.Banner()
	if err := c.Run(); err != nil {
		c.Printf("%v\n", err)
		kern.Poweroff(1)
	}
	// The UART never reports the end of input; if it did, there is no one
	// left to serve.
	c.Printf("console input ended\n")
	kern.Poweroff(1)
}
