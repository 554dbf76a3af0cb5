package vnet

import (
	"reflect"
	"sync/atomic"
)

// Stats are the vnet's packet counters (a subset of netstat -s's ip, ip6,
// icmp and arp sections).
type Stats struct {
	Received    uint64 // frames handed to the vnet by its interfaces
	Forwarded   uint64 // IPv4/IPv6 packets output toward another hop
	Delivered   uint64 // packets for the vnet itself (not forwarded)
	NotForUs    uint64 // unicast frames for another MAC address
	UnknownType uint64 // EtherTypes the vnet does not speak (VLAN tags included)
	BadHeader   uint64 // malformed IP or ARP headers, bad lengths
	BadChecksum uint64 // IPv4 header or ICMPv6 checksum errors
	Martian     uint64 // unforwardable source or destination addresses
	NoForward   uint64 // not forwarding (net.inet.ip.forwarding=0)
	TTLExceeded uint64 // TTL or hop limit expired in transit
	NoRoute     uint64 // no route, or a route through a missing interface
	TooBig      uint64 // larger than the outgoing MTU
	ICMPSent    uint64 // ICMP and ICMPv6 errors sent
	ARPIn       uint64 // ARP packets received
	NDIn        uint64 // neighbour solicitations and advertisements received
	Solicits    uint64 // ARP requests and neighbour solicitations sent
	Adverts     uint64 // ARP replies and neighbour advertisements sent
	Held        uint64 // packets queued behind an unresolved neighbour
	HoldDrops   uint64 // packets dropped from a full hold queue
	Unresolved  uint64 // packets dropped because resolution failed
	NoSource    uint64 // could not originate: no address on the interface
	OutErrors   uint64 // output failures reported by the interface
}

// counters is the live form of Stats: one atomic per field, same order.
type counters struct {
	Received, Forwarded, Delivered, NotForUs, UnknownType     atomic.Uint64
	BadHeader, BadChecksum, Martian, NoForward, TTLExceeded   atomic.Uint64
	NoRoute, TooBig, ICMPSent, ARPIn, NDIn, Solicits          atomic.Uint64
	Adverts, Held, HoldDrops, Unresolved, NoSource, OutErrors atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (s *Stack) Stats() Stats {
	var out Stats
	src := reflect.ValueOf(&s.stats).Elem()
	dst := reflect.ValueOf(&out).Elem()
	for i := range dst.NumField() {
		dst.Field(i).SetUint(src.Field(i).Addr().Interface().(*atomic.Uint64).Load())
	}
	return out
}
