package main

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/nic/enet"
)

// The tap's network side: the ENET ports, the bpf stack they are attached to, the inline
// bridge and the capture exported on UART2. The board wiring (net_arm.go) calls
// setupNetwork at start-up; the commands in cmd_ifconfig.go, cmd_capture.go and bridge.go
// work on what it set up, and say so when there is nothing (the host build has no ports).
//
// Locking: network.mu protects the port list, the export writer, the running capture and
// the bridge state. Commands take it for their whole run; the packet path never does (the
// bridge is an ifnet input hook, installed and removed under mu).
var network struct {
	mu      sync.Mutex
	stack   *bpf.Stack
	ports   []*enet.ENET // enet0 (ENET1), enet1 (ENET2)
	export  io.Writer    // UART2: where captures stream
	capture *capture
	bridged bool
}

// Capture buffer limits: two buffers of captureBufSize (bpf's double buffering). They are
// large because UART2 drains slower than a port can fill them.
const (
	captureBufSize = 8 << 20
	maxBufSize     = 16 << 20
)

// setupNetwork records the ports and attaches each to a new bpf stack as DLT_EN10MB.
func setupNetwork(ports []*enet.ENET, export io.Writer) error {
	set := bpf.DefaultSettings()
	set.MaxBufSize = maxBufSize
	s, err := bpf.NewStack(set, nil)
	if err != nil {
		return err
	}
	for _, p := range ports {
		if _, err := p.Ifnet().AttachBPF(s, bpf.DLT_EN10MB, 14); err != nil {
			return fmt.Errorf("%s: bpf attach: %w", p.Name(), err)
		}
	}
	network.mu.Lock()
	defer network.mu.Unlock()
	network.stack, network.ports, network.export = s, ports, export
	return nil
}

var errNoNetwork = errors.New("no network interfaces on this platform")

// portLocked returns the port called name. network.mu held.
func portLocked(name string) (*enet.ENET, error) {
	if len(network.ports) == 0 {
		return nil, errNoNetwork
	}
	for _, p := range network.ports {
		if p.Name() == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no interface %q: ifconfig lists them", name)
}

func flagNames(f nic.Flags) string {
	s := ""
	for _, x := range []struct {
		f    nic.Flags
		name string
	}{{nic.FlagUp, "UP"}, {nic.FlagBroadcast, "BROADCAST"}, {nic.FlagRunning, "RUNNING"}, {nic.FlagPromisc, "PROMISC"}} {
		if f&x.f != 0 {
			if s != "" {
				s += ","
			}
			s += x.name
		}
	}
	return s
}
