//go:build arm

// Package mmio is the only way baretap code touches device registers: plain 32-bit loads and
// stores done in assembly, so the compiler can neither merge, reorder nor drop them.
//
// Register addresses are physical; kern identity-maps every device as Device memory, so they
// are also the virtual addresses.
package mmio

// Read32 returns the 32-bit register at addr.
func Read32(addr uintptr) uint32

// Write32 stores v into the 32-bit register at addr.
func Write32(addr uintptr, v uint32)

// Set sets bit pos of the register at addr (read-modify-write, not atomic against interrupts).
func Set(addr uintptr, pos int) {
	Write32(addr, Read32(addr)|1<<pos)
}

// Clear clears bit pos of the register at addr.
func Clear(addr uintptr, pos int) {
	Write32(addr, Read32(addr)&^(1<<pos))
}

// Get reports bit pos of the register at addr.
func Get(addr uintptr, pos int) bool {
	return Read32(addr)&(1<<pos) != 0
}

// GetN returns the field of the register at addr that starts at bit pos and is mask wide
// (mask is right-aligned, e.g. 0x3f for a 6-bit field).
func GetN(addr uintptr, pos int, mask uint32) uint32 {
	return Read32(addr) >> pos & mask
}

// SetN replaces the field at pos/mask of the register at addr with val.
func SetN(addr uintptr, pos int, mask, val uint32) {
	r := Read32(addr)
	r &^= mask << pos
	r |= (val & mask) << pos
	Write32(addr, r)
}

// WaitFor polls bit pos of the register at addr until it equals want, at most tries times,
// and reports whether it did. It never spins forever: a device that does not answer (or a
// model that does not implement the bit) becomes an error the caller can report.
func WaitFor(tries int, addr uintptr, pos int, want bool) bool {
	for i := 0; i < tries; i++ {
		if Get(addr, pos) == want {
			return true
		}
	}
	return false
}

// Read16 returns the 16-bit register at addr (for blocks such as the i.MX WDOG whose
// registers are halfwords).
func Read16(addr uintptr) uint16

// Write16 stores v into the 16-bit register at addr.
func Write16(addr uintptr, v uint16)

// Barrier is a full data synchronization barrier (DSB SY): every memory access before it,
// including stores to uncached DMA memory, completes before any access after it. A driver
// calls it between filling a DMA descriptor and the register write that hands the
// descriptor to the device; the Device-memory store alone does not order the Normal-memory
// stores before it (ARM DDI0406C A3.8.3).
func Barrier()
