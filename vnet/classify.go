package vnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
)

// PortRange is an inclusive port range; the zero value matches any port.
type PortRange struct{ Lo, Hi uint16 }

func (r PortRange) any() bool { return r.Lo == 0 && r.Hi == 0 }

func (r PortRange) has(p uint16) bool { return p >= r.Lo && p <= r.Hi }

// Rule is a per-packet FIB override in the spirit of ipfw's setfib action:
// a packet received by the vnet that matches is routed in FIB instead of
// its input interface's. Zero fields match anything.
type Rule struct {
	Src, Dst netip.Prefix // source / destination networks (invalid = any)
	Proto    uint8        // IP protocol (IPv6: the upper-layer header), 0 = any
	SrcPorts PortRange    // TCP/UDP/SCTP source ports; needs Proto
	DstPorts PortRange    // TCP/UDP/SCTP destination ports; needs Proto
	FIB      int
}

// SetFIBRules replaces the vnet's setfib rules; the first matching rule
// wins. EINVAL (route.ErrBadFIB) for a FIB at or past net.fibs, EINVAL for
// source and destination of different families, ports without TCP, UDP
// or SCTP (ipfw refuses those too), or an inverted port range.
func (s *Stack) SetFIBRules(rules []Rule) error {
	for i, r := range rules {
		if _, err := s.fibs.Table(r.FIB); err != nil {
			return fmt.Errorf("vnet: %s: setfib rule %d: %w", s.name, i, err)
		}
		if r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4() {
			return fmt.Errorf("vnet: %s: setfib rule %d: source %v and destination %v of different families: %w", s.name, i, r.Src, r.Dst, syscall.EINVAL)
		}
		if (!r.SrcPorts.any() || !r.DstPorts.any()) && r.Proto != protoTCP && r.Proto != protoUDP && r.Proto != protoSCTP {
			return fmt.Errorf("vnet: %s: setfib rule %d: ports need protocol tcp, udp or sctp, not %d: %w", s.name, i, r.Proto, syscall.EINVAL)
		}
		if r.SrcPorts.Lo > r.SrcPorts.Hi || r.DstPorts.Lo > r.DstPorts.Hi {
			return fmt.Errorf("vnet: %s: setfib rule %d: inverted port range: %w", s.name, i, syscall.EINVAL)
		}
	}
	cp := make([]Rule, len(rules))
	for i, r := range rules {
		if r.Src.IsValid() {
			r.Src = r.Src.Masked()
		}
		if r.Dst.IsValid() {
			r.Dst = r.Dst.Masked()
		}
		cp[i] = r
	}
	s.rules.Store(&cp)
	return nil
}

// FIBRules returns a copy of the setfib rules.
func (s *Stack) FIBRules() []Rule {
	if p := s.rules.Load(); p != nil {
		return append([]Rule(nil), (*p)...)
	}
	return nil
}

// flowKey is what the classifier matches on. ports is false when the
// packet has no readable transport ports (other protocol, later fragment,
// truncated).
type flowKey struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	ports        bool
}

// selectFIB returns the FIB for a packet received on f (M_GETFIB after
// ipfw): the first matching rule's, else the interface's.
func (s *Stack) selectFIB(f *Iface, k *flowKey) int {
	if p := s.rules.Load(); p != nil {
		for i := range *p {
			r := &(*p)[i]
			if r.Src.IsValid() && !r.Src.Contains(k.src) ||
				r.Dst.IsValid() && !r.Dst.Contains(k.dst) ||
				r.Proto != 0 && r.Proto != k.proto {
				continue
			}
			if !r.SrcPorts.any() || !r.DstPorts.any() {
				if !k.ports || !r.SrcPorts.any() && !r.SrcPorts.has(k.sport) ||
					!r.DstPorts.any() && !r.DstPorts.has(k.dport) {
					continue
				}
			}
			return r.FIB
		}
	}
	return int(f.fib.Load())
}

// hasPorts reports protocols whose first 4 bytes are source and
// destination ports.
func hasPorts(proto uint8) bool {
	return proto == protoTCP || proto == protoUDP || proto == protoSCTP
}

// flow4 fills k from a validated IPv4 packet with header length hl.
func flow4(k *flowKey, pkt []byte, hl int) {
	k.src, k.dst = addr4(pkt[ip4OffSrc:]), addr4(pkt[ip4OffDst:])
	k.proto = pkt[ip4OffProto]
	k.ports = false
	first := binary.BigEndian.Uint16(pkt[ip4OffFrag:])&ip4FragOffMsk == 0
	if first && hasPorts(k.proto) && len(pkt) >= hl+4 {
		k.sport = binary.BigEndian.Uint16(pkt[hl:])
		k.dport = binary.BigEndian.Uint16(pkt[hl+2:])
		k.ports = true
	}
}

// maxExtHdrs bounds the IPv6 extension-header walk of the classifier.
const maxExtHdrs = 8

// flow6 fills k from a validated IPv6 packet, skipping hop-by-hop,
// routing and destination-options headers and a first fragment header to
// find the upper-layer protocol.
func flow6(k *flowKey, pkt []byte) {
	k.src, k.dst = addr16(pkt[ip6OffSrc:]), addr16(pkt[ip6OffDst:])
	k.ports = false
	next, off := pkt[ip6OffNext], ip6HdrLen
	for range maxExtHdrs {
		switch next {
		case ip6NextHopOpt, ip6NextRoute, ip6NextDstOpt:
			if len(pkt) < off+8 {
				k.proto = next
				return
			}
			next, off = pkt[off], off+8*(int(pkt[off+1])+1)
			continue
		case ip6NextFrag:
			if len(pkt) < off+8 {
				k.proto = next
				return
			}
			if binary.BigEndian.Uint16(pkt[off+2:])&0xfff8 != 0 {
				k.proto = pkt[off]
				return // a later fragment: no ports
			}
			next, off = pkt[off], off+8
			continue
		}
		break
	}
	k.proto = next
	if hasPorts(next) && len(pkt) >= off+4 {
		k.sport = binary.BigEndian.Uint16(pkt[off:])
		k.dport = binary.BigEndian.Uint16(pkt[off+2:])
		k.ports = true
	}
}
