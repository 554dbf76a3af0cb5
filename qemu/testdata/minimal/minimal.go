// Command minimal is the smallest image the QEMU harness boots: a few
// instructions of ARM assembly and no Go runtime start-up (the linker keeps
// the runtime, but the entry point never reaches it). It lets the harness
// be tested before, and independently of, the baretap kernel, and it is the
// anchor of the boot benchmark.
//
// Each entry point is a separate program, chosen at link time with
// -E main.<entry>:
//
//	exitZero  print "minimal: hello" on UART1 and "minimal: uart2" on UART2, power off (status 0)
//	hang      print "minimal: hang" on UART1, then sleep in WFI forever
//	echo      print "minimal: echo", then echo UART1 input; 'q' powers off
//
// Power-off writes SNVS_LPCR, which ends QEMU with status 0 with or without
// -semihosting.
package main

func main() {}
