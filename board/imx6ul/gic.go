//go:build arm

package imx6ul

import "github.com/baretap/baretap/board/mmio"

// GICv2 registers, IHI0048B chapter 4 "Programmers' Model": 4.3 distributor, 4.4 CPU
// interface.
const (
	GICD_CTLR       = 0x000
	GICD_TYPER      = 0x004
	GICD_IGROUPR    = 0x080
	GICD_ISENABLER  = 0x100
	GICD_ICENABLER  = 0x180
	GICD_ISPENDR    = 0x200
	GICD_ICPENDR    = 0x280
	GICD_IPRIORITYR = 0x400
	GICD_ITARGETSR  = 0x800
	GICD_ICFGR      = 0xC00

	TYPER_ITLINES = 0 // [4:0]: 32*(N+1) interrupt IDs

	GICC_CTLR = 0x00
	GICC_PMR  = 0x04
	GICC_IAR  = 0x0C
	GICC_EOIR = 0x10

	CTLR_ENABLEGRP0 = 0
	CTLR_ENABLEGRP1 = 1

	// IAR_SPURIOUS is the interrupt ID read from GICC_IAR when nothing is pending.
	IAR_SPURIOUS = 1023
)

// GIC is the interrupt controller. Every interrupt is configured in group 0 at one
// priority: the CPU runs in the Secure state (QEMU 7.2 enters the image in Secure SVC mode),
// where group 0 signals IRQ while GICC_CTLR.FIQEn is 0.
//
// Locking: none; only the kernel uses it, with interrupts masked.
type GIC struct {
	Dist uintptr
	CPU  uintptr

	lines int
}

var GIC0 = &GIC{Dist: GICD_BASE, CPU: GICC_BASE}

// Init disables, clears and routes every interrupt to CPU 0, then enables the distributor and
// the CPU interface.
func (hw *GIC) Init() {
	hw.lines = 32 * (int(mmio.GetN(hw.Dist+GICD_TYPER, TYPER_ITLINES, 0x1f)) + 1)
	mmio.Write32(hw.Dist+GICD_CTLR, 0)
	for i := 0; i < hw.lines/32; i++ {
		off := uintptr(4 * i)
		mmio.Write32(hw.Dist+GICD_ICENABLER+off, 0xFFFFFFFF)
		mmio.Write32(hw.Dist+GICD_ICPENDR+off, 0xFFFFFFFF)
		mmio.Write32(hw.Dist+GICD_IGROUPR+off, 0)
	}
	for i := 0; i < hw.lines/4; i++ {
		off := uintptr(4 * i)
		// Priority 0xA0 for all: below the mask set next, so every line can signal.
		mmio.Write32(hw.Dist+GICD_IPRIORITYR+off, 0xA0A0A0A0)
		if i >= 8 { // ITARGETSR0-7 (SGIs, PPIs) are read-only
			mmio.Write32(hw.Dist+GICD_ITARGETSR+off, 0x01010101)
		}
	}
	mmio.Write32(hw.CPU+GICC_PMR, 0xF0)
	mmio.Write32(hw.CPU+GICC_CTLR, 1<<CTLR_ENABLEGRP0|1<<CTLR_ENABLEGRP1)
	mmio.Write32(hw.Dist+GICD_CTLR, 1<<CTLR_ENABLEGRP0|1<<CTLR_ENABLEGRP1)
}

// Lines returns how many interrupt IDs the distributor implements.
func (hw *GIC) Lines() int { return hw.lines }

// Enable unmasks interrupt id at the distributor.
func (hw *GIC) Enable(id int) {
	mmio.Write32(hw.Dist+GICD_ISENABLER+uintptr(4*(id/32)), 1<<(id%32))
}

// Disable masks interrupt id at the distributor.
func (hw *GIC) Disable(id int) {
	mmio.Write32(hw.Dist+GICD_ICENABLER+uintptr(4*(id/32)), 1<<(id%32))
}

// Acknowledge returns the highest-priority pending interrupt and marks it active, or
// IAR_SPURIOUS. It works while the CPU masks IRQs, which the kernel's idle loop relies on.
func (hw *GIC) Acknowledge() int {
	return int(mmio.Read32(hw.CPU+GICC_IAR) & 0x3ff)
}

// End signals the end of handling interrupt id.
func (hw *GIC) End(id int) {
	mmio.Write32(hw.CPU+GICC_EOIR, uint32(id))
}

// SetPending makes interrupt id pending from software (GICD_ISPENDR), as if its device had
// raised it: for testing interrupt paths without the device.
func (hw *GIC) SetPending(id int) {
	mmio.Write32(hw.Dist+GICD_ISPENDR+uintptr(4*(id/32)), 1<<(id%32))
}
