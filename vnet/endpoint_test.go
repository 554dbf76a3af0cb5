package vnet

import (
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/baretap/baretap/nic"
)

// endpoint is a minimal test host on one interface, written with gopacket
// so that it shares no code with the vnet under test: it answers ARP
// requests and neighbour solicitations for its addresses, learns its
// gateway's link address the same way, sends UDP through its gateway and
// records every IP frame addressed to its MAC.
type endpoint struct {
	ifp           *nic.Ifnet
	mac           net.HardwareAddr
	ip4, gw4      netip.Addr
	ip6, gw6      netip.Addr
	answerARP     bool // answer ARP and NS (true unless a test silences it)
	mu            sync.Mutex
	neigh         map[netip.Addr]net.HardwareAddr // protected by mu
	got           [][]byte                        // IP frames received; protected by mu
	arpRequests   int                             // ARP requests for our address; protected by mu
	nsSolicits    int                             // NS for our address; protected by mu
	solicitSource []netip.Addr                    // IPv6 sources of those NS; protected by mu
}

var serOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func newEndpoint(t testing.TB, ifp *nic.Ifnet, cidr4, cidr6, gw4, gw6 string) *endpoint {
	t.Helper()
	e := &endpoint{ifp: ifp, mac: ifp.HardwareAddr(), answerARP: true, neigh: make(map[netip.Addr]net.HardwareAddr)}
	if cidr4 != "" {
		e.ip4 = netip.MustParsePrefix(cidr4).Addr()
		e.gw4 = netip.MustParseAddr(gw4)
	}
	if cidr6 != "" {
		e.ip6 = netip.MustParsePrefix(cidr6).Addr()
		e.gw6 = netip.MustParseAddr(gw6)
	}
	ifp.SetInput(e.input)
	return e
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serOpts, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

func (e *endpoint) input(_ *nic.Ifnet, frame []byte) {
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil {
		return
	}
	if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		spa, _ := netip.AddrFromSlice(arp.SourceProtAddress)
		tpa, _ := netip.AddrFromSlice(arp.DstProtAddress)
		e.mu.Lock()
		e.neigh[spa] = append(net.HardwareAddr(nil), arp.SourceHwAddress...)
		forUs := arp.Operation == layers.ARPRequest && tpa == e.ip4
		if forUs {
			e.arpRequests++
		}
		answer := forUs && e.answerARP
		e.mu.Unlock()
		if answer {
			fr := mustSerialize(
				&layers.Ethernet{SrcMAC: e.mac, DstMAC: arp.SourceHwAddress, EthernetType: layers.EthernetTypeARP},
				&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
					Operation: layers.ARPReply, SourceHwAddress: e.mac, SourceProtAddress: ip(e.ip4),
					DstHwAddress: arp.SourceHwAddress, DstProtAddress: arp.SourceProtAddress})
			_ = e.ifp.Output(fr)
		}
		return
	}
	if ns, ok := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation); ok {
		tgt, _ := netip.AddrFromSlice(ns.TargetAddress)
		ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		src, _ := netip.AddrFromSlice(ip6.SrcIP)
		e.mu.Lock()
		for _, o := range ns.Options {
			if o.Type == layers.ICMPv6OptSourceAddress {
				e.neigh[src] = append(net.HardwareAddr(nil), o.Data...)
			}
		}
		forUs := tgt == e.ip6
		if forUs {
			e.nsSolicits++
			e.solicitSource = append(e.solicitSource, src)
		}
		answer := forUs && e.answerARP
		e.mu.Unlock()
		if answer {
			e.sendNA(ip6.SrcIP, eth.SrcMAC)
		}
		return
	}
	if na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement); ok {
		tgt, _ := netip.AddrFromSlice(na.TargetAddress)
		e.mu.Lock()
		for _, o := range na.Options {
			if o.Type == layers.ICMPv6OptTargetAddress {
				e.neigh[tgt] = append(net.HardwareAddr(nil), o.Data...)
			}
		}
		e.mu.Unlock()
		return
	}
	if eth.EthernetType == layers.EthernetTypeIPv4 || eth.EthernetType == layers.EthernetTypeIPv6 {
		if string(eth.DstMAC) != string(e.mac) {
			return
		}
		e.mu.Lock()
		e.got = append(e.got, append([]byte(nil), frame...))
		e.mu.Unlock()
	}
}

func mustSerialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serOpts, ls...); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func (e *endpoint) sendNA(dst net.IP, dstMAC net.HardwareAddr) {
	i6 := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: ip(e.ip6), DstIP: dst}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	_ = ic.SetNetworkLayerForChecksum(i6)
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: ip(e.ip6),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: e.mac}}}
	_ = e.ifp.Output(mustSerialize(&layers.Ethernet{SrcMAC: e.mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}, i6, ic, na))
}

// gatewayMAC resolves the gateway of a's family, soliciting it if needed
// (the router answers synchronously over a pair).
func (e *endpoint) gatewayMAC(t testing.TB, v4 bool) net.HardwareAddr {
	t.Helper()
	gw := e.gw6
	if v4 {
		gw = e.gw4
	}
	e.mu.Lock()
	m := e.neigh[gw]
	e.mu.Unlock()
	if m != nil {
		return m
	}
	if v4 {
		fr := serialize(t,
			&layers.Ethernet{SrcMAC: e.mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPRequest, SourceHwAddress: e.mac, SourceProtAddress: ip(e.ip4),
				DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: ip(gw)})
		must(t, e.ifp.Output(fr))
	} else {
		b := gw.As16()
		snm := net.IP{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13], b[14], b[15]}
		i6 := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: ip(e.ip6), DstIP: snm}
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
		_ = ic.SetNetworkLayerForChecksum(i6)
		ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: ip(gw),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: e.mac}}}
		must(t, e.ifp.Output(serialize(t,
			&layers.Ethernet{SrcMAC: e.mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0xff, b[13], b[14], b[15]}, EthernetType: layers.EthernetTypeIPv6},
			i6, ic, ns)))
	}
	e.mu.Lock()
	m = e.neigh[gw]
	e.mu.Unlock()
	if m == nil {
		t.Fatalf("%s: gateway %v did not answer", e.ifp.Name(), gw)
	}
	return m
}

// udp4 builds an IPv4/UDP frame from e to dst through its gateway.
func (e *endpoint) udp4(t testing.TB, dst netip.Addr, ttl uint8, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	i4 := &layers.IPv4{Version: 4, TTL: ttl, Protocol: layers.IPProtocolUDP, SrcIP: ip(e.ip4), DstIP: ip(dst), Id: 0x1234}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = u.SetNetworkLayerForChecksum(i4)
	return serialize(t, &layers.Ethernet{SrcMAC: e.mac, DstMAC: e.gatewayMAC(t, true), EthernetType: layers.EthernetTypeIPv4},
		i4, u, gopacket.Payload(payload))
}

// udp6 builds an IPv6/UDP frame from e to dst through its gateway.
func (e *endpoint) udp6(t testing.TB, dst netip.Addr, hlim uint8, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	i6 := &layers.IPv6{Version: 6, HopLimit: hlim, NextHeader: layers.IPProtocolUDP, SrcIP: ip(e.ip6), DstIP: ip(dst), FlowLabel: 0x12345}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = u.SetNetworkLayerForChecksum(i6)
	return serialize(t, &layers.Ethernet{SrcMAC: e.mac, DstMAC: e.gatewayMAC(t, false), EthernetType: layers.EthernetTypeIPv6},
		i6, u, gopacket.Payload(payload))
}

func (e *endpoint) sendUDP4(t testing.TB, dst netip.Addr, ttl uint8, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	fr := e.udp4(t, dst, ttl, sport, dport, payload)
	must(t, e.ifp.Output(fr))
	return fr
}

func (e *endpoint) sendUDP6(t testing.TB, dst netip.Addr, hlim uint8, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	fr := e.udp6(t, dst, hlim, sport, dport, payload)
	must(t, e.ifp.Output(fr))
	return fr
}

// received returns and forgets the IP frames e got.
func (e *endpoint) received() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.got
	e.got = nil
	return g
}
