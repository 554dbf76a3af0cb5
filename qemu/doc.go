// Package qemu boots baretap images under qemu-system-arm -M mcimx6ul-evk
// and drives their console, for tests that run the real firmware on the
// emulated i.MX6UL.
//
// # Harness
//
// Build links an image with the stock Go toolchain (GOOS=linux GOARCH=arm
// GOARM=7 CGO_ENABLED=0, entry point and load address given to the linker
// with -E and -T) once per test binary; Firmware builds ./cmd/firmware into
// build/firmware.elf the way `make firmware` does. Boot starts QEMU with
// UART1 on the process's stdin/stdout and returns a Machine:
//
//	m := qemu.Boot(t, qemu.Options{Image: qemu.Firmware(t).Path})
//	m.Expect(`baretap> `, 10*time.Second)
//	m.Send("version")
//	m.Expect(`baretap (\S+)`, 5*time.Second)
//	m.Send("poweroff")
//	status, err := m.Wait(10 * time.Second)
//
// Every run has a hard time bound (Options.Timeout): QEMU is killed when it
// runs out, when Wait gives up, when the test ends, and when the test
// process dies (the child gets SIGKILL with its parent). The whole console
// output is kept; when the test fails it is logged, and it is always
// written to build/qemu-logs/<test>.log.
//
// The console text Expect matches has CR LF line ends turned into LF, so
// patterns are written for "\n" whatever the kernel's UART write does.
//
// Options.NICs attaches netdevs to the board's ENETs in order (ENET1 first,
// as QEMU gives it nd_table[0]); HostLink makes a UDP netdev whose other end
// is a socket in the test. Options.UART2 routes the second UART to any QEMU
// chardev (a file, a TCP socket), for the pcap export of later issues.
//
// # Running the tests
//
// The tests here boot QEMU and take minutes, so they run only when
// BARETAP_QEMU=1 (make test-qemu sets it); otherwise they skip, as they do
// when qemu-system-arm is not installed. Run them with
//
//	BARETAP_QEMU=1 go test -count=1 ./qemu/
//
// # Locking
//
// A Machine's output buffers, exit state and cursor are protected by
// Machine.mu; QEMU's stdout and stderr are copied in by the goroutines of
// os/exec, which take mu for each chunk. Expect, Send and Wait may be called
// from one test goroutine; Output and CPUTime from any.
package qemu
