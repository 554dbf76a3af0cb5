//go:build arm

package imx6ul

import "github.com/baretap/baretap/board/mmio"

// SNVS_HP registers: IMX6ULRM, chapter "Secure Non-Volatile Storage (SNVS)", section
// "SNVS Memory Map/Register Definition".
const (
	// SNVS_LPCR is the low-power control register; it sits in the HP block's address space.
	SNVS_LPCR   = 0x38
	LPCR_DP_EN  = 5 // dumb PMIC enabled
	LPCR_TOP    = 6 // turn off power
	SNVS_HPSR   = 0x14
	SNVS_HPCOMR = 0x04
)

// PowerOff asks the SNVS to switch the PMIC off (LPCR.TOP with LPCR.DP_EN). On silicon the
// power rail drops within a few cycles. QEMU 7.2: imx7.snvs treats the same write as a
// shutdown request and qemu-system-arm exits with status 0; every SNVS read returns 0.
func PowerOff() {
	mmio.Write32(SNVS_HP_BASE+SNVS_LPCR, 1<<LPCR_DP_EN|1<<LPCR_TOP)
}
