//go:build arm

package imx6ul

import (
	"encoding/binary"
	"net"

	"github.com/baretap/baretap/board/mmio"
)

// The two 10/100 Ethernet MACs (IMX6ULRM chapter "10/100-Mbps Ethernet MAC (ENET)"). Bases
// and interrupts are in imx6ul.go (ENET1_BASE, IRQ_ENET1, ...). QEMU 7.2: ENET1 is the
// machine's first NIC (nd_table[0]), ENET2 the second; each ENET raises every MAC event on
// both of its lines, so the driver claims only IRQ_ENETx and leaves the timer line masked.

// ENETPort describes one MAC instance as the SoC wires it.
type ENETPort struct {
	Index int // 1 for ENET1, 2 for ENET2
	Base  uintptr
	IRQ   int
}

var (
	ENET1 = ENETPort{Index: 1, Base: ENET1_BASE, IRQ: IRQ_ENET1}
	ENET2 = ENETPort{Index: 2, Base: ENET2_BASE, IRQ: IRQ_ENET2}
)

// ENETRegs is 32-bit register access to one ENET through board/mmio, by offset from its
// base (the enet driver's Regs).
type ENETRegs uintptr

func (r ENETRegs) Read32(off uint32) uint32     { return mmio.Read32(uintptr(r) + uintptr(off)) }
func (r ENETRegs) Write32(off uint32, v uint32) { mmio.Write32(uintptr(r)+uintptr(off), v) }

// Regs returns the port's register access.
func (p ENETPort) Regs() ENETRegs { return ENETRegs(p.Base) }

// Clock gating: IMX6ULRM chapter "Clock Controller Module (CCM)", CCM_CCGR0; CG6 (bits 13:12)
// gates the ENET clocks of both MACs.
const (
	CCM_CCGR0 = 0x020C4068
	CCGR0_CG6 = 12
)

// EnableENETClocks turns on the ENET clock gate (11: on in all modes). QEMU 7.2: CCGR reads
// back all ones and gates nothing.
func EnableENETClocks() {
	mmio.SetN(CCM_CCGR0, CCGR0_CG6, 0x3, 0x3)
}

// OCOTP fuse shadow registers: IMX6ULRM chapter "On-Chip OTP Controller (OCOTP_CTRL)",
// fuse map "MAC_ADDR". The i.MX6UL keeps ENET1's address in MAC0 (bytes 2..5) and the low
// half of MAC1 (bytes 0..1), ENET2's in MAC (bytes 0..3) and the high half of MAC1 (bytes
// 4..5). CFG0/CFG1 hold the chip's unique ID. QEMU 7.2: OCOTP is unimplemented, reads 0.
const (
	OCOTP_BASE = 0x021BC000
	OCOTP_CFG0 = OCOTP_BASE + 0x410
	OCOTP_CFG1 = OCOTP_BASE + 0x420
	OCOTP_MAC0 = OCOTP_BASE + 0x620
	OCOTP_MAC1 = OCOTP_BASE + 0x630
	OCOTP_MAC  = OCOTP_BASE + 0x640
)

// FuseMAC returns the port's MAC address from the fuses, and false when none is fused (all
// zeros, as on QEMU and unprogrammed parts) or the fused value is not a unicast address.
func (p ENETPort) FuseMAC() (net.HardwareAddr, bool) {
	mac := make(net.HardwareAddr, 6)
	mac1 := mmio.Read32(OCOTP_MAC1)
	switch p.Index {
	case 1:
		mac[0], mac[1] = byte(mac1>>8), byte(mac1)
		binary.BigEndian.PutUint32(mac[2:], mmio.Read32(OCOTP_MAC0))
	case 2:
		binary.BigEndian.PutUint32(mac[0:], mmio.Read32(OCOTP_MAC))
		mac[4], mac[5] = byte(mac1>>24), byte(mac1>>16)
	default:
		return nil, false
	}
	if [6]byte(mac) == [6]byte{} || mac[0]&1 != 0 {
		return nil, false
	}
	return mac, true
}

// UniqueID returns the chip's 64-bit unique ID from the fuses (0 under QEMU).
func UniqueID() uint64 {
	return uint64(mmio.Read32(OCOTP_CFG0))<<32 | uint64(mmio.Read32(OCOTP_CFG1))
}
