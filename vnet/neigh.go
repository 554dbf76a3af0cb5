package vnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/baretap/baretap/nic"
)

// NeighborConfig tunes neighbour resolution. Zero fields take FreeBSD's
// ARP defaults, used here for NDP too.
type NeighborConfig struct {
	// Keep is how long a resolved entry is used before it is resolved
	// again (net.link.ether.inet.max_age, 1200 s); Tick enforces it.
	Keep time.Duration
	// Retrans is the interval between solicitations of an unresolved
	// neighbour (one ARP request per second; RetransTimer 1 s for ND).
	Retrans time.Duration
	// MaxTries is the number of solicitations before giving up
	// (net.link.ether.inet.maxtries, 5).
	MaxTries int
	// Down is how long a neighbour that did not answer is refused
	// before trying again (net.link.ether.inet.wait, 20 s).
	Down time.Duration
	// MaxHold bounds the packets queued behind an unresolved neighbour
	// (net.link.ether.inet.maxhold and net.inet6.ip6.nd6_maxqueuelen,
	// 16); the oldest is dropped when it overflows.
	MaxHold int
	// MaxEntries bounds an interface's neighbour cache (4096). FreeBSD
	// has no such bound; without one, a scan of a connected /64 would
	// grow the cache, and its hold queues, without limit. New
	// neighbours past the bound are refused like unresolved ones.
	MaxEntries int
}

func (c NeighborConfig) withDefaults() (NeighborConfig, error) {
	if c.Keep < 0 || c.Retrans < 0 || c.Down < 0 || c.MaxTries < 0 || c.MaxHold < 0 || c.MaxEntries < 0 {
		return c, fmt.Errorf("neighbour config %+v: negative value: %w", c, syscall.EINVAL)
	}
	if c.Keep == 0 {
		c.Keep = 1200 * time.Second
	}
	if c.Retrans == 0 {
		c.Retrans = time.Second
	}
	if c.MaxTries == 0 {
		c.MaxTries = 5
	}
	if c.Down == 0 {
		c.Down = 20 * time.Second
	}
	if c.MaxHold == 0 {
		c.MaxHold = 16
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 4096
	}
	return c, nil
}

// Neighbour entry states (a reduction of FreeBSD's LLE flags and ND6
// states: INCOMPLETE, REACHABLE, and a failed state held for Down).
type neighState uint8

const (
	neighIncomplete neighState = iota
	neighReachable
	neighFailed
)

func (s neighState) String() string {
	switch s {
	case neighIncomplete:
		return "incomplete"
	case neighReachable:
		return "reachable"
	}
	return "failed"
}

// neighEntry is one llentry. All fields are protected by the cache's mu.
type neighEntry struct {
	mac   [6]byte
	state neighState
	until time.Duration // reachable: expiry; incomplete: next solicit; failed: end of hold-down
	tries int           // solicitations sent
	hold  []heldPkt
}

// heldPkt is a frame waiting for its link-layer destination; frame has
// room for, and space reserved for, the Ethernet header.
type heldPkt struct {
	frame []byte
	fib   int
	in    *Iface // where a forwarded packet came in (ICMP errors go back there); nil if local
}

// neighCache is an interface's lltable for both families. mu is a leaf
// lock: nothing is output while it is held.
type neighCache struct {
	mu sync.RWMutex
	m  map[netip.Addr]*neighEntry // protected by mu
}

func (c *neighCache) init() { c.m = make(map[netip.Addr]*neighEntry) }

func (c *neighCache) purge() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// lookup is the fast path: the link address of a if resolved. It reads no
// clock: Tick removes entries older than Keep, so an entry found here is
// at most one Tick period past its expiry.
func (c *neighCache) lookup(a netip.Addr) (mac [6]byte, ok bool) {
	c.mu.RLock()
	if e := c.m[a]; e != nil && e.state == neighReachable {
		mac, ok = e.mac, true
	}
	c.mu.RUnlock()
	return mac, ok
}

// Neighbor is one neighbour-cache entry as Neighbors reports it.
type Neighbor struct {
	Addr    netip.Addr
	MAC     [6]byte
	State   string        // "incomplete", "reachable", "failed"
	Expires time.Duration // clock uptime of the next state change
	Held    int
}

// Neighbors returns the neighbour cache of ifp (arp -a / ndp -a), nil if
// ifp is not here.
func (s *Stack) Neighbors(ifp *nic.Ifnet) []Neighbor {
	s.mu.RLock()
	f := s.ifs[ifp]
	s.mu.RUnlock()
	if f == nil {
		return nil
	}
	f.neigh.mu.RLock()
	defer f.neigh.mu.RUnlock()
	out := make([]Neighbor, 0, len(f.neigh.m))
	for a, e := range f.neigh.m {
		out = append(out, Neighbor{Addr: a, MAC: e.mac, State: e.state.String(), Expires: e.until, Held: len(e.hold)})
	}
	return out
}

// resolveAndSend outputs frame (its Ethernet header still to be written)
// to next on out: at once if the neighbour is resolved, else through the
// hold queue and a solicitation. fwd marks a forwarded packet (counted as
// Forwarded when it leaves), in is its input interface.
func (s *Stack) resolveAndSend(out *Iface, fib int, next netip.Addr, frame []byte, in *Iface) {
	if mac, ok := out.neigh.lookup(next); ok {
		s.sendFrame(out, frame, mac, in != nil)
		return
	}
	s.resolveSlow(out, fib, next, frame, in, s.clock.Uptime())
}

func (s *Stack) resolveSlow(out *Iface, fib int, next netip.Addr, frame []byte, in *Iface, now time.Duration) {
	c := &out.neigh
	c.mu.Lock()
	e := c.m[next]
	if e == nil || e.state != neighIncomplete && now >= e.until {
		if e == nil {
			if len(c.m) >= s.ncfg.MaxEntries {
				c.mu.Unlock()
				s.stats.Unresolved.Add(1)
				return
			}
			e = &neighEntry{}
			c.m[next] = e
		}
		e.state, e.tries, e.until, e.hold = neighIncomplete, 0, now, nil
	}
	switch e.state {
	case neighReachable: // resolved between the fast path and here
		mac := e.mac
		c.mu.Unlock()
		s.sendFrame(out, frame, mac, in != nil)
		return
	case neighFailed:
		c.mu.Unlock()
		s.stats.Unresolved.Add(1)
		s.unreachHost(in, fib, frame)
		return
	}
	if len(e.hold) >= s.ncfg.MaxHold {
		e.hold = append(e.hold[:0], e.hold[1:]...)
		s.stats.HoldDrops.Add(1)
	}
	e.hold = append(e.hold, heldPkt{frame: append([]byte(nil), frame...), fib: fib, in: in})
	s.stats.Held.Add(1)
	var failed []heldPkt
	solicit := false
	if now >= e.until {
		if e.tries >= s.ncfg.MaxTries {
			failed = e.hold
			e.state, e.until, e.hold = neighFailed, now+s.ncfg.Down, nil
		} else {
			e.tries++
			e.until = now + s.ncfg.Retrans
			solicit = true
		}
	}
	c.mu.Unlock()
	if solicit {
		s.solicit(out, next)
	}
	s.failHeld(failed)
}

// failHeld drops packets whose neighbour did not answer, with ICMP host
// unreachable for forwarded ones (arptimer / nd6_llinfo_timer).
func (s *Stack) failHeld(held []heldPkt) {
	for _, h := range held {
		s.stats.Unresolved.Add(1)
		s.unreachHost(h.in, h.fib, h.frame)
	}
}

// sendFrame writes the Ethernet header and outputs frame on out.
func (s *Stack) sendFrame(out *Iface, frame []byte, dst [6]byte, fwd bool) {
	copy(frame[ethOffDst:], dst[:])
	copy(frame[ethOffSrc:], out.mac[:])
	if err := out.ifp.Output(frame); err != nil {
		s.stats.OutErrors.Add(1)
		return
	}
	if fwd {
		s.stats.Forwarded.Add(1)
	}
}

// learn records that a has link address mac on f (arp input, nd6_cache_lladdr)
// and sends what was held for it. An entry is created only when create is
// set (the packet was for us); otherwise only an existing one is updated.
func (s *Stack) learn(f *Iface, a netip.Addr, mac [6]byte, create bool) {
	now := s.clock.Uptime()
	c := &f.neigh
	c.mu.Lock()
	e := c.m[a]
	if e == nil {
		if !create || len(c.m) >= s.ncfg.MaxEntries {
			c.mu.Unlock()
			return
		}
		e = &neighEntry{}
		c.m[a] = e
	}
	e.mac, e.state, e.until, e.tries = mac, neighReachable, now+s.ncfg.Keep, 0
	held := e.hold
	e.hold = nil
	c.mu.Unlock()
	for _, h := range held {
		s.sendFrame(f, h.frame, mac, h.in != nil)
	}
}

// Tick runs the neighbour timers against the vnet's clock: solicit again,
// give up on neighbours that did not answer (dropping their held packets
// with ICMP host unreachable), and expire old entries. The vnet's owner
// calls it periodically (every Retrans or so).
func (s *Stack) Tick() {
	s.mu.RLock()
	ifs := make([]*Iface, 0, len(s.ifs))
	for _, f := range s.ifs {
		ifs = append(ifs, f)
	}
	s.mu.RUnlock()
	now := s.clock.Uptime()
	for _, f := range ifs {
		var solicit []netip.Addr
		var failed []heldPkt
		c := &f.neigh
		c.mu.Lock()
		for a, e := range c.m {
			if now < e.until {
				continue
			}
			switch e.state {
			case neighIncomplete:
				if e.tries >= s.ncfg.MaxTries {
					failed = append(failed, e.hold...)
					e.state, e.until, e.hold = neighFailed, now+s.ncfg.Down, nil
					continue
				}
				e.tries++
				e.until = now + s.ncfg.Retrans
				solicit = append(solicit, a)
			default:
				delete(c.m, a)
			}
		}
		c.mu.Unlock()
		for _, a := range solicit {
			s.solicit(f, a)
		}
		s.failHeld(failed)
	}
}

// solicit sends an ARP request or a neighbour solicitation for target on f.
func (s *Stack) solicit(f *Iface, target netip.Addr) {
	src, ok := s.srcAddr(f, target)
	if !ok {
		s.stats.NoSource.Add(1)
		return
	}
	if target.Is4() {
		fr := make([]byte, ethHdrLen+arpLen)
		putARP(fr, f.mac, etherBroadcast(), arpOpRequest, src, [6]byte{}, target)
		s.sendCtl(f, fr, etherBroadcast(), true)
		return
	}
	snm := solicitedNode(target)
	fr := make([]byte, ethHdrLen+ip6HdrLen+32)
	t := target.As16()
	icmp := fr[ethHdrLen+ip6HdrLen:]
	icmp[0] = icmp6NS
	copy(icmp[8:], t[:])
	icmp[24], icmp[25] = ndOptSrcLL, 1
	copy(icmp[26:], f.mac[:])
	putIP6(fr[ethHdrLen:], src, snm, protoICMPv6, ndHopLimit, 32)
	finishICMP6(fr[ethHdrLen:])
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP6)
	s.sendCtl(f, fr, multicastMAC6(snm), true)
}

// sendCtl outputs a solicitation (solicit) or advertisement the vnet
// built.
func (s *Stack) sendCtl(f *Iface, fr []byte, dst [6]byte, solicit bool) {
	if solicit {
		s.stats.Solicits.Add(1)
	} else {
		s.stats.Adverts.Add(1)
	}
	s.sendFrame(f, fr, dst, false)
}

// putARP writes an Ethernet frame carrying an ARP packet.
func putARP(fr []byte, sha, ethDst [6]byte, op uint16, spa netip.Addr, tha [6]byte, tpa netip.Addr) {
	copy(fr[ethOffDst:], ethDst[:])
	copy(fr[ethOffSrc:], sha[:])
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeARP)
	a := fr[ethHdrLen:]
	binary.BigEndian.PutUint16(a[0:], arpHrdEther)
	binary.BigEndian.PutUint16(a[2:], etherTypeIP)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:], sha[:])
	s4 := spa.As4()
	copy(a[14:], s4[:])
	copy(a[18:], tha[:])
	t4 := tpa.As4()
	copy(a[24:], t4[:])
}

// arpInput handles an ARP packet received on f (in_arpinput).
func (s *Stack) arpInput(f *Iface, frame []byte) {
	a := frame[ethHdrLen:]
	if len(a) < arpLen || binary.BigEndian.Uint16(a[0:]) != arpHrdEther ||
		binary.BigEndian.Uint16(a[2:]) != etherTypeIP || a[4] != 6 || a[5] != 4 {
		s.stats.BadHeader.Add(1)
		return
	}
	s.stats.ARPIn.Add(1)
	op := binary.BigEndian.Uint16(a[6:])
	sha := [6]byte(a[8:14])
	spa, tpa := addr4(a[14:]), addr4(a[24:])
	if sha[0]&1 != 0 || sha == f.mac {
		// A multicast sender address is bogus; our own is a loop.
		s.stats.Martian.Add(1)
		return
	}
	forUs := s.ownOn(f, tpa)
	if !spa.IsUnspecified() {
		s.learn(f, spa, sha, forUs)
	}
	if op != arpOpRequest || !forUs {
		return
	}
	fr := make([]byte, ethHdrLen+arpLen)
	putARP(fr, f.mac, sha, arpOpReply, tpa, sha, spa)
	s.sendCtl(f, fr, sha, false)
}

// ndInput handles a neighbour solicitation or advertisement (pkt is the
// IPv6 packet, validated by ip6Input); frame is the whole frame.
func (s *Stack) ndInput(f *Iface, frame, pkt []byte) {
	icmp := pkt[ip6HdrLen:]
	s.stats.NDIn.Add(1)
	if pkt[ip6OffHlim] != ndHopLimit || len(icmp) < 24 || icmp[1] != 0 {
		s.stats.BadHeader.Add(1)
		return
	}
	if csumFold(pseudo6(pkt[ip6OffSrc:ip6OffSrc+16], pkt[ip6OffDst:ip6OffDst+16], len(icmp), protoICMPv6)+csumAdd(0, icmp)) != 0 {
		s.stats.BadChecksum.Add(1)
		return
	}
	src := addr16(pkt[ip6OffSrc:])
	target := addr16(icmp[8:])
	if target.IsMulticast() {
		s.stats.BadHeader.Add(1)
		return
	}
	var ll [6]byte
	haveLL := false
	for o := icmp[24:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || len(o) < 8*int(o[1]) {
			s.stats.BadHeader.Add(1)
			return
		}
		n := 8 * int(o[1])
		if (o[0] == ndOptSrcLL && icmp[0] == icmp6NS || o[0] == ndOptTgtLL && icmp[0] == icmp6NA) && n == 8 {
			ll, haveLL = [6]byte(o[2:8]), true
		}
		o = o[n:]
	}
	if icmp[0] == icmp6NA {
		if haveLL {
			s.learn(f, target, ll, false)
		}
		return
	}
	if !s.ownOn(f, target) {
		return
	}
	dst, ethDst, flags := src, [6]byte(frame[ethOffSrc:ethOffSrc+6]), byte(ndNAFlagSolicited|ndNAFlagOverride)
	if src.IsUnspecified() {
		// Duplicate address detection: answer all nodes (RFC 4861 §7.2.4).
		if haveLL {
			s.stats.BadHeader.Add(1)
			return
		}
		dst = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})
		ethDst, flags = multicastMAC6(dst), ndNAFlagOverride
	} else if haveLL {
		s.learn(f, src, ll, true)
		ethDst = ll
	}
	if s.forwarding.Load() {
		flags |= ndNAFlagRouter
	}
	fr := make([]byte, ethHdrLen+ip6HdrLen+32)
	na := fr[ethHdrLen+ip6HdrLen:]
	na[0], na[4] = icmp6NA, flags
	t := target.As16()
	copy(na[8:], t[:])
	na[24], na[25] = ndOptTgtLL, 1
	copy(na[26:], f.mac[:])
	putIP6(fr[ethHdrLen:], target, dst, protoICMPv6, ndHopLimit, 32)
	finishICMP6(fr[ethHdrLen:])
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP6)
	s.sendCtl(f, fr, ethDst, false)
}

// putIP6 writes an IPv6 header for a payload of plen bytes.
func putIP6(b []byte, src, dst netip.Addr, next, hlim uint8, plen int) {
	b[0], b[1], b[2], b[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(b[ip6OffPlen:], uint16(plen))
	b[ip6OffNext], b[ip6OffHlim] = next, hlim
	s, d := src.As16(), dst.As16()
	copy(b[ip6OffSrc:], s[:])
	copy(b[ip6OffDst:], d[:])
}

// finishICMP6 fills in the ICMPv6 checksum of the IPv6 packet b.
func finishICMP6(b []byte) {
	icmp := b[ip6HdrLen:]
	icmp[2], icmp[3] = 0, 0
	sum := pseudo6(b[ip6OffSrc:ip6OffSrc+16], b[ip6OffDst:ip6OffDst+16], len(icmp), protoICMPv6)
	binary.BigEndian.PutUint16(icmp[2:], csumFold(csumAdd(sum, icmp)))
}
