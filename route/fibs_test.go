package route

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func gw(s string) NextHop { return NextHop{Gateway: mustAddr(s), IfIndex: 1} }

func TestSameDestinationDifferentFIBs(t *testing.T) {
	f := NewFIBs(3)
	dst := mustAddr("198.51.100.7")
	for fib, g := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		tab, err := f.Table(fib)
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), NextHop: gw(g)}); err != nil {
			t.Fatal(err)
		}
	}
	// FIB 2 also has a more specific route: only FIB 2 uses it.
	t2, _ := f.Table(2)
	if err := t2.Add(Route{Prefix: mustPrefix("198.51.100.0/29"), NextHop: gw("192.0.2.99")}); err != nil {
		t.Fatal(err)
	}
	for fib, want := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.99"} {
		nh, err := f.Lookup(fib, dst)
		if err != nil {
			t.Fatalf("fib %d: %v", fib, err)
		}
		if nh.Gateway != mustAddr(want) {
			t.Errorf("fib %d: %s via %s, want %s", fib, dst, nh.Gateway, want)
		}
		if nh.Flags != FlagUp|FlagGateway {
			t.Errorf("fib %d: flags %#x, want UP|GATEWAY", fib, nh.Flags)
		}
	}
	v6 := mustAddr("2001:db8::1")
	t1, _ := f.Table(1)
	if err := t1.Add(Route{Prefix: mustPrefix("2001:db8::/32"), NextHop: NextHop{Gateway: mustAddr("fe80::1"), IfIndex: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lookup(0, v6); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("fib 0 has no v6 route: err %v, want EHOSTUNREACH", err)
	}
	if nh, err := f.Lookup(1, v6); err != nil || nh.Gateway != mustAddr("fe80::1") || nh.IfIndex != 2 {
		t.Errorf("fib 1 v6: %v %v", nh, err)
	}
}

func TestFIBNumberBounds(t *testing.T) {
	f := NewFIBs(4)
	for _, fib := range []int{-1, 4, 5, MaxFIBs} {
		if _, err := f.Table(fib); !errors.Is(err, syscall.EINVAL) || !errors.Is(err, ErrBadFIB) {
			t.Errorf("Table(%d): err %v, want EINVAL", fib, err)
		}
		if _, err := f.Lookup(fib, mustAddr("10.0.0.1")); !errors.Is(err, ErrBadFIB) {
			t.Errorf("Lookup(%d): err %v, want ErrBadFIB", fib, err)
		}
		if err := f.AddInterfaceRoute(fib, mustPrefix("10.0.0.1/24"), 1); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("AddInterfaceRoute(%d): err %v, want EINVAL", fib, err)
		}
	}
	if _, err := f.Table(3); err != nil {
		t.Errorf("Table(3) of 4: %v", err)
	}
	// net.fibs: boot clamps, run time only raises.
	if n := NewFIBs(0).Num(); n != 1 {
		t.Errorf("NewFIBs(0).Num() = %d, want 1", n)
	}
	if n := NewFIBs(MaxFIBs + 5).Num(); n != MaxFIBs {
		t.Errorf("NewFIBs(max+5).Num() = %d, want %d", n, MaxFIBs)
	}
	t0, _ := f.Table(0)
	if err := t0.Add(Route{Prefix: mustPrefix("10.0.0.0/8"), NextHop: gw("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNum(6); err != nil {
		t.Fatalf("raise 4 -> 6: %v", err)
	}
	if f.Num() != 6 {
		t.Fatalf("Num = %d after raise", f.Num())
	}
	if nh, err := f.Lookup(0, mustAddr("10.1.1.1")); err != nil || nh.Gateway != mustAddr("192.0.2.1") {
		t.Errorf("fib 0 lost its route when FIBs were added: %v %v", nh, err)
	}
	if _, err := f.Lookup(5, mustAddr("10.1.1.1")); !errors.Is(err, ErrNoRoute) {
		t.Errorf("new fib 5 is not empty: %v", err)
	}
	if tab, _ := f.Table(5); tab.FIB() != 5 {
		t.Errorf("Table(5).FIB() = %d", tab.FIB())
	}
	for _, n := range []int{5, 1, MaxFIBs + 1} {
		err := f.SetNum(n)
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("SetNum(%d): err %v, want EINVAL", n, err)
		}
	}
	if err := f.SetNum(6); err != nil {
		t.Errorf("SetNum to the current count: %v", err)
	}
}

func TestInterfaceRoutesAllFIBs(t *testing.T) {
	for _, all := range []bool{false, true} {
		f := NewFIBs(4)
		if f.AddAddrAllFIBs() {
			t.Fatal("add_addr_allfibs must default to 0 (FreeBSD 13+)")
		}
		f.SetAddAddrAllFIBs(all)
		// Host bits are dropped as ifconfig's address/len does.
		if err := f.AddInterfaceRoute(2, mustPrefix("10.0.0.1/24"), 7); err != nil {
			t.Fatal(err)
		}
		for fib := range 4 {
			nh, err := f.Lookup(fib, mustAddr("10.0.0.200"))
			want := all || fib == 2
			if want {
				if err != nil || nh.IfIndex != 7 || nh.Gateway.IsValid() || nh.Flags != FlagUp|FlagConnected {
					t.Errorf("allfibs=%v fib %d: %v %v, want connected on 7", all, fib, nh, err)
				}
				tab, _ := f.Table(fib)
				r, err := tab.Get(mustPrefix("10.0.0.0/24"))
				if err != nil || r.Prefix != mustPrefix("10.0.0.0/24") {
					t.Errorf("allfibs=%v fib %d: Get %v %v", all, fib, r, err)
				}
			} else if !errors.Is(err, ErrNoRoute) {
				t.Errorf("allfibs=%v fib %d: %v %v, want no route", all, fib, nh, err)
			}
		}
		// Deleting with the wrong interface finds nothing.
		if err := f.DeleteInterfaceRoute(2, mustPrefix("10.0.0.0/24"), 8); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("delete on the wrong ifindex: %v, want ESRCH", err)
		}
		if err := f.DeleteInterfaceRoute(2, mustPrefix("10.0.0.9/24"), 7); err != nil {
			t.Fatal(err)
		}
		for fib := range 4 {
			if _, err := f.Lookup(fib, mustAddr("10.0.0.200")); !errors.Is(err, ErrNoRoute) {
				t.Errorf("allfibs=%v fib %d still routes after delete: %v", all, fib, err)
			}
		}
	}
}

func TestInterfaceRouteAllFIBsRollback(t *testing.T) {
	f := NewFIBs(3)
	f.SetAddAddrAllFIBs(true)
	t2, _ := f.Table(2)
	if err := t2.Add(Route{Prefix: mustPrefix("10.9.0.0/16"), NextHop: gw("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	err := f.AddInterfaceRoute(0, mustPrefix("10.9.0.1/16"), 3)
	if !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "fib 2") {
		t.Fatalf("err %v, want EEXIST naming fib 2", err)
	}
	for fib := range 2 {
		if _, err := f.Lookup(fib, mustAddr("10.9.1.1")); !errors.Is(err, ErrNoRoute) {
			t.Errorf("fib %d kept a rolled-back route: %v", fib, err)
		}
	}
	if nh, _ := f.Lookup(2, mustAddr("10.9.1.1")); nh.Gateway != mustAddr("192.0.2.1") {
		t.Errorf("fib 2's own route changed: %v", nh)
	}
}

func TestTableErrors(t *testing.T) {
	tab := NewTable()
	r := Route{Prefix: mustPrefix("10.1.2.3/8"), NextHop: gw("192.0.2.1")}
	if err := tab.Add(r); err != nil {
		t.Fatal(err)
	}
	// Non-canonical prefixes are masked (FreeBSD applies the netmask).
	got, err := tab.Get(mustPrefix("10.0.0.0/8"))
	if err != nil || got.Prefix != mustPrefix("10.0.0.0/8") {
		t.Fatalf("Get after adding 10.1.2.3/8: %v %v", got, err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate add", tab.Add(Route{Prefix: mustPrefix("10.0.0.0/8"), NextHop: gw("192.0.2.2")}), syscall.EEXIST},
		{"delete missing", tab.Delete(mustPrefix("10.0.0.0/9")), syscall.ESRCH},
		{"change missing", tab.Change(Route{Prefix: mustPrefix("11.0.0.0/8"), NextHop: gw("192.0.2.2")}), syscall.ESRCH},
		{"get missing", func() error { _, err := tab.Get(mustPrefix("10.0.0.0/16")); return err }(), syscall.ESRCH},
		{"invalid prefix", tab.Add(Route{Prefix: netip.Prefix{}, NextHop: gw("192.0.2.2")}), syscall.EINVAL},
		{"gateway family", tab.Add(Route{Prefix: mustPrefix("12.0.0.0/8"), NextHop: NextHop{Gateway: mustAddr("2001:db8::1")}}), syscall.EINVAL},
		{"unspecified gateway", tab.Add(Route{Prefix: mustPrefix("12.0.0.0/8"), NextHop: NextHop{Gateway: mustAddr("0.0.0.0")}}), syscall.EINVAL},
		{"gateway flag alone", tab.Add(Route{Prefix: mustPrefix("12.0.0.0/8"), NextHop: NextHop{IfIndex: 1, Flags: FlagGateway}}), syscall.EINVAL},
		{"unknown flag", tab.Add(Route{Prefix: mustPrefix("12.0.0.0/8"), NextHop: NextHop{IfIndex: 1, Flags: 0x40}}), syscall.EINVAL},
		{"delete invalid", tab.Delete(netip.Prefix{}), syscall.EINVAL},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, c.err, c.want)
		}
		var e *Error
		if !errors.As(c.err, &e) {
			t.Errorf("%s: %T is not *Error", c.name, c.err)
		}
	}
	if n4, n6 := tab.Len(); n4 != 1 || n6 != 0 {
		t.Errorf("failed operations changed the table: Len %d %d", n4, n6)
	}
	if err := tab.Change(Route{Prefix: mustPrefix("10.0.0.0/8"), NextHop: gw("192.0.2.9")}); err != nil {
		t.Fatal(err)
	}
	if nh, _ := tab.Lookup(mustAddr("10.200.0.1")); nh.Gateway != mustAddr("192.0.2.9") {
		t.Errorf("after change: %v", nh)
	}
	// The old next hop is gone from the interning table.
	if len(tab.v4.nh.idx)+len(tab.v6.nh.idx) != 1 {
		t.Errorf("%d next hops referenced, want 1", len(tab.v4.nh.idx)+len(tab.v6.nh.idx))
	}
}

func TestRouteFlagsAndHost(t *testing.T) {
	tab := NewTable()
	add := func(s string) {
		t.Helper()
		r, err := ParseRoute(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	add("192.0.2.10 dev 3 static")
	add("0.0.0.0/0 via 192.0.2.1 dev 3 mtu 1400 metric 10")
	add("2001:db8::/32 dev 4 connected")
	r, err := tab.Get(mustPrefix("192.0.2.10/32"))
	if err != nil || r.Flags != FlagUp|FlagHost|FlagStatic {
		t.Errorf("host route: %v flags %#x", err, r.Flags)
	}
	r, _ = tab.LookupRoute(mustAddr("8.8.8.8"))
	if r.Prefix != mustPrefix("0.0.0.0/0") || r.MTU != 1400 || r.Metric != 10 || r.Flags != FlagUp|FlagGateway {
		t.Errorf("default route: %+v", r)
	}
	r, _ = tab.LookupRoute(mustAddr("2001:db8:1::1"))
	if r.Flags != FlagUp|FlagConnected || r.IfIndex != 4 {
		t.Errorf("v6 connected: %+v", r)
	}
	if _, ok := tab.LookupRoute(mustAddr("2001:db9::1")); ok {
		t.Error("v6 lookup outside the table matched")
	}
}

func TestFlushAndWalk(t *testing.T) {
	tab := NewTable()
	for _, s := range []string{
		"10.0.0.0/8 via 192.0.2.1", "10.1.0.0/16 dev 2 connected", "10.1.2.0/24 via 192.0.2.2",
		"0.0.0.0/0 via 192.0.2.1", "10.1.2.128/25 dev 2 connected",
		"2001:db8::/32 via 2001:db8::1", "2001:db8:0:1::/64 dev 3 connected", "::/0 via fe80::1 dev 3",
		"2001:db8:0:1:2:3:4:5/128 via fe80::2 dev 3",
	} {
		r, err := ParseRoute(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.Add(r); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var order []string
	tab.Walk(func(r Route) bool { order = append(order, r.Prefix.String()); return true })
	want := "0.0.0.0/0 10.0.0.0/8 10.1.0.0/16 10.1.2.0/24 10.1.2.128/25 ::/0 2001:db8::/32 2001:db8:0:1::/64 2001:db8:0:1:2:3:4:5/128"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("Walk order:\n got %s\nwant %s", got, want)
	}
	n := 0
	tab.Walk(func(Route) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("Walk did not stop when told: %d calls", n)
	}
	// route(8) flush: gateway routes go, connected stay.
	if got := tab.Flush(func(r Route) bool { return r.Flags&FlagGateway != 0 }); got != 6 {
		t.Errorf("Flush removed %d, want 6", got)
	}
	if nh, ok := tab.Lookup(mustAddr("10.1.2.200")); !ok || nh.IfIndex != 2 {
		t.Errorf("connected /25 lost: %v %v", nh, ok)
	}
	if r, ok := tab.LookupRoute(mustAddr("10.1.2.1")); !ok || r.Prefix != mustPrefix("10.1.0.0/16") {
		t.Errorf("10.1.2.1 after flush: %v %v, want the connected /16", r.Prefix, ok)
	}
	if _, ok := tab.Lookup(mustAddr("11.0.0.1")); ok {
		t.Error("11.0.0.1 still routed after the default route was flushed")
	}
	if got := tab.Flush(nil); got != 3 {
		t.Errorf("Flush(nil) removed %d, want 3", got)
	}
	if n4, n6 := tab.Len(); n4+n6 != 0 {
		t.Errorf("Len after flush: %d %d", n4, n6)
	}
}

// TestLookupAllocatesNothing: the forwarding path (hits, misses, errors)
// must not allocate.
func TestLookupAllocatesNothing(t *testing.T) {
	f := NewFIBs(2)
	t0, _ := f.Table(0)
	for _, s := range []string{"10.0.0.0/8 via 192.0.2.1", "10.1.0.0/16 via 192.0.2.2", "10.1.2.0/24 via 192.0.2.3",
		"10.1.2.128/26 via 192.0.2.4", "2001:db8::/32 via 2001:db8::1", "2001:db8:1:2::/64 dev 3"} {
		r, _ := ParseRoute(s)
		if err := t0.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []netip.Addr{mustAddr("10.1.2.200"), mustAddr("10.9.9.9"), mustAddr("11.0.0.1"),
		mustAddr("2001:db8:1:2::9"), mustAddr("2001:db9::1")}
	for _, a := range addrs {
		if n := testing.AllocsPerRun(100, func() { t0.Lookup(a) }); n != 0 {
			t.Errorf("Table.Lookup(%s): %v allocs", a, n)
		}
		if n := testing.AllocsPerRun(100, func() { t0.LookupNextHop(a) }); n != 0 {
			t.Errorf("Table.LookupNextHop(%s): %v allocs", a, n)
		}
		nh, ok := t0.Lookup(a)
		if p := t0.LookupNextHop(a); ok != (p != nil) || (ok && *p != nh) {
			t.Errorf("%s: LookupNextHop %v disagrees with Lookup %v %v", a, p, nh, ok)
		}
		if n := testing.AllocsPerRun(100, func() { f.Lookup(0, a) }); n != 0 {
			t.Errorf("FIBs.Lookup(0, %s): %v allocs", a, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { f.Lookup(7, addrs[0]) }); n != 0 {
		t.Errorf("FIBs.Lookup on a bad FIB: %v allocs", n)
	}
}
