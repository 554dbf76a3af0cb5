package main

import (
	"net"
)

func init() {
	register(command{name: "ifconfig", args: "[IFACE [ether MAC]]", summary: "list the network interfaces and their counters, or set a MAC address", run: cmdIfconfig})
}

func cmdIfconfig(c *Console, args []string) error {
	network.mu.Lock()
	defer network.mu.Unlock()
	switch len(args) {
	case 0:
		if len(network.ports) == 0 {
			return errNoNetwork
		}
		for _, p := range network.ports {
			printPort(c, p.Name())
		}
		return nil
	case 1:
		if _, err := portLocked(args[0]); err != nil {
			return err
		}
		printPort(c, args[0])
		return nil
	case 3:
		if args[1] != "ether" {
			return badUsage("unknown setting %q", args[1])
		}
		p, err := portLocked(args[0])
		if err != nil {
			return err
		}
		mac, err := net.ParseMAC(args[2])
		if err != nil {
			return badUsage("%v", err)
		}
		return p.SetMAC(mac)
	}
	return badUsage("unexpected argument %q", args[len(args)-1])
}

// printPort prints one interface the way FreeBSD's ifconfig and netstat -I lay it out, with
// the driver's counters on "rx"/"tx"/"rxerr" lines that scripts can match with one regular
// expression each. network.mu held.
func printPort(c *Console, name string) {
	p, _ := portLocked(name)
	ifp := p.Ifnet()
	s := p.Stats()
	is := ifp.Stats()
	c.Printf("%s: flags=%x<%s> mtu %d\n", name, uint32(ifp.Flags()), flagNames(ifp.Flags()), ifp.MTU())
	c.Printf("\tether %s\n", p.MAC())
	c.Printf("\tmedia: Ethernet %s, status: %s\n", p.Link(), ifp.LinkState())
	c.Printf("\trx frames %d bytes %d runts %d errors %d nobuf %d qdrops %d\n", s.RxFrames, s.RxBytes, s.RxRunts, s.RxErrors, s.RxNoBuffer, is.IQDrops)
	c.Printf("\trxerr length %d nonoctet %d crc %d overrun %d truncated %d fragments %d\n", s.RxLength, s.RxNonOctet, s.RxCRC, s.RxOverrun, s.RxTruncated, s.RxFragments)
	c.Printf("\ttx frames %d bytes %d nobuf %d toolong %d oerrors %d\n", s.TxFrames, s.TxBytes, s.TxNoBuffer, s.TxTooLong, is.OErrors)
	c.Printf("\tirq wakeups %d budget-exhausted %d\n", s.Wakeups, s.BudgetExhausted)
}
