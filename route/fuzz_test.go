package route

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzParseRoute: ParseRoute never panics, fails only with ErrInvalid, and
// whatever it accepts prints back to a string that parses to the same
// route and prints the same.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/8 via 192.0.2.1 dev 3 mtu 1500 metric 10 static",
		"2001:db8::/32 dev 4 connected",
		"192.0.2.7",
		"fe80::/64 via fe80::1%eth0 dev 2",
		"0.0.0.0/0 via 10.0.0.1",
		"10.0.0.0/33",
		"10.0.0.0/8 via 2001:db8::1",
		"10.0.0.0/8 mtu 99999999999",
		"10.0.0.0/8 static static",
		"10.0.0.0/8 via",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoute(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseRoute(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		s2 := r.String()
		r2, err := ParseRoute(s2)
		if err != nil {
			t.Fatalf("ParseRoute(%q) = %+v, whose String %q does not parse: %v", s, r, s2, err)
		}
		if r2 != r {
			t.Fatalf("round trip of %q: %+v != %+v", s, r2, r)
		}
		if r2.String() != s2 {
			t.Fatalf("String not stable: %q then %q", s2, r2.String())
		}
	})
}

// fuzzPrefix maps three bytes to a prefix in a small space whose bits sit
// around the 16-bit segment boundaries, so few bytes make deep nesting.
func fuzzPrefix(is4 bool, a, b, lb byte) netip.Prefix {
	if is4 {
		addr := netip.AddrFrom4([4]byte{10, a & 0x81, b, b & 0xf0})
		return netip.PrefixFrom(addr, int(lb)%33).Masked()
	}
	addr := netip.AddrFrom16([16]byte{0x20, 0x01, a & 0x81, a & 0x3, b & 0xc3, 0, 6: b & 0x30, 15: a})
	return netip.PrefixFrom(addr, int(lb)%129).Masked()
}

// FuzzTableOps runs a byte-coded sequence of adds, deletes, changes and
// batches against a Table and a naive map with a linear longest-match scan,
// and compares every answer.
func FuzzTableOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 24, 0, 1, 2, 8, 4, 1, 2, 0})
	f.Add([]byte{1, 0x81, 0xff, 40, 1, 0x81, 0xff, 33, 1, 0x81, 0, 17, 1, 0, 0, 0, 3, 0x81, 0xff, 40})
	f.Add([]byte{0, 0, 0, 0, 0, 0x81, 0xf0, 32, 2, 0x81, 0xf0, 32, 4, 0x81, 0xf0, 32})
	// One table per fuzz process, emptied by Flush between inputs: a fresh
	// table's direct tables cost more than most inputs, and the reuse
	// checks Flush and the next-hop refcounts on every input.
	var tab *Table
	checkPatch = true
	f.Cleanup(func() { checkPatch = false })
	f.Fuzz(func(t *testing.T, data []byte) {
		if tab == nil {
			tab = NewTable()
		}
		tab.Flush(nil)
		if n4, n6 := tab.Len(); n4+n6 != 0 || len(tab.v4.nh.idx)+len(tab.v6.nh.idx) != 0 {
			t.Fatalf("Flush(nil) left %d+%d routes, %d next hops", n4, n6, len(tab.v4.nh.idx)+len(tab.v6.nh.idx))
		}
		naive := map[netip.Prefix]NextHop{}
		check := func(a netip.Addr) {
			wp, wnh, wok := linearLPM(naive, a)
			nh, ok := tab.Lookup(a)
			rt, rok := tab.LookupRoute(a)
			if ok != wok || rok != wok || (ok && (nh != wnh || rt.Prefix != wp || rt.NextHop.Gateway != wnh.Gateway)) {
				t.Fatalf("%s: Lookup %v %v, LookupRoute %v %v; reference %v %v %v", a, nh, ok, rt.Prefix, rok, wp, wnh, wok)
			}
		}
		for len(data) >= 4 {
			op, a, b, lb := data[0], data[1], data[2], data[3]
			data = data[4:]
			is4 := op&0x80 == 0
			p := fuzzPrefix(is4, a, b, lb)
			nh, _ := normalize(nhOfG(uint32(op>>3&0xf)*37+uint32(lb), is4), is4)
			_, present := naive[p]
			switch op & 7 {
			case 0, 1, 5: // add
				err := tab.Add(Route{Prefix: p, NextHop: nh})
				if present != errors.Is(err, ErrExists) || (!present && err != nil) {
					t.Fatalf("add %s (present %v): %v", p, present, err)
				}
				if !present {
					naive[p] = nh
				}
			case 2: // delete
				err := tab.Delete(p)
				if present != (err == nil) || (!present && !errors.Is(err, ErrNotFound)) {
					t.Fatalf("delete %s (present %v): %v", p, present, err)
				}
				delete(naive, p)
			case 3: // change
				err := tab.Change(Route{Prefix: p, NextHop: nh})
				if present != (err == nil) {
					t.Fatalf("change %s (present %v): %v", p, present, err)
				}
				if present {
					naive[p] = nh
				}
			case 4: // batch of the prefix and its neighbours
				var rs []Route
				seen := map[netip.Prefix]bool{}
				dup := false
				for i := range byte(4) {
					q := fuzzPrefix(is4, a+i, b^i, lb+i)
					if seen[q] {
						continue
					}
					seen[q] = true
					if _, ok := naive[q]; ok {
						dup = true
					}
					rs = append(rs, Route{Prefix: q, NextHop: nh})
				}
				err := tab.AddRoutes(rs)
				if dup != errors.Is(err, ErrExists) || (!dup && err != nil) {
					t.Fatalf("batch %v (dup %v): %v", rs, dup, err)
				}
				if !dup {
					for _, r := range rs {
						naive[r.Prefix] = r.NextHop
					}
				}
			default: // get
				r, err := tab.Get(p)
				if present != (err == nil) || (present && r.NextHop.Gateway != naive[p].Gateway) {
					t.Fatalf("get %s (present %v): %v %v", p, present, r, err)
				}
			}
			check(p.Addr())
			check(lastAddr(p))
			if n := lastAddr(p).Next(); n.IsValid() {
				check(n)
			}
			if n := p.Addr().Prev(); n.IsValid() {
				check(n)
			}
		}
		checkWalk(t, tab, naive)
	})
}
