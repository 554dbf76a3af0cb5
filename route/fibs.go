package route

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// MaxFIBs bounds the number of FIBs of one stack. FreeBSD carries the FIB
// number in a 16-bit field of the mbuf packet header, so net.fibs tops out
// at 65,536 (historically 16, when it sat in 4 mbuf flag bits).
const MaxFIBs = 1 << 16

// FIBs is one network stack's set of routing tables (FreeBSD's
// rt_tables[fib][af], per vnet). A vnet owns one; nothing here is global.
//
// Locking: mu serializes changes to the set (SetNum) and operations that
// span FIBs (interface routes, which may go to every FIB); lock order is
// FIBs.mu before any Table.mu. The table list is published atomically and
// only ever grows, so Table and Lookup take no lock.
type FIBs struct {
	mu      sync.Mutex
	tabs    atomic.Pointer[[]*Table]
	allFIBs atomic.Bool
}

// NewFIBs returns n empty FIBs, n clamped to [1, MaxFIBs] as FreeBSD's boot
// code clamps the net.fibs tunable. net.add_addr_allfibs starts at 0, the
// FreeBSD 13+ default (D26076): interface routes go to the interface's FIB
// only.
func NewFIBs(n int) *FIBs {
	n = max(1, min(n, MaxFIBs))
	tabs := make([]*Table, n)
	for i := range tabs {
		tabs[i] = newTable(i)
	}
	f := &FIBs{}
	f.tabs.Store(&tabs)
	return f
}

// Num returns the number of FIBs (net.fibs).
func (f *FIBs) Num() int { return len(*f.tabs.Load()) }

// SetNum raises the number of FIBs to n (net.fibs at run time). Like
// FreeBSD it never lowers the count: n below the current count, or above
// MaxFIBs, is EINVAL. New FIBs start empty.
func (f *FIBs) SetNum(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := *f.tabs.Load()
	switch {
	case n > MaxFIBs:
		return &Error{Op: "set net.fibs", FIB: n, Err: fmt.Errorf("%d FIBs exceeds the maximum %d: %w", n, MaxFIBs, ErrInvalid)}
	case n < len(cur):
		return &Error{Op: "set net.fibs", FIB: n, Err: fmt.Errorf("cannot reduce FIBs from %d to %d: %w", len(cur), n, ErrInvalid)}
	case n == len(cur):
		return nil
	}
	tabs := make([]*Table, n)
	copy(tabs, cur)
	for i := len(cur); i < n; i++ {
		tabs[i] = newTable(i)
	}
	f.tabs.Store(&tabs)
	return nil
}

// Table selects FIB fib, as setfib(2) does: a number at or past the count,
// or negative, is an error wrapping EINVAL (ErrBadFIB).
func (f *FIBs) Table(fib int) (*Table, error) {
	tabs := *f.tabs.Load()
	if fib < 0 || fib >= len(tabs) {
		return nil, &Error{Op: "setfib", FIB: fib, Err: fmt.Errorf("fib %d of %d: %w", fib, len(tabs), ErrBadFIB)}
	}
	return tabs[fib], nil
}

// Lookup finds the next hop for a in FIB fib without locking or
// allocating. Errors: ErrBadFIB (EINVAL) for a bad FIB number, ErrNoRoute
// (EHOSTUNREACH) when nothing matches.
func (f *FIBs) Lookup(fib int, a netip.Addr) (NextHop, error) {
	tabs := *f.tabs.Load()
	if uint(fib) >= uint(len(tabs)) {
		return NextHop{}, ErrBadFIB
	}
	if nh, ok := tabs[fib].Lookup(a); ok {
		return nh, nil
	}
	return NextHop{}, ErrNoRoute
}

// AddAddrAllFIBs reports net.add_addr_allfibs.
func (f *FIBs) AddAddrAllFIBs() bool { return f.allFIBs.Load() }

// SetAddAddrAllFIBs sets net.add_addr_allfibs: when true, interface routes
// are installed in every FIB; when false, only in the FIB given.
func (f *FIBs) SetAddAddrAllFIBs(on bool) { f.allFIBs.Store(on) }

// connected is the route an interface address installs for its prefix.
func connected(p netip.Prefix, ifindex uint32) Route {
	return Route{Prefix: p.Masked(), NextHop: NextHop{IfIndex: ifindex, Flags: FlagConnected}}
}

// AddInterfaceRoute installs the connected route for prefix p (host bits
// are dropped: 10.0.0.1/24 installs 10.0.0.0/24) on interface ifindex,
// whose FIB is fib. With AddAddrAllFIBs it goes to every FIB, all or
// nothing: if one FIB refuses (EEXIST, as in FreeBSD where allfibs stops
// the same prefix living in two FIBs), the FIBs already done are rolled
// back and the error names the FIB that refused.
func (f *FIBs) AddInterfaceRoute(fib int, p netip.Prefix, ifindex uint32) error {
	if !p.IsValid() || ifindex == 0 {
		return &Error{Op: "add interface route", FIB: fib, Prefix: p, Err: invalid("prefix %v, interface index %d", p, ifindex)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	home, err := f.Table(fib)
	if err != nil {
		return err
	}
	r := connected(p, ifindex)
	if !f.allFIBs.Load() {
		return home.Add(r)
	}
	tabs := *f.tabs.Load()
	for i, t := range tabs {
		if err := t.Add(r); err != nil {
			for _, done := range tabs[:i] {
				if derr := done.Delete(r.Prefix); derr != nil {
					panic("route: rollback of interface route failed: " + derr.Error())
				}
			}
			return err
		}
	}
	return nil
}

// DeleteInterfaceRoute removes the connected route for p on ifindex: from
// every FIB that has it when AddAddrAllFIBs is set, else from fib only.
// ESRCH if no FIB had it.
func (f *FIBs) DeleteInterfaceRoute(fib int, p netip.Prefix, ifindex uint32) error {
	if !p.IsValid() {
		return &Error{Op: "delete interface route", FIB: fib, Prefix: p, Err: invalid("prefix %v", p)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	home, err := f.Table(fib)
	if err != nil {
		return err
	}
	tabs := []*Table{home}
	if f.allFIBs.Load() {
		tabs = *f.tabs.Load()
	}
	p = p.Masked()
	n := 0
	for _, t := range tabs {
		if t.deleteIf(p, func(r Route) bool { return r.Flags&FlagConnected != 0 && r.IfIndex == ifindex }) {
			n++
		}
	}
	if n == 0 {
		return &Error{Op: "delete interface route", FIB: fib, Prefix: p, Err: ErrNotFound}
	}
	return nil
}
