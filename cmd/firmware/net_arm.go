//go:build arm

package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/baretap/baretap/board/imx6ul"
	"github.com/baretap/baretap/kern"
	"github.com/baretap/baretap/nic/enet"
)

// Board wiring of the network: both ENETs as enet0 (ENET1, QEMU's first NIC) and enet1
// (ENET2), their interrupts as kern.IRQFile fds served by one goroutine per port, and UART2
// as the capture export. It runs from init, before the console starts; a port that fails
// is reported on the console and left out.

// evkPHY is the MDIO address of each port's PHY on the MCIMX6UL-EVK (KSZ8081RNB: ENET1 at 2,
// ENET2 at 1); QEMU 7.2 models the same addresses.
var evkPHY = map[int]int{1: 2, 2: 1}

// kernDMA hands the driver uncached kernel DMA memory (bus address = virtual address).
type kernDMA struct{}

func (kernDMA) Alloc(size, align int) (uint32, []byte, error) {
	va, buf, err := kern.AllocDMA(size, align)
	return uint32(va), buf, err
}

// uartWriter streams bytes on a UART, waiting while its FIFO is full.
//
// Every byte is a register write (about 0.3 us under QEMU, several times a frame's receive
// cost per frame exported), so the export runs as a background job: before each chunk it
// waits, in short sleeps, while the ports' service goroutines keep waking up, and goes on
// once they have been quiet for a pause or after maxPauses. A goroutine that never blocks
// would also keep the Go scheduler from polling the interrupt fds until sysmon does (every
// 10 ms); sleeping lets it poll. The capture buffers absorb what the export defers; if
// they fill, bpf counts the drops.
type uartWriter struct {
	u    *imx6ul.UART
	busy func() uint64 // a counter that moves while the ports are receiving
}

const (
	// uartChunk is the bytes written between pauses: smaller favours the ports (256 keeps a
	// capture-on receive rate near the capture-off one in BenchmarkENETRx) at the cost of
	// the export's own rate once the ports are quiet.
	uartChunk = 256
	uartPause = 200 * time.Microsecond
	maxPauses = 25 // the export gets at least a chunk per 25 pauses under any load
)

func (w uartWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		w.yield()
		n := min(len(p), uartChunk)
		for _, b := range p[:n] {
			w.u.PutByte(b)
		}
		p = p[n:]
	}
	return total, nil
}

// yield sleeps at least one pause, and on while the ports keep waking up, up to maxPauses.
func (w uartWriter) yield() {
	last := w.busy()
	for i := 0; i < maxPauses; i++ {
		time.Sleep(uartPause)
		now := w.busy()
		if now == last {
			return
		}
		last = now
	}
}

func init() {
	imx6ul.EnableENETClocks()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], imx6ul.UniqueID())
	var ports []*enet.ENET
	for i, port := range []imx6ul.ENETPort{imx6ul.ENET1, imx6ul.ENET2} {
		c := enet.Config{
			Name:    fmt.Sprintf("enet%d", i),
			Regs:    port.Regs(),
			DMA:     kernDMA{},
			PHY:     evkPHY[port.Index],
			MACSeed: seed[:],
			RMII:    true,
			// Legacy descriptors carry no timestamp, so the driver gives none (bpf stamps
			// with its own clock).
		}
		if mac, ok := port.FuseMAC(); ok {
			c.MAC = mac
		}
		hw, err := startPort(c, port.IRQ)
		if err != nil {
			fmt.Fprintf(os.Stdout, "network: %v\n", err)
			continue
		}
		ports = append(ports, hw)
	}
	imx6ul.UART2.Init()
	busy := func() uint64 {
		var n uint64
		for _, p := range ports {
			n += p.Stats().Wakeups
		}
		return n
	}
	if err := setupNetwork(ports, uartWriter{u: imx6ul.UART2, busy: busy}); err != nil {
		fmt.Fprintf(os.Stdout, "network: %v\n", err)
	}
}

func startPort(c enet.Config, irq int) (*enet.ENET, error) {
	hw, err := enet.New(c)
	if err != nil {
		return nil, err
	}
	if err := hw.Init(); err != nil {
		return nil, err
	}
	f, err := kern.IRQFile(irq)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	go func() {
		var count [4]byte
		err := hw.Run(func() error {
			_, err := f.Read(count[:])
			return err
		}, enet.DefaultBudget)
		fmt.Fprintf(os.Stdout, "network: %s: interrupt service ended: %v\n", c.Name, err)
	}()
	return hw, nil
}
