package vnet

import (
	"encoding/binary"
	"net/netip"

	"github.com/baretap/baretap/nic"
)

// input is the vnet's receive hook on f (ether_input's demultiplexing).
// The interface has already counted and tapped the frame.
func (f *Iface) input(_ *nic.Ifnet, frame []byte) {
	s := f.s
	if f.gone.Load() {
		// A frame racing a move: it belongs to neither vnet now.
		return
	}
	s.stats.Received.Add(1)
	if len(frame) < ethHdrLen {
		s.stats.BadHeader.Add(1)
		return
	}
	if frame[ethOffDst]&1 == 0 && [6]byte(frame[ethOffDst:ethOffDst+6]) != f.mac {
		// Unicast for another station (we are promiscuous for bpf).
		s.stats.NotForUs.Add(1)
		return
	}
	switch binary.BigEndian.Uint16(frame[ethOffType:]) {
	case etherTypeIP:
		s.ip4Input(f, frame)
	case etherTypeIP6:
		s.ip6Input(f, frame)
	case etherTypeARP:
		s.arpInput(f, frame)
	default:
		s.stats.UnknownType.Add(1)
	}
}

// ip4Input validates an IPv4 packet (ip_input's checks) and delivers or
// forwards it (ip_tryforward).
func (s *Stack) ip4Input(f *Iface, frame []byte) {
	pkt := frame[ethHdrLen:]
	if len(pkt) < ip4MinHdr || pkt[0]>>4 != 4 {
		s.stats.BadHeader.Add(1)
		return
	}
	hl := int(pkt[0]&0x0f) << 2
	tot := int(binary.BigEndian.Uint16(pkt[ip4OffTotLen:]))
	if hl < ip4MinHdr || hl > len(pkt) || tot < hl || tot > len(pkt) {
		s.stats.BadHeader.Add(1)
		return
	}
	if checksum(pkt[:hl]) != 0 {
		s.stats.BadChecksum.Add(1)
		return
	}
	pkt = pkt[:tot] // drop Ethernet padding
	src, dst := addr4(pkt[ip4OffSrc:]), addr4(pkt[ip4OffDst:])
	la := (*s.local.Load())[dst]
	if dst.IsMulticast() || isBroadcast4(dst) || la.bcast && la.ifa == nil {
		s.stats.Delivered.Add(1)
		return
	}
	if la.ifa != nil {
		s.stats.Delivered.Add(1)
		s.echo4(f, pkt, hl)
		return
	}
	if !s.forwarding.Load() {
		s.stats.NoForward.Add(1)
		return
	}
	// ip_tryforward's list: no broadcast, multicast, loopback,
	// link-local (169.254/16) or unspecified source or destination.
	if src.IsMulticast() || isBroadcast4(src) || src.IsLoopback() || dst.IsLoopback() ||
		src.IsLinkLocalUnicast() || dst.IsLinkLocalUnicast() || src.As4()[0] == 0 || dst.As4()[0] == 0 {
		s.stats.Martian.Add(1)
		return
	}
	var k flowKey
	flow4(&k, pkt, hl)
	fib := s.selectFIB(f, &k)
	if pkt[ip4OffTTL] <= 1 {
		s.stats.TTLExceeded.Add(1)
		s.icmp4Error(f, fib, pkt, icmp4TimeExceeded, icmp4TimeExcTTL, 0)
		return
	}
	nh, err := s.fibs.Lookup(fib, dst)
	if err != nil {
		s.stats.NoRoute.Add(1)
		s.icmp4Error(f, fib, pkt, icmp4Unreach, icmp4UnreachNet, 0)
		return
	}
	out := s.iface(nh.IfIndex)
	if out == nil || out.gone.Load() || !out.ifp.IsUp() {
		s.stats.NoRoute.Add(1)
		s.icmp4Error(f, fib, pkt, icmp4Unreach, icmp4UnreachHost, 0)
		return
	}
	mtu := out.ifp.MTU()
	if nh.MTU != 0 && int(nh.MTU) < mtu {
		mtu = int(nh.MTU)
	}
	if tot > mtu {
		// No fragmentation here: a DF packet gets "fragmentation
		// needed" with the MTU (RFC 1191), others are dropped.
		s.stats.TooBig.Add(1)
		if binary.BigEndian.Uint16(pkt[ip4OffFrag:])&ip4FlagDF != 0 {
			s.icmp4Error(f, fib, pkt, icmp4Unreach, icmp4UnreachNeedFr, mtu)
		}
		return
	}
	next := dst
	if nh.Gateway.IsValid() {
		next = nh.Gateway
	}
	bp := s.bufs.Get().(*frameBuf)
	buf := bp[:ethHdrLen+tot]
	copy(buf[ethHdrLen:], pkt)
	binary.BigEndian.PutUint16(buf[ethOffType:], etherTypeIP)
	decTTL(buf[ethHdrLen:])
	s.resolveAndSend(out, fib, next, buf, f)
	s.bufs.Put(bp)
}

// ip6Input validates an IPv6 packet (ip6_input's checks), answers
// neighbour discovery, and delivers or forwards it (ip6_tryforward).
func (s *Stack) ip6Input(f *Iface, frame []byte) {
	pkt := frame[ethHdrLen:]
	if len(pkt) < ip6HdrLen || pkt[0]>>4 != 6 {
		s.stats.BadHeader.Add(1)
		return
	}
	plen := int(binary.BigEndian.Uint16(pkt[ip6OffPlen:]))
	if ip6HdrLen+plen > len(pkt) || plen == 0 && pkt[ip6OffNext] == ip6NextHopOpt {
		// A zero payload length behind hop-by-hop options is a
		// jumbogram (RFC 2675), which Ethernet cannot carry.
		s.stats.BadHeader.Add(1)
		return
	}
	pkt = pkt[:ip6HdrLen+plen]
	src, dst := addr16(pkt[ip6OffSrc:]), addr16(pkt[ip6OffDst:])
	if dst.IsMulticast() || s.isLocal(dst) {
		if pkt[ip6OffNext] == protoICMPv6 && plen > 0 &&
			(pkt[ip6HdrLen] == icmp6NS || pkt[ip6HdrLen] == icmp6NA) {
			s.ndInput(f, frame, pkt)
			return
		}
		s.stats.Delivered.Add(1)
		if !dst.IsMulticast() {
			s.echo6(f, pkt)
		}
		return
	}
	if !s.forwarding.Load() {
		s.stats.NoForward.Add(1)
		return
	}
	if src.IsMulticast() || src.IsUnspecified() || src.IsLoopback() || dst.IsLoopback() ||
		dst.IsUnspecified() || src.IsLinkLocalUnicast() || dst.IsLinkLocalUnicast() || src.Is4In6() || dst.Is4In6() {
		// Link-local traffic never leaves its link (RFC 4291 §2.5.6).
		s.stats.Martian.Add(1)
		return
	}
	var k flowKey
	flow6(&k, pkt)
	fib := s.selectFIB(f, &k)
	if pkt[ip6OffHlim] <= 1 {
		s.stats.TTLExceeded.Add(1)
		s.icmp6Error(f, fib, pkt, icmp6TimeExceeded, icmp6TimeExcHlim, 0)
		return
	}
	nh, err := s.fibs.Lookup(fib, dst)
	if err != nil {
		s.stats.NoRoute.Add(1)
		s.icmp6Error(f, fib, pkt, icmp6Unreach, icmp6UnreachNoRoute, 0)
		return
	}
	out := s.iface(nh.IfIndex)
	if out == nil || out.gone.Load() || !out.ifp.IsUp() {
		s.stats.NoRoute.Add(1)
		s.icmp6Error(f, fib, pkt, icmp6Unreach, icmp6UnreachAddr, 0)
		return
	}
	mtu := out.ifp.MTU()
	if nh.MTU != 0 && int(nh.MTU) < mtu {
		mtu = int(nh.MTU)
	}
	if len(pkt) > mtu {
		s.stats.TooBig.Add(1)
		s.icmp6Error(f, fib, pkt, icmp6PacketTooBig, 0, mtu)
		return
	}
	next := dst
	if nh.Gateway.IsValid() {
		next = nh.Gateway
	}
	bp := s.bufs.Get().(*frameBuf)
	buf := bp[:ethHdrLen+len(pkt)]
	copy(buf[ethHdrLen:], pkt)
	binary.BigEndian.PutUint16(buf[ethOffType:], etherTypeIP6)
	buf[ethHdrLen+ip6OffHlim]--
	s.resolveAndSend(out, fib, next, buf, f)
	s.bufs.Put(bp)
}

// isBcast reports a directed broadcast address of one of the vnet's
// networks (in_broadcast).
func (s *Stack) isBcast(a netip.Addr) bool {
	return (*s.local.Load())[a].bcast
}
