// Package enet drives the i.MX6UL/ULL 10/100 Ethernet MACs (ENET1 and ENET2, one driver type
// for both) and presents each as a nic.Ifnet.
//
// The driver reaches its registers through Regs and its descriptors and buffers through DMA,
// so the same ring logic runs on the board (board/mmio and kern.AllocDMA, wired in
// cmd/firmware) and on the host against the in-memory MAC of package enet/model, which
// implements the reference-manual behaviour the driver relies on.
//
// # Rings
//
// Both rings use legacy 8-byte descriptors (ECR.EN1588 = 0): QEMU 7.2 never fills the 1588
// timestamp of enhanced descriptors, and the legacy layout halves descriptor traffic.
// Each descriptor owns one fixed DMA buffer of BufSize bytes for its whole life, so the
// packet path allocates nothing: a received frame is handed to the ifnet in place (valid
// only during the Input call, as nic.InputFunc documents), and a transmitted frame is
// copied into the descriptor's buffer.
//
// Receive walks the ring from rxHead while descriptors are not E (software owns them),
// strips the 4-byte FCS, counts error frames by kind, hands good frames to the ifnet (which
// taps them to bpf), and gives each descriptor back by setting E. It then writes RDAR once,
// because the MAC clears RDAR when it finds no empty descriptor and only polls again after
// a write. A frame that spans descriptors cannot be valid (BufSize is larger than MaxFrame),
// so every piece of it is dropped.
//
// Transmit copies the frame into the descriptor at txHead, sets R|L|TC with the length in
// one 32-bit store, and writes TDAR. Descriptors whose R the MAC has cleared are reclaimed
// before each transmit and on every interrupt.
//
// # Interrupts
//
// EIMR enables RXF and TXF. Run waits for the platform's interrupt (on the board, a read of
// the kern.IRQFile fd, which parks the goroutine in the netpoller), acknowledges EIR, and
// services the rings with a budget of frames per wakeup; when the budget runs out it yields
// and goes round again without waiting, so one busy port cannot starve the other.
//
// # Locking
//
// rxMu protects the receive ring state (rxHead, rxFrag) and is held by Receive, so only one
// goroutine walks the ring at a time. txMu protects the transmit ring (txHead, txClean,
// txBusy). cfgMu protects the MAC address, the link record, the read-modify-write of RCR
// (promiscuous mode) and MDIO transfers. No two of them are ever held together, so there is
// no lock order; Receive calls into the ifnet (bpf taps, the input hook, possibly a bridge
// transmitting on another ENET, which takes that ENET's txMu) with rxMu held, which is why
// an input hook must not call Receive on the same ENET. Statistics are atomics.
//
// Descriptor words are read and written with sync/atomic: the MAC (or the model) is
// another observer of that memory, and on ARM the atomic store also orders the buffer
// writes before the ownership change (it is preceded by a DMB).
package enet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/baretap/baretap/nic"
)

// Regs is 32-bit access to one ENET's registers, by offset from its base. The ENET accepts
// only 32-bit accesses.
type Regs interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

// DMA hands out memory the MAC can read and write: addr is the bus address the MAC is given,
// mem the same bytes as the CPU sees them. The memory must be uncached (or coherent) and
// zeroed, and addr must satisfy align.
type DMA interface {
	Alloc(size, align int) (addr uint32, mem []byte, err error)
}

// Config describes one ENET instance.
type Config struct {
	Name string // interface name, "enet0" for ENET1
	Regs Regs
	DMA  DMA
	// PHY is the MDIO address of the PHY (the EVK: 2 for ENET1, 1 for ENET2); -1 for none.
	PHY int
	// MAC is the station address; nil derives one with LocallyAdministered(MACSeed).
	MAC     net.HardwareAddr
	MACSeed []byte
	// RxRing and TxRing are the descriptor counts; 0 means DefaultRxRing/DefaultTxRing.
	RxRing, TxRing int
	// ModuleClock is the ENET's ipg clock in Hz, from which MDC is divided down to at most
	// 2.5 MHz; 0 means 66 MHz (AHB 132 MHz / 2, the i.MX6UL default).
	ModuleClock uint32
	// RMII selects the RMII interface to the PHY (both EVK ports, the USB armory).
	RMII bool
	// Clock returns the time since boot; when set, every received frame is handed to the
	// ifnet with the time the driver took it off the ring (bpf's "external" timestamps).
	Clock func() time.Duration
}

// Ring sizes and limits.
const (
	DefaultRxRing = 256
	DefaultTxRing = 64
	MaxRing       = 1024
	// descAlign is the descriptor ring alignment: RDSR/TDSR ignore bits 2:0, and 64 bytes
	// keeps a ring on whole cache lines / DMA bursts.
	descAlign = 64
	// mdioTries bounds the wait for an MDIO transfer. QEMU completes it at once; at 2.5 MHz
	// a clause 22 frame takes 25.6 us, a few thousand register reads.
	mdioTries = 100000
	// resetTries bounds the wait for ECR.RESET to clear.
	resetTries = 100000
)

// Link is what the PHY reports.
type Link struct {
	Up         bool
	Speed      int // Mb/s: 10 or 100
	FullDuplex bool
	PHYID      uint32 // ID1<<16 | ID2; 0 when there is no PHY
}

func (l Link) String() string {
	if !l.Up {
		return "no carrier"
	}
	d := "half-duplex"
	if l.FullDuplex {
		d = "full-duplex"
	}
	return fmt.Sprintf("%dbaseTX <%s>", l.Speed, d)
}

// ENET is one MAC.
type ENET struct {
	name    string
	regs    Regs
	ifp     *nic.Ifnet
	clock   func() time.Duration
	phy     int
	rmii    bool
	mscr    uint32
	promisc atomic.Bool

	cfgMu sync.Mutex
	mac   [6]byte // protected by cfgMu
	link  Link    // protected by cfgMu

	rxMu     sync.Mutex
	rxN      int
	rxDesc   []byte // rxN descriptors
	rxBufs   []byte // rxN buffers of BufSize
	rxHead   int    // next descriptor to look at; protected by rxMu
	rxFrag   bool   // inside a frame that spans descriptors; protected by rxMu
	rxDescPA uint32
	macErr   uint32 // last IEEE_R_MACERR reading; protected by rxMu

	txMu     sync.Mutex
	txN      int
	txDesc   []byte
	txBufs   []byte
	txHead   int // next descriptor to fill; protected by txMu
	txClean  int // oldest descriptor not yet reclaimed; protected by txMu
	txBusy   int // descriptors handed to the MAC; protected by txMu
	txDescPA uint32

	st counters
}

// counters are the driver's statistics, each written by one path and read by Stats.
type counters struct {
	rxFrames, rxBytes, rxRunts                 atomic.Uint64
	rxErrors                                   atomic.Uint64 // frames dropped for any error
	rxLength, rxNonOctet, rxCRC, rxOverrun     atomic.Uint64
	rxTruncated, rxFragments, rxNoBuffer       atomic.Uint64
	txFrames, txBytes, txNoBuffer, txTooLong   atomic.Uint64
	wakeups, budgetExhausted, rdarWrites, tdar atomic.Uint64
}

// Stats is a snapshot of the driver's counters. Error kinds are counted per descriptor bit,
// so a frame that is both truncated and too long counts in RxTruncated and RxLength but
// once in RxErrors.
type Stats struct {
	RxFrames    uint64 // good frames handed to the ifnet
	RxBytes     uint64 // their bytes, without FCS
	RxRunts     uint64 // good frames shorter than MinFrame (delivered)
	RxErrors    uint64 // frames dropped for an error bit or for spanning buffers
	RxLength    uint64 // LG: longer than MaxFrame
	RxNonOctet  uint64 // NO: not a whole number of bytes
	RxCRC       uint64 // CR: bad FCS or frame error
	RxOverrun   uint64 // OV: receive FIFO overrun
	RxTruncated uint64 // TR: longer than TruncLen, cut
	RxFragments uint64 // descriptors holding the non-last pieces of a dropped long frame
	RxNoBuffer  uint64 // frames the MAC dropped because no descriptor was empty (IEEE_R_MACERR)
	TxFrames    uint64
	TxBytes     uint64
	TxNoBuffer  uint64 // transmits refused because every descriptor was in use
	TxTooLong   uint64 // transmits refused for their length
	Wakeups     uint64 // Service calls
	// BudgetExhausted counts wakeups that stopped at the budget with frames still waiting.
	BudgetExhausted uint64
	RDARWrites      uint64
	TDARWrites      uint64
}

// New allocates the rings and creates the interface, down. Init brings the MAC up.
func New(c Config) (*ENET, error) {
	if c.Regs == nil || c.DMA == nil {
		return nil, fmt.Errorf("enet: %s: Config needs Regs and DMA", c.Name)
	}
	if c.RxRing == 0 {
		c.RxRing = DefaultRxRing
	}
	if c.TxRing == 0 {
		c.TxRing = DefaultTxRing
	}
	if c.RxRing < 2 || c.RxRing > MaxRing || c.TxRing < 2 || c.TxRing > MaxRing {
		return nil, fmt.Errorf("enet: %s: ring sizes %d/%d: each must be 2 to %d", c.Name, c.RxRing, c.TxRing, MaxRing)
	}
	if c.PHY < -1 || c.PHY > 31 {
		return nil, fmt.Errorf("enet: %s: PHY address %d: must be 0 to 31, or -1 for none", c.Name, c.PHY)
	}
	hw := &ENET{name: c.Name, regs: c.Regs, clock: c.Clock, phy: c.PHY, rmii: c.RMII, rxN: c.RxRing, txN: c.TxRing}
	hw.mscr = mscrFor(c.ModuleClock)
	mac := c.MAC
	if mac == nil {
		mac = LocallyAdministered(append([]byte(c.Name+"\x00"), c.MACSeed...))
	}
	if err := checkMAC(mac); err != nil {
		return nil, fmt.Errorf("enet: %s: %w", c.Name, err)
	}
	copy(hw.mac[:], mac)

	var err error
	if hw.rxDescPA, hw.rxDesc, err = c.DMA.Alloc(hw.rxN*bdSize, descAlign); err != nil {
		return nil, fmt.Errorf("enet: %s: receive descriptors: %w", c.Name, err)
	}
	rxBufPA, rxBufs, err := c.DMA.Alloc(hw.rxN*BufSize, descAlign)
	if err != nil {
		return nil, fmt.Errorf("enet: %s: receive buffers: %w", c.Name, err)
	}
	if hw.txDescPA, hw.txDesc, err = c.DMA.Alloc(hw.txN*bdSize, descAlign); err != nil {
		return nil, fmt.Errorf("enet: %s: transmit descriptors: %w", c.Name, err)
	}
	txBufPA, txBufs, err := c.DMA.Alloc(hw.txN*BufSize, descAlign)
	if err != nil {
		return nil, fmt.Errorf("enet: %s: transmit buffers: %w", c.Name, err)
	}
	if len(hw.rxDesc) < hw.rxN*bdSize || len(rxBufs) < hw.rxN*BufSize || len(hw.txDesc) < hw.txN*bdSize || len(txBufs) < hw.txN*BufSize {
		return nil, fmt.Errorf("enet: %s: DMA returned short memory", c.Name)
	}
	for _, m := range [][]byte{hw.rxDesc, hw.txDesc} {
		if uintptr(unsafe.Pointer(unsafe.SliceData(m)))%4 != 0 {
			return nil, fmt.Errorf("enet: %s: descriptor memory is not word aligned", c.Name)
		}
	}
	hw.rxBufs, hw.txBufs = rxBufs, txBufs
	// The buffer address word never changes: write it once.
	for i := 0; i < hw.rxN; i++ {
		binary.LittleEndian.PutUint32(hw.rxDesc[i*bdSize+4:], rxBufPA+uint32(i*BufSize))
	}
	for i := 0; i < hw.txN; i++ {
		binary.LittleEndian.PutUint32(hw.txDesc[i*bdSize+4:], txBufPA+uint32(i*BufSize))
	}

	hw.ifp, err = nic.New(nic.Config{Name: c.Name, MTU: 1500, Addr: mac, Flags: nic.FlagBroadcast, Driver: hw})
	if err != nil {
		return nil, err
	}
	return hw, nil
}

// mscrFor returns MSCR for a module clock: MDC = clk / ((MII_SPEED+1) * 2) must not exceed
// 2.5 MHz (IMX6ULLRM 22.6.5), and HOLDTIME 1 gives the 10 ns MDIO hold time the PHYs need
// at the i.MX6UL's clock rates.
func mscrFor(clk uint32) uint32 {
	if clk == 0 {
		clk = 66000000
	}
	speed := (clk + 4999999) / 5000000 // ceil(clk / (2 * 2.5 MHz))
	if speed > 0 {
		speed--
	}
	if speed > 0x3f {
		speed = 0x3f
	}
	return speed<<MSCR_MII_SPEED | 1<<MSCR_HOLDTIME
}

// LocallyAdministered derives a stable unicast, locally administered MAC address from seed
// (a board's unique ID and the interface name): the same seed always gives the same address.
func LocallyAdministered(seed []byte) net.HardwareAddr {
	h := fnv.New64a()
	h.Write(seed)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.Sum64())
	mac := net.HardwareAddr(b[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered (IEEE 802 clause 8.2)
	return mac
}

func checkMAC(mac net.HardwareAddr) error {
	switch {
	case len(mac) != 6:
		return fmt.Errorf("MAC address %v: want 6 bytes, have %d", mac, len(mac))
	case mac[0]&1 != 0:
		return fmt.Errorf("MAC address %v is a multicast address", mac)
	case [6]byte(mac) == [6]byte{}:
		return fmt.Errorf("MAC address %v is all zeros", mac)
	}
	return nil
}

// Ifnet returns the interface.
func (hw *ENET) Ifnet() *nic.Ifnet { return hw.ifp }

// Name returns the interface name.
func (hw *ENET) Name() string { return hw.name }

// MAC returns the station address the MAC is programmed with.
func (hw *ENET) MAC() net.HardwareAddr {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	return append(net.HardwareAddr(nil), hw.mac[:]...)
}

// SetMAC programs a new station address (PALR/PAUR). It must be a unicast address. The
// ifnet keeps the address it was created with (nic has no setter yet); MAC reports this one.
func (hw *ENET) SetMAC(mac net.HardwareAddr) error {
	if err := checkMAC(mac); err != nil {
		return fmt.Errorf("enet: %s: %w", hw.name, err)
	}
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	copy(hw.mac[:], mac)
	hw.writeMACLocked()
	return nil
}

func (hw *ENET) writeMACLocked() {
	m := hw.mac
	hw.regs.Write32(ENETx_PALR, uint32(m[0])<<24|uint32(m[1])<<16|uint32(m[2])<<8|uint32(m[3]))
	// PAUR's low half is the pause-frame TYPE field (0x8808, read-only).
	hw.regs.Write32(ENETx_PAUR, uint32(m[4])<<24|uint32(m[5])<<16|0x8808)
}

// Link returns the link state found by the last PHY probe.
func (hw *ENET) Link() Link {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	return hw.link
}

// Init resets and programs the MAC, probes the PHY, hands the receive ring to the MAC and
// brings the interface up. The order follows IMX6ULLRM 22.5.1 "Initialization sequence":
// everything that must not change while ETHEREN is set (TCR.FDEN, RCR) is programmed before
// it, and RDAR is written after, since the MAC ignores RDAR while disabled.
func (hw *ENET) Init() error {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	r := hw.regs
	r.Write32(ENETx_ECR, 1<<ECR_RESET)
	if !hw.waitClear(ENETx_ECR, ECR_RESET, resetTries) {
		return fmt.Errorf("enet: %s: ECR.RESET did not clear after %d reads", hw.name, resetTries)
	}
	r.Write32(ENETx_ECR, 1<<ECR_DBSWP)
	r.Write32(ENETx_EIMR, 0)
	r.Write32(ENETx_EIR, 0xffffffff)
	// Statistics on (MIB_DIS resets to 1), from zero: IEEE_R_MACERR is the no-buffer count.
	r.Write32(ENETx_MIBC, 1<<MIBC_MIB_CLEAR)
	r.Write32(ENETx_MIBC, 0)
	hw.macErr = 0

	// MMFR is cleared before MSCR so that the MSCR write cannot raise a spurious MII event
	// (Linux's FEC_QUIRK_CLEAR_SETUP_MII for i.MX6UL).
	r.Write32(ENETx_MMFR, 0)
	r.Write32(ENETx_MSCR, hw.mscr)
	link, err := hw.probePHYLocked()
	if err != nil {
		return err
	}
	hw.link = link

	tcr := uint32(0)
	if link.FullDuplex || hw.phy < 0 {
		tcr |= 1 << TCR_FDEN
	}
	r.Write32(ENETx_TCR, tcr)
	r.Write32(ENETx_RCR, hw.rcrLocked())
	r.Write32(ENETx_MRBR, BufSize)
	r.Write32(ENETx_FTRL, TruncLen)
	hw.writeMACLocked()

	hw.rxMu.Lock()
	for i := 0; i < hw.rxN; i++ {
		st := uint32(1 << BD_RX_E)
		if i == hw.rxN-1 {
			st |= 1 << BD_RX_W
		}
		hw.storeDesc(hw.rxDesc, i, st<<16)
	}
	hw.rxHead, hw.rxFrag = 0, false
	hw.rxMu.Unlock()
	hw.txMu.Lock()
	for i := 0; i < hw.txN; i++ {
		st := uint32(0)
		if i == hw.txN-1 {
			st |= 1 << BD_TX_W
		}
		hw.storeDesc(hw.txDesc, i, st<<16)
	}
	hw.txHead, hw.txClean, hw.txBusy = 0, 0, 0
	hw.txMu.Unlock()
	r.Write32(ENETx_RDSR, hw.rxDescPA)
	r.Write32(ENETx_TDSR, hw.txDescPA)

	r.Write32(ENETx_ECR, 1<<ECR_DBSWP|1<<ECR_ETHEREN)
	r.Write32(ENETx_RDAR, 1<<RDAR_RDAR)
	hw.st.rdarWrites.Add(1)
	r.Write32(ENETx_EIMR, 1<<EIR_RXF|1<<EIR_TXF)

	hw.ifp.SetUp(true)
	st := nic.LinkDown
	if link.Up {
		st = nic.LinkUp
	}
	hw.ifp.SetLinkState(st)
	return nil
}

// rcrLocked is RCR for the current link and promiscuous setting. LOOP (reset 1) is cleared.
func (hw *ENET) rcrLocked() uint32 {
	v := uint32(MaxFrame)<<RCR_MAX_FL | 1<<RCR_MII_MODE | 1<<RCR_FCE
	if hw.rmii {
		v |= 1 << RCR_RMII_MODE
		if hw.link.Up && hw.link.Speed == 10 {
			v |= 1 << RCR_RMII_10T
		}
	}
	if hw.promisc.Load() {
		v |= 1 << RCR_PROM
	}
	return v
}

func (hw *ENET) waitClear(off uint32, bit int, tries int) bool {
	for i := 0; i < tries; i++ {
		if hw.regs.Read32(off)&(1<<bit) == 0 {
			return true
		}
	}
	return false
}

// ErrMDIOTimeout is wrapped by MDIO errors when the transfer never completes.
var ErrMDIOTimeout = errors.New("MDIO transfer did not complete")

// MDIORead reads clause 22 register reg of the PHY at address phy.
func (hw *ENET) MDIORead(phy, reg int) (uint16, error) {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	return hw.mdioLocked(phy, reg, 2, 0)
}

// MDIOWrite writes clause 22 register reg of the PHY at address phy.
func (hw *ENET) MDIOWrite(phy, reg int, v uint16) error {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	_, err := hw.mdioLocked(phy, reg, 1, v)
	return err
}

// mdioLocked runs one clause 22 frame (ST 01, TA 10; op 2 reads, 1 writes): clear EIR.MII,
// write MMFR, wait for EIR.MII, read the data back (IMX6ULLRM 22.6.4).
func (hw *ENET) mdioLocked(phy, reg int, op uint32, v uint16) (uint16, error) {
	if phy < 0 || phy > 31 || reg < 0 || reg > 31 {
		return 0, fmt.Errorf("enet: %s: MDIO address %d register %d out of range", hw.name, phy, reg)
	}
	r := hw.regs
	r.Write32(ENETx_EIR, 1<<EIR_MII)
	r.Write32(ENETx_MMFR, 1<<MMFR_ST|op<<MMFR_OP|uint32(phy)<<MMFR_PA|uint32(reg)<<MMFR_RA|2<<MMFR_TA|uint32(v))
	for i := 0; i < mdioTries; i++ {
		if r.Read32(ENETx_EIR)&(1<<EIR_MII) != 0 {
			data := uint16(r.Read32(ENETx_MMFR))
			r.Write32(ENETx_EIR, 1<<EIR_MII)
			return data, nil
		}
	}
	return 0, fmt.Errorf("enet: %s: PHY %d register %d: %w", hw.name, phy, reg, ErrMDIOTimeout)
}

// probePHYLocked reads the PHY's identity and the negotiated link. It writes nothing to the
// PHY: board-specific PHY set-up (KSZ8081 RMII clock, DP83825 RCSR) belongs to the board.
func (hw *ENET) probePHYLocked() (Link, error) {
	if hw.phy < 0 {
		return Link{Up: true, Speed: 100, FullDuplex: true}, nil
	}
	var regs [6]uint16
	for _, reg := range []int{PHY_ID1, PHY_ID2, PHY_BMSR, PHY_BMSR, PHY_BMCR, PHY_ANAR, PHY_ANLPAR} {
		v, err := hw.mdioLocked(hw.phy, reg, 2, 0)
		if err != nil {
			return Link{}, err
		}
		// BMSR's link bit latches low: the second read is the current state.
		regs[reg] = v
	}
	if regs[PHY_ID1] == 0xffff && regs[PHY_ID2] == 0xffff {
		return Link{}, fmt.Errorf("enet: %s: no PHY answers at MDIO address %d (ID reads 0xffff)", hw.name, hw.phy)
	}
	l := Link{PHYID: uint32(regs[PHY_ID1])<<16 | uint32(regs[PHY_ID2])}
	l.Up = regs[PHY_BMSR]&(1<<BMSR_LINK) != 0
	bmcr := regs[PHY_BMCR]
	if bmcr&(1<<BMCR_ANEG) != 0 {
		// The highest ability both ends advertise (IEEE 802.3 Annex 28B.3 priority).
		common := regs[PHY_ANAR] & regs[PHY_ANLPAR]
		switch {
		case common&(1<<ANAR_100FD) != 0:
			l.Speed, l.FullDuplex = 100, true
		case common&(1<<ANAR_100HD) != 0:
			l.Speed = 100
		case common&(1<<ANAR_10FD) != 0:
			l.Speed, l.FullDuplex = 10, true
		default:
			l.Speed = 10
		}
	} else {
		l.Speed = 10
		if bmcr&(1<<BMCR_SPEED) != 0 {
			l.Speed = 100
		}
		l.FullDuplex = bmcr&(1<<BMCR_FD) != 0
	}
	return l, nil
}

// SetPromisc implements nic.Driver: RCR.PROM. The ifnet calls it on the first and last
// promiscuous reference only.
func (hw *ENET) SetPromisc(on bool) error {
	hw.cfgMu.Lock()
	defer hw.cfgMu.Unlock()
	hw.promisc.Store(on)
	v := hw.regs.Read32(ENETx_RCR)
	if on {
		v |= 1 << RCR_PROM
	} else {
		v &^= 1 << RCR_PROM
	}
	hw.regs.Write32(ENETx_RCR, v)
	return nil
}

// desc returns the first word of descriptor i (length in bits 15:0, status in 31:16).
func desc(ring []byte, i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&ring[i*bdSize]))
}

func (hw *ENET) storeDesc(ring []byte, i int, w uint32) { atomic.StoreUint32(desc(ring, i), w) }

// Receive takes up to budget frames off the receive ring and hands the good ones to the
// ifnet. It returns how many frames it took (good or not) and whether more are waiting.
func (hw *ENET) Receive(budget int) (n int, more bool) {
	hw.rxMu.Lock()
	defer hw.rxMu.Unlock()
	took := false
	for n < budget {
		i := hw.rxHead
		w := atomic.LoadUint32(desc(hw.rxDesc, i))
		st := w >> 16
		if st&(1<<BD_RX_E) != 0 {
			break
		}
		took = true
		hw.rxHead++
		if hw.rxHead == hw.rxN {
			hw.rxHead = 0
		}
		if st&(1<<BD_RX_L) == 0 {
			// A piece of a frame longer than one buffer: drop it, the last piece decides
			// how the frame is counted.
			hw.rxFrag = true
			hw.st.rxFragments.Add(1)
			hw.rearm(i, st)
			continue
		}
		n++
		frag := hw.rxFrag
		hw.rxFrag = false
		length := int(w & 0xffff)
		if errs := st & rxErrMask; errs != 0 || frag || length < FCSLen || length > BufSize {
			hw.countError(errs, frag, length)
			hw.rearm(i, st)
			continue
		}
		frame := hw.rxBufs[i*BufSize : i*BufSize+length-FCSLen]
		hw.st.rxFrames.Add(1)
		hw.st.rxBytes.Add(uint64(len(frame)))
		if len(frame) < MinFrame {
			hw.st.rxRunts.Add(1)
		}
		if hw.clock != nil {
			hw.ifp.InputStamped(frame, hw.clock())
		} else {
			hw.ifp.Input(frame)
		}
		hw.rearm(i, st)
	}
	if took {
		// The MAC clears RDAR when it meets a descriptor that is not empty and polls again
		// only after a write; every descriptor taken above is empty again.
		hw.regs.Write32(ENETx_RDAR, 1<<RDAR_RDAR)
		hw.st.rdarWrites.Add(1)
	}
	if n == budget {
		more = atomic.LoadUint32(desc(hw.rxDesc, hw.rxHead))&(1<<(16+BD_RX_E)) == 0
	}
	return n, more
}

// rearm gives descriptor i back to the MAC, keeping only its wrap bit.
func (hw *ENET) rearm(i int, st uint32) {
	hw.storeDesc(hw.rxDesc, i, (st&(1<<BD_RX_W)|1<<BD_RX_E)<<16)
}

func (hw *ENET) countError(errs uint32, frag bool, length int) {
	hw.st.rxErrors.Add(1)
	hw.ifp.Counters.IErrors.Add(1)
	if errs&(1<<BD_RX_OV) != 0 {
		// With OV set the MAC leaves the other error bits meaningless (IMX6ULLRM table 22-35).
		hw.st.rxOverrun.Add(1)
		return
	}
	if errs&(1<<BD_RX_LG) != 0 {
		hw.st.rxLength.Add(1)
	}
	if errs&(1<<BD_RX_NO) != 0 {
		hw.st.rxNonOctet.Add(1)
	}
	if errs&(1<<BD_RX_CR) != 0 {
		hw.st.rxCRC.Add(1)
	}
	if errs&(1<<BD_RX_TR) != 0 {
		hw.st.rxTruncated.Add(1)
	}
	if errs == 0 && (frag || length < FCSLen || length > BufSize) {
		// A multi-buffer frame whose last piece carries no LG (the ring ran out mid-frame), or
		// a length no valid descriptor has: a length error all the same.
		hw.st.rxLength.Add(1)
	}
}

// Transmit implements nic.Driver: queue one frame. It fails with EMSGSIZE for an empty frame
// or one longer than MaxFrame-FCSLen, and with ENOBUFS when every descriptor is in use.
// Short frames are sent as they are (the bridge forwards runts unchanged).
func (hw *ENET) Transmit(frame []byte) error {
	if len(frame) == 0 || len(frame) > MaxFrame-FCSLen {
		hw.st.txTooLong.Add(1)
		return fmt.Errorf("enet: %s: %d-byte frame: must be 1 to %d bytes: %w", hw.name, len(frame), MaxFrame-FCSLen, syscall.EMSGSIZE)
	}
	hw.txMu.Lock()
	defer hw.txMu.Unlock()
	if hw.txBusy == hw.txN {
		hw.reclaimLocked()
		if hw.txBusy == hw.txN {
			hw.st.txNoBuffer.Add(1)
			return fmt.Errorf("enet: %s: transmit ring full: %w", hw.name, syscall.ENOBUFS)
		}
	}
	i := hw.txHead
	copy(hw.txBufs[i*BufSize:], frame)
	st := uint32(1<<BD_TX_R | 1<<BD_TX_L | 1<<BD_TX_TC)
	if i == hw.txN-1 {
		st |= 1 << BD_TX_W
	}
	hw.storeDesc(hw.txDesc, i, st<<16|uint32(len(frame)))
	hw.txHead++
	if hw.txHead == hw.txN {
		hw.txHead = 0
	}
	hw.txBusy++
	hw.kickTX()
	hw.st.txFrames.Add(1)
	hw.st.txBytes.Add(uint64(len(frame)))
	// Reclaim eagerly: QEMU completes the frame inside the TDAR write, and on silicon the
	// descriptors done by now are free anyway.
	hw.reclaimLocked()
	return nil
}

// kickTX writes TDAR. ERR007885 (i.MX6 errata; Linux FEC_QUIRK_ERR007885): a TDAR write can
// be lost while the MAC is clearing TDAR, so write only once one of four reads finds it
// clear; while it stays set the MAC is still walking the ring and will see the new
// descriptor.
func (hw *ENET) kickTX() {
	for k := 0; k < 4; k++ {
		if hw.regs.Read32(ENETx_TDAR) == 0 {
			hw.regs.Write32(ENETx_TDAR, 1<<TDAR_TDAR)
			hw.st.tdar.Add(1)
			return
		}
	}
}

// reclaimLocked frees the descriptors the MAC has finished with. txMu held.
func (hw *ENET) reclaimLocked() {
	for hw.txBusy > 0 {
		if atomic.LoadUint32(desc(hw.txDesc, hw.txClean))&(1<<(16+BD_TX_R)) != 0 {
			return
		}
		hw.txClean++
		if hw.txClean == hw.txN {
			hw.txClean = 0
		}
		hw.txBusy--
	}
}

// TxPending returns how many transmit descriptors the MAC still owns.
func (hw *ENET) TxPending() int {
	hw.txMu.Lock()
	defer hw.txMu.Unlock()
	hw.reclaimLocked()
	return hw.txBusy
}

// Service handles one interrupt: acknowledge the ring events, receive up to budget frames,
// reclaim transmit descriptors and pick up the MAC's no-buffer drop count. It reports
// whether frames are still waiting.
func (hw *ENET) Service(budget int) (more bool) {
	hw.st.wakeups.Add(1)
	// Acknowledge before walking the ring: a frame that lands during the walk raises the
	// event again instead of being missed.
	hw.regs.Write32(ENETx_EIR, 1<<EIR_RXF|1<<EIR_RXB|1<<EIR_TXF|1<<EIR_TXB)
	_, more = hw.Receive(budget)
	hw.txMu.Lock()
	hw.reclaimLocked()
	hw.txMu.Unlock()
	hw.pollDrops()
	if more {
		hw.st.budgetExhausted.Add(1)
	}
	return more
}

// pollDrops adds the growth of IEEE_R_MACERR to the no-buffer count.
func (hw *ENET) pollDrops() {
	hw.rxMu.Lock()
	defer hw.rxMu.Unlock()
	v := hw.regs.Read32(ENETx_IEEE_R_MACERR)
	if d := v - hw.macErr; d != 0 && d < 1<<31 {
		hw.st.rxNoBuffer.Add(uint64(d))
		hw.ifp.Counters.IQDrops.Add(uint64(d))
	}
	hw.macErr = v
}

// DefaultBudget is the frames Run takes per wakeup before it yields: a ring's worth bounds
// the time the other port's goroutine waits.
const DefaultBudget = 64

// Run services the MAC until wait fails: wait blocks until the ENET interrupt is raised (on
// the board a read of the kern.IRQFile fd). When a wakeup ends at the budget with frames
// still waiting, Run yields the processor and goes round again without waiting.
func (hw *ENET) Run(wait func() error, budget int) error {
	if budget <= 0 {
		budget = DefaultBudget
	}
	for {
		if hw.Service(budget) {
			runtime.Gosched()
			continue
		}
		if err := wait(); err != nil {
			return err
		}
	}
}

// Stats returns a snapshot of the driver's counters.
func (hw *ENET) Stats() Stats {
	c := &hw.st
	return Stats{
		RxFrames: c.rxFrames.Load(), RxBytes: c.rxBytes.Load(), RxRunts: c.rxRunts.Load(),
		RxErrors: c.rxErrors.Load(), RxLength: c.rxLength.Load(), RxNonOctet: c.rxNonOctet.Load(),
		RxCRC: c.rxCRC.Load(), RxOverrun: c.rxOverrun.Load(), RxTruncated: c.rxTruncated.Load(),
		RxFragments: c.rxFragments.Load(), RxNoBuffer: c.rxNoBuffer.Load(),
		TxFrames: c.txFrames.Load(), TxBytes: c.txBytes.Load(), TxNoBuffer: c.txNoBuffer.Load(),
		TxTooLong: c.txTooLong.Load(), Wakeups: c.wakeups.Load(), BudgetExhausted: c.budgetExhausted.Load(),
		RDARWrites: c.rdarWrites.Load(), TDARWrites: c.tdar.Load(),
	}
}
