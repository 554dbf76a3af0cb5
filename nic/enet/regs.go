package enet

// ENET registers: IMX6ULLRM (i.MX 6ULL Applications Processor Reference Manual, Rev. 1,
// 11/2017), chapter 22 "10/100-Mbps Ethernet MAC (ENET)", section 22.6 "Memory map/register
// definition"; the i.MX6UL manual (IMX6ULRM Rev. 2, 03/2017) has the same block. Offsets are
// from the instance base; bit numbers are positions. Notes marked "QEMU 7.2:" describe
// hw/net/imx_fec.c as observed (../shared/facts/imx6ul.md §3).
const (
	ENETx_EIR  = 0x004 // interrupt event, write 1 to clear
	ENETx_EIMR = 0x008 // interrupt mask: 1 enables the event

	EIR_BABR  = 30
	EIR_BABT  = 29
	EIR_GRA   = 28
	EIR_TXF   = 27 // a frame has been transmitted
	EIR_TXB   = 26 // a transmit buffer has been updated
	EIR_RXF   = 25 // a frame has been received
	EIR_RXB   = 24 // a receive buffer (not the last of its frame) has been updated
	EIR_MII   = 23 // MDIO transfer complete
	EIR_EBERR = 22

	ENETx_RDAR = 0x010 // receive descriptor active
	RDAR_RDAR  = 24
	ENETx_TDAR = 0x014 // transmit descriptor active
	TDAR_TDAR  = 24

	ENETx_ECR   = 0x024 // Ethernet control
	ECR_RESET   = 0
	ECR_ETHEREN = 1
	ECR_EN1588  = 4 // enhanced (32-byte) descriptors; this driver keeps it 0
	ECR_DBSWP   = 8 // little-endian descriptors, required on ARM

	ENETx_MMFR = 0x040 // MII management frame
	MMFR_ST    = 30    // [31:30] start of frame, 01 for clause 22
	MMFR_OP    = 28    // [29:28] 01 write, 10 read
	MMFR_PA    = 23    // [27:23] PHY address
	MMFR_RA    = 18    // [22:18] register address
	MMFR_TA    = 16    // [17:16] turnaround, 10
	MMFR_DATA  = 0     // [15:0]

	ENETx_MSCR     = 0x044 // MII speed control
	MSCR_MII_SPEED = 1     // [6:1]
	MSCR_HOLDTIME  = 8     // [10:8]

	ENETx_MIBC     = 0x064 // MIB control
	MIBC_MIB_DIS   = 31
	MIBC_MIB_IDLE  = 30
	MIBC_MIB_CLEAR = 29

	ENETx_RCR      = 0x084 // receive control
	RCR_LOOP       = 0     // resets to 1: internal loopback
	RCR_MII_MODE   = 2     // must be 1
	RCR_PROM       = 3
	RCR_FCE        = 5
	RCR_RMII_MODE  = 8
	RCR_RMII_10T   = 9
	RCR_MAX_FL     = 16 // [29:16] maximum frame length, FCS included
	RCR_MAX_FL_MSK = 0x3fff

	ENETx_TCR = 0x0C4 // transmit control
	TCR_FDEN  = 2     // full duplex

	ENETx_PALR = 0x0E4 // MAC address bytes 0-3, byte 0 in bits 31:24
	ENETx_PAUR = 0x0E8 // MAC address bytes 4-5 in bits 31:16

	ENETx_RDSR = 0x180 // receive descriptor ring start
	ENETx_TDSR = 0x184 // transmit descriptor ring start
	ENETx_MRBR = 0x188 // maximum receive buffer size, [13:4]; QEMU 7.2 resets it to 0

	ENETx_FTRL = 0x1B0 // frame truncation length, [13:0]

	// IEEE_R_MACERR counts frames dropped because the receive FIFO overflowed: on silicon that
	// is where a frame goes when no receive descriptor is empty. QEMU 7.2: the MIB block is
	// not modelled and reads 0.
	ENETx_IEEE_R_MACERR = 0x2D8
)

// Legacy buffer descriptor (ECR.EN1588 = 0): IMX6ULLRM 22.6.13 "Legacy buffer descriptors",
// tables 22-35 (receive) and 22-37 (transmit). Eight bytes, little-endian with ECR.DBSWP:
// data length (u16), control/status (u16), buffer address (u32). This driver treats the
// first two halfwords as one 32-bit word, length in bits 15:0 and status in 31:16, so that
// ownership changes with the length in a single store.
const (
	bdSize = 8

	BD_RX_E  = 15 // empty: the MAC owns the descriptor
	BD_RX_W  = 13 // wrap: last descriptor of the ring
	BD_RX_L  = 11 // last buffer of the frame; the error bits below are valid only with L
	BD_RX_M  = 8  // miss: accepted only because of promiscuous mode
	BD_RX_BC = 7
	BD_RX_MC = 6
	BD_RX_LG = 5 // frame longer than RCR.MAX_FL
	BD_RX_NO = 4 // non-octet-aligned frame
	BD_RX_CR = 2 // CRC or frame error
	BD_RX_OV = 1 // receive FIFO overrun; the other error bits are then invalid
	BD_RX_TR = 0 // truncated: longer than FTRL

	BD_TX_R  = 15 // ready: the MAC owns the descriptor
	BD_TX_W  = 13
	BD_TX_L  = 11
	BD_TX_TC = 10 // append the CRC
)

// rxErrMask selects the receive error bits of a descriptor's status.
const rxErrMask = 1<<BD_RX_LG | 1<<BD_RX_NO | 1<<BD_RX_CR | 1<<BD_RX_OV | 1<<BD_RX_TR

// Clause 22 PHY registers (IEEE 802.3 clause 22.2.4).
const (
	PHY_BMCR   = 0
	BMCR_RESET = 15
	BMCR_SPEED = 13 // 100 Mb/s when auto-negotiation is off
	BMCR_ANEG  = 12
	BMCR_FD    = 8

	PHY_BMSR   = 1
	BMSR_ANEGC = 5 // auto-negotiation complete
	BMSR_LINK  = 2

	PHY_ID1    = 2
	PHY_ID2    = 3
	PHY_ANAR   = 4
	PHY_ANLPAR = 5

	ANAR_100FD = 8
	ANAR_100HD = 7
	ANAR_10FD  = 6
	ANAR_10HD  = 5
)

// FCSLen is the frame check sequence the MAC writes after each received frame and counts in
// the descriptor's length (QEMU 7.2 does the same).
const FCSLen = 4

// Frame and buffer sizes.
const (
	// MaxFrame is RCR.MAX_FL: the longest frame accepted, FCS included. 1522 is an
	// 802.1Q-tagged 1500-byte payload (IEEE 802.3 clause 3.5); longer frames set LG.
	MaxFrame = 1522
	// BufSize is MRBR: each receive buffer, a multiple of 64 so that buffers stay aligned to
	// the DMA burst, and at least MaxFrame so that a valid frame never spans two buffers.
	BufSize = 1536
	// TruncLen is FTRL: frames longer than this are cut and flagged TR (14-bit field).
	TruncLen = 2047
	// MinFrame is the IEEE 802.3 minimum frame without FCS. Shorter frames (runts) are
	// delivered, since a tap wants to see them, and counted.
	MinFrame = 60
)
