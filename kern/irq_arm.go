package kern

import "github.com/baretap/baretap/board/imx6ul"

// Interrupts. The kernel owns the generic timer and the console UART; every other line can
// be claimed by a driver as an interrupt fd (IRQFile). The trap path and the idle loop
// acknowledge interrupts at the GIC until none is pending.

const maxIRQ = 160 // QEMU 7.2's GIC implements 160 IDs (GICD_TYPER.ITLines = 4)

// irqFD maps a GIC interrupt ID to the fd that receives it (-1: none), plus one.
var irqFD [maxIRQ]int32

func handleIRQs() {
	for {
		id := gic.Acknowledge()
		if id == imx6ul.IAR_SPURIOUS || id >= 1020 {
			return
		}
		stats.irqs++
		switch {
		case id == imx6ul.IRQ_VTIMER:
			timerInterrupt()
		case id == console.IRQ:
			consoleInterrupt()
		case id < maxIRQ && irqFD[id] > 0:
			irqFDInterrupt(id, irqFD[id]-1)
		default:
			// Nobody claims it: mask it so that it cannot storm.
			stats.spuriousIRQs++
			gic.Disable(id)
		}
		gic.End(id)
	}
}

// irqFDInterrupt counts the interrupt on its fd, masks the line until the fd is read (the
// device may keep it asserted until its driver runs), and wakes the netpoller.
func irqFDInterrupt(id int, fd int32) {
	gic.Disable(id)
	d := &fds[fd]
	d.counter++
	d.edge = true
	resched = true
	epollNotify()
}

func irqAttach(id int, fd int32) {
	irqFD[id] = fd + 1
	fds[fd].irq = int32(id)
	gic.Enable(id)
}

func irqDetach(id int) {
	gic.Disable(id)
	irqFD[id] = 0
}
