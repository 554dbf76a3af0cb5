package vnet

import (
	"encoding/binary"
	"net/netip"
)

// icmp4Error sends an ICMP error of type typ and code about pkt, an IPv4
// packet received on in, back to its source through FIB fib (icmp_error).
// mtu is the next-hop MTU of "fragmentation needed". Like FreeBSD it sends
// nothing about a later fragment, an ICMP error, or a packet from or to a
// broadcast or multicast address.
func (s *Stack) icmp4Error(in *Iface, fib int, pkt []byte, typ, code uint8, mtu int) {
	if in == nil {
		return
	}
	hl := int(pkt[0]&0x0f) << 2
	src, dst := addr4(pkt[ip4OffSrc:]), addr4(pkt[ip4OffDst:])
	if binary.BigEndian.Uint16(pkt[ip4OffFrag:])&ip4FragOffMsk != 0 ||
		src.IsUnspecified() || src.IsMulticast() || isBroadcast4(src) || src.IsLoopback() || s.isBcast(src) ||
		dst.IsMulticast() || isBroadcast4(dst) || s.isBcast(dst) {
		return
	}
	if pkt[ip4OffProto] == protoICMP && len(pkt) > hl {
		switch pkt[hl] {
		case icmp4Unreach, 4, 5, icmp4TimeExceeded, 12: // the error types (RFC 792)
			return
		}
	}
	from, ok := s.srcAddr(in, src)
	if !ok {
		s.stats.NoSource.Add(1)
		return
	}
	q := min(len(pkt), icmp4MaxLen-ip4MinHdr-icmpHdrLen)
	n := ip4MinHdr + icmpHdrLen + q
	fr := make([]byte, ethHdrLen+n)
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP)
	ip := fr[ethHdrLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[ip4OffTotLen:], uint16(n))
	ip[ip4OffTTL], ip[ip4OffProto] = ip4DefTTL, protoICMP
	f4, s4 := from.As4(), src.As4()
	copy(ip[ip4OffSrc:], f4[:])
	copy(ip[ip4OffDst:], s4[:])
	binary.BigEndian.PutUint16(ip[ip4OffCsum:], checksum(ip[:ip4MinHdr]))
	ic := ip[ip4MinHdr:]
	ic[0], ic[1] = typ, code
	if typ == icmp4Unreach && code == icmp4UnreachNeedFr {
		binary.BigEndian.PutUint16(ic[6:], uint16(mtu))
	}
	copy(ic[icmpHdrLen:], pkt[:q])
	binary.BigEndian.PutUint16(ic[2:], checksum(ic))
	s.stats.ICMPSent.Add(1)
	s.output(fib, fr, src)
}

// icmp6Error sends an ICMPv6 error about pkt, an IPv6 packet received on
// in (icmp6_error), quoting as much as fits in the minimum MTU (RFC 4443
// §2.4(c)). Nothing is sent about an ICMPv6 error message or a packet from
// the unspecified or a multicast address (RFC 4443 §2.4(e)).
func (s *Stack) icmp6Error(in *Iface, fib int, pkt []byte, typ, code uint8, mtu int) {
	if in == nil {
		return
	}
	src, dst := addr16(pkt[ip6OffSrc:]), addr16(pkt[ip6OffDst:])
	if src.IsUnspecified() || src.IsMulticast() || dst.IsMulticast() && typ != icmp6PacketTooBig {
		return
	}
	if pkt[ip6OffNext] == protoICMPv6 && len(pkt) > ip6HdrLen && pkt[ip6HdrLen] < 128 {
		return
	}
	from, ok := s.srcAddr(in, src)
	if !ok {
		s.stats.NoSource.Add(1)
		return
	}
	q := min(len(pkt), ip6MinMTU-ip6HdrLen-icmpHdrLen)
	fr := make([]byte, ethHdrLen+ip6HdrLen+icmpHdrLen+q)
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP6)
	ip := fr[ethHdrLen:]
	putIP6(ip, from, src, protoICMPv6, ip6DefHlim, icmpHdrLen+q)
	ic := ip[ip6HdrLen:]
	ic[0], ic[1] = typ, code
	if typ == icmp6PacketTooBig {
		binary.BigEndian.PutUint32(ic[4:], uint32(mtu))
	}
	copy(ic[icmpHdrLen:], pkt[:q])
	finishICMP6(ip)
	s.stats.ICMPSent.Add(1)
	s.output(fib, fr, src)
}

// unreachHost reports a packet whose neighbour did not resolve; frame is
// the held frame, Ethernet header first.
func (s *Stack) unreachHost(in *Iface, fib int, frame []byte) {
	pkt := frame[ethHdrLen:]
	if binary.BigEndian.Uint16(frame[ethOffType:]) == etherTypeIP {
		s.icmp4Error(in, fib, pkt, icmp4Unreach, icmp4UnreachHost, 0)
	} else {
		s.icmp6Error(in, fib, pkt, icmp6Unreach, icmp6UnreachAddr, 0)
	}
}

// output routes a packet the vnet originated (fr: frame with the
// EtherType set) to dst in FIB fib.
func (s *Stack) output(fib int, fr []byte, dst netip.Addr) {
	nh, err := s.fibs.Lookup(fib, dst)
	if err != nil {
		s.stats.NoRoute.Add(1)
		return
	}
	out := s.iface(nh.IfIndex)
	if out == nil || out.gone.Load() {
		s.stats.NoRoute.Add(1)
		return
	}
	next := dst
	if nh.Gateway.IsValid() {
		next = nh.Gateway
	}
	s.resolveAndSend(out, fib, next, fr, nil)
}

// echo4 answers an ICMP echo request to one of the vnet's addresses
// (icmp_input's ICMP_ECHO case, icmp_reflect), so the router can be
// pinged; other locally addressed packets have no taker and are dropped.
func (s *Stack) echo4(in *Iface, pkt []byte, hl int) {
	if pkt[ip4OffProto] != protoICMP || len(pkt) < hl+icmpHdrLen || pkt[hl] != icmp4Echo || pkt[hl+1] != 0 ||
		binary.BigEndian.Uint16(pkt[ip4OffFrag:])&(ip4FragOffMsk|0x2000) != 0 || checksum(pkt[hl:]) != 0 {
		return
	}
	src := addr4(pkt[ip4OffSrc:])
	if src.IsUnspecified() || src.IsMulticast() || isBroadcast4(src) || s.isBcast(src) {
		return
	}
	body := pkt[hl:]
	fr := make([]byte, ethHdrLen+ip4MinHdr+len(body))
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP)
	ip := fr[ethHdrLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[ip4OffTotLen:], uint16(len(ip)))
	ip[ip4OffTTL], ip[ip4OffProto] = ip4DefTTL, protoICMP
	copy(ip[ip4OffSrc:], pkt[ip4OffDst:ip4OffDst+4])
	copy(ip[ip4OffDst:], pkt[ip4OffSrc:ip4OffSrc+4])
	binary.BigEndian.PutUint16(ip[ip4OffCsum:], checksum(ip[:ip4MinHdr]))
	ic := ip[ip4MinHdr:]
	copy(ic, body)
	ic[0], ic[2], ic[3] = icmp4EchoReply, 0, 0
	binary.BigEndian.PutUint16(ic[2:], checksum(ic))
	s.output(int(in.fib.Load()), fr, src)
}

// echo6 answers an ICMPv6 echo request to one of the vnet's addresses
// (RFC 4443 §4.2).
func (s *Stack) echo6(in *Iface, pkt []byte) {
	icmp := pkt[ip6HdrLen:]
	if pkt[ip6OffNext] != protoICMPv6 || len(icmp) < icmpHdrLen || icmp[0] != icmp6EchoRequest || icmp[1] != 0 ||
		csumFold(pseudo6(pkt[ip6OffSrc:ip6OffSrc+16], pkt[ip6OffDst:ip6OffDst+16], len(icmp), protoICMPv6)+csumAdd(0, icmp)) != 0 {
		return
	}
	src, dst := addr16(pkt[ip6OffSrc:]), addr16(pkt[ip6OffDst:])
	if src.IsUnspecified() || src.IsMulticast() {
		return
	}
	fr := make([]byte, ethHdrLen+len(pkt))
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP6)
	ip := fr[ethHdrLen:]
	putIP6(ip, dst, src, protoICMPv6, ip6DefHlim, len(icmp))
	copy(ip[ip6HdrLen:], icmp)
	ip[ip6HdrLen] = icmp6EchoReply
	finishICMP6(ip)
	s.output(int(in.fib.Load()), fr, src)
}
