//go:build arm

package imx6ul

import "github.com/baretap/baretap/board/mmio"

// SYS_CNT is the memory-mapped system counter that feeds the Cortex-A7 generic timer:
// IMX6ULRM, chapter "System Counter (SYS_CTR)"; register layout per ARM DDI0406C D5.7
// "Memory-mapped counter module" (CNTControlBase frame).
const (
	SYS_CNT_BASE = 0x021DC000

	CNTCR        = 0x000
	CNTCR_EN     = 0 // counter enable
	CNTCR_HDBG   = 1 // halt on debug
	CNTCR_FCREQ0 = 8 // select frequency table entry 0
	CNTFID0      = 0x020

	// SysCounterHz is the SYS_CNT rate with the 24 MHz oscillator divided by 3 (entry 0 of
	// the frequency table).
	SysCounterHz = 8_000_000
)

// EnableSystemCounter starts SYS_CNT at SysCounterHz, for when no boot loader did: the
// generic timer does not count until it runs. QEMU 7.2: SYS_CNT is not modelled (reads as
// zero, writes ignored); the CPU's counter runs at 62.5 MHz regardless.
func EnableSystemCounter() {
	mmio.Write32(SYS_CNT_BASE+CNTFID0, SysCounterHz)
	mmio.Write32(SYS_CNT_BASE+CNTCR, 1<<CNTCR_EN|1<<CNTCR_HDBG|1<<CNTCR_FCREQ0)
}
