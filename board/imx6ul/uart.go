//go:build arm

package imx6ul

import "github.com/baretap/baretap/board/mmio"

// UART registers: IMX6ULRM, chapter "Universal Asynchronous Receiver/Transmitter (UART)",
// section "UART Memory Map/Register Definition". Bits are positions.
const (
	UARTx_URXD   = 0x00
	URXD_CHARRDY = 15
	URXD_ERR     = 14

	UARTx_UTXD = 0x40

	UARTx_UCR1  = 0x80
	UCR1_UARTEN = 0
	UCR1_RRDYEN = 9

	UARTx_UCR2 = 0x84
	UCR2_SRST  = 0 // 0 = reset; must be written as 1
	UCR2_RXEN  = 1
	UCR2_TXEN  = 2
	UCR2_WS    = 5 // 8-bit words
	UCR2_IRTS  = 14

	UARTx_UCR3 = 0x88
	// UCR3_RXDMUXSEL must be set on i.MX6 for the receiver to see the pin.
	UCR3_RXDMUXSEL = 2

	UARTx_UCR4 = 0x8C
	UARTx_UFCR = 0x90
	UFCR_RXTL  = 0 // [5:0] receiver trigger level

	UARTx_USR1 = 0x94
	USR1_RRDY  = 9
	USR1_TRDY  = 13

	UARTx_USR2 = 0x98
	USR2_RDR   = 0
	USR2_TXDC  = 3

	UARTx_UTS   = 0xB4
	UTS_TXFULL  = 4
	UTS_RXEMPTY = 5
)

// UART is one i.MX UART instance.
//
// Locking: a UART has no lock. The kernel is its only user and runs with interrupts masked
// on a single core, which serialises every access.
type UART struct {
	Base uintptr
	IRQ  int
}

var (
	UART1 = &UART{Base: UART1_BASE, IRQ: IRQ_UART1}
	UART2 = &UART{Base: UART2_BASE, IRQ: IRQ_UART2}
)

// Init enables the transmitter and receiver, 8N1, keeping the baud rate the boot loader
// programmed (UBIR/UBMR). QEMU 7.2: the model resets to UCR1=UARTEN, UCR2=TXEN and ignores
// the baud rate; its receiver needs RXEN.
func (hw *UART) Init() {
	mmio.Set(hw.Base+UARTx_UCR1, UCR1_UARTEN)
	ucr2 := mmio.Read32(hw.Base + UARTx_UCR2)
	ucr2 |= 1<<UCR2_SRST | 1<<UCR2_RXEN | 1<<UCR2_TXEN | 1<<UCR2_WS | 1<<UCR2_IRTS
	mmio.Write32(hw.Base+UARTx_UCR2, ucr2)
	mmio.Set(hw.Base+UARTx_UCR3, UCR3_RXDMUXSEL)
	// An RX interrupt per character: the console is interactive.
	mmio.SetN(hw.Base+UARTx_UFCR, UFCR_RXTL, 0x3f, 1)
}

// PutByte sends c, waiting while the transmit FIFO is full.
// QEMU 7.2: transmission is instantaneous; TXFULL never sets.
func (hw *UART) PutByte(c byte) {
	for mmio.Get(hw.Base+UARTx_UTS, UTS_TXFULL) {
	}
	mmio.Write32(hw.Base+UARTx_UTXD, uint32(c))
}

// GetByte returns the next received character, if any. Characters received with an
// error (framing, parity, overrun, break) are dropped.
// QEMU 7.2: the receiver holds one character (no FIFO).
func (hw *UART) GetByte() (c byte, ok bool) {
	for {
		r := mmio.Read32(hw.Base + UARTx_URXD)
		if r&(1<<URXD_CHARRDY) == 0 {
			return 0, false
		}
		if r&(1<<URXD_ERR) == 0 {
			return byte(r), true
		}
	}
}

// SetRXInterrupt enables or disables the receiver-ready interrupt (UCR1.RRDYEN). The
// interrupt is level triggered: it stays asserted while a character is unread, so the
// kernel enables it only while somebody waits for input.
func (hw *UART) SetRXInterrupt(on bool) {
	if on {
		mmio.Set(hw.Base+UARTx_UCR1, UCR1_RRDYEN)
	} else {
		mmio.Clear(hw.Base+UARTx_UCR1, UCR1_RRDYEN)
	}
}
