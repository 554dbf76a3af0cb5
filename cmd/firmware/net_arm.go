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
// Every byte is a register write, so a capture export keeps the CPU busy for as long as it
// has data. It pauses briefly after each chunk: a goroutine that never blocks leaves the Go
// scheduler no reason to poll for the ENET interrupt fds until sysmon does (every 10 ms),
// and the receive rings would fill behind it. Sleeping lets the ports' service goroutines
// run first; the capture buffers absorb the difference.
type uartWriter struct{ u *imx6ul.UART }

const (
	uartChunk = 512
	uartPause = 20 * time.Microsecond
)

func (w uartWriter) Write(p []byte) (int, error) {
	for i, b := range p {
		if i%uartChunk == uartChunk-1 {
			time.Sleep(uartPause)
		}
		w.u.PutByte(b)
	}
	return len(p), nil
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
	if err := setupNetwork(ports, uartWriter{imx6ul.UART2}); err != nil {
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
