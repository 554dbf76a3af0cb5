package main

import (
	"github.com/baretap/baretap/nic"
)

// Inline bridge: a bump in the wire between enet0 and enet1. Every frame one port receives
// is output on the other; the ifnet taps it as received on the first and as sent on the
// second, so a capture on either port sees both directions. The forwarding runs in the
// receiving port's service goroutine; a frame the other port cannot take (its ring full,
// the link down) is counted in that port's oerrors.

func init() {
	register(command{name: "bridge", args: "[on|off]", summary: "forward frames between enet0 and enet1 (inline mode), or show the state", run: cmdBridge})
}

func cmdBridge(c *Console, args []string) error {
	network.mu.Lock()
	defer network.mu.Unlock()
	if len(network.ports) < 2 {
		return errNoNetwork
	}
	a, b := network.ports[0].Ifnet(), network.ports[1].Ifnet()
	switch {
	case len(args) == 0:
	case len(args) > 1:
		return badUsage("unexpected argument %q", args[1])
	case args[0] == "on":
		a.SetInput(forwardTo(b))
		b.SetInput(forwardTo(a))
		network.bridged = true
	case args[0] == "off":
		a.SetInput(nil)
		b.SetInput(nil)
		network.bridged = false
	default:
		return badUsage("%q: want on or off", args[0])
	}
	state := "off"
	if network.bridged {
		state = "on"
	}
	c.Printf("bridge %s <-> %s: %s\n", a.Name(), b.Name(), state)
	return nil
}

func forwardTo(out *nic.Ifnet) nic.InputFunc {
	return func(_ *nic.Ifnet, frame []byte) {
		// Output counts a failure in out's oerrors; nothing else to do on the packet path.
		_ = out.Output(frame)
	}
}
