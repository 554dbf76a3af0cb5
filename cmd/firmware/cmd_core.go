package main

import (
	"fmt"
	"runtime"
	"strconv"
	"time"
)

// The core commands: what every baretap console has from the first boot.

func init() {
	register(command{name: "help", args: "[command]", summary: "list the commands, or describe one", run: cmdHelp})
	register(command{name: "version", summary: "print the firmware and Go versions", run: cmdVersion})
	register(command{name: "uptime", summary: "print the time since the kernel started", run: cmdUptime})
	register(command{name: "mem", summary: "print Go runtime and kernel memory figures", run: cmdMem})
	register(command{name: "kstat", summary: "print the kernel's counters", run: cmdKstat})
	register(command{name: "poweroff", args: "[status]", summary: "stop baretap; QEMU exits with status (default 0)", run: cmdPoweroff})
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return badUsage("unexpected argument %q", args[0])
	}
	return nil
}

func cmdHelp(c *Console, args []string) error {
	switch len(args) {
	case 0:
		for _, name := range commandNames() {
			cmd := commands[name]
			c.Printf("  %-22s %s\n", synopsis(cmd), cmd.summary)
		}
		return nil
	case 1:
		cmd, ok := commands[args[0]]
		if !ok {
			return fmt.Errorf("no command %q: help lists them", args[0])
		}
		c.Printf("usage: %s\n  %s\n", synopsis(cmd), cmd.summary)
		return nil
	}
	return badUsage("unexpected argument %q", args[1])
}

func cmdVersion(c *Console, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	c.Printf("baretap %s (%s %s/%s)\n", c.version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func cmdUptime(c *Console, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	// Duration.String keeps the figure machine-readable (time.ParseDuration).
	c.Printf("up %s\n", c.platform.Stats().Uptime.Round(time.Millisecond))
	return nil
}

// memLine prints one figure as "  name  <n> B  (<n> in binary units)", a
// shape that reads well and parses with one regular expression.
func memLine(c *Console, name string, n uint64) {
	c.Printf("  %-12s %12d B  (%s)\n", name, n, formatBytes(n))
}

func cmdMem(c *Console, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := c.platform.Stats()

	c.Printf("go runtime:\n")
	memLine(c, "heap-alloc", ms.HeapAlloc) // live and not yet swept objects
	memLine(c, "heap-inuse", ms.HeapInuse)
	memLine(c, "heap-sys", ms.HeapSys)
	memLine(c, "stack-sys", ms.StackSys)
	memLine(c, "sys", ms.Sys) // everything the runtime obtained from the kernel
	c.Printf("  %-12s %12d\n", "gc-cycles", ms.NumGC)
	c.Printf("  %-12s %12d\n", "goroutines", runtime.NumGoroutine())
	c.Printf("kernel:\n")
	memLine(c, "ram-size", st.RAMSize)
	memLine(c, "ram-mapped", st.RAMMapped)
	memLine(c, "ram-free", st.RAMFree)
	memLine(c, "dma-size", st.DMASize)
	memLine(c, "dma-used", st.DMAUsed)
	return nil
}

func cmdKstat(c *Console, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st := c.platform.Stats()
	c.Printf("  %-16s %12d\n", "syscalls", st.Syscalls)
	c.Printf("  %-16s %12d\n", "unknown-syscalls", st.UnknownSyscalls)
	c.Printf("  %-16s %12d\n", "irqs", st.IRQs)
	c.Printf("  %-16s %12d\n", "context-switches", st.ContextSwitches)
	c.Printf("  %-16s %12d\n", "threads", st.Threads)
	c.Printf("  %-16s %12d\n", "timer-hz", st.TimerHz)
	c.Printf("  %-16s %12s\n", "uptime", st.Uptime.Round(time.Millisecond))
	return nil
}

func cmdPoweroff(c *Console, args []string) error {
	code := 0
	switch len(args) {
	case 0:
	case 1:
		n, err := strconv.ParseUint(args[0], 10, 8)
		if err != nil {
			return badUsage("status %q is not a number from 0 to 255", args[0])
		}
		code = int(n)
	default:
		return badUsage("unexpected argument %q", args[1])
	}
	c.Printf("powering off (status %d)\n", code)
	c.platform.Poweroff(code)
	return errPoweroff
}
