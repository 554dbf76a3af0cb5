package vnet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/route"
)

// topo is host A — pair — router vnet — pair — host B, plus host C on a
// third pair for multi-FIB tests:
//
//	A 10.1.0.2 2001:db8:1::2 — in0 10.1.0.1 2001:db8:1::1
//	B 10.2.0.2 2001:db8:2::2 — out0 10.2.0.1 2001:db8:2::1
//	C 10.3.0.2 2001:db8:3::2 — alt0 10.3.0.1 2001:db8:3::1
type topo struct {
	h             *Host
	r             *Stack
	clock         *bpf.FakeClock
	in, out, alt  *nic.Ifnet
	a, b, c       *endpoint
	tapIn, tapOut *bpf.Desc
}

func newTopo(t testing.TB, ncfg NeighborConfig) *topo {
	t.Helper()
	clock := bpf.NewFakeClock(0, time.Millisecond)
	clock.Set(time.Hour) // uptime well past zero
	h := newHost(t, Options{})
	r := newVnet(t, h, "router", Options{Forwarding: true, FIBs: 2, AddAddrAllFIBs: true, Clock: clock, Neighbor: ncfg})
	in, ea := newPair(t, "in0", "hostA", 1, 0xa)
	out, eb := newPair(t, "out0", "hostB", 2, 0xb)
	alt, ec := newPair(t, "alt0", "hostC", 3, 0xc)
	for _, ifp := range []*nic.Ifnet{in, out, alt} {
		must(t, r.Attach(ifp))
	}
	must(t, r.AddAddr(in, pfx("10.1.0.1/24"), netip.Addr{}))
	must(t, r.AddAddr(in, pfx("2001:db8:1::1/64"), netip.Addr{}))
	must(t, r.AddAddr(out, pfx("10.2.0.1/24"), netip.Addr{}))
	must(t, r.AddAddr(out, pfx("2001:db8:2::1/64"), netip.Addr{}))
	must(t, r.AddAddr(alt, pfx("10.3.0.1/24"), netip.Addr{}))
	must(t, r.AddAddr(alt, pfx("2001:db8:3::1/64"), netip.Addr{}))
	tp := &topo{h: h, r: r, clock: clock, in: in, out: out, alt: alt,
		a: newEndpoint(t, ea, "10.1.0.2/24", "2001:db8:1::2/64", "10.1.0.1", "2001:db8:1::1"),
		b: newEndpoint(t, eb, "10.2.0.2/24", "2001:db8:2::2/64", "10.2.0.1", "2001:db8:2::1"),
		c: newEndpoint(t, ec, "10.3.0.2/24", "2001:db8:3::2/64", "10.3.0.1", "2001:db8:3::1"),
	}
	tp.tapIn = listen(t, r.BPF(), "in0")
	tp.tapOut = listen(t, r.BPF(), "out0")
	return tp
}

func decode(t testing.TB, frame []byte) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	// Application payloads may fail to decode (ports gopacket maps to
	// protocols); everything up to the transport layer must decode.
	if el := p.ErrorLayer(); el != nil && p.TransportLayer() == nil && p.Layer(layers.LayerTypeICMPv4) == nil && p.Layer(layers.LayerTypeICMPv6) == nil {
		t.Fatalf("gopacket cannot decode %x: %v", frame, el.Error())
	}
	return p
}

// checkIPv4Checksum re-serialises the IPv4 header with gopacket's checksum
// computation and compares it with the received one.
func checkIPv4Checksum(t testing.TB, i4 *layers.IPv4) {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	cp := *i4
	must(t, cp.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}))
	if !bytes.Equal(buf.Bytes()[:cp.IHL*4], i4.Contents) {
		t.Fatalf("IPv4 header checksum %#04x wrong: gopacket computes %x, got %x", i4.Checksum, buf.Bytes()[:cp.IHL*4], i4.Contents)
	}
}

// checkL4Checksum re-serialises an ICMPv4/ICMPv6/UDP layer with its
// checksum computed by gopacket and compares the bytes.
func checkL4Checksum(t testing.TB, p gopacket.Packet) {
	t.Helper()
	var nl gopacket.NetworkLayer
	if l := p.Layer(layers.LayerTypeIPv4); l != nil {
		nl = l.(*layers.IPv4)
	} else {
		nl = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	}
	var ls []gopacket.SerializableLayer
	var orig []byte
	switch {
	case p.Layer(layers.LayerTypeUDP) != nil:
		u := *p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		must(t, u.SetNetworkLayerForChecksum(nl))
		ls, orig = []gopacket.SerializableLayer{&u, gopacket.Payload(u.Payload)}, append(u.Contents, u.Payload...)
	case p.Layer(layers.LayerTypeICMPv4) != nil:
		ic := *p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		ls, orig = []gopacket.SerializableLayer{&ic, gopacket.Payload(ic.Payload)}, append(ic.Contents, ic.Payload...)
	case p.Layer(layers.LayerTypeICMPv6) != nil:
		ic := *p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		must(t, ic.SetNetworkLayerForChecksum(nl))
		ls, orig = []gopacket.SerializableLayer{&ic, gopacket.Payload(ic.Payload)}, append(ic.Contents, ic.Payload...)
	default:
		t.Fatalf("no layer 4 to check in %v", p)
	}
	buf := gopacket.NewSerializeBuffer()
	must(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...))
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Fatalf("layer 4 checksum wrong:\n got  %x\n want %x", orig, buf.Bytes())
	}
}

func hasFrame(frames [][]byte, f []byte) bool {
	for _, g := range frames {
		if bytes.Equal(g, f) {
			return true
		}
	}
	return false
}

func TestForwardIPv4(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	sent := tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1000, 2000, []byte("hello over ipv4"))
	got := tp.b.received()
	if len(got) != 1 {
		t.Fatalf("B received %d frames, want 1", len(got))
	}
	p := decode(t, got[0])
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth.SrcMAC.String() != mac(2).String() || eth.DstMAC.String() != mac(0xb).String() {
		t.Fatalf("Ethernet %v -> %v, want out0's MAC -> B's", eth.SrcMAC, eth.DstMAC)
	}
	i4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if i4.TTL != 63 || i4.SrcIP.String() != "10.1.0.2" || i4.DstIP.String() != "10.2.0.2" {
		t.Fatalf("IPv4 ttl %d %v -> %v", i4.TTL, i4.SrcIP, i4.DstIP)
	}
	checkIPv4Checksum(t, i4)
	checkL4Checksum(t, p)
	// Everything but TTL and header checksum is unchanged (the Ethernet
	// padding of the short frame is not forwarded).
	want := append([]byte(nil), sent[ethHdrLen:ethHdrLen+int(i4.Length)]...)
	want[ip4OffTTL] = 63
	copy(want[ip4OffCsum:ip4OffCsum+2], got[0][ethHdrLen+ip4OffCsum:])
	if !bytes.Equal(got[0][ethHdrLen:], want) {
		t.Fatalf("forwarded packet changed beyond TTL/checksum:\n got  %x\n want %x", got[0][ethHdrLen:], want)
	}
	// ARP: the router asked once, B answered, the entry is cached.
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1000, 2000, []byte("again"))
	if n := len(tp.b.received()); n != 1 || tp.b.arpRequests != 1 {
		t.Fatalf("second packet: %d frames, %d ARP requests; want 1, 1 (cached)", n, tp.b.arpRequests)
	}
	nb := tp.r.Neighbors(tp.out)
	if len(nb) != 1 || nb[0].Addr != addr("10.2.0.2") || nb[0].MAC != [6]byte(mac(0xb)) || nb[0].State != "reachable" {
		t.Fatalf("out0 neighbours: %+v", nb)
	}
	// Taps on both sides: in0 saw A's frame as sent, out0 the frame B got.
	in, out := captured(t, tp.tapIn), captured(t, tp.tapOut)
	if !hasFrame(in, sent) {
		t.Fatalf("in0 listener missed the incoming frame (%d frames)", len(in))
	}
	fw := append([]byte(nil), got[0]...)
	if !hasFrame(out, fw) {
		t.Fatalf("out0 listener missed the forwarded frame (%d frames)", len(out))
	}
	arps := 0
	for _, f := range out {
		if binary.BigEndian.Uint16(f[ethOffType:]) == etherTypeARP {
			arps++
		}
	}
	if arps != 2 {
		t.Fatalf("out0 listener saw %d ARP frames, want request and reply", arps)
	}
	if st := tp.r.Stats(); st.Forwarded != 2 || st.Held != 1 || st.Solicits != 1 {
		t.Fatalf("router stats %+v", st)
	}
}

func TestForwardIPv6(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	sent := tp.a.sendUDP6(t, addr("2001:db8:2::2"), 64, 1000, 2000, []byte("hello over ipv6"))
	got := tp.b.received()
	if len(got) != 1 {
		t.Fatalf("B received %d frames, want 1", len(got))
	}
	p := decode(t, got[0])
	i6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if i6.HopLimit != 63 || i6.FlowLabel != 0x12345 || i6.SrcIP.String() != "2001:db8:1::2" {
		t.Fatalf("IPv6 hlim %d flow %#x src %v", i6.HopLimit, i6.FlowLabel, i6.SrcIP)
	}
	checkL4Checksum(t, p)
	want := append([]byte(nil), sent[ethHdrLen:]...)
	want[ip6OffHlim] = 63
	if !bytes.Equal(got[0][ethHdrLen:], want) {
		t.Fatal("forwarded IPv6 packet changed beyond the hop limit")
	}
	// NDP: one solicitation from out0's address, answered.
	tp.b.mu.Lock()
	ns, srcs := tp.b.nsSolicits, tp.b.solicitSource
	tp.b.mu.Unlock()
	if ns != 1 || srcs[0] != addr("2001:db8:2::1") {
		t.Fatalf("B saw %d solicitations from %v", ns, srcs)
	}
	// The router's NA to A was valid too (A resolved its gateway).
	if m := tp.a.gatewayMAC(t, false); m.String() != mac(1).String() {
		t.Fatalf("A resolved its IPv6 gateway to %v", m)
	}
	if !hasFrame(captured(t, tp.tapIn), sent) || !hasFrame(captured(t, tp.tapOut), got[0]) {
		t.Fatal("taps missed the packet on one side")
	}
}

// The NA and ARP reply the router sends are themselves checked by gopacket.
func TestNeighborRepliesDecode(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	tp.a.gatewayMAC(t, true)
	tp.a.gatewayMAC(t, false)
	var arpReply, na bool
	for _, f := range captured(t, tp.tapIn) {
		p := decode(t, f)
		if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && a.Operation == layers.ARPReply {
			arpReply = netip.AddrFrom4([4]byte(a.SourceProtAddress)) == addr("10.1.0.1") &&
				bytes.Equal(a.SourceHwAddress, mac(1)) && bytes.Equal(a.DstHwAddress, mac(0xa))
		}
		if n, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement); ok {
			checkL4Checksum(t, p)
			i6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			na = i6.HopLimit == 255 && n.Flags&0xe0 == 0xe0 && n.TargetAddress.String() == "2001:db8:1::1"
		}
	}
	if !arpReply || !na {
		t.Fatalf("valid ARP reply %v, valid NA (R|S|O, hlim 255) %v", arpReply, na)
	}
}

func TestICMPErrors(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	cases := []struct {
		name      string
		send      func() []byte
		v4        bool
		typ, code uint8
		from      string
	}{
		{"v4 ttl 1", func() []byte { return tp.a.sendUDP4(t, addr("10.2.0.2"), 1, 1, 2, []byte("x")) }, true, 11, 0, "10.1.0.1"},
		{"v4 no route", func() []byte { return tp.a.sendUDP4(t, addr("198.51.100.1"), 9, 1, 2, []byte("x")) }, true, 3, 0, "10.1.0.1"},
		{"v6 hlim 1", func() []byte { return tp.a.sendUDP6(t, addr("2001:db8:2::2"), 1, 1, 2, []byte("x")) }, false, 3, 0, "2001:db8:1::1"},
		{"v6 no route", func() []byte { return tp.a.sendUDP6(t, addr("2001:db8:99::1"), 9, 1, 2, []byte("x")) }, false, 1, 0, "2001:db8:1::1"},
		{"v4 too big DF", func() []byte {
			fr := tp.a.udp4(t, addr("10.2.0.2"), 9, 1, 2, make([]byte, 1400))
			must(t, mustTable(t, tp.r, 0).Change(route.Route{Prefix: pfx("10.2.0.0/24"),
				NextHop: route.NextHop{IfIndex: uint32(tp.out.Index()), Flags: route.FlagConnected, MTU: 1000}}))
			fr[ethHdrLen+ip4OffFrag] |= 0x40
			binary.BigEndian.PutUint16(fr[ethHdrLen+ip4OffCsum:], 0)
			binary.BigEndian.PutUint16(fr[ethHdrLen+ip4OffCsum:], checksum(fr[ethHdrLen:ethHdrLen+20]))
			must(t, tp.a.ifp.Output(fr))
			return fr
		}, true, 3, 4, "10.1.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent := c.send()
			if n := len(tp.b.received()); n != 0 {
				t.Fatalf("B got %d frames", n)
			}
			got := tp.a.received()
			if len(got) != 1 {
				t.Fatalf("A got %d frames, want one ICMP error", len(got))
			}
			p := decode(t, got[0])
			checkL4Checksum(t, p)
			var quoted []byte
			if c.v4 {
				i4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				checkIPv4Checksum(t, i4)
				ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
				if ic.TypeCode.Type() != c.typ || ic.TypeCode.Code() != c.code || i4.SrcIP.String() != c.from || i4.DstIP.String() != "10.1.0.2" {
					t.Fatalf("ICMP %v from %v to %v", ic.TypeCode, i4.SrcIP, i4.DstIP)
				}
				if c.code == 4 && binary.BigEndian.Uint16(ic.Contents[6:]) != 1000 {
					t.Fatalf("needfrag MTU %d, want 1000", binary.BigEndian.Uint16(ic.Contents[6:]))
				}
				quoted = ic.Payload
				if len(i4.Contents)+len(ic.Contents)+len(quoted) > icmp4MaxLen {
					t.Fatalf("ICMP error of %d bytes exceeds 576", len(i4.Contents)+len(ic.Contents)+len(quoted))
				}
			} else {
				i6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
				if ic.TypeCode.Type() != c.typ || ic.TypeCode.Code() != c.code || i6.SrcIP.String() != c.from {
					t.Fatalf("ICMPv6 %v from %v", ic.TypeCode, i6.SrcIP)
				}
				quoted = ic.Payload[4:]
			}
			if !bytes.HasPrefix(sent[ethHdrLen:], quoted) || len(quoted) < 28 {
				t.Fatalf("quote %x is not a prefix of the packet %x", quoted, sent[ethHdrLen:])
			}
		})
	}
}

func TestNeighborHoldAndTimeout(t *testing.T) {
	tp := newTopo(t, NeighborConfig{Keep: 10 * time.Second})
	tp.b.answerARP = false
	for i := range 20 {
		tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, uint16(i), []byte("held"))
	}
	st := tp.r.Stats()
	if st.Held != 20 || st.HoldDrops != 4 || st.Solicits != 1 {
		t.Fatalf("after 20 packets to a silent neighbour: %+v; want 20 held, 4 dropped (hold queue 16), 1 request", st)
	}
	nb := tp.r.Neighbors(tp.out)
	if len(nb) != 1 || nb[0].State != "incomplete" || nb[0].Held != 16 {
		t.Fatalf("entry %+v", nb)
	}
	for range 4 { // retransmit every second until 5 requests are out
		tp.clock.Advance(time.Second)
		tp.r.Tick()
	}
	if tp.b.arpRequests != 5 || len(tp.a.received()) != 0 {
		t.Fatalf("%d ARP requests, want 5 (maxtries)", tp.b.arpRequests)
	}
	tp.clock.Advance(time.Second)
	tp.r.Tick()
	errs := tp.a.received()
	if len(errs) != 16 || tp.r.Stats().Unresolved != 16 {
		t.Fatalf("gave up with %d ICMP errors to A, %d unresolved; want 16", len(errs), tp.r.Stats().Unresolved)
	}
	ic := decode(t, errs[0]).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ic.TypeCode.Type() != 3 || ic.TypeCode.Code() != 1 {
		t.Fatalf("held packets dropped with %v, want host unreachable", ic.TypeCode)
	}
	// In the hold-down period a packet is refused at once.
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, 2, []byte("refused"))
	if len(tp.a.received()) != 1 || tp.b.arpRequests != 5 {
		t.Fatal("packet during hold-down was not refused at once")
	}
	// After it, resolution starts over and succeeds.
	tp.b.answerARP = true
	tp.clock.Advance(21 * time.Second)
	tp.r.Tick()
	if len(tp.r.Neighbors(tp.out)) != 0 {
		t.Fatal("failed entry not expired after net.link.ether.inet.wait")
	}
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, 2, []byte("now"))
	if len(tp.b.received()) != 1 || tp.b.arpRequests != 6 {
		t.Fatalf("after the hold-down: %d ARP requests", tp.b.arpRequests)
	}
	// A resolved entry is used until Keep, then resolved again.
	tp.clock.Advance(9 * time.Second)
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, 2, []byte("cached"))
	tp.r.Tick()
	tp.clock.Advance(2 * time.Second)
	tp.r.Tick()
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, 2, []byte("expired"))
	if len(tp.b.received()) != 2 || tp.b.arpRequests != 7 {
		t.Fatalf("expiry: %d ARP requests, want 7", tp.b.arpRequests)
	}
}

func TestNDPHoldAndFail(t *testing.T) {
	tp := newTopo(t, NeighborConfig{MaxTries: 3})
	tp.b.answerARP = false
	tp.a.sendUDP6(t, addr("2001:db8:2::2"), 64, 1, 2, []byte("held"))
	for range 4 {
		tp.clock.Advance(time.Second)
		tp.r.Tick()
	}
	if tp.b.nsSolicits != 3 {
		t.Fatalf("%d solicitations, want 3", tp.b.nsSolicits)
	}
	errs := tp.a.received()
	if len(errs) != 1 {
		t.Fatalf("%d errors to A", len(errs))
	}
	p := decode(t, errs[0])
	checkL4Checksum(t, p)
	if ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ic.TypeCode.Type() != 1 || ic.TypeCode.Code() != 3 {
		t.Fatalf("got %v, want address unreachable", ic.TypeCode)
	}
}

// TestMultiFIB: the same destination resolves to different next hops in
// FIB 0 and FIB 1; setfib rules and the interface FIB pick the table.
func TestMultiFIB(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	r := tp.r
	t0, t1 := mustTable(t, r, 0), mustTable(t, r, 1)
	dst4, dst6 := pfx("198.51.100.0/24"), pfx("2001:db8:100::/48")
	must(t, t0.Add(route.Route{Prefix: dst4, NextHop: route.NextHop{Gateway: addr("10.2.0.2"), IfIndex: uint32(tp.out.Index())}}))
	must(t, t1.Add(route.Route{Prefix: dst4, NextHop: route.NextHop{Gateway: addr("10.3.0.2"), IfIndex: uint32(tp.alt.Index())}}))
	must(t, t0.Add(route.Route{Prefix: dst6, NextHop: route.NextHop{Gateway: addr("2001:db8:2::2"), IfIndex: uint32(tp.out.Index())}}))
	must(t, t1.Add(route.Route{Prefix: dst6, NextHop: route.NextHop{Gateway: addr("2001:db8:3::2"), IfIndex: uint32(tp.alt.Index())}}))
	for fib, want := range []string{"10.2.0.2", "10.3.0.2"} {
		if nh, err := r.FIBs().Lookup(fib, addr("198.51.100.7")); err != nil || nh.Gateway != addr(want) {
			t.Fatalf("FIB %d: %+v %v", fib, nh, err)
		}
	}
	must(t, r.SetFIBRules([]Rule{
		{Proto: protoUDP, DstPorts: PortRange{53, 53}, FIB: 1},
		{Src: pfx("10.1.0.0/24"), Proto: protoUDP, SrcPorts: PortRange{7000, 7999}, FIB: 1},
		{Dst: pfx("2001:db8:100:5::/64"), FIB: 1},
	}))
	check := func(name string, send func(), wantC bool) {
		t.Helper()
		send()
		nb, nc := len(tp.b.received()), len(tp.c.received())
		if wantC && (nc != 1 || nb != 0) || !wantC && (nb != 1 || nc != 0) {
			t.Fatalf("%s: B got %d, C got %d; want it at %s", name, nb, nc, map[bool]string{true: "C (FIB 1)", false: "B (FIB 0)"}[wantC])
		}
	}
	d4, d6a, d6b := addr("198.51.100.7"), addr("2001:db8:100:1::7"), addr("2001:db8:100:5::7")
	check("udp/80", func() { tp.a.sendUDP4(t, d4, 64, 1000, 80, nil) }, false)
	check("udp/53", func() { tp.a.sendUDP4(t, d4, 64, 1000, 53, nil) }, true)
	check("sport 7001", func() { tp.a.sendUDP4(t, d4, 64, 7001, 80, nil) }, true)
	check("v6 other /64", func() { tp.a.sendUDP6(t, d6a, 64, 1000, 80, nil) }, false)
	check("v6 udp/53", func() { tp.a.sendUDP6(t, d6a, 64, 1000, 53, nil) }, true)
	check("v6 rule /64", func() { tp.a.sendUDP6(t, d6b, 64, 1000, 80, nil) }, true)
	// Without rules, the input interface's FIB decides.
	must(t, r.SetFIBRules(nil))
	check("if fib 0", func() { tp.a.sendUDP4(t, d4, 64, 1000, 53, nil) }, false)
	must(t, r.SetIfFIB(tp.in, 1))
	check("if fib 1", func() { tp.a.sendUDP4(t, d4, 64, 1000, 80, nil) }, true)
	check("if fib 1 v6", func() { tp.a.sendUDP6(t, d6a, 64, 1000, 80, nil) }, true)
}

// TestForwardWithConcurrentRouteUpdates forwards from several goroutines
// while another changes FIB 0 (run with -race). Every frame B gets must be
// intact.
func TestForwardWithConcurrentRouteUpdates(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	t0 := mustTable(t, tp.r, 0)
	dst := pfx("198.51.100.0/24")
	viaB := route.Route{Prefix: dst, NextHop: route.NextHop{Gateway: addr("10.2.0.2"), IfIndex: uint32(tp.out.Index())}}
	must(t, t0.Add(viaB))
	frames := [][]byte{
		tp.a.udp4(t, addr("198.51.100.9"), 64, 1, 2, []byte("four")),
		tp.a.udp6(t, addr("2001:db8:2::2"), 64, 1, 2, []byte("six")),
	}
	tp.a.sendUDP4(t, addr("10.2.0.2"), 64, 1, 2, nil) // resolve B
	tp.b.received()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, byte(i), 0}), 24)
			_ = t0.Add(route.Route{Prefix: p, NextHop: route.NextHop{Gateway: addr("10.2.0.2"), IfIndex: uint32(tp.out.Index())}})
			if i%3 == 0 {
				_ = t0.Delete(dst)
			} else {
				_ = t0.Add(viaB)
			}
			_ = t0.Delete(p)
		}
	}()
	const per = 500
	var senders sync.WaitGroup
	for g := range 4 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range per {
				if err := tp.a.ifp.Output(frames[(g+i)%2]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Delivery over a pair is synchronous: when the senders return, every
	// packet has been forwarded or dropped.
	senders.Wait()
	close(stop)
	wg.Wait()
	if st := tp.r.Stats(); st.Forwarded+st.NoRoute != 4*per+1 {
		t.Fatalf("forwarded %d + no route %d, want %d", st.Forwarded, st.NoRoute, 4*per+1)
	}
	got := tp.b.received()
	if len(got) < per { // all IPv6 packets have a stable route
		t.Fatalf("B got %d frames", len(got))
	}
	for _, f := range got {
		p := decode(t, f)
		if i4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			checkIPv4Checksum(t, i4)
			if i4.TTL != 63 {
				t.Fatalf("TTL %d", i4.TTL)
			}
		} else if p.Layer(layers.LayerTypeIPv6).(*layers.IPv6).HopLimit != 63 {
			t.Fatal("hop limit not decremented once")
		}
		checkL4Checksum(t, p)
	}
	if !bytes.Equal(frames[0], tp.a.udp4(t, addr("198.51.100.9"), 64, 1, 2, []byte("four"))) {
		t.Fatal("forwarding modified the sender's frame")
	}
}

// TestPingRouter: echo requests to the router's addresses, on the near
// and the far interface, are answered (checked by gopacket).
func TestPingRouter(t *testing.T) {
	tp := newTopo(t, NeighborConfig{})
	for _, dst := range []string{"10.1.0.1", "10.2.0.1", "2001:db8:1::1", "2001:db8:2::1"} {
		d := addr(dst)
		var fr []byte
		if d.Is4() {
			i4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip(tp.a.ip4), DstIP: ip(d)}
			fr = serialize(t, &layers.Ethernet{SrcMAC: tp.a.mac, DstMAC: tp.a.gatewayMAC(t, true), EthernetType: layers.EthernetTypeIPv4},
				i4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 9}, gopacket.Payload("ping"))
		} else {
			i6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip(tp.a.ip6), DstIP: ip(d)}
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
			must(t, ic.SetNetworkLayerForChecksum(i6))
			fr = serialize(t, &layers.Ethernet{SrcMAC: tp.a.mac, DstMAC: tp.a.gatewayMAC(t, false), EthernetType: layers.EthernetTypeIPv6},
				i6, ic, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 9}, gopacket.Payload("ping"))
		}
		must(t, tp.a.ifp.Output(fr))
		got := tp.a.received()
		if len(got) != 1 {
			t.Fatalf("ping %s: %d replies", dst, len(got))
		}
		p := decode(t, got[0])
		checkL4Checksum(t, p)
		if d.Is4() {
			i4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			checkIPv4Checksum(t, i4)
			ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 7 || ic.Seq != 9 || string(ic.Payload) != "ping" || i4.SrcIP.String() != dst {
				t.Fatalf("ping %s: reply %v id %d seq %d from %v", dst, ic.TypeCode, ic.Id, ic.Seq, i4.SrcIP)
			}
		} else {
			ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			echo, _ := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
			if ic.TypeCode.Type() != layers.ICMPv6TypeEchoReply || echo == nil || echo.Identifier != 7 || echo.SeqNumber != 9 ||
				p.Layer(layers.LayerTypeIPv6).(*layers.IPv6).SrcIP.String() != dst {
				t.Fatalf("ping %s: reply %v %+v", dst, ic.TypeCode, echo)
			}
		}
	}
	if st := tp.r.Stats(); st.Delivered != 4 || st.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}
