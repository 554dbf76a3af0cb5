package route

import (
	"net/netip"
	"testing"
)

// TestArenaCompaction loads chunks whose blocks fill the IPv4 arena
// several times over through updates, checks every lookup after each
// round, and checks that deleting everything gives the arena back.
func TestArenaCompaction(t *testing.T) {
	tab := NewTable()
	nh := func(i int) NextHop {
		return NextHop{Gateway: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%200)}), IfIndex: 1}
	}
	var ps []netip.Prefix
	// Two /24s make a chunk complex (five ranges); deleting either makes
	// it inline, so the flush at the end writes no new blocks.
	for c := range 4096 {
		for k := range 2 {
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(20 + c/256), byte(c), byte(32 + 32*k), 0}), 24))
		}
	}
	check := func(round int) {
		t.Helper()
		for i, p := range ps {
			got, ok := tab.Lookup(p.Addr().Next())
			if want := nh(i + round); !ok || got.Gateway != want.Gateway {
				t.Fatalf("round %d: %v -> %v %v, want %v", round, p, got.Gateway, ok, want.Gateway)
			}
		}
	}
	for i, p := range ps {
		if err := tab.Add(Route{Prefix: p, NextHop: nh(i)}); err != nil {
			t.Fatal(err)
		}
	}
	check(0)
	first := tab.v4.chunks4.Load()
	if n := len(first.arena); n < 4*minRoom {
		t.Fatalf("the test's arena has %d words, too few to be given back", n)
	}
	for round := 1; round <= 4; round++ {
		for i, p := range ps {
			if err := tab.Change(Route{Prefix: p, NextHop: nh(i + round)}); err != nil {
				t.Fatal(err)
			}
		}
		check(round)
	}
	if tab.v4.chunks4.Load() == first {
		t.Fatal("4 rounds of changes never compacted the arena")
	}
	if n := tab.Flush(nil); n != len(ps) {
		t.Fatalf("flushed %d routes, want %d", n, len(ps))
	}
	if n, live := len(tab.v4.chunks4.Load().arena), tab.v4.live4; n > 2*minRoom || live != 0 {
		t.Fatalf("after a flush the arena has %d words, %d live", n, live)
	}
}
