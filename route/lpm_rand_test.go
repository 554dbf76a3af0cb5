package route

import (
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

// Replay a failing randomized run with -route.seed=N or ROUTE_SEED=N.
var seedFlag = flag.Uint64("route.seed", 0, "seed for the randomized route tests (0: from the clock)")

func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *seedFlag
	if s := os.Getenv("ROUTE_SEED"); s != "" && seed == 0 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ROUTE_SEED=%q: %v", s, err)
		}
		seed = v
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -route.seed=%d or ROUTE_SEED=%d)", seed, seed, seed)
	return seed
}

// prefixGen draws prefixes that pile up in a few chunks and nodes, so
// inserts and deletes nest, split and merge ranges, and cross the 16-bit
// segment boundaries where the structure changes shape.
type prefixGen struct {
	r     *rand.Rand
	is4   bool
	bases []netip.Addr
}

func newPrefixGen(r *rand.Rand, is4 bool) *prefixGen {
	g := &prefixGen{r: r, is4: is4}
	for range 3 {
		g.bases = append(g.bases, g.randAddr())
	}
	return g
}

func (g *prefixGen) randAddr() netip.Addr {
	if g.is4 {
		var b [4]byte
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return netip.AddrFrom16(b)
}

// near returns an address sharing a random-length head with a base.
func (g *prefixGen) near() netip.Addr {
	base := g.bases[g.r.IntN(len(g.bases))].AsSlice()
	x := g.randAddr().AsSlice()
	keep := g.r.IntN(len(base)*8 + 1)
	for i := range keep {
		m := byte(0x80 >> (i % 8))
		x[i/8] = x[i/8]&^m | base[i/8]&m
	}
	a, _ := netip.AddrFromSlice(x)
	return a
}

func (g *prefixGen) prefix() netip.Prefix {
	max := 32
	if !g.is4 {
		max = 128
	}
	var l int
	switch g.r.IntN(4) {
	case 0: // around segment boundaries
		l = min(max, 16*g.r.IntN(max/16+1)+g.r.IntN(3)-1)
		l = max0(l)
	case 1:
		l = g.r.IntN(17)
	default:
		l = g.r.IntN(max + 1)
	}
	p, _ := g.near().Prefix(l)
	return p
}

func max0(l int) int {
	if l < 0 {
		return 0
	}
	return l
}

// addrNear picks an address inside, at the edges of, or just outside a
// stored prefix.
func addrNear(r *rand.Rand, g *prefixGen, ps []netip.Prefix) netip.Addr {
	if len(ps) == 0 || r.IntN(4) == 0 {
		return g.near()
	}
	p := ps[r.IntN(len(ps))]
	first := p.Addr()
	last := lastAddr(p)
	switch r.IntN(5) {
	case 0:
		return first
	case 1:
		return last
	case 2:
		if a := first.Prev(); a.IsValid() {
			return a
		}
		return first
	case 3:
		if a := last.Next(); a.IsValid() {
			return a
		}
		return last
	}
	return randomIn(r, p)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// linearLPM is the naive reference: scan every prefix.
func linearLPM(m map[netip.Prefix]NextHop, a netip.Addr) (netip.Prefix, NextHop, bool) {
	var best netip.Prefix
	var nh NextHop
	ok := false
	for p, v := range m {
		if p.Contains(a) && (!ok || p.Bits() > best.Bits()) {
			best, nh, ok = p, v, true
		}
	}
	return best, nh, ok
}

func TestRandomizedDifferential(t *testing.T) {
	seed := testSeed(t)
	for _, is4 := range []bool{true, false} {
		name := "v6"
		if is4 {
			name = "v4"
		}
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(len(name))))
			differential(t, r, is4, 6000)
		})
	}
}

func differential(t *testing.T, r *rand.Rand, is4 bool, ops int) {
	checkPatch = true
	defer func() { checkPatch = false }()
	g := newPrefixGen(r, is4)
	tab := NewTable()
	ref := new(bart.Table[NextHop])
	naive := map[netip.Prefix]NextHop{}
	var stored []netip.Prefix
	// Some rounds stay under 256 next hops (one-byte formats), some not.
	pool := 40 + r.IntN(600)
	nhOf := func() NextHop {
		nh, _ := normalize(nhOfG(uint32(r.IntN(pool)), is4), is4)
		return nh
	}
	for op := range ops {
		switch k := r.IntN(10); {
		case k == 4: // batch add, sometimes with a duplicate that must void it
			var batch []Route
			fresh := map[netip.Prefix]bool{}
			for range 1 + r.IntN(30) {
				p := g.prefix()
				if _, dup := naive[p]; dup || fresh[p] {
					continue
				}
				fresh[p] = true
				batch = append(batch, Route{Prefix: p, NextHop: nhOf()})
			}
			if len(stored) > 0 && r.IntN(4) == 0 {
				batch = append(batch, Route{Prefix: stored[r.IntN(len(stored))], NextHop: nhOf()})
				if err := tab.AddRoutes(batch); !errors.Is(err, ErrExists) {
					t.Fatalf("op %d: batch with a duplicate: err %v, want EEXIST", op, err)
				}
				continue
			}
			if err := tab.AddRoutes(batch); err != nil {
				t.Fatalf("op %d: batch add: %v", op, err)
			}
			for _, rt := range batch {
				naive[rt.Prefix] = rt.NextHop
				ref.Insert(rt.Prefix, rt.NextHop)
				stored = append(stored, rt.Prefix)
			}
		case k < 5 || len(stored) == 0: // add
			p := g.prefix()
			nh := nhOf()
			err := tab.Add(Route{Prefix: p, NextHop: nh})
			if _, dup := naive[p]; dup {
				if !errors.Is(err, ErrExists) {
					t.Fatalf("op %d: add duplicate %s: err %v, want EEXIST", op, p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("op %d: add %s: %v", op, p, err)
			}
			naive[p] = nh
			ref.Insert(p, nh)
			stored = append(stored, p)
		case k < 8: // delete
			i := r.IntN(len(stored))
			p := stored[i]
			if err := tab.Delete(p); err != nil {
				t.Fatalf("op %d: delete %s: %v", op, p, err)
			}
			delete(naive, p)
			ref.Delete(p)
			stored = slices.Delete(stored, i, i+1)
			if err := tab.Delete(p); !errors.Is(err, ErrNotFound) {
				t.Fatalf("op %d: second delete %s: err %v, want ESRCH", op, p, err)
			}
		default: // change
			p := stored[r.IntN(len(stored))]
			nh := nhOf()
			if err := tab.Change(Route{Prefix: p, NextHop: nh}); err != nil {
				t.Fatalf("op %d: change %s: %v", op, p, err)
			}
			naive[p] = nh
			ref.Insert(p, nh)
		}
		if op%25 != 0 {
			continue
		}
		for range 40 {
			a := addrNear(r, g, stored)
			got, ok := tab.Lookup(a)
			want, wok := ref.Lookup(a)
			if p := tab.LookupNextHop(a); ok != (p != nil) || ok && *p != got {
				t.Fatalf("op %d: LookupNextHop(%s) = %v, Lookup = %v %v", op, a, p, got, ok)
			}
			if ok != wok || got != want {
				t.Fatalf("op %d: Lookup(%s) = %v %v, bart says %v %v", op, a, got, ok, want, wok)
			}
			rt, rok := tab.LookupRoute(a)
			wp, _, _ := ref.LookupPrefixLPM(netip.PrefixFrom(a, a.BitLen()))
			if rok != wok || (rok && rt.Prefix != wp) {
				t.Fatalf("op %d: LookupRoute(%s) = %v %v, bart says %v", op, a, rt.Prefix, rok, wp)
			}
		}
		if op%500 == 0 {
			for range 10 {
				a := addrNear(r, g, stored)
				wp, wnh, wok := linearLPM(naive, a)
				rt, ok := tab.LookupRoute(a)
				if ok != wok || (ok && (rt.Prefix != wp || rt.NextHop.Gateway != wnh.Gateway)) {
					t.Fatalf("op %d: LookupRoute(%s) = %v %v, linear scan says %v %v", op, a, rt, ok, wp, wok)
				}
			}
			checkWalk(t, tab, naive)
		}
	}
	checkWalk(t, tab, naive)
	// Emptying the table leaves no route and no next hop behind.
	for _, p := range stored {
		if err := tab.Delete(p); err != nil {
			t.Fatal(err)
		}
	}
	if n4, n6 := tab.Len(); n4+n6 != 0 {
		t.Fatalf("after deleting everything Len = %d, %d", n4, n6)
	}
	if len(tab.v4.nh.idx)+len(tab.v6.nh.idx) != 0 {
		t.Fatalf("next hops still referenced after deleting every route: %d", len(tab.v4.nh.idx)+len(tab.v6.nh.idx))
	}
	for range 100 {
		if nh, ok := tab.Lookup(g.near()); ok {
			t.Fatalf("empty table resolved to %v", nh)
		}
	}
}

// checkWalk compares Walk with the reference set and checks its order.
func checkWalk(t *testing.T, tab *Table, naive map[netip.Prefix]NextHop) {
	t.Helper()
	n := 0
	var prev netip.Prefix
	tab.Walk(func(r Route) bool {
		nh, ok := naive[r.Prefix]
		if !ok {
			t.Fatalf("Walk returned %s, not in the table", r.Prefix)
		}
		if nh.Gateway != r.Gateway || nh.IfIndex != r.IfIndex {
			t.Fatalf("Walk: %s has %v, want %v", r.Prefix, r.NextHop, nh)
		}
		if n > 0 && prev.Addr().Is4() == r.Prefix.Addr().Is4() {
			if c := prev.Addr().Compare(r.Prefix.Addr()); c > 0 || c == 0 && prev.Bits() >= r.Prefix.Bits() {
				t.Fatalf("Walk order: %s before %s", prev, r.Prefix)
			}
		}
		prev = r.Prefix
		n++
		return true
	})
	if n != len(naive) {
		t.Fatalf("Walk saw %d routes, table has %d", n, len(naive))
	}
}
