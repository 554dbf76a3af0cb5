package vnet

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/baretap/baretap/nic"
)

// IfAddr is an interface address (struct ifaddr / in_ifaddr / in6_ifaddr).
// Its fields never change, so a holder reads them without a lock, also
// after the address was deleted. The address list holds one reference;
// every lookup hands out another, which the caller gives back with Release
// (ifa_ref / ifa_free).
type IfAddr struct {
	prefix netip.Prefix // the address and its prefix length
	dst    netip.Addr   // point-to-point peer; zero for a broadcast network
	ifp    *nic.Ifnet
	fib    int // FIB whose connected route this address installed (if owner)

	refs    atomic.Int32
	removed atomic.Bool

	// ownsRoute: this address installed the connected route for its
	// prefix (FreeBSD's IFA_ROUTE). Protected by the vnet's mu.
	ownsRoute bool
}

// Prefix returns the address with its prefix length (10.0.0.1/24).
func (a *IfAddr) Prefix() netip.Prefix { return a.prefix }

// Addr returns the address.
func (a *IfAddr) Addr() netip.Addr { return a.prefix.Addr() }

// Dst returns the point-to-point destination, the zero Addr if none.
func (a *IfAddr) Dst() netip.Addr { return a.dst }

// Ifnet returns the interface the address was configured on.
func (a *IfAddr) Ifnet() *nic.Ifnet { return a.ifp }

// Removed reports whether the address has been deleted from its interface.
func (a *IfAddr) Removed() bool { return a.removed.Load() }

// Refs returns the reference count (0 once freed).
func (a *IfAddr) Refs() int { return int(a.refs.Load()) }

// Ref takes another reference (ifa_ref). Taking a reference to a freed
// address is a use after free and panics, as FreeBSD's KASSERT does.
func (a *IfAddr) Ref() {
	for {
		n := a.refs.Load()
		if n <= 0 {
			panic(fmt.Sprintf("vnet: ifa_ref of freed address %v", a.prefix))
		}
		if a.refs.CompareAndSwap(n, n+1) {
			return
		}
	}
}

// Release drops a reference (ifa_free). Releasing more references than
// were taken panics.
func (a *IfAddr) Release() {
	if a.refs.Add(-1) < 0 {
		panic(fmt.Sprintf("vnet: ifa_free of freed address %v", a.prefix))
	}
}

// connectedPrefix is the route an address installs: its network, or the
// peer as a host route on a point-to-point link.
func (a *IfAddr) connectedPrefix() netip.Prefix {
	if a.dst.IsValid() {
		return netip.PrefixFrom(a.dst, a.dst.BitLen())
	}
	return a.prefix.Masked()
}

// AddAddr configures address p (address and prefix length, e.g.
// 192.0.2.1/24 or 2001:db8::1/64) on ifp, with dst as the peer of a
// point-to-point link (the zero Addr otherwise), and installs the connected
// route in the interface's FIB, or in every FIB with add_addr_allfibs
// (FreeBSD in_aifaddr_ioctl / in6_update_ifa). If another address already
// installed a route for the same prefix, that route is shared, as
// in_addprefix does. Errors: EINVAL for an invalid or unspecified,
// multicast or IPv4-mapped address or a peer of the other family; EEXIST if
// the address is configured anywhere in the vnet; ENXIO if ifp is not here;
// the route error if the connected route cannot be installed.
func (s *Stack) AddAddr(ifp *nic.Ifnet, p netip.Prefix, dst netip.Addr) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return fmt.Errorf("vnet: %s: address %v: %w", s.name, p, syscall.EINVAL)
	case a.Is4In6(), a.Zone() != "":
		return fmt.Errorf("vnet: %s: address %v: IPv4-mapped or zoned: %w", s.name, p, syscall.EINVAL)
	case a.IsUnspecified(), a.IsMulticast():
		return fmt.Errorf("vnet: %s: address %v: unspecified or multicast: %w", s.name, p, syscall.EINVAL)
	case dst.IsValid() && (dst.Is4() != a.Is4() || dst.Zone() != ""):
		return fmt.Errorf("vnet: %s: peer %v for %v: %w", s.name, dst, p, syscall.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.ifaceLocked(ifp)
	if err != nil {
		return err
	}
	if o := (*s.local.Load())[a].ifa; o != nil {
		return fmt.Errorf("vnet: %s: address %v already on %s: %w", s.name, a, o.ifp.Name(), syscall.EEXIST)
	}
	ifa := &IfAddr{prefix: p, dst: dst, ifp: ifp, fib: int(f.fib.Load())}
	ifa.refs.Store(1)
	if s.routeOwnerLocked(ifa.connectedPrefix()) == nil {
		if err := s.fibs.AddInterfaceRoute(ifa.fib, ifa.connectedPrefix(), uint32(ifp.Index())); err != nil {
			return fmt.Errorf("vnet: %s: address %v on %s: %w", s.name, p, ifp.Name(), err)
		}
		ifa.ownsRoute = true
	}
	f.addrs = append(f.addrs, ifa)
	s.publishLocked()
	return nil
}

// routeOwnerLocked returns the address that installed the connected route
// for prefix cp, or nil. s.mu held.
func (s *Stack) routeOwnerLocked(cp netip.Prefix) *IfAddr {
	for _, f := range s.ifs {
		for _, o := range f.addrs {
			if o.ownsRoute && o.connectedPrefix() == cp {
				return o
			}
		}
	}
	return nil
}

// DeleteAddr removes address a from ifp (SIOCDIFADDR). Holders of a
// reference keep a readable IfAddr that reports Removed. If the address
// owned the connected route and another address in the vnet has the same
// prefix, the route is handed over to it (in_scrubprefix).
// EADDRNOTAVAIL if ifp has no such address; ENXIO if ifp is not here.
func (s *Stack) DeleteAddr(ifp *nic.Ifnet, a netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.ifaceLocked(ifp)
	if err != nil {
		return err
	}
	for _, ifa := range f.addrs {
		if ifa.Addr() == a {
			s.deleteAddrLocked(f, ifa)
			s.publishLocked()
			return nil
		}
	}
	return fmt.Errorf("vnet: %s: %v not on %s: %w", s.name, a, ifp.Name(), syscall.EADDRNOTAVAIL)
}

// deleteAddrLocked unlinks ifa from f. s.mu held for writing; the caller
// republishes.
func (s *Stack) deleteAddrLocked(f *Iface, ifa *IfAddr) {
	for i, o := range f.addrs {
		if o == ifa {
			// A fresh array: the old one may be in a reader's hands
			// (Addrs copies under the read lock, but be strict).
			f.addrs = append(f.addrs[:i:i], f.addrs[i+1:]...)
			break
		}
	}
	ifa.removed.Store(true)
	if ifa.ownsRoute {
		ifa.ownsRoute = false
		cp := ifa.connectedPrefix()
		// The route may already be gone (route delete by hand); that
		// is not an error for the address.
		_ = s.fibs.DeleteInterfaceRoute(ifa.fib, cp, uint32(ifa.ifp.Index()))
		s.handOverLocked(cp)
	}
	ifa.Release()
}

// handOverLocked re-installs the connected route for cp through another
// address with that prefix, if one remains. s.mu held.
func (s *Stack) handOverLocked(cp netip.Prefix) {
	for _, f := range s.ifs {
		for _, o := range f.addrs {
			if o.connectedPrefix() != cp {
				continue
			}
			o.fib = int(f.fib.Load())
			if err := s.fibs.AddInterfaceRoute(o.fib, cp, uint32(f.ifp.Index())); err == nil {
				o.ownsRoute = true
				return
			}
		}
	}
}

// Addrs returns ifp's addresses in the order added; nil if ifp is not here.
func (s *Stack) Addrs(ifp *nic.Ifnet) []netip.Prefix {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.ifs[ifp]
	if f == nil {
		return nil
	}
	out := make([]netip.Prefix, len(f.addrs))
	for i, a := range f.addrs {
		out[i] = a.prefix
	}
	return out
}

// IfaWithAddr returns a reference to the address a, configured on any of
// the vnet's interfaces (ifa_ifwithaddr), or nil. Release it when done.
func (s *Stack) IfaWithAddr(a netip.Addr) *IfAddr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ifa := (*s.local.Load())[a].ifa
	if ifa == nil {
		return nil
	}
	ifa.Ref()
	return ifa
}

// IfaWithNet returns a reference to the address whose network holds a with
// the longest prefix (ifa_ifwithnet), or nil; point-to-point addresses do
// not count. Ties go to the interface with the lower index.
func (s *Stack) IfaWithNet(a netip.Addr) *IfAddr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *IfAddr
	for _, ifp := range s.list.All() {
		for _, o := range s.ifs[ifp].addrs {
			if o.dst.IsValid() || !o.prefix.Contains(a) {
				continue
			}
			if best == nil || o.prefix.Bits() > best.prefix.Bits() {
				best = o
			}
		}
	}
	if best != nil {
		best.Ref()
	}
	return best
}

// IfaWithDstAddr returns a reference to the point-to-point address whose
// peer is a (ifa_ifwithdstaddr), or nil.
func (s *Stack) IfaWithDstAddr(a netip.Addr) *IfAddr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ifp := range s.list.All() {
		for _, o := range s.ifs[ifp].addrs {
			if o.dst == a {
				o.Ref()
				return o
			}
		}
	}
	return nil
}

// srcAddr picks the source address for a packet the vnet originates on f
// toward dst: an address of f whose network holds dst, else f's first of
// that family. ok is false if f has none.
func (s *Stack) srcAddr(f *Iface, dst netip.Addr) (netip.Addr, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var first netip.Addr
	for _, o := range f.addrs {
		if o.Addr().Is4() != dst.Is4() {
			continue
		}
		if o.prefix.Contains(dst) || o.dst == dst {
			return o.Addr(), true
		}
		if !first.IsValid() {
			first = o.Addr()
		}
	}
	return first, first.IsValid()
}

// ownOn reports whether a is configured on f.
func (s *Stack) ownOn(f *Iface, a netip.Addr) bool {
	ifa := (*s.local.Load())[a].ifa
	return ifa != nil && ifa.ifp == f.ifp
}

// isLocal reports whether a is one of the vnet's addresses (lock-free).
func (s *Stack) isLocal(a netip.Addr) bool {
	return (*s.local.Load())[a].ifa != nil
}
