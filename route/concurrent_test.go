package route

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentLookupsDuringUpdates runs lock-free lookups while a writer
// adds, changes and deletes more-specific routes (and a short prefix that
// re-covers 256 chunks) with ever new next hops, so next-hop slots are
// freed and reused under the readers. Every answer must be one the table
// could have given at some instant: the stable route of the address's
// block, or a churned route whose prefix contains the address. Run with
// -race.
func TestConcurrentLookupsDuringUpdates(t *testing.T) {
	for _, is4 := range []bool{true, false} {
		name := "v6"
		if is4 {
			name = "v4"
		}
		t.Run(name, func(t *testing.T) { concurrentChurn(t, is4) })
	}
}

func concurrentChurn(t *testing.T, is4 bool) {
	seed := testSeed(t)
	tab := NewTable()
	const blocks = 16
	// Stable blocks: 10.i.0.0/16 or 2001:db8:i::/48, never touched.
	block := func(i int) netip.Prefix {
		if is4 {
			return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i)}), 16)
		}
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 48)
	}
	stableGW := func(i int) netip.Addr {
		if is4 {
			return netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		}
		return netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(i + 1)})
	}
	for i := range blocks {
		if err := tab.Add(Route{Prefix: block(i), NextHop: NextHop{Gateway: stableGW(i), IfIndex: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	// Churned prefixes inside the blocks, plus one short prefix outside.
	r := rand.New(rand.NewPCG(seed, 7))
	var churn []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for len(churn) < 200 {
		b := block(r.IntN(blocks))
		l := b.Bits() + 1 + r.IntN(b.Addr().BitLen()-b.Bits())
		p, _ := randomIn(r, b).Prefix(l)
		if !seen[p] {
			seen[p] = true
			churn = append(churn, p)
		}
	}
	short := mustPrefix("11.0.0.0/8")
	if !is4 {
		short = mustPrefix("2002::/16")
	}
	churn = append(churn, short)
	// A churned route's gateway names its prefix; Metric makes each
	// version a new next hop.
	churnGW := func(j int) netip.Addr {
		if is4 {
			return netip.AddrFrom4([4]byte{172, 16, byte(j >> 8), byte(j)})
		}
		return netip.AddrFrom16([16]byte{0xfe, 0x80, 1, 14: byte(j >> 8), 15: byte(j)})
	}
	gwIndex := map[netip.Addr]int{}
	for j := range churn {
		gwIndex[churnGW(j)] = j
	}
	stableIndex := map[netip.Addr]int{}
	for i := range blocks {
		stableIndex[stableGW(i)] = i
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups atomic.Int64
	errc := make(chan string, 4)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, uint64(100+w)))
			for !stop.Load() {
				var a netip.Addr
				if rr.IntN(8) == 0 {
					a = randomIn(rr, short)
				} else {
					a = randomIn(rr, block(rr.IntN(blocks)))
				}
				nh, ok := tab.Lookup(a)
				lookups.Add(1)
				if j, isChurn := gwIndex[nh.Gateway]; ok && isChurn {
					if !churn[j].Contains(a) {
						errc <- a.String() + " resolved through " + churn[j].String() + " which does not contain it"
						return
					}
					continue
				}
				if i, isStable := stableIndex[nh.Gateway]; ok && isStable {
					if !block(i).Contains(a) {
						errc <- a.String() + " resolved through the wrong block " + block(i).String()
						return
					}
					continue
				}
				if ok || !short.Contains(a) {
					errc <- a.String() + " resolved to a next hop no route had: " + nh.Gateway.String()
					return
				}
			}
		}()
	}
	present := make([]bool, len(churn))
	version := uint32(0)
	for op := range 4000 {
		j := r.IntN(len(churn))
		version++
		rt := Route{Prefix: churn[j], NextHop: NextHop{Gateway: churnGW(j), IfIndex: 2, Metric: version}}
		var err error
		switch {
		case !present[j]:
			err = tab.Add(rt)
			present[j] = true
		case r.IntN(3) == 0:
			err = tab.Change(rt)
		default:
			err = tab.Delete(churn[j])
			present[j] = false
		}
		if err != nil {
			t.Fatalf("op %d on %s: %v", op, churn[j], err)
		}
		if len(errc) > 0 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for e := range errc {
		t.Error(e)
	}
	if lookups.Load() == 0 {
		t.Fatal("readers never ran")
	}
	t.Logf("%d lookups during 4000 updates", lookups.Load())
}

// TestConcurrentFIBGrowth raises net.fibs while lookups run on FIB 0.
func TestConcurrentFIBGrowth(t *testing.T) {
	f := NewFIBs(1)
	t0, _ := f.Table(0)
	if err := t0.Add(Route{Prefix: mustPrefix("10.0.0.0/8"), NextHop: gw("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan error)
	go func() {
		var err error
		for !stop.Load() {
			var nh NextHop
			if nh, err = f.Lookup(0, mustAddr("10.2.3.4")); err != nil || nh.Gateway != mustAddr("192.0.2.1") {
				break
			}
			n := f.Num()
			if _, err = f.Table(n - 1); err != nil {
				break
			}
		}
		done <- err
	}()
	for n := 2; n <= 64; n++ {
		if err := f.SetNum(n); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentReaders runs the read-locked paths (Get, LookupRoute, Walk)
// side by side with each other and with a writer; -race checks they share
// nothing writable.
func TestConcurrentReaders(t *testing.T) {
	tab := NewTable()
	for _, s := range []string{"10.0.0.0/8 via 192.0.2.1", "10.1.0.0/16 via 192.0.2.2", "10.1.2.0/24 via 192.0.2.3", "2001:db8::/32 via 2001:db8::1", "2001:db8:1::/48 dev 2"} {
		r, _ := ParseRoute(s)
		if err := tab.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if r, ok := tab.LookupRoute(mustAddr("10.9.9.9")); !ok || r.Prefix != mustPrefix("10.0.0.0/8") {
					t.Errorf("LookupRoute: %v %v", r, ok)
					return
				}
				if _, err := tab.Get(mustPrefix("2001:db8:1::/48")); err != nil {
					t.Error(err)
					return
				}
				n := 0
				tab.Walk(func(Route) bool { n++; return true })
				if n < 5 {
					t.Errorf("Walk saw %d routes", n)
					return
				}
			}
		}()
	}
	for i := range 200 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i)}), 16)
		if err := tab.Add(Route{Prefix: p, NextHop: gw("192.0.2.9")}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
