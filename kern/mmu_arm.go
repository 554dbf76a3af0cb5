package kern

import (
	"unsafe"

	"github.com/baretap/baretap/board/imx6ul"
)

// The MMU map: one level of 1 MiB sections (ARMv7 short-descriptor format, DDI0406C
// B3.5.1), identity mapped.
//
//	0x00000000-0x000FFFFF  invalid: a nil dereference aborts and becomes SIGSEGV
//	0x00100000-0x3FFFFFFF  Device memory, execute-never (peripherals, OCRAM, boot ROM alias)
//	RAM start-DMA start    Normal, write-back write-allocate, shareable (image, heap)
//	DMA start-RAM end      Normal non-cacheable, execute-never (descriptors and buffers)
//	everything else        invalid
//
// Kernel and threads both run at PL1, so AP=0b01 (PL1 read/write) everywhere.

const (
	sectNone = 0
	sect     = 0x2     // section descriptor
	sectB    = 1 << 2  // bufferable
	sectC    = 1 << 3  // cacheable
	sectXN   = 1 << 4  // execute never
	sectAP01 = 1 << 10 // PL1 read/write, PL0 no access
	sectTEX1 = 1 << 12 // TEX=001
	sectS    = 1 << 16 // shareable

	sectNormalWB = sect | sectTEX1 | sectC | sectB | sectAP01 | sectS
	sectNormalNC = sect | sectTEX1 | sectXN | sectAP01 | sectS
	sectDevice   = sect | sectB | sectXN | sectAP01 // shareable Device

	// SCTLR bits (DDI0406C B4.1.130).
	sctlrM = 1 << 0
	sctlrA = 1 << 1
	sctlrC = 1 << 2
	sctlrZ = 1 << 11
	sctlrI = 1 << 12
	// ACTLR.SMP (Cortex-A7 TRM 4.3.31) must be set before the caches and MMU are enabled.
	actlrSMP = 1 << 6

	// TTBR0 walk attributes: inner and outer write-back write-allocate, shareable.
	ttbrWalk = 1<<6 | 1<<3 | 1<<1
)

var l1Space [32 << 10]byte // a 16 KiB aligned 16 KiB table fits in here

func mmuInit(dmaStart uintptr) {
	base := (uintptr(unsafe.Pointer(&l1Space[0])) + 16<<10 - 1) &^ (16<<10 - 1)
	l1 := (*[4096]uint32)(unsafe.Pointer(base))
	for i := range l1 {
		a := uintptr(i) << 20
		var d uint32
		switch {
		case i == 0:
			d = sectNone
		case a >= ramStart && a < dmaStart:
			d = sectNormalWB
		case a >= dmaStart && a < ramEnd:
			d = sectNormalNC
		case a < imx6ul.PERIPH_END:
			d = sectDevice
		}
		if d != sectNone {
			d |= uint32(a)
		}
		l1[i] = d
	}
	invalidateDCache()
	writeACTLR(readACTLR() | actlrSMP)
	writeTTBCR(0)
	writeDACR(0x55555555) // every domain: client (permissions checked)
	writeTTBR0(uint32(base) | ttbrWalk)
	invalidateTLBAndICache()
	s := readSCTLR()
	s &^= sctlrA // Go relies on unaligned access being allowed on Normal memory
	s |= sctlrM | sctlrC | sctlrZ | sctlrI
	writeSCTLR(s)
	invalidateTLBAndICache()
}

// invalidateDCache invalidates every data/unified cache level by set/way, as required
// before turning the D-cache on (its contents are UNKNOWN out of reset). QEMU 7.2 models no
// caches; on silicon the boot loader has already cleaned anything dirty.
func invalidateDCache() {
	clidr := readCLIDR()
	loc := clidr >> 24 & 7
	for level := uint32(0); level < loc; level++ {
		ctype := clidr >> (3 * level) & 7
		if ctype < 2 { // no cache or I-cache only
			continue
		}
		ccsidr := readCCSIDR(level << 1)
		lineShift := ccsidr&7 + 4
		ways := ccsidr>>3&0x3ff + 1
		sets := ccsidr>>13&0x7fff + 1
		wayShift := uint32(32)
		for w := ways - 1; w > 0; w >>= 1 {
			wayShift--
		}
		for way := uint32(0); way < ways; way++ {
			for set := uint32(0); set < sets; set++ {
				sw := level<<1 | set<<lineShift
				if ways > 1 {
					sw |= way << wayShift
				}
				dcacheSetWay(0, sw)
			}
		}
	}
	dsb()
}
