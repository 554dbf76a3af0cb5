package vnet

import (
	"encoding/binary"
	"net/netip"
)

// Ethernet II framing (IEEE 802.3 clause 3, EtherType from the IEEE
// registry).
//
//	0      6      12     14
//	| dst  | src  | type | payload
const (
	ethHdrLen    = 14
	ethOffDst    = 0
	ethOffSrc    = 6
	ethOffType   = 12
	etherTypeIP  = 0x0800 // ETHERTYPE_IP
	etherTypeARP = 0x0806 // ETHERTYPE_ARP
	etherTypeIP6 = 0x86dd // ETHERTYPE_IPV6
)

// IPv4 header (RFC 791 §3.1).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	|Version|  IHL  |Type of Service|          Total Length         |
//	|         Identification        |Flags|      Fragment Offset    |
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	|                       Source Address                          |
//	|                    Destination Address                        |
const (
	ip4MinHdr     = 20
	ip4OffTotLen  = 2
	ip4OffFrag    = 6 // flags (3 bits) and fragment offset (13 bits)
	ip4OffTTL     = 8
	ip4OffProto   = 9
	ip4OffCsum    = 10
	ip4OffSrc     = 12
	ip4OffDst     = 16
	ip4FlagDF     = 0x4000
	ip4FragOffMsk = 0x1fff
	ip4DefTTL     = 64 // net.inet.ip.ttl default
)

// IPv6 header (RFC 8200 §3).
//
//	|Version| Traffic Class |           Flow Label                  |
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	|                  Source Address (128 bits)                    |
//	|               Destination Address (128 bits)                  |
const (
	ip6HdrLen     = 40
	ip6OffPlen    = 4
	ip6OffNext    = 6
	ip6OffHlim    = 7
	ip6OffSrc     = 8
	ip6OffDst     = 24
	ip6DefHlim    = 64   // net.inet6.ip6.hlim default
	ip6MinMTU     = 1280 // IPV6_MMTU (RFC 8200 §5)
	ip6NextHopOpt = 0    // IPPROTO_HOPOPTS
	ip6NextRoute  = 43   // IPPROTO_ROUTING
	ip6NextFrag   = 44   // IPPROTO_FRAGMENT
	ip6NextDstOpt = 60   // IPPROTO_DSTOPTS
)

// IP protocol numbers (IANA).
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// ICMP (RFC 792) and ICMPv6 (RFC 4443, RFC 4861) types and codes.
const (
	icmpHdrLen = 8

	icmp4EchoReply     = 0
	icmp4Unreach       = 3
	icmp4UnreachNet    = 0
	icmp4UnreachHost   = 1
	icmp4UnreachNeedFr = 4
	icmp4Echo          = 8
	icmp4TimeExceeded  = 11
	icmp4TimeExcTTL    = 0
	// RFC 1812 §4.3.2.3: quote as much of the packet as fits in 576 bytes.
	icmp4MaxLen = 576

	icmp6Unreach        = 1
	icmp6UnreachNoRoute = 0
	icmp6UnreachAddr    = 3
	icmp6PacketTooBig   = 2
	icmp6TimeExceeded   = 3
	icmp6TimeExcHlim    = 0
	icmp6EchoRequest    = 128
	icmp6EchoReply      = 129
	icmp6NS             = 135
	icmp6NA             = 136
	ndOptSrcLL          = 1 // ND_OPT_SOURCE_LINKADDR
	ndOptTgtLL          = 2 // ND_OPT_TARGET_LINKADDR
	ndNAFlagRouter      = 0x80
	ndNAFlagSolicited   = 0x40
	ndNAFlagOverride    = 0x20
	ndHopLimit          = 255 // RFC 4861 §7.1.1: NS/NA must arrive with 255
)

// ARP for IPv4 over Ethernet (RFC 826).
const (
	arpLen       = 28
	arpHrdEther  = 1
	arpOpRequest = 1
	arpOpReply   = 2
)

// etherBroadcast is the Ethernet broadcast address (a constant in effect:
// the package keeps no mutable state).
func etherBroadcast() [6]byte { return [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// maxFrame is the largest frame the forwarder builds: an IPv4 packet of
// the largest total length after the Ethernet header.
const maxFrame = ethHdrLen + 0xffff

// frameBuf is a pooled output buffer (the input frame belongs to the
// driver, so a forwarded packet is rewritten in a copy).
type frameBuf [maxFrame]byte

// csumAdd adds b to a ones'-complement running sum (RFC 1071).
func csumAdd(sum uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 != 0 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

// csumFold folds a running sum to 16 bits and complements it.
func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// checksum is the Internet checksum of b.
func checksum(b []byte) uint16 { return csumFold(csumAdd(0, b)) }

// pseudo6 is the IPv6 pseudo-header sum (RFC 8200 §8.1).
func pseudo6(src, dst []byte, length int, next uint8) uint32 {
	sum := csumAdd(0, src)
	sum = csumAdd(sum, dst)
	sum += uint32(length>>16) + uint32(length&0xffff)
	return sum + uint32(next)
}

// decTTL decrements the IPv4 TTL of hdr and patches the header checksum
// incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the 16-bit word
// holding TTL and protocol).
func decTTL(hdr []byte) {
	old := binary.BigEndian.Uint16(hdr[ip4OffTTL:])
	hdr[ip4OffTTL]--
	nw := binary.BigEndian.Uint16(hdr[ip4OffTTL:])
	hc := binary.BigEndian.Uint16(hdr[ip4OffCsum:])
	sum := uint32(^hc) + uint32(^old) + uint32(nw)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(hdr[ip4OffCsum:], ^uint16(sum))
}

func addr4(b []byte) netip.Addr  { return netip.AddrFrom4([4]byte(b[:4])) }
func addr16(b []byte) netip.Addr { return netip.AddrFrom16([16]byte(b[:16])) }

// isBroadcast4 reports the limited broadcast address.
func isBroadcast4(a netip.Addr) bool { return a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) }

// solicitedNode is the solicited-node multicast address of a (RFC 4291
// §2.7.1): ff02::1:ffXX:XXXX with the low 24 bits of a.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// multicastMAC6 is the Ethernet address of IPv6 multicast group a (RFC
// 2464 §7): 33:33 and the low 32 bits.
func multicastMAC6(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}
}
