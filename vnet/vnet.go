package vnet

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/route"
)

// Options configure a new vnet. A new vnet starts from these values, not
// from another vnet's current ones (VNET_DEFINE's initial values).
type Options struct {
	// FIBs is net.fibs, clamped to [1, route.MaxFIBs]; 0 means 1.
	FIBs int
	// AddAddrAllFIBs is net.add_addr_allfibs: connected routes of new
	// addresses go to every FIB instead of the interface's only.
	AddAddrAllFIBs bool
	// BPF holds the net.bpf settings; nil means bpf.DefaultSettings().
	BPF *bpf.Settings
	// Clock drives bpf timestamps and neighbour timers; nil means the
	// system clock.
	Clock bpf.Clock
	// Forwarding is net.inet.ip.forwarding and net.inet6.ip6.forwarding.
	Forwarding bool
	// Neighbor tunes ARP and NDP; zero fields take FreeBSD's defaults.
	Neighbor NeighborConfig
}

// Errors are wrapped with context and an errno, so errors.Is(err,
// syscall.EEXIST) works as it would on FreeBSD.
var (
	// ErrDestroyed: the vnet was destroyed (ENXIO).
	ErrDestroyed = fmt.Errorf("vnet destroyed: %w", syscall.ENXIO)
	// ErrNotAttached: the interface is not in this vnet (ENXIO).
	ErrNotAttached = fmt.Errorf("interface not in this vnet: %w", syscall.ENXIO)
)

// Host is the set of vnets of one machine: vnet0, created with the Host,
// and the ones made with New. It is the only place vnets are registered.
type Host struct {
	mu     sync.Mutex
	vnets  []*Stack                // live vnets, vnet0 first; protected by mu
	where  map[*nic.Ifnet]*binding // every attached interface; protected by mu
	nextID int                     // protected by mu
}

// binding records where an interface lives (if_vnet) and where it was
// created (if_home_vnet).
type binding struct {
	cur, home *Stack
}

// NewHost creates a Host and its default vnet, vnet0, with opts.
func NewHost(opts Options) (*Host, error) {
	h := &Host{where: make(map[*nic.Ifnet]*binding)}
	v0, err := newStack(h, "vnet0", 0, opts)
	if err != nil {
		return nil, err
	}
	h.vnets = []*Stack{v0}
	h.nextID = 1
	return h, nil
}

// Default returns vnet0.
func (h *Host) Default() *Stack {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vnets[0]
}

// Stacks returns the live vnets, vnet0 first.
func (h *Host) Stacks() []*Stack {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Stack(nil), h.vnets...)
}

// ByName returns the live vnet called name, or nil.
func (h *Host) ByName(name string) *Stack {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.vnets {
		if v.name == name {
			return v
		}
	}
	return nil
}

// New creates a vnet (vnet_alloc). EEXIST if a live vnet has the name,
// EINVAL for an empty name or bad options.
func (h *Host) New(name string, opts Options) (*Stack, error) {
	if name == "" {
		return nil, fmt.Errorf("vnet: empty name: %w", syscall.EINVAL)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.vnets {
		if v.name == name {
			return nil, fmt.Errorf("vnet: %s exists: %w", name, syscall.EEXIST)
		}
	}
	v, err := newStack(h, name, h.nextID, opts)
	if err != nil {
		return nil, err
	}
	h.nextID++
	h.vnets = append(h.vnets, v)
	return v, nil
}

// Stack is one vnet. All methods are safe for concurrent use.
type Stack struct {
	host  *Host
	name  string
	id    int
	clock bpf.Clock
	owned *bpf.SystemClock // the clock newStack made, stopped by Destroy
	bpf   *bpf.Stack
	fibs  *route.FIBs
	ncfg  NeighborConfig

	mu   sync.RWMutex
	ifs  map[*nic.Ifnet]*Iface // protected by mu
	list nic.List              // index allocation; changed under mu
	dead bool                  // protected by mu

	// Snapshots for the packet path, replaced under mu.
	byIndex atomic.Pointer[[]*Iface] // index i at [i]; nil holes
	// local maps the vnet's own addresses, and the directed broadcast
	// addresses of its IPv4 networks, to what they are: one map, so the
	// packet path classifies a destination with one lookup.
	local atomic.Pointer[map[netip.Addr]localAddr]
	rules atomic.Pointer[[]Rule] // setfib rules

	forwarding atomic.Bool
	bufs       sync.Pool // *frameBuf
	stats      counters
}

func newStack(h *Host, name string, id int, o Options) (*Stack, error) {
	set := bpf.DefaultSettings()
	if o.BPF != nil {
		set = *o.BPF
	}
	clock := o.Clock
	var owned *bpf.SystemClock
	if clock == nil {
		owned = bpf.NewSystemClock(set.Hz)
		clock = owned
	}
	bs, err := bpf.NewStack(set, clock)
	if err != nil {
		return nil, fmt.Errorf("vnet: %s: %w", name, err)
	}
	ncfg, err := o.Neighbor.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("vnet: %s: %w", name, err)
	}
	s := &Stack{
		host: h, name: name, id: id, clock: clock, owned: owned, bpf: bs,
		fibs: route.NewFIBs(o.FIBs), ncfg: ncfg,
		ifs: make(map[*nic.Ifnet]*Iface),
	}
	s.fibs.SetAddAddrAllFIBs(o.AddAddrAllFIBs)
	s.forwarding.Store(o.Forwarding)
	s.bufs.New = func() any { return new(frameBuf) }
	s.publishLocked()
	return s, nil
}

// Name returns the vnet's name; ID its number (0 for vnet0).
func (s *Stack) Name() string { return s.name }
func (s *Stack) ID() int      { return s.id }

// FIBs returns the vnet's routing tables (net.fibs, add_addr_allfibs).
func (s *Stack) FIBs() *route.FIBs { return s.fibs }

// BPF returns the vnet's capture machinery; its Settings are the vnet's
// net.bpf sysctls.
func (s *Stack) BPF() *bpf.Stack { return s.bpf }

// Clock returns the vnet's clock.
func (s *Stack) Clock() bpf.Clock { return s.clock }

// SetForwarding sets net.inet.ip.forwarding and net.inet6.ip6.forwarding.
func (s *Stack) SetForwarding(on bool) { s.forwarding.Store(on) }

// Forwarding reports whether the vnet forwards.
func (s *Stack) Forwarding() bool { return s.forwarding.Load() }

// Destroyed reports whether Destroy has run.
func (s *Stack) Destroyed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dead
}

// Iface is an interface's membership in one vnet: what the vnet keeps per
// interface (if_fib, the address lists, the neighbour cache). A move makes
// a new Iface in the target; the old one is marked gone.
type Iface struct {
	s     *Stack
	ifp   *nic.Ifnet
	mac   [6]byte
	fib   atomic.Int32
	gone  atomic.Bool
	addrs []*IfAddr // protected by s.mu; IPv4 and IPv6, in order added
	neigh neighCache
}

// Attach puts ifp into the vnet (if_attach): it gets the lowest free index,
// the vnet's input hook and a bpf attach point as DLT_EN10MB. Its FIB is 0.
// EBUSY if it is in a vnet already, EEXIST if the name is taken here,
// EINVAL if its hardware address is not 6 bytes.
func (s *Stack) Attach(ifp *nic.Ifnet) error {
	h := s.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.where[ifp]; ok {
		return fmt.Errorf("vnet: %s: already in vnet %s: %w", ifp.Name(), b.cur.name, syscall.EBUSY)
	}
	if err := s.attachLocked(ifp, 0); err != nil {
		return err
	}
	h.where[ifp] = &binding{cur: s, home: s}
	return nil
}

// attachLocked does the vnet half of if_attach. h.mu held.
func (s *Stack) attachLocked(ifp *nic.Ifnet, fib int) error {
	if len(ifp.HardwareAddr()) != 6 {
		return fmt.Errorf("vnet: %s: hardware address %v is not Ethernet: %w", ifp.Name(), ifp.HardwareAddr(), syscall.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return fmt.Errorf("vnet: %s: attach %s: %w", s.name, ifp.Name(), ErrDestroyed)
	}
	if err := s.list.Add(ifp); err != nil {
		return fmt.Errorf("vnet: %s: %w", s.name, err)
	}
	if _, err := ifp.AttachBPF(s.bpf, bpf.DLT_EN10MB, ethHdrLen); err != nil {
		_ = s.list.Remove(ifp)
		return fmt.Errorf("vnet: %s: %w", s.name, err)
	}
	if fib >= s.fibs.Num() {
		fib = 0
	}
	f := &Iface{s: s, ifp: ifp}
	copy(f.mac[:], ifp.HardwareAddr())
	f.fib.Store(int32(fib))
	f.neigh.init()
	s.ifs[ifp] = f
	ifp.SetInput(f.input)
	s.publishLocked()
	return nil
}

// detachLocked does the vnet half of if_detach: purge addresses and the
// routes through the interface, drop its neighbour entries, detach bpf
// (waking its listeners with ENXIO), free the index. It returns the
// interface's FIB. h.mu held.
func (s *Stack) detachLocked(ifp *nic.Ifnet) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.ifs[ifp]
	if f == nil {
		return 0, fmt.Errorf("vnet: %s: %s: %w", s.name, ifp.Name(), ErrNotAttached)
	}
	f.gone.Store(true)
	ifp.SetInput(nil)
	for len(f.addrs) > 0 {
		s.deleteAddrLocked(f, f.addrs[len(f.addrs)-1])
	}
	idx := uint32(ifp.Index())
	for i := range s.fibs.Num() {
		t, err := s.fibs.Table(i)
		if err != nil {
			panic("vnet: FIB vanished: " + err.Error())
		}
		// rt_flushifroutes: nothing may keep routing to an interface
		// that left.
		t.Flush(func(r route.Route) bool { return r.IfIndex == idx })
	}
	f.neigh.purge()
	ifp.DetachBPF(s.bpf)
	if err := s.list.Remove(ifp); err != nil {
		panic("vnet: registry out of step with the index list: " + err.Error())
	}
	delete(s.ifs, ifp)
	s.publishLocked()
	return int(f.fib.Load()), nil
}

// Detach takes ifp out of the vnet and out of the Host (if_detach).
func (s *Stack) Detach(ifp *nic.Ifnet) error {
	h := s.host
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.where[ifp]
	if !ok || b.cur != s {
		return fmt.Errorf("vnet: %s: detach %s: %w", s.name, ifp.Name(), ErrNotAttached)
	}
	if _, err := s.detachLocked(ifp); err != nil {
		return err
	}
	delete(h.where, ifp)
	return nil
}

// MoveIf moves ifp from its current vnet to the vnet to (if_vmove,
// ifconfig IF vnet N; moving back to the home vnet is -vnet). Its
// addresses and routes are purged, its bpf listeners are woken with ENXIO
// and it is re-attached to the target's bpf with the same link type; its
// FIB number is kept if the target has that FIB, else it becomes 0. EEXIST
// if the target already has an interface of that name (nothing changes
// then), ENXIO if ifp is in no vnet or a vnet is destroyed.
func (h *Host) MoveIf(ifp *nic.Ifnet, to *Stack) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.moveLocked(ifp, to)
}

func (h *Host) moveLocked(ifp *nic.Ifnet, to *Stack) error {
	if to.host != h {
		return fmt.Errorf("vnet: move %s: target %s belongs to another host: %w", ifp.Name(), to.name, syscall.EINVAL)
	}
	b, ok := h.where[ifp]
	if !ok {
		return fmt.Errorf("vnet: move %s: %w", ifp.Name(), ErrNotAttached)
	}
	from := b.cur
	if from == to {
		return nil
	}
	// Checked first so that a clash leaves the interface where it was.
	to.mu.RLock()
	dead, clash := to.dead, to.list.ByName(ifp.Name()) != nil
	to.mu.RUnlock()
	if dead {
		return fmt.Errorf("vnet: move %s to %s: %w", ifp.Name(), to.name, ErrDestroyed)
	}
	if clash {
		return fmt.Errorf("vnet: move %s to %s: name in use there: %w", ifp.Name(), to.name, syscall.EEXIST)
	}
	fib, err := from.detachLocked(ifp)
	if err != nil {
		return err
	}
	if err := to.attachLocked(ifp, fib); err != nil {
		// Nothing else can have taken the name or killed from: h.mu
		// is held across both steps.
		if rerr := from.attachLocked(ifp, fib); rerr != nil {
			delete(h.where, ifp)
			return errors.Join(err, rerr)
		}
		return err
	}
	b.cur = to
	return nil
}

// VnetOf returns the vnet ifp is in, or nil.
func (h *Host) VnetOf(ifp *nic.Ifnet) *Stack {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.where[ifp]; ok {
		return b.cur
	}
	return nil
}

// Destroy tears the vnet down (vnet_destroy): each interface moves back to
// its home vnet, or to vnet0 when its home is this vnet or gone; the
// routes, addresses and bpf attach points go with the vnet. An interface
// that cannot return (its name is taken in the target) is detached from
// the Host and named in the error. EPERM for vnet0, ENXIO if already
// destroyed.
func (s *Stack) Destroy() error {
	h := s.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if s == h.vnets[0] {
		return fmt.Errorf("vnet: %s is the default vnet: %w", s.name, syscall.EPERM)
	}
	s.mu.RLock()
	dead := s.dead
	var ifps []*nic.Ifnet
	for _, f := range s.ifs {
		ifps = append(ifps, f.ifp)
	}
	s.mu.RUnlock()
	if dead {
		return fmt.Errorf("vnet: destroy %s: %w", s.name, ErrDestroyed)
	}
	var errs []error
	for _, ifp := range ifps {
		b := h.where[ifp]
		to := b.home
		if to == s || to.Destroyed() {
			to = h.vnets[0]
		}
		if err := h.moveLocked(ifp, to); err != nil {
			if _, derr := s.detachLocked(ifp); derr != nil {
				errs = append(errs, derr)
			}
			delete(h.where, ifp)
			errs = append(errs, fmt.Errorf("vnet: destroy %s: %s not returned: %w", s.name, ifp.Name(), err))
			continue
		}
		if b.home == s {
			b.home = to
		}
	}
	s.mu.Lock()
	s.dead = true
	s.publishLocked()
	s.mu.Unlock()
	if s.owned != nil {
		// Its tick goroutine (started by a fast timestamp read) ends.
		s.owned.Stop()
	}
	for i, v := range h.vnets {
		if v == s {
			h.vnets = append(h.vnets[:i:i], h.vnets[i+1:]...)
			break
		}
	}
	return errors.Join(errs...)
}

// publishLocked rebuilds the packet-path snapshots. s.mu held for writing.
func (s *Stack) publishLocked() {
	n := 0
	for _, f := range s.ifs {
		n = max(n, f.ifp.Index())
	}
	idx := make([]*Iface, n+1)
	local := make(map[netip.Addr]localAddr)
	for _, f := range s.ifs {
		idx[f.ifp.Index()] = f
		for _, a := range f.addrs {
			if a.Addr().Is4() && !a.dst.IsValid() && a.prefix.Bits() < 31 {
				b := lastAddr4(a.prefix)
				e := local[b]
				e.bcast = true
				local[b] = e
			}
		}
	}
	// Unicast addresses last: an address that is also some network's
	// broadcast address (a misconfiguration) counts as the address.
	for _, f := range s.ifs {
		for _, a := range f.addrs {
			e := local[a.Addr()]
			e.ifa = a
			local[a.Addr()] = e
		}
	}
	s.byIndex.Store(&idx)
	s.local.Store(&local)
}

// iface returns the vnet's interface with index i (lock-free), or nil.
func (s *Stack) iface(i uint32) *Iface {
	idx := *s.byIndex.Load()
	if uint64(i) >= uint64(len(idx)) {
		return nil
	}
	return idx[i]
}

// Interfaces returns the vnet's interfaces in index order.
func (s *Stack) Interfaces() []*nic.Ifnet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list.All()
}

// IfByName returns the vnet's interface called name (ifunit), or nil.
func (s *Stack) IfByName(name string) *nic.Ifnet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list.ByName(name)
}

// IfByIndex returns the vnet's interface with index i, or nil.
func (s *Stack) IfByIndex(i int) *nic.Ifnet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list.ByIndex(i)
}

// ifaceLocked returns ifp's membership here. s.mu held.
func (s *Stack) ifaceLocked(ifp *nic.Ifnet) (*Iface, error) {
	if s.dead {
		return nil, fmt.Errorf("vnet: %s: %w", s.name, ErrDestroyed)
	}
	f := s.ifs[ifp]
	if f == nil {
		return nil, fmt.Errorf("vnet: %s: %s: %w", s.name, ifp.Name(), ErrNotAttached)
	}
	return f, nil
}

// SetIfFIB sets the interface's FIB (ifconfig IF fib N): packets received
// on it are routed in FIB fib, and its connected routes go there when
// add_addr_allfibs is off. Routes of addresses already configured stay
// where they are, as in FreeBSD. EINVAL (route.ErrBadFIB) past net.fibs.
func (s *Stack) SetIfFIB(ifp *nic.Ifnet, fib int) error {
	if _, err := s.fibs.Table(fib); err != nil {
		return fmt.Errorf("vnet: %s: %s: %w", s.name, ifp.Name(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.ifaceLocked(ifp)
	if err != nil {
		return err
	}
	f.fib.Store(int32(fib))
	return nil
}

// IfFIB returns the interface's FIB.
func (s *Stack) IfFIB(ifp *nic.Ifnet) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := s.ifaceLocked(ifp)
	if err != nil {
		return 0, err
	}
	return int(f.fib.Load()), nil
}

// localAddr is what the local map knows about an address: the vnet's
// IfAddr for it, and whether it is a directed broadcast address.
type localAddr struct {
	ifa   *IfAddr
	bcast bool
}

// lastAddr4 is the all-ones host address of an IPv4 network.
func lastAddr4(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
