package route

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"unsafe"
)

// Route is one routing table entry.
type Route struct {
	Prefix netip.Prefix
	NextHop
}

// Table is one FIB: an IPv4 and an IPv6 table.
//
// Locking: mu serializes writers (Add, Change, Delete, Flush) and guards
// everything a writer touches (short-prefix maps, cover lengths, next-hop
// reference counts, builder scratch); Get, LookupRoute and Walk hold it for
// reading. Lookup takes no lock at all: it reads only atomically published,
// immutable chunks and the next-hop array (see lpm.go and nhTable), so
// forwarding goroutines never wait for the control plane. A Lookup running
// concurrently with an update returns either the old or the new answer.
type Table struct {
	fib int
	mu  sync.RWMutex
	// The families are held by value: a lookup reaches the IPv4 direct
	// table with one load less.
	v4 lpm
	v6 lpm
}

// NewTable returns an empty table. FIBs makes tables with their numbers;
// NewTable is for a stand-alone table (numbered 0 in errors).
func NewTable() *Table { return newTable(0) }

func newTable(fib int) *Table {
	t := &Table{fib: fib}
	t.v4.setup(true)
	t.v6.setup(false)
	return t
}

// canon validates p and masks off host bits: FreeBSD's rtrequest applies
// the netmask to the destination, so route add 10.1.2.3/8 installs
// 10.0.0.0/8; we do the same rather than refuse.
func canon(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return p, invalid("invalid prefix %v", p)
	}
	return p.Masked(), nil
}

func keyOf(a netip.Addr) key128 {
	if a.Is4() {
		b := a.As4()
		return key128{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32}
	}
	b := a.As16()
	return key128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func addrOf(k key128, is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.hi>>32))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}

func (t *Table) family(p netip.Prefix) *lpm {
	if p.Addr().Is4() {
		return &t.v4
	}
	return &t.v6
}

func (t *Table) fail(op string, p netip.Prefix, err error) error {
	return &Error{Op: op, FIB: t.fib, Prefix: p, Err: err}
}

// FIB returns the table's FIB number.
func (t *Table) FIB() int { return t.fib }

// Add installs r. It fails with an error wrapping EEXIST if the (masked)
// prefix is already present and EINVAL for a bad prefix or next hop.
func (t *Table) Add(r Route) error { return t.set(opAdd, "add", r) }

// Change replaces the next hop of an existing route (route change); ESRCH
// if the prefix is absent.
func (t *Table) Change(r Route) error { return t.set(opChange, "change", r) }

func (t *Table) set(op opKind, name string, r Route) error {
	p, err := canon(r.Prefix)
	if err != nil {
		return t.fail(name, r.Prefix, err)
	}
	nh, err := normalize(r.NextHop, p.Addr().Is4())
	if err != nil {
		return t.fail(name, p, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.family(p)
	i, err := f.nh.acquire(nh)
	if err != nil {
		return t.fail(name, p, err)
	}
	old, err := f.apply(op, keyOf(p.Addr()), p.Bits(), i)
	if err != nil {
		f.nh.release(i)
		return t.fail(name, p, err)
	}
	if op == opChange {
		f.nh.release(old)
	}
	return nil
}

// AddRoutes adds many routes at once, for loading a full table: IPv4
// routes are grouped by /16 chunk and each chunk is compiled once instead
// of once per route. It checks every route first (EINVAL, EEXIST against
// the table and within the batch, ENOSPC for next hops) and installs
// nothing if one fails; the error names the first bad route. Lookups see
// the chunks change one at a time.
func (t *Table) AddRoutes(rs []Route) error {
	type item struct {
		p  netip.Prefix
		nh NextHop
		i  uint16
	}
	items := make([]item, len(rs))
	for n, r := range rs {
		p, err := canon(r.Prefix)
		if err != nil {
			return t.fail("add", r.Prefix, err)
		}
		nh, err := normalize(r.NextHop, p.Addr().Is4())
		if err != nil {
			return t.fail("add", p, err)
		}
		items[n] = item{p: p, nh: nh}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return a.p.Bits() - b.p.Bits()
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	for n, it := range items {
		if n > 0 && items[n-1].p == it.p {
			return t.fail("add", it.p, fmt.Errorf("twice in one batch: %w", ErrExists))
		}
		if _, ok := t.family(it.p).get(keyOf(it.p.Addr()), it.p.Bits()); ok {
			return t.fail("add", it.p, ErrExists)
		}
	}
	for n := range items {
		i, err := t.family(items[n].p).nh.acquire(items[n].nh)
		if err != nil {
			for _, done := range items[:n] {
				t.family(done.p).nh.release(done.i)
			}
			return t.fail("add", items[n].p, err)
		}
		items[n].i = i
	}
	// Short prefixes first, so chunks get their final covers before the
	// chunk batches compile them.
	var long4, long6 []batchEnt
	for _, it := range items {
		f, l := t.family(it.p), it.p.Bits()
		switch {
		case l <= segBits:
			if _, err := f.apply(opAdd, keyOf(it.p.Addr()), l, it.i); err != nil {
				panic("route: batch add of a checked prefix failed: " + err.Error())
			}
		case f.is4:
			long4 = append(long4, batchEnt{keyOf(it.p.Addr()), l, it.i})
		default:
			long6 = append(long6, batchEnt{keyOf(it.p.Addr()), l, it.i})
		}
	}
	if err := t.v4.addBatch(long4); err != nil {
		panic("route: IPv4 batch failed: " + err.Error())
	}
	if err := t.v6.addBatch(long6); err != nil {
		// Only ENOSPC (children of one IPv6 node) gets here; the chunks
		// compiled before it stay installed.
		return t.fail("add", netip.Prefix{}, err)
	}
	return nil
}

// Delete removes the route for prefix p; ESRCH if absent.
func (t *Table) Delete(p netip.Prefix) error {
	p, err := canon(p)
	if err != nil {
		return t.fail("delete", p, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deleteLocked(p)
}

// deleteIf deletes the route for the canonical prefix p if match accepts
// it, atomically with respect to other writers.
func (t *Table) deleteIf(p netip.Prefix, match func(Route) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.family(p).get(keyOf(p.Addr()), p.Bits())
	if !ok || !match(t.route(p, i)) {
		return false
	}
	return t.deleteLocked(p) == nil
}

func (t *Table) deleteLocked(p netip.Prefix) error {
	old, err := t.family(p).apply(opDelete, keyOf(p.Addr()), p.Bits(), 0)
	if err != nil {
		return t.fail("delete", p, err)
	}
	t.family(p).nh.release(old)
	return nil
}

func (t *Table) route(p netip.Prefix, i uint16) Route {
	r := Route{Prefix: p, NextHop: t.family(p).nh.get(uint32(i))}
	if p.IsSingleIP() {
		r.Flags |= FlagHost
	}
	return r
}

// Get returns the route stored for exactly prefix p (host bits masked);
// ESRCH if absent.
func (t *Table) Get(p netip.Prefix) (Route, error) {
	p, err := canon(p)
	if err != nil {
		return Route{}, t.fail("get", p, err)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.family(p).get(keyOf(p.Addr()), p.Bits())
	if !ok {
		return Route{}, t.fail("get", p, ErrNotFound)
	}
	return t.route(p, i), nil
}

// Lookup returns the next hop of the longest prefix containing a. It takes
// no lock and allocates nothing; safe to call concurrently with updates.
func (t *Table) Lookup(a netip.Addr) (NextHop, bool) {
	if nh := t.LookupNextHop(a); nh != nil {
		return *nh, true
	}
	return NextHop{}, false
}

// LookupNextHop is Lookup without the copy, for the forwarding path: it
// returns the table's shared record of the next hop, or nil when no route
// matches. Records are immutable once published and stay valid after their
// routes go away; callers must never write through the pointer.
//
// It is small enough to be inlined, so a lookup costs the caller one call.
func (t *Table) LookupNextHop(a netip.Addr) *NextHop { return t.lookup(a) }

// lookup returns a pointer into the published next-hop array, whose
// elements are never written once published. The IPv4 lookup is written
// out here rather than in a function of its own to save a call.
//
// Next-hop slots: the chunk state a reader sees names slot i, which was
// filled before that state was published; a freed slot is refilled only by
// publishing a new array (nhTable.acquire stores a fresh array pointer for
// every new slot). The reader loads the array before the direct table
// (dir4) and checks, after reading i, that the array is still the same:
// then no slot changed in between, so slot i of that array holds what the
// chunk meant. Loading the array first matters because a compaction
// publishes a new dir4: a slot is refilled only after every chunk naming
// it was republished in the current dir4, and the refill publishes a new
// array, so a reader that loaded the array after the refill loads that
// dir4 or a newer one, never an older one still naming the slot.
//
// The answer is read from the descriptor (inline) or the arena byte
// (complex) with no branch on the kind; the two branches left are the
// no-route chunk (d == 0, early, so that the caller's test of the result
// is predicted from it) and the slow path (an escaped /24, or a slot
// filled meanwhile), which random keys almost never take.
func (t *Table) lookup(a netip.Addr) *NextHop {
	if !a.Is4() {
		return t.lookup6(a)
	}
	b := a.As4()
	v := binary.BigEndian.Uint32(b[:])
	// The array before the table: see above.
	arr := t.v4.nh.arr.Load()
	tab := t.v4.chunks4.Load()
	if tab == nil {
		return nil
	}
	// find4, written out: it is too big for the inliner.
	j := uintptr(v>>8) & 0xff
	d := tab.desc[v>>16].Load()
	if d == 0 {
		// A chunk without any route: the one branch on the kinds, taken
		// early (the descriptor is cached) for the commonest no-route
		// case, so that the caller's test of the result is predictable.
		return nil
	}
	// An inline descriptor reads offset 0 (its value is not used): a
	// mask, not a branch, as the kinds mix unpredictably.
	blk := unsafe.Add(unsafe.Pointer(unsafe.SliceData(tab.arena)), uintptr(d&offMask&uint32(int32(d)>>31)))
	// Offset 0 holds zeros, so only a complex chunk's byte can be esc8.
	bv := uint32(*(*uint8)(unsafe.Add(blk, j)))
	i := d & nhMask
	if d&complexD != 0 {
		i = bv
	}
	if bv == esc8 || t.v4.nh.arr.Load() != arr {
		return t.lookup4Slow(v)
	}
	// Slot 0 exists (it is never used): selecting nil after indexing
	// spares a branch on the block's value.
	nh := &(*arr)[i]
	if i == 0 {
		nh = nil
	}
	return nh
}

// find4 reads the value of v in its chunk: one next hop, or kidFlag for a
// /24 whose block byte is esc8 (see escape4), with the block it read.
//
// Both the inline value and the block value are computed and one is
// selected: random keys mix the kinds, and a mispredicted branch on the
// kind would cost more than the load of a block value (at offset 0 of the
// arena, always cached, for chunks that are not complex), and the kind
// is selected with a conditional move.
func find4(tab *dir4, v uint32) (i uint32, blk unsafe.Pointer) {
	j := uintptr(v>>8) & 0xff
	d := tab.desc[v>>16].Load()
	blk = unsafe.Add(unsafe.Pointer(unsafe.SliceData(tab.arena)), uintptr(d&offMask&uint32(int32(d)>>31)))
	bv := uint32(*(*uint8)(unsafe.Add(blk, j)))
	bv |= (bv + 1) >> 8 << 15 // esc8 gets kidFlag
	i = d & nhMask
	if d&complexD != 0 {
		i = bv
	}
	return i, blk
}

// escape4 returns the value of v when its /24 is escaped in the flat
// block blk: the /24's escape word names a next hop or a sub-block. The
// part's header word w0 is the word before the block.
func escape4(blk unsafe.Pointer, v uint32) uint32 {
	w0 := *(*uint32)(unsafe.Add(blk, -4))
	esc := unsafe.Slice((*uint32)(unsafe.Add(blk, block8Words*4)), w0>>escShift&escMask)
	j := v >> 8 & 0xff
	lo, n := 0, len(esc)
	for n > 1 {
		h := n >> 1
		if esc[lo+h]>>16 <= j {
			lo += h
		}
		n -= h
	}
	x := esc[lo] & 0xffff
	if x&kidFlag != 0 {
		off := (block8Words+uintptr(len(esc)))*4 + 512*uintptr(x&nhMask) + 2*uintptr(v&0xff)
		x = uint32(*(*uint16)(unsafe.Add(blk, off)))
	}
	return x
}

// lookup4Slow is lookup for the rare keys whose /24 is escaped (holds
// longer prefixes or a next hop past a byte), and for retries after a
// concurrent update.
func (t *Table) lookup4Slow(v uint32) *NextHop {
	for {
		arr := t.v4.nh.arr.Load()
		i, blk := find4(t.v4.chunks4.Load(), v)
		if i&kidFlag != 0 {
			i = escape4(blk, v)
		}
		if t.v4.nh.arr.Load() != arr {
			continue
		}
		if i == 0 {
			return nil
		}
		return &(*arr)[i]
	}
}

// addrRaw tells that netip.Addr starts with its 128 bits as two native
// uint64 halves (hi, lo), as it has since Go 1.18; init checks it on
// sample addresses, so a different layout only costs the fallback.
var addrRaw = func() bool {
	if unsafe.Sizeof(netip.Addr{}) != 24 {
		return false
	}
	for _, s := range []string{"2001:db8:1:2:3:4:5:6", "fedc:ba98:7654:3210:123:4567:89ab:cdef", "::"} {
		a := netip.MustParseAddr(s)
		b := a.As16()
		p := (*[2]uint64)(unsafe.Pointer(&a))
		if p[0] != binary.BigEndian.Uint64(b[:8]) || p[1] != binary.BigEndian.Uint64(b[8:]) {
			return false
		}
	}
	return true
}()

// addr128 returns a (an IPv6 address) as two big-endian halves. As16
// writes the address out in two 8-byte stores and copies it with one
// 16-byte load, which the store buffer cannot forward: that stall alone
// was about a third of a random IPv6 lookup.
func addr128(a *netip.Addr) (hi, lo uint64) {
	if addrRaw {
		p := (*[2]uint64)(unsafe.Pointer(a))
		return p[0], p[1]
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// lookup6 looks up anything that is not IPv4 (the zero Addr has no route).
//
// The walk is written out, with no call on the way: 99.3% of random keys
// in 2000::/3 end at an empty root slot (60 /16s hold routes on the full
// table), table-drawn ones at the first or second node, so a call per
// node and the spills around it weighed as much as the searches. The key
// is shifted left 16 bits per level (constant shifts), and the binary
// searches add a mask rather than branch (the compiler emitted a branch
// per step, which random keys mispredict half the time). A child's words
// come from its parent's kidw, so the search in the child does not wait
// for the load of the child's node; the node itself is loaded beside it,
// for the next level's kids and kidw.
func (t *Table) lookup6(a netip.Addr) *NextHop {
	if !a.IsValid() {
		return nil
	}
	hi0, lo0 := addr128(&a)
	tab := t.v6.chunks6.Load()
	if tab == nil {
		return nil
	}
	slot := &tab[hi0>>48]
	for {
		root := slot.Load()
		if root == nil {
			return nil
		}
		// Children are reached through immutable parents, so one
		// consistent root pins the whole path.
		// p is n's words, read from the parent's kidw rather than from
		// n, so the search need not wait on n's load.
		n, v := root, uint32(0)
		p := unsafe.Pointer(unsafe.SliceData(n.w))
		hi, lo := hi0<<16|lo0>>48, lo0<<16
		for {
			k := uint32(hi >> 48)
			hi, lo = hi<<16|lo>>48, lo<<16
			// The value of k in n: the last range starting at or
			// below k, by n's format (see the node words in lpm.go).
			w0 := *(*uint32)(p)
			base := unsafe.Add(p, hdrWords*4)
			cnt := uintptr(w0 & countMask)
			if w0&directFlag != 0 {
				v = uint32(*(*uint8)(unsafe.Add(base, k>>8)))
			} else if w0&shortFlag != 0 {
				x := uint16(k | 0xff)
				var at uintptr
				for cnt > 1 {
					h := cnt >> 1
					// at += h when the start is <= x, without a
					// branch: the difference's sign is the mask.
					d := uint64(x) - uint64(*(*uint16)(unsafe.Add(base, 2*(at+h))))
					at += h &^ uintptr(int64(d)>>63)
					cnt -= h
				}
				v = uint32(*(*uint16)(unsafe.Add(base, 2*at)) & 0xff)
			} else {
				var at uintptr
				if w0&indexFlag != 0 {
					// idx[256] would read the first range's low half;
					// the last /8 step ends at the last range instead.
					j := uintptr(k >> 8)
					at = uintptr(*(*uint16)(unsafe.Add(base, 2*j)))
					end := uintptr(*(*uint16)(unsafe.Add(base, 2*j+2)))
					if j == 255 {
						end = cnt - 1
					}
					cnt = end + 1 - at
					base = unsafe.Add(base, indexWords*4)
				}
				x := k<<16 | 0xffff
				for cnt > 1 {
					h := cnt >> 1
					d := uint64(x) - uint64(*(*uint32)(unsafe.Add(base, 4*(at+h))))
					at += h &^ uintptr(int64(d)>>63)
					cnt -= h
				}
				v = *(*uint32)(unsafe.Add(base, 4*at)) & 0xffff
			}
			if v&kidFlag == 0 {
				break
			}
			i := v & nhMask
			p = unsafe.Pointer(n.kidw[i])
			n = n.kids[i]
		}
		if v == 0 {
			return nil
		}
		nh := &(*t.v6.nh.arr.Load())[v]
		if slot.Load() == root {
			return nh
		}
	}
}

// LookupRoute is route get: the longest matching route with its prefix.
// It reads the table's RIB side under the read lock, so it is slower than
// Lookup and meant for the control plane.
func (t *Table) LookupRoute(a netip.Addr) (Route, bool) {
	if !a.IsValid() {
		return Route{}, false
	}
	a = a.WithZone("")
	t.mu.RLock()
	defer t.mu.RUnlock()
	f := &t.v6
	if a.Is4() {
		f = &t.v4
	}
	l, i, ok := f.match(keyOf(a))
	if !ok {
		return Route{}, false
	}
	p, _ := a.Prefix(l)
	return t.route(p, i), true
}

// Walk calls fn for every route, IPv4 first, each family in address order
// with shorter prefixes first, until fn returns false. It holds the read
// lock: fn must not modify the table.
func (t *Table) Walk(fn func(Route) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.walkLocked(fn)
}

func (t *Table) walkLocked(fn func(Route) bool) {
	for _, f := range []*lpm{&t.v4, &t.v6} {
		ok := f.walk(func(k key128, l int, i uint16) bool {
			return fn(t.route(netip.PrefixFrom(addrOf(k, f.is4), l), i))
		})
		if !ok {
			return
		}
	}
}

// Flush deletes every route for which match returns true (all routes when
// match is nil) and returns how many it deleted. route(8)'s flush, which
// removes gateway routes only, is Flush(func(r Route) bool { return
// r.Flags&FlagGateway != 0 }).
func (t *Table) Flush(match func(Route) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var del []netip.Prefix
	t.walkLocked(func(r Route) bool {
		if match == nil || match(r) {
			del = append(del, r.Prefix)
		}
		return true
	})
	for _, p := range del {
		if err := t.deleteLocked(p); err != nil {
			panic("route: flush lost a walked prefix: " + err.Error())
		}
	}
	return len(del)
}

// Len returns the number of IPv4 and IPv6 routes.
func (t *Table) Len() (v4, v6 int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.v4.count, t.v6.count
}
