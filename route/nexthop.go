package route

import (
	"net/netip"
	"sync/atomic"
)

// Flags are route flags with FreeBSD's RTF_* values (sys/net/route.h), so
// they print and compare like netstat -r's.
type Flags uint32

const (
	FlagUp        Flags = 0x1      // RTF_UP: usable; set on every stored route
	FlagGateway   Flags = 0x2      // RTF_GATEWAY: next hop is a gateway, not on-link
	FlagHost      Flags = 0x4      // RTF_HOST: a /32 or /128
	FlagStatic    Flags = 0x800    // RTF_STATIC: added by hand
	FlagConnected Flags = 0x100000 // RTF_PINNED: interface (connected) route
)

// userFlags are the flags a caller sets; the others are derived.
const userFlags = FlagStatic | FlagConnected

// NextHop is where a route sends traffic.
type NextHop struct {
	// Gateway is the next router; the zero Addr means the destination is
	// directly connected on IfIndex.
	Gateway netip.Addr
	IfIndex uint32
	Flags   Flags
	MTU     uint32 // 0: the interface's
	Metric  uint32
}

// nhTable interns next hops: routes store a 15-bit index, so equal next
// hops share one entry and the lookup structure stays small (DXR's next-hop
// table). Index 0 means "no route". Each family of a Table has its own
// (lpm.nh): IPv4 blocks hold indexes up to 254 in one byte, so IPv4 next
// hops must not be numbered after the IPv6 ones.
//
// Readers take arr without locks. Writers (Table.mu) append in place past
// the published length, or, to reuse a freed slot, copy the array, so a
// published element is never written, and every new slot (appended or
// reused) publishes a new array pointer. An IPv4 reader loads arr before
// the direct table and checks after reading index i that arr is unchanged:
// no slot was filled in between, so element i of that arr is the one the
// chunk meant (see Table.lookup). An IPv6 reader re-checks its chunk
// instead: a slot is freed only after every chunk naming it has been
// republished, so an unchanged chunk proves the element it read is the one
// the chunk meant.
type nhTable struct {
	arr  atomic.Pointer[[]NextHop]
	refs []uint32           // writer only
	idx  map[NextHop]uint16 // writer only
	free []uint16           // writer only
}

func (t *nhTable) get(i uint32) NextHop { return (*t.arr.Load())[i] }

func (t *nhTable) acquire(nh NextHop) (uint16, error) {
	if t.idx == nil {
		t.idx = make(map[NextHop]uint16)
		a := make([]NextHop, 1, 16)
		t.arr.Store(&a)
		t.refs = make([]uint32, 1, 16)
	}
	if i, ok := t.idx[nh]; ok {
		t.refs[i]++
		return i, nil
	}
	cur := *t.arr.Load()
	var i uint16
	switch {
	case len(t.free) > 0:
		i = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
		a := make([]NextHop, len(cur), cap(cur))
		copy(a, cur)
		a[i] = nh
		t.arr.Store(&a)
		t.refs[i] = 1
	case len(cur) > nhMask:
		return 0, ErrFull
	default:
		i = uint16(len(cur))
		a := append(cur, nh)
		t.arr.Store(&a)
		t.refs = append(t.refs, 1)
	}
	t.idx[nh] = i
	return i, nil
}

func (t *nhTable) release(i uint16) {
	t.refs[i]--
	if t.refs[i] == 0 {
		delete(t.idx, (*t.arr.Load())[i])
		t.free = append(t.free, i)
	}
}

// normalize validates a next hop for a prefix of family is4 and sets the
// derived flags.
func normalize(nh NextHop, is4 bool) (NextHop, error) {
	if nh.Flags&^(userFlags|FlagUp|FlagGateway) != 0 {
		return nh, invalid("unknown route flags %#x", uint32(nh.Flags&^(userFlags|FlagUp|FlagGateway)))
	}
	if nh.Gateway.IsValid() {
		if nh.Gateway.Is4() != is4 {
			return nh, invalid("gateway %s is not of the prefix's address family", nh.Gateway)
		}
		if nh.Gateway.IsUnspecified() {
			return nh, invalid("gateway %s is unspecified", nh.Gateway)
		}
	} else if nh.Flags&FlagGateway != 0 {
		return nh, invalid("gateway flag without a gateway")
	}
	nh.Flags = nh.Flags&userFlags | FlagUp
	if nh.Gateway.IsValid() {
		nh.Flags |= FlagGateway
	}
	return nh, nil
}
