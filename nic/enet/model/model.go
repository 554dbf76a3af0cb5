// Package model is an in-memory i.MX ENET MAC for host tests of the enet driver: registers,
// a DMA memory the descriptors and buffers live in (at made-up bus addresses), the legacy
// descriptor rings, the interrupt events, MDIO and a clause 22 PHY. It is written from the
// reference manual (IMX6ULLRM chapter 22) and from what QEMU 7.2's imx.enet does
// (../shared/facts/imx6ul.md §2-3); it is not derived from QEMU's code.
//
// What it models:
//   - ECR.RESET resets every register (the station address survives, as in QEMU), and any
//     ECR write with ETHEREN clear rewinds both rings to RDSR/TDSR and clears RDAR/TDAR;
//   - receive: the FCS (a real CRC-32) is appended and counted in the length; frames longer
//     than FTRL are cut and flagged TR|LG, longer than RCR.MAX_FL flagged LG; a frame is split
//     over descriptors of MRBR bytes; the last gets L and the error bits; E is cleared and W
//     kept; RXB is raised per non-last buffer and RXF per frame; after a frame RDAR drops to
//     0 if the next descriptor is not empty, and the MAC then takes nothing until RDAR is
//     written;
//   - a frame arriving while RDAR is 0: on silicon (the default) it is dropped and counted
//     in IEEE_R_MACERR; with QueueWhenStopped it waits, as QEMU holds it in its net layer, and
//     is delivered when RDAR is written;
//   - the MAC's receive error reports (CR, NO, OV) for frames the test says arrived damaged;
//   - transmit: a TDAR write walks the ring from the current descriptor while R is set,
//     gathers buffers up to L, records the frame, clears R, raises TXB/TXF, follows W; TDAR
//     then reads 0;
//   - EIR is write-1-to-clear, and the interrupt line is (EIR & EIMR) != 0;
//   - MDIO: a write to MMFR completes at once and raises EIR.MII; the PHY at PHYAddr answers
//     like QEMU's (BMSR 0x782D, ID 0x0007/0xC0D1); other addresses read 0xFFFF;
//   - RCR.PROM is stored but nothing is filtered (QEMU 7.2 does no address filtering).
//
// Locking: mu protects the registers and the model's own state. The descriptor words are
// accessed with sync/atomic, because the driver reads and writes them without mu, as it
// would real DMA memory.
package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/baretap/baretap/nic/enet"
)

// Register reset values (IMX6ULLRM 22.6; QEMU 7.2 agrees, except MRBR which it resets to 0).
const (
	resetECR  = 0xF0000000
	resetRCR  = 0x05EE0001
	resetMIBC = 0xC0000000
	resetFTRL = 0x7FF
)

// Damage is how a frame was damaged on the wire, as the MAC reports it.
type Damage uint16

const (
	CRCError Damage = 1 << enet.BD_RX_CR
	NonOctet Damage = 1 << enet.BD_RX_NO
	Overrun  Damage = 1 << enet.BD_RX_OV
)

// MAC is one ENET with its DMA memory.
type MAC struct {
	// QueueWhenStopped makes frames that arrive while RDAR is 0 wait for the next RDAR write
	// (QEMU) instead of being dropped (silicon).
	QueueWhenStopped bool
	// PHYAddr is the MDIO address of the PHY.
	PHYAddr int

	mu       sync.Mutex
	regs     map[uint32]uint32 // protected by mu
	mem      []byte            // DMA memory; descriptors accessed atomically
	base     uint32            // bus address of mem[0]
	next     uint32            // first unallocated byte of mem; protected by mu
	rxCur    uint32            // bus address of the current receive descriptor; protected by mu
	txCur    uint32            // protected by mu
	mac      [6]byte           // protected by mu
	phy      [32]uint16        // protected by mu
	queue    []pending         // protected by mu
	sent     [][]byte          // protected by mu
	irq      chan struct{}     // poked when the line rises
	received int               // frames written to the ring; protected by mu
	txStall  bool              // TDAR writes wait; protected by mu
	scratch  []byte            // frame plus FCS being received; protected by mu
}

type pending struct {
	frame  []byte
	damage Damage
}

// New returns a MAC with memSize bytes of DMA memory at bus address base, its registers at
// their reset values.
func New(base uint32, memSize int) *MAC {
	// uint64 backing keeps the memory 8-byte aligned, as the driver's atomic descriptor words
	// need.
	words := make([]uint64, (memSize+7)/8)
	m := &MAC{
		PHYAddr: 2,
		mem:     unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), memSize),
		base:    base,
		irq:     make(chan struct{}, 1),
		mac:     [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
	}
	m.phy[enet.PHY_BMCR] = 0x3000
	m.phy[enet.PHY_BMSR] = 0x782D
	m.phy[enet.PHY_ID1] = 0x0007
	m.phy[enet.PHY_ID2] = 0xC0D1
	m.phy[enet.PHY_ANAR] = 0x01E1
	m.phy[enet.PHY_ANLPAR] = 0x0F71
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
	return m
}

func (m *MAC) resetLocked() {
	m.regs = map[uint32]uint32{
		enet.ENETx_ECR:  resetECR,
		enet.ENETx_RCR:  resetRCR,
		enet.ENETx_MIBC: resetMIBC,
		enet.ENETx_FTRL: resetFTRL,
	}
	m.writeMACRegsLocked()
	m.rxCur, m.txCur = 0, 0
}

func (m *MAC) writeMACRegsLocked() {
	a := m.mac
	m.regs[enet.ENETx_PALR] = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	m.regs[enet.ENETx_PAUR] = uint32(a[4])<<24 | uint32(a[5])<<16 | 0x8808
}

// Alloc implements enet.DMA: first-fit from the top of the used part of the memory.
func (m *MAC) Alloc(size, align int) (uint32, []byte, error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 {
		return 0, nil, fmt.Errorf("model: Alloc(%d, %d): bad size or alignment", size, align)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	off := (m.next + uint32(align) - 1) &^ (uint32(align) - 1)
	if uint64(off)+uint64(size) > uint64(len(m.mem)) {
		return 0, nil, errors.New("model: DMA memory exhausted")
	}
	m.next = off + uint32(size)
	b := m.mem[off : off+uint32(size) : off+uint32(size)]
	clear(b)
	return m.base + off, b, nil
}

// Memory returns the DMA memory (bus address Base()).
func (m *MAC) Memory() []byte { return m.mem }

// Base returns the bus address of Memory()[0].
func (m *MAC) Base() uint32 { return m.base }

// IRQ returns a channel that receives a value when the interrupt line rises.
func (m *MAC) IRQ() <-chan struct{} { return m.irq }

// Line reports the interrupt line: (EIR & EIMR) != 0.
func (m *MAC) Line() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[enet.ENETx_EIR]&m.regs[enet.ENETx_EIMR] != 0
}

// Reg returns a register as the MAC holds it, for tests.
func (m *MAC) Reg(off uint32) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[off]
}

// SetMIB sets a MIB counter, as if the MAC had counted.
func (m *MAC) SetMIB(off uint32, v uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regs[off] = v
}

// SetPHY sets a PHY register.
func (m *MAC) SetPHY(reg int, v uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phy[reg] = v
}

// StallTX makes the MAC leave the transmit ring alone while on (a busy or paused link):
// TDAR stays set and descriptors stay ready. Turning it off runs the pending TDAR.
func (m *MAC) StallTX(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txStall = on
	if !on && m.regs[enet.ENETx_TDAR] != 0 {
		m.transmitLocked()
		m.updateIRQLocked()
	}
}

// Sent returns the frames transmitted so far, and forgets them.
func (m *MAC) Sent() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sent
	m.sent = nil
	return s
}

// Queued returns how many frames wait for RDAR (QueueWhenStopped).
func (m *MAC) Queued() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// Read32 implements enet.Regs.
func (m *MAC) Read32(off uint32) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[off]
}

// Write32 implements enet.Regs.
func (m *MAC) Write32(off uint32, v uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch off {
	case enet.ENETx_EIR:
		m.regs[off] &^= v
	case enet.ENETx_ECR:
		if v&(1<<enet.ECR_RESET) != 0 {
			m.resetLocked()
			break
		}
		m.regs[off] = v | resetECR
		if v&(1<<enet.ECR_ETHEREN) == 0 {
			m.rxCur, m.txCur = m.regs[enet.ENETx_RDSR], m.regs[enet.ENETx_TDSR]
			m.regs[enet.ENETx_RDAR], m.regs[enet.ENETx_TDAR] = 0, 0
		}
	case enet.ENETx_RDSR:
		m.regs[off] = v &^ 7
		m.rxCur = v &^ 7
	case enet.ENETx_TDSR:
		m.regs[off] = v &^ 7
		m.txCur = v &^ 7
	case enet.ENETx_MRBR:
		m.regs[off] = v & 0x3ff0
	case enet.ENETx_FTRL:
		m.regs[off] = v & 0x3fff
	case enet.ENETx_PALR, enet.ENETx_PAUR:
		if off == enet.ENETx_PALR {
			binary.BigEndian.PutUint32(m.mac[0:4], v)
		} else {
			m.mac[4], m.mac[5] = byte(v>>24), byte(v>>16)
		}
		m.writeMACRegsLocked()
	case enet.ENETx_MIBC:
		if v&(1<<enet.MIBC_MIB_CLEAR) != 0 {
			for o := uint32(0x200); o < 0x300; o += 4 {
				delete(m.regs, o)
			}
		}
		m.regs[off] = v &^ (1 << enet.MIBC_MIB_CLEAR)
	case enet.ENETx_MMFR:
		m.regs[off] = v
		m.mdioLocked(v)
	case enet.ENETx_RDAR:
		if m.regs[enet.ENETx_ECR]&(1<<enet.ECR_ETHEREN) == 0 {
			break // ignored while the MAC is disabled
		}
		m.regs[off] = 1 << enet.RDAR_RDAR
		m.checkRxLocked()
		for len(m.queue) > 0 && m.regs[enet.ENETx_RDAR] != 0 {
			p := m.queue[0]
			m.queue = m.queue[1:]
			m.receiveLocked(p.frame, p.damage)
		}
	case enet.ENETx_TDAR:
		if m.regs[enet.ENETx_ECR]&(1<<enet.ECR_ETHEREN) == 0 {
			break
		}
		m.regs[off] = 1 << enet.TDAR_TDAR
		if !m.txStall {
			m.transmitLocked()
		}
	default:
		m.regs[off] = v
	}
	m.updateIRQLocked()
}

func (m *MAC) updateIRQLocked() {
	if m.regs[enet.ENETx_EIR]&m.regs[enet.ENETx_EIMR] != 0 {
		select {
		case m.irq <- struct{}{}:
		default:
		}
	}
}

// mdioLocked runs a clause 22 frame at once: OP 10 reads into MMFR[15:0], OP 01 writes.
func (m *MAC) mdioLocked(v uint32) {
	op := v >> enet.MMFR_OP & 3
	pa := int(v >> enet.MMFR_PA & 0x1f)
	ra := int(v >> enet.MMFR_RA & 0x1f)
	switch op {
	case 2:
		data := uint16(0xffff)
		if pa == m.PHYAddr {
			data = m.phy[ra]
		}
		m.regs[enet.ENETx_MMFR] = v&^0xffff | uint32(data)
	case 1:
		if pa == m.PHYAddr {
			m.phy[ra] = uint16(v)
		}
	default:
		return // a write of 0 (the driver's CLEAR_SETUP_MII) starts nothing
	}
	m.regs[enet.ENETx_EIR] |= 1 << enet.EIR_MII
}

// word returns the descriptor word at bus address pa+off.
func (m *MAC) word(pa uint32) *uint32 {
	off := pa - m.base
	if uint64(off)+4 > uint64(len(m.mem)) || off%4 != 0 {
		panic(fmt.Sprintf("model: descriptor bus address %#x outside the DMA memory", pa))
	}
	return (*uint32)(unsafe.Pointer(&m.mem[off]))
}

func (m *MAC) bytesAt(pa uint32, n int) []byte {
	off := pa - m.base
	if uint64(off)+uint64(n) > uint64(len(m.mem)) {
		panic(fmt.Sprintf("model: buffer %#x+%d outside the DMA memory", pa, n))
	}
	return m.mem[off : off+uint32(n)]
}

// checkRxLocked drops RDAR when the current receive descriptor is not empty.
func (m *MAC) checkRxLocked() {
	if atomic.LoadUint32(m.word(m.rxCur))&(1<<(16+enet.BD_RX_E)) == 0 {
		m.regs[enet.ENETx_RDAR] = 0
	}
}

// Receive is a frame arriving from the wire. It reports whether the MAC took it now; a frame
// it did not take was dropped (silicon, counted in IEEE_R_MACERR) or queued
// (QueueWhenStopped).
func (m *MAC) Receive(frame []byte) bool { return m.ReceiveDamaged(frame, 0) }

// ReceiveDamaged is Receive for a frame the MAC found damaged.
func (m *MAC) ReceiveDamaged(frame []byte, d Damage) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.updateIRQLocked()
	if m.regs[enet.ENETx_ECR]&(1<<enet.ECR_ETHEREN) == 0 {
		return false // a disabled MAC sees nothing
	}
	if m.regs[enet.ENETx_RDAR] == 0 || len(m.queue) > 0 {
		if m.QueueWhenStopped {
			m.queue = append(m.queue, pending{append([]byte(nil), frame...), d})
		} else {
			m.regs[enet.ENETx_IEEE_R_MACERR]++
		}
		return false
	}
	m.receiveLocked(frame, d)
	return true
}

// Received returns how many frames the MAC has written to the ring.
func (m *MAC) Received() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.received
}

func (m *MAC) receiveLocked(frame []byte, d Damage) {
	var fcs [4]byte
	binary.LittleEndian.PutUint32(fcs[:], crc32.ChecksumIEEE(frame))
	wire := append(append(m.scratch[:0], frame...), fcs[:]...)
	m.scratch = wire
	flags := uint32(d)
	if trunc := int(m.regs[enet.ENETx_FTRL]); len(wire) > trunc {
		wire = wire[:trunc]
		flags |= 1<<enet.BD_RX_TR | 1<<enet.BD_RX_LG
	}
	if len(wire) > int(m.regs[enet.ENETx_RCR]>>enet.RCR_MAX_FL&enet.RCR_MAX_FL_MSK) {
		flags |= 1 << enet.BD_RX_LG
	}
	if d&Overrun != 0 {
		flags = uint32(Overrun) // the other error bits are not valid with OV
	}
	mrbr := int(m.regs[enet.ENETx_MRBR])
	m.received++
	for len(wire) > 0 {
		w := m.word(m.rxCur)
		cur := atomic.LoadUint32(w)
		if cur&(1<<(16+enet.BD_RX_E)) == 0 {
			// The ring ran out in the middle of the frame: the rest is lost (QEMU logs
			// "Lost end of frame"); the pieces written have no L.
			break
		}
		n := min(len(wire), mrbr)
		bufPA := binary.LittleEndian.Uint32(m.bytesAt(m.rxCur+4, 4))
		copy(m.bytesAt(bufPA, n), wire[:n])
		wire = wire[n:]
		st := cur >> 16 & (1 << enet.BD_RX_W)
		if len(wire) == 0 {
			st |= 1<<enet.BD_RX_L | flags
			m.regs[enet.ENETx_EIR] |= 1 << enet.EIR_RXF
		} else {
			m.regs[enet.ENETx_EIR] |= 1 << enet.EIR_RXB
		}
		atomic.StoreUint32(w, st<<16|uint32(n))
		if st&(1<<enet.BD_RX_W) != 0 {
			m.rxCur = m.regs[enet.ENETx_RDSR]
		} else {
			m.rxCur += 8
		}
		if mrbr == 0 {
			break // MRBR 0 eats descriptors without storing anything (QEMU 7.2)
		}
	}
	m.checkRxLocked()
}

// transmitLocked walks the transmit ring as a TDAR write makes the MAC do.
func (m *MAC) transmitLocked() {
	var frame []byte
	for i := 0; i < 1024; i++ {
		w := m.word(m.txCur)
		cur := atomic.LoadUint32(w)
		st := cur >> 16
		if st&(1<<enet.BD_TX_R) == 0 {
			break
		}
		n := int(cur & 0xffff)
		bufPA := binary.LittleEndian.Uint32(m.bytesAt(m.txCur+4, 4))
		frame = append(frame, m.bytesAt(bufPA, n)...)
		m.regs[enet.ENETx_EIR] |= 1 << enet.EIR_TXB
		if st&(1<<enet.BD_TX_L) != 0 {
			m.sent = append(m.sent, frame)
			frame = nil
			m.regs[enet.ENETx_EIR] |= 1 << enet.EIR_TXF
		}
		atomic.StoreUint32(w, (st&^(1<<enet.BD_TX_R))<<16|cur&0xffff)
		if st&(1<<enet.BD_TX_W) != 0 {
			m.txCur = m.regs[enet.ENETx_TDSR]
		} else {
			m.txCur += 8
		}
	}
	m.regs[enet.ENETx_TDAR] = 0
}
