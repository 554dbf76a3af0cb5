package route

import (
	"net/netip"
	"testing"
	"time"
)

// fullTable builds a table with the whole shared corpus, each prefix with
// next hop nhFor(p, nhs).
func fullTable(tb testing.TB, c *corpus, nhs int) *Table {
	t := NewTable()
	rs := make([]Route, 0, len(c.v4)+len(c.v6))
	for _, ps := range [][]netip.Prefix{c.v4, c.v6} {
		for _, p := range ps {
			rs = append(rs, Route{Prefix: p, NextHop: nhFor(p, nhs)})
		}
	}
	if err := t.AddRoutes(rs); err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestOracleFullTable(t *testing.T) {
	c := loadCorpus(t)
	start := time.Now()
	tab := fullTable(t, c, 16000)
	t.Logf("loaded %d v4 + %d v6 prefixes in %v", len(c.v4), len(c.v6), time.Since(start))
	n4, n6 := tab.Len()
	if n4 != len(c.v4) || n6 != len(c.v6) {
		t.Fatalf("Len = %d, %d; want %d, %d", n4, n6, len(c.v4), len(c.v6))
	}
	for _, cases := range [][]oracleCase{c.oracle4, c.oracle6} {
		bad := 0
		for _, oc := range cases {
			nh, ok := tab.Lookup(oc.addr)
			r, rok := tab.LookupRoute(oc.addr)
			if !oc.want.IsValid() {
				if ok || rok {
					t.Errorf("%s: got %v / %v, want no route", oc.addr, nh, r.Prefix)
					bad++
				}
			} else {
				want := nhFor(oc.want, 16000)
				if !ok || nh.Gateway != want.Gateway || nh.IfIndex != want.IfIndex {
					t.Errorf("%s: Lookup = %v %v, want next hop of %s (%v)", oc.addr, nh, ok, oc.want, want)
					bad++
				}
				if !rok || r.Prefix != oc.want {
					t.Errorf("%s: LookupRoute = %v %v, want %s", oc.addr, r.Prefix, rok, oc.want)
					bad++
				}
			}
			if bad > 20 {
				t.Fatal("too many mismatches")
			}
		}
	}
}
