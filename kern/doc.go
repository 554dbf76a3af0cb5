// Package kern is baretap's unikernel core: it lets a program built with the stock Go
// toolchain (GOOS=linux GOARCH=arm GOARM=7) run on the bare i.MX6UL by answering, inside
// the image, the Linux system calls the Go runtime makes.
//
// # How to write a program for kern
//
// A program is an ordinary main package. One of its files, tagged //go:build arm, imports
// the kernel for its side effects:
//
//	import _ "github.com/baretap/baretap/kern"
//
// and it is linked with the kernel's entry point at the board's load address:
//
//	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath \
//	    -ldflags "-E github.com/baretap/baretap/kern.rt0 -T 0x80011000" -o prog.elf .
//	qemu-system-arm -M mcimx6ul-evk -cpu cortex-a7 -m 512M -nographic -semihosting -kernel prog.elf
//
// Standard input and output (fd 0, 1, 2) are the console UART; reading os.Stdin parks the
// goroutine in the netpoller until a character arrives. The exit status of the program
// (os.Exit, or 2 for an unrecovered panic) becomes QEMU's exit status when QEMU runs with
// -semihosting; without it, QEMU exits with status 0 (SNVS power-off). There is no file
// system, no network stack in the kernel and no processes: one program, many threads.
// Drivers get uncached memory with AllocDMA and interrupts with IRQFile; Stats reports the
// kernel's counters and Poweroff ends the machine. A program that writes code (bpf's JIT)
// makes it fetchable with Linux's ARM cacheflush system call, which kern answers too.
//
// Link-time options (-ldflags -X github.com/baretap/baretap/kern.NAME=VALUE): Env (extra
// environment, e.g. "GODEBUG=asyncpreemptoff=1"), MMU=0, VDSO=0, Trace=1 (print every
// system call number), Verbose=1 (statistics at exit), Watchdog=N (seconds).
//
// # Design
//
// rt0 (entry_arm.s) sets up the CPU and calls kinit, then enters the Go runtime's own
// _rt0_arm_linux in SYS mode. Every exception (SVC, IRQ, aborts, undefined instruction)
// saves the same frame on the kernel stack and calls trap, which runs ordinary Go code with
// a fake g describing the kernel stack: it must not allocate, hold Go pointers in globals, or
// panic. Threads, futexes, epoll, signals and memory are in the *_arm.go files; the portable
// pieces (range allocator, initial stack, signal frame, vDSO image) are plain Go tested on
// the host.
//
// Locking: the kernel runs only inside trap, with interrupts masked, on the one core, so
// its state needs no locks. API functions called by the program mask interrupts
// (irqDisable) around every access to kernel state.
package kern
