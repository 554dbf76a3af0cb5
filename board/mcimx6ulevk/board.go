//go:build arm

// Package mcimx6ulevk holds the choices of the NXP MCIMX6UL-EVK board (and of QEMU's
// mcimx6ul-evk machine): how much DDR it has, which UART is the console, and how much of
// the DDR the kernel sets aside, uncached, for device DMA.
package mcimx6ulevk

import "github.com/baretap/baretap/board/imx6ul"

const (
	// RAMStart is where DDR starts (the MMDC window).
	RAMStart = imx6ul.MMDC_BASE
	// RAMSize is the EVK's 512 MiB DDR3L. QEMU 7.2: the machine has what -m says (128 MiB
	// without it); run it with -m 512M.
	RAMSize = 512 << 20
	// DMASize is the top of DDR the kernel maps uncached for driver descriptors and
	// buffers. Two ENET rings of 512 x 2 KiB buffers each fit with room to spare.
	DMASize = 8 << 20
)

// The console is UART1, wired to the EVK's debug USB port; QEMU's serial0. These are
// constants, not a *imx6ul.UART, because the kernel needs them before any package
// initializer has run.
const (
	ConsoleBase = imx6ul.UART1_BASE
	ConsoleIRQ  = imx6ul.IRQ_UART1
)
