// Package pair is an in-memory driver: two interfaces joined back to back
// by a virtual cable, so that a frame one of them outputs is received by
// the other. It is a real driver (it counts, taps and honours link and up
// state through nic.Ifnet), used by tests and, later, to join vnets.
//
// Delivery is synchronous: the receiving side's Input, with its bpf tap and
// input hook, runs inside the sender's Output call, on the sender's
// goroutine, and the frame is not copied. An input hook that outputs a
// reply on the same pair therefore recurses; one that keeps the frame must
// copy it.
package pair

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/baretap/baretap/nic"
)

// End is one end of the cable: the driver half of an interface.
type End struct {
	ifp     *nic.Ifnet
	peer    *End
	cable   *cable
	promisc atomic.Bool
}

type cable struct {
	connected atomic.Bool
}

// New creates two interfaces, a and b, with the given names, MTU and
// hardware addresses, joined and up with link up.
func New(nameA, nameB string, mtu int, addrA, addrB net.HardwareAddr) (a, b *nic.Ifnet, err error) {
	c := &cable{}
	ea, eb := &End{cable: c}, &End{cable: c}
	ea.peer, eb.peer = eb, ea
	if a, err = nic.New(nic.Config{Name: nameA, MTU: mtu, Addr: addrA, Flags: nic.FlagBroadcast, Driver: ea}); err != nil {
		return nil, nil, err
	}
	if b, err = nic.New(nic.Config{Name: nameB, MTU: mtu, Addr: addrB, Flags: nic.FlagBroadcast, Driver: eb}); err != nil {
		return nil, nil, err
	}
	ea.ifp, eb.ifp = a, b
	c.connected.Store(true)
	for _, ifp := range []*nic.Ifnet{a, b} {
		ifp.SetUp(true)
		ifp.SetLinkState(nic.LinkUp)
	}
	return a, b, nil
}

// Transmit implements nic.Driver: the peer receives the frame now.
// ENOTCONN when the cable is unplugged.
func (e *End) Transmit(frame []byte) error {
	if !e.cable.connected.Load() {
		return fmt.Errorf("pair: %s: cable unplugged: %w", e.ifp.Name(), syscall.ENOTCONN)
	}
	e.peer.ifp.Input(frame)
	return nil
}

// SetPromisc implements nic.Driver; the state is only recorded, since the
// cable delivers every frame anyway.
func (e *End) SetPromisc(on bool) error {
	e.promisc.Store(on)
	return nil
}

// DriverOf returns the End behind an interface made by New, nil otherwise.
func DriverOf(ifp *nic.Ifnet) *End {
	e, _ := nic.DriverOf(ifp).(*End)
	return e
}

// HardwarePromisc reports what the driver was last told about promiscuous
// reception.
func (e *End) HardwarePromisc() bool { return e.promisc.Load() }

// Plug connects (true) or disconnects the cable; both ends' link state
// follows.
func (e *End) Plug(connected bool) {
	e.cable.connected.Store(connected)
	st := nic.LinkDown
	if connected {
		st = nic.LinkUp
	}
	e.ifp.SetLinkState(st)
	e.peer.ifp.SetLinkState(st)
}
