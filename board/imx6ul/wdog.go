//go:build arm

package imx6ul

import "github.com/baretap/baretap/board/mmio"

// WDOG registers (16-bit, accessed with 16-bit loads and stores): IMX6ULRM, chapter "Watchdog Timer (WDOG)",
// section "WDOG Memory Map/Register Definition".
const (
	WDOGx_WCR  = 0x00
	WCR_WDE    = 2    // watchdog enable (write-once)
	WCR_WDT    = 3    // assert WDOG_B on timeout
	WCR_SRS    = 4    // 0 = software reset
	WCR_WDA    = 5    // 0 = assert WDOG_B
	WCR_WT     = 8    // [15:8] timeout: (WT+1) * 0.5 s
	WDOGx_WSR  = 0x02 // service register
	WSR_FIRST  = 0x5555
	WSR_SECOND = 0xAAAA
	WDOGx_WMCR = 0x08
	WMCR_PDE   = 0 // power-down counter enable, set out of reset
)

// WDOG is one watchdog instance.
type WDOG struct {
	Base uintptr
}

var WDOG1 = &WDOG{Base: WDOG1_BASE}

// DisablePowerDownCounter clears WMCR.PDE. Out of reset the WDOG asserts WDOG_B 16 s after
// boot unless this is done. QEMU 7.2: the power-down counter is not emulated.
func (hw *WDOG) DisablePowerDownCounter() {
	mmio.Write16(hw.Base+WDOGx_WMCR, 0)
}

// Start enables the watchdog with a timeout of halfSeconds/2 seconds (1..256). Once
// enabled it cannot be stopped; Service must be called before the timeout.
func (hw *WDOG) Start(halfSeconds int) {
	if halfSeconds < 1 {
		halfSeconds = 1
	}
	if halfSeconds > 256 {
		halfSeconds = 256
	}
	wcr := uint16(halfSeconds-1)<<WCR_WT | 1<<WCR_WDE | 1<<WCR_SRS | 1<<WCR_WDA
	mmio.Write16(hw.Base+WDOGx_WCR, wcr)
}

// Service restarts the countdown (the 0x5555, 0xAAAA sequence).
func (hw *WDOG) Service() {
	mmio.Write16(hw.Base+WDOGx_WSR, WSR_FIRST)
	mmio.Write16(hw.Base+WDOGx_WSR, WSR_SECOND)
}

// Enabled reports whether WCR.WDE is set.
func (hw *WDOG) Enabled() bool {
	return mmio.Read16(hw.Base+WDOGx_WCR)&(1<<WCR_WDE) != 0
}
