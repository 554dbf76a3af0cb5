// Package nic is the ifnet abstraction: what every network driver of the
// tap implements and what the stack and the capture machinery see of it.
//
// An Ifnet is the driver-independent half of an interface (FreeBSD's
// struct ifnet): name, index, MTU, flags, link state, counters, the input
// hook the stack registers and the bpf attach point. A driver supplies the
// other half through the Driver interface and calls Input for every frame
// it receives. Output sends a frame through the driver. Both tap the frame
// to bpf as FreeBSD's ether_input and ether_output do.
//
// Locking: mu protects the promiscuous reference count and the input
// hook; flags, link state, MTU and counters are atomics so the packet path
// takes no lock. Driver hooks are called with mu held (SetPromisc) or with
// no lock (Transmit), and must not call back into SetPromisc.
package nic

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baretap/baretap/bpf"
)

// Flags are the IFF_* interface flags this abstraction keeps (sys/net/if.h
// values).
type Flags uint32

const (
	FlagUp        Flags = 0x1   // IFF_UP: administratively up
	FlagBroadcast Flags = 0x2   // IFF_BROADCAST
	FlagRunning   Flags = 0x40  // IFF_DRV_RUNNING: the driver has resources
	FlagPromisc   Flags = 0x100 // IFF_PROMISC: receive all frames
)

// LinkState is the link_state of an interface (LINK_STATE_*).
type LinkState int32

const (
	LinkUnknown LinkState = iota
	LinkDown
	LinkUp
)

func (s LinkState) String() string {
	switch s {
	case LinkDown:
		return "down"
	case LinkUp:
		return "up"
	}
	return "unknown"
}

// Driver is the hardware half of an interface.
type Driver interface {
	// Transmit sends one frame. It must not retain frame after returning.
	Transmit(frame []byte) error
	// SetPromisc switches promiscuous reception; called on the 0->1 and
	// 1->0 transitions of the reference count only.
	SetPromisc(on bool) error
}

// InputFunc receives the frames an interface delivers to the stack. The
// frame is valid only during the call.
type InputFunc func(ifp *Ifnet, frame []byte)

// Counters are the if_data statistics.
type Counters struct {
	IPackets, IBytes, IErrors, IQDrops atomic.Uint64
	OPackets, OBytes, OErrors          atomic.Uint64
}

// CounterValues is a snapshot of Counters.
type CounterValues struct {
	IPackets, IBytes, IErrors, IQDrops uint64
	OPackets, OBytes, OErrors          uint64
}

// Config describes a new interface.
type Config struct {
	Name   string
	MTU    int
	Addr   net.HardwareAddr
	Flags  Flags // initial flags besides promisc (e.g. FlagBroadcast)
	Driver Driver
}

// Ifnet is one network interface. All methods are safe for concurrent use.
type Ifnet struct {
	name  string
	addr  net.HardwareAddr
	drv   Driver
	index atomic.Int32
	mtu   atomic.Int32
	flags atomic.Uint32
	link  atomic.Int32

	mu       sync.Mutex
	promRefs int       // promiscuous references; protected by mu
	input    InputFunc // protected by mu, read through inputFn

	inputFn atomic.Pointer[InputFunc] // lock-free copy for the RX path

	bpfIf atomic.Pointer[bpf.If] // the primary attach point (if_bpf)

	Counters Counters
}

var _ bpf.Interface = (*Ifnet)(nil)

// New returns an interface in the down state. The name must be non-empty
// and at most 15 bytes (IFNAMSIZ - 1), the MTU positive.
func New(c Config) (*Ifnet, error) {
	if c.Name == "" || len(c.Name) > 15 {
		return nil, fmt.Errorf("nic: interface name %q: must be 1 to 15 bytes: %w", c.Name, syscall.EINVAL)
	}
	if c.MTU <= 0 {
		return nil, fmt.Errorf("nic: %s: MTU %d must be positive: %w", c.Name, c.MTU, syscall.EINVAL)
	}
	if c.Driver == nil {
		return nil, fmt.Errorf("nic: %s: nil driver: %w", c.Name, syscall.EINVAL)
	}
	ifp := &Ifnet{name: c.Name, addr: append(net.HardwareAddr(nil), c.Addr...), drv: c.Driver}
	ifp.mtu.Store(int32(c.MTU))
	ifp.flags.Store(uint32(c.Flags &^ (FlagUp | FlagRunning | FlagPromisc)))
	return ifp, nil
}

func (ifp *Ifnet) Name() string                   { return ifp.name }
func (ifp *Ifnet) Index() int                     { return int(ifp.index.Load()) }
func (ifp *Ifnet) MTU() int                       { return int(ifp.mtu.Load()) }
func (ifp *Ifnet) HardwareAddr() net.HardwareAddr { return ifp.addr }
func (ifp *Ifnet) Flags() Flags                   { return Flags(ifp.flags.Load()) }
func (ifp *Ifnet) IsUp() bool                     { return ifp.Flags()&FlagUp != 0 }
func (ifp *Ifnet) LinkState() LinkState           { return LinkState(ifp.link.Load()) }

// SetMTU changes the MTU (SIOCSIFMTU). EINVAL if not positive.
func (ifp *Ifnet) SetMTU(mtu int) error {
	if mtu <= 0 {
		return fmt.Errorf("nic: %s: MTU %d must be positive: %w", ifp.name, mtu, syscall.EINVAL)
	}
	ifp.mtu.Store(int32(mtu))
	return nil
}

// SetUp sets or clears IFF_UP and IFF_DRV_RUNNING together.
func (ifp *Ifnet) SetUp(up bool) {
	for {
		old := ifp.flags.Load()
		nf := old &^ uint32(FlagUp|FlagRunning)
		if up {
			nf |= uint32(FlagUp | FlagRunning)
		}
		if ifp.flags.CompareAndSwap(old, nf) {
			return
		}
	}
}

// SetLinkState records the link state the driver observed (if_link_state_change).
func (ifp *Ifnet) SetLinkState(s LinkState) { ifp.link.Store(int32(s)) }

// PromiscRefs returns the promiscuous reference count.
func (ifp *Ifnet) PromiscRefs() int {
	ifp.mu.Lock()
	defer ifp.mu.Unlock()
	return ifp.promRefs
}

// ErrPromiscUnderflow is returned when SetPromisc(false) has no reference to drop.
var ErrPromiscUnderflow = errors.New("nic: promiscuous reference count would go below zero")

// SetPromisc adds (on) or drops one promiscuous reference (ifpromisc). The
// driver sees only the transitions 0->1 and 1->0; if it fails the count is
// left unchanged.
func (ifp *Ifnet) SetPromisc(on bool) error {
	ifp.mu.Lock()
	defer ifp.mu.Unlock()
	n := ifp.promRefs
	if on {
		n++
	} else {
		n--
	}
	if n < 0 {
		return fmt.Errorf("%s: %w", ifp.name, ErrPromiscUnderflow)
	}
	if (ifp.promRefs == 0) != (n == 0) {
		if err := ifp.drv.SetPromisc(n > 0); err != nil {
			return fmt.Errorf("nic: %s: promiscuous mode: %w", ifp.name, err)
		}
		for {
			old := ifp.flags.Load()
			nf := old &^ uint32(FlagPromisc)
			if n > 0 {
				nf |= uint32(FlagPromisc)
			}
			if ifp.flags.CompareAndSwap(old, nf) {
				break
			}
		}
	}
	ifp.promRefs = n
	return nil
}

// SetInput registers the stack's receive hook (nil: frames are counted and
// tapped, then dropped).
func (ifp *Ifnet) SetInput(fn InputFunc) {
	ifp.mu.Lock()
	defer ifp.mu.Unlock()
	ifp.input = fn
	if fn == nil {
		ifp.inputFn.Store(nil)
	} else {
		ifp.inputFn.Store(&fn)
	}
}

// AttachBPF registers the interface with a bpf stack as link type dlt with
// a link header of hdrlen bytes (bpfattach2). The first attach point is the
// one Input and Output tap; further DLTs (e.g. radiotap) are tapped by the
// driver through the returned *bpf.If.
func (ifp *Ifnet) AttachBPF(s *bpf.Stack, dlt uint32, hdrlen int) (*bpf.If, error) {
	b, err := s.Attach(ifp, dlt, hdrlen)
	if err != nil {
		return nil, err
	}
	ifp.bpfIf.CompareAndSwap(nil, b)
	return b, nil
}

// DetachBPF removes every attach point of the interface (bpfdetach). Taps
// through a *bpf.If kept by the driver become no-ops.
func (ifp *Ifnet) DetachBPF(s *bpf.Stack) int {
	n := s.Detach(ifp)
	ifp.bpfIf.Store(nil)
	return n
}

// BPF returns the primary attach point, nil if none.
func (ifp *Ifnet) BPF() *bpf.If { return ifp.bpfIf.Load() }

// Input is the driver's receive entry point (if_input): count the frame,
// drop it if the interface is down, tap it to bpf as received, and hand it
// to the input hook. The frame is valid only during the call. It is also
// the bpf feedback path.
func (ifp *Ifnet) Input(frame []byte) {
	ifp.input1(frame, 0, false)
}

// InputStamped is Input with the driver's receive timestamp (uptime), which
// bpf uses for interfaces whose tscfg is "external".
func (ifp *Ifnet) InputStamped(frame []byte, uptime time.Duration) {
	ifp.input1(frame, uptime, true)
}

func (ifp *Ifnet) input1(frame []byte, uptime time.Duration, stamped bool) {
	if !ifp.IsUp() {
		ifp.Counters.IQDrops.Add(1)
		return
	}
	ifp.Counters.IPackets.Add(1)
	ifp.Counters.IBytes.Add(uint64(len(frame)))
	if b := ifp.bpfIf.Load(); b != nil {
		if stamped {
			b.MtapStamp(frame, false, uptime)
		} else {
			b.Mtap(frame, false)
		}
	}
	if fn := ifp.inputFn.Load(); fn != nil {
		(*fn)(ifp, frame)
	}
}

// Output sends a frame through the driver (if_output for a frame with its
// link header built), tapping it to bpf as transmitted. ENETDOWN if the
// interface is not up and running.
func (ifp *Ifnet) Output(frame []byte) error { return ifp.Transmit(frame, true) }

// Transmit implements bpf.Interface: Output, with the transmit tap
// suppressed when tapOut is false (a bpf feedback write).
func (ifp *Ifnet) Transmit(frame []byte, tapOut bool) error {
	if ifp.Flags()&(FlagUp|FlagRunning) != FlagUp|FlagRunning {
		ifp.Counters.OErrors.Add(1)
		return fmt.Errorf("nic: %s: output: %w", ifp.name, syscall.ENETDOWN)
	}
	if tapOut {
		ifp.bpfIf.Load().Mtap(frame, true)
	}
	if err := ifp.drv.Transmit(frame); err != nil {
		ifp.Counters.OErrors.Add(1)
		return fmt.Errorf("nic: %s: transmit: %w", ifp.name, err)
	}
	ifp.Counters.OPackets.Add(1)
	ifp.Counters.OBytes.Add(uint64(len(frame)))
	return nil
}

// Stats returns a snapshot of the counters.
func (ifp *Ifnet) Stats() CounterValues {
	c := &ifp.Counters
	return CounterValues{
		IPackets: c.IPackets.Load(), IBytes: c.IBytes.Load(), IErrors: c.IErrors.Load(), IQDrops: c.IQDrops.Load(),
		OPackets: c.OPackets.Load(), OBytes: c.OBytes.Load(), OErrors: c.OErrors.Load(),
	}
}

// List is an interface list with if_index allocation; a vnet owns one.
type List struct {
	mu  sync.Mutex
	ifs []*Ifnet // protected by mu; index i+1 is ifs[i] (nil once removed)
}

// Add gives ifp the lowest free index (starting at 1) and lists it. EEXIST
// if the name is taken; EBUSY if ifp is already on a list.
func (l *List) Add(ifp *Ifnet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ifp.Index() != 0 {
		return fmt.Errorf("nic: %s already has index %d: %w", ifp.name, ifp.Index(), syscall.EBUSY)
	}
	for _, o := range l.ifs {
		if o != nil && o.name == ifp.name {
			return fmt.Errorf("nic: interface name %s in use: %w", ifp.name, syscall.EEXIST)
		}
	}
	for i, o := range l.ifs {
		if o == nil {
			l.ifs[i] = ifp
			ifp.index.Store(int32(i + 1))
			return nil
		}
	}
	l.ifs = append(l.ifs, ifp)
	ifp.index.Store(int32(len(l.ifs)))
	return nil
}

// Remove takes ifp off the list and clears its index. ENXIO if not listed.
func (l *List) Remove(ifp *Ifnet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := ifp.Index()
	if i <= 0 || i > len(l.ifs) || l.ifs[i-1] != ifp {
		return fmt.Errorf("nic: %s not on this list: %w", ifp.name, syscall.ENXIO)
	}
	l.ifs[i-1] = nil
	ifp.index.Store(0)
	return nil
}

// ByName returns the interface called name, or nil (ifunit).
func (l *List) ByName(name string) *Ifnet {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.ifs {
		if o != nil && o.name == name {
			return o
		}
	}
	return nil
}

// ByIndex returns the interface with index i, or nil (ifnet_byindex).
func (l *List) ByIndex(i int) *Ifnet {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i <= 0 || i > len(l.ifs) {
		return nil
	}
	return l.ifs[i-1]
}

// All returns the listed interfaces in index order.
func (l *List) All() []*Ifnet {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Ifnet, 0, len(l.ifs))
	for _, o := range l.ifs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// DriverOf returns the driver behind ifp.
func DriverOf(ifp *Ifnet) Driver { return ifp.drv }
