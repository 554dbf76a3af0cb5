//go:build arm

// Package imx6ul describes the NXP i.MX6UL/ULL system on chip: the physical memory map, the
// GIC interrupt IDs, and drivers for the blocks the kernel itself needs (console UART, GIC,
// SNVS power-off, watchdog). It holds no board choices; those live in the board packages.
//
// References:
//   - IMX6ULRM: i.MX 6UltraLite Applications Processor Reference Manual, Rev. 2, 03/2017
//     (chapters "Memory Maps" and "Interrupts and DMA Events"; the UART, SNVS and WDOG
//     chapters are cited per register group).
//   - IHI0048B: ARM Generic Interrupt Controller Architecture Specification v2.0.
//
// Where QEMU 7.2's mcimx6ul-evk model differs from silicon the code says so with a
// "QEMU 7.2:" note; the observations are in ../shared/facts/imx6ul.md §1.
package imx6ul

// Physical memory map: IMX6ULRM, chapter "Memory Maps", table "System memory map".
const (
	// OCRAM_BASE is the 128 KiB on-chip RAM.
	OCRAM_BASE = 0x00900000
	OCRAM_SIZE = 0x20000

	// GIC_BASE is the Cortex-A7 private peripheral region (a15mpcore in QEMU).
	GIC_BASE = 0x00A00000
	// GICD_BASE is the GIC distributor, GIC_BASE+0x1000.
	GICD_BASE = GIC_BASE + 0x1000
	// GICC_BASE is the GIC CPU interface, GIC_BASE+0x2000.
	GICC_BASE = GIC_BASE + 0x2000

	UART1_BASE = 0x02020000
	UART2_BASE = 0x021E8000

	WDOG1_BASE = 0x020BC000
	WDOG2_BASE = 0x020C0000
	WDOG3_BASE = 0x021E4000

	SNVS_HP_BASE = 0x020CC000

	ENET1_BASE = 0x02188000
	ENET2_BASE = 0x020B4000

	// MMDC_BASE is the start of DDR. Its size is a board property.
	MMDC_BASE = 0x80000000

	// PERIPH_END bounds the peripheral space: everything below it that is not DDR is mapped
	// as Device memory by the kernel.
	PERIPH_END = 0x40000000
)

// GIC interrupt IDs. Shared peripheral interrupts are the IMX6ULRM "ARM Domain Interrupt
// Summary" table numbers plus 32 (IDs 0-31 are SGIs and PPIs).
const (
	SPI_BASE = 32

	// IRQ_VTIMER is the Cortex-A7 generic virtual timer PPI (ARM DDI0464 "Generic Timer").
	IRQ_VTIMER = 27
	// IRQ_PTIMER_SECURE is the secure physical timer PPI.
	IRQ_PTIMER_SECURE = 29

	IRQ_UART1 = SPI_BASE + 26
	IRQ_UART2 = SPI_BASE + 27
	IRQ_WDOG1 = SPI_BASE + 80
	IRQ_ENET1 = SPI_BASE + 118
	// IRQ_ENET1_TIMER is ENET1's 1588 timer line. QEMU 7.2: the model raises every ENET1
	// interrupt on both lines.
	IRQ_ENET1_TIMER = SPI_BASE + 119
	IRQ_ENET2       = SPI_BASE + 120
	IRQ_ENET2_TIMER = SPI_BASE + 121
)
