package vnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/route"
)

// checkDriver is a driver that validates every frame the router outputs:
// IPv4 headers with a correct checksum and consistent lengths, IPv6
// payload lengths that match, whole ARP packets. It records the first
// violation.
type checkDriver struct {
	mu  sync.Mutex
	err error // protected by mu
	n   int   // frames seen; protected by mu
}

func (d *checkDriver) SetPromisc(bool) error { return nil }

func (d *checkDriver) Transmit(fr []byte) error {
	err := validFrame(fr)
	d.mu.Lock()
	d.n++
	if err != nil && d.err == nil {
		d.err = err
	}
	d.mu.Unlock()
	return nil
}

func (d *checkDriver) take() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.n, d.err
	d.n, d.err = 0, nil
	return n, err
}

func validFrame(fr []byte) error {
	if len(fr) < ethHdrLen {
		return fmt.Errorf("runt frame of %d bytes", len(fr))
	}
	pkt := fr[ethHdrLen:]
	switch binary.BigEndian.Uint16(fr[ethOffType:]) {
	case etherTypeIP:
		if len(pkt) < ip4MinHdr || pkt[0]>>4 != 4 {
			return fmt.Errorf("bad IPv4 header %x", pkt)
		}
		hl := int(pkt[0]&15) * 4
		if hl < ip4MinHdr || int(binary.BigEndian.Uint16(pkt[ip4OffTotLen:])) != len(pkt) || hl > len(pkt) {
			return fmt.Errorf("IPv4 lengths: ihl %d total %d frame %d", hl, binary.BigEndian.Uint16(pkt[ip4OffTotLen:]), len(pkt))
		}
		if checksum(pkt[:hl]) != 0 {
			return fmt.Errorf("IPv4 header checksum wrong: %x", pkt[:hl])
		}
		if pkt[ip4OffTTL] == 0 {
			return fmt.Errorf("IPv4 packet sent with TTL 0")
		}
	case etherTypeIP6:
		if len(pkt) < ip6HdrLen || pkt[0]>>4 != 6 || int(binary.BigEndian.Uint16(pkt[ip6OffPlen:]))+ip6HdrLen != len(pkt) {
			return fmt.Errorf("bad IPv6 packet %x", pkt)
		}
		if pkt[ip6OffHlim] == 0 {
			return fmt.Errorf("IPv6 packet sent with hop limit 0")
		}
	case etherTypeARP:
		if len(pkt) != arpLen {
			return fmt.Errorf("ARP packet of %d bytes", len(pkt))
		}
	default:
		return fmt.Errorf("router sent EtherType %#x", binary.BigEndian.Uint16(fr[ethOffType:]))
	}
	return nil
}

type fuzzRouter struct {
	r       *Stack
	in, out *nic.Ifnet
	din     *checkDriver
	dout    *checkDriver
}

func newFuzzRouter(tb testing.TB) *fuzzRouter {
	h := newHost(tb, Options{Forwarding: true, FIBs: 2})
	r := h.Default()
	fr := &fuzzRouter{r: r, din: &checkDriver{}, dout: &checkDriver{}}
	var err error
	fr.in, err = nic.New(nic.Config{Name: "in0", MTU: 1500, Addr: mac(1), Driver: fr.din})
	must(tb, err)
	fr.out, err = nic.New(nic.Config{Name: "out0", MTU: 1280, Addr: mac(2), Driver: fr.dout})
	must(tb, err)
	fr.in.SetUp(true)
	fr.out.SetUp(true)
	must(tb, r.Attach(fr.in))
	must(tb, r.Attach(fr.out))
	must(tb, r.AddAddr(fr.in, pfx("10.1.0.1/24"), netip.Addr{}))
	must(tb, r.AddAddr(fr.in, pfx("2001:db8:1::1/64"), netip.Addr{}))
	must(tb, r.AddAddr(fr.out, pfx("10.2.0.1/24"), netip.Addr{}))
	must(tb, r.AddAddr(fr.out, pfx("2001:db8:2::1/64"), netip.Addr{}))
	t0, err := r.FIBs().Table(0)
	must(tb, err)
	must(tb, t0.Add(route.Route{Prefix: pfx("0.0.0.0/0"), NextHop: route.NextHop{Gateway: addr("10.2.0.2"), IfIndex: uint32(fr.out.Index())}}))
	must(tb, t0.Add(route.Route{Prefix: pfx("2000::/3"), NextHop: route.NextHop{Gateway: addr("2001:db8:2::2"), IfIndex: uint32(fr.out.Index())}}))
	must(tb, r.SetFIBRules([]Rule{{Proto: protoTCP, DstPorts: PortRange{22, 22}, FIB: 1}}))
	fin, fout := r.ifs[fr.in], r.ifs[fr.out]
	r.learn(fin, addr("10.1.0.2"), [6]byte(mac(0xa)), true)
	r.learn(fin, addr("2001:db8:1::2"), [6]byte(mac(0xa)), true)
	r.learn(fout, addr("10.2.0.2"), [6]byte(mac(0xb)), true)
	r.learn(fout, addr("2001:db8:2::2"), [6]byte(mac(0xb)), true)
	return fr
}

// fuzzSeeds are frames that reach every branch of the input path.
func fuzzSeeds() [][]byte {
	a4, b4 := addr("10.1.0.2"), addr("198.51.100.7")
	a6, b6 := addr("2001:db8:1::2"), addr("2001:db8:77::7")
	var seeds [][]byte
	seeds = append(seeds, rawUDP(mac(1), a4, b4, 64, 16), rawUDP(mac(1), a6, b6, 64, 16))
	seeds = append(seeds, rawUDP(mac(1), a4, b4, 1, 16), rawUDP(mac(1), a6, b6, 1, 16))
	seeds = append(seeds, rawUDP(mac(1), a4, addr("10.2.0.99"), 64, 16), rawUDP(mac(1), a6, addr("2001:db8:2::99"), 64, 16))
	seeds = append(seeds, rawUDP(mac(1), a4, b4, 64, 1400)) // too big for out0
	bad := rawUDP(mac(1), a4, b4, 64, 16)
	bad[ethHdrLen+ip4OffCsum] ^= 0xff
	seeds = append(seeds, bad)
	i4 := &layers.IPv4{Version: 4, TTL: 9, Protocol: layers.IPProtocolTCP, SrcIP: ip(a4), DstIP: ip(b4),
		Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}
	tcp := &layers.TCP{SrcPort: 1, DstPort: 22}
	_ = tcp.SetNetworkLayerForChecksum(i4)
	opts := mustSerialize(&layers.Ethernet{SrcMAC: mac(0xa), DstMAC: mac(1), EthernetType: layers.EthernetTypeIPv4}, i4, tcp)
	seeds = append(seeds, opts)
	seeds = append(seeds, mustSerialize(&layers.Ethernet{SrcMAC: mac(0xa), DstMAC: mac(1), EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: ip(a6), DstIP: ip(b6)},
		&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 0, MoreFragments: true, Identification: 7},
		gopacket.Payload([]byte{0, 1, 0, 53, 0, 8, 0, 0})))
	seeds = append(seeds, mustSerialize(&layers.Ethernet{SrcMAC: mac(0xa), DstMAC: []byte{255, 255, 255, 255, 255, 255}, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: mac(0xa), SourceProtAddress: ip(a4), DstHwAddress: make([]byte, 6), DstProtAddress: ip(addr("10.1.0.1"))}))
	i6 := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: ip(a6), DstIP: ip(solicitedNode(addr("2001:db8:1::1")))}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	_ = ic.SetNetworkLayerForChecksum(i6)
	seeds = append(seeds, mustSerialize(&layers.Ethernet{SrcMAC: mac(0xa), DstMAC: []byte{0x33, 0x33, 0xff, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6},
		i6, ic, &layers.ICMPv6NeighborSolicitation{TargetAddress: ip(addr("2001:db8:1::1")),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac(0xa)}}}))
	seeds = append(seeds, []byte{}, make([]byte, 13), append(append([]byte(nil), mac(1)...), 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 1, 0x08, 0))
	return seeds
}

// FuzzInput feeds arbitrary frames to a forwarding vnet: it must never
// panic, and every frame it sends must be well formed.
func FuzzInput(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	fr := newFuzzRouter(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := fr.r.Stats().Received
		fr.in.Input(frame)
		if got := fr.r.Stats().Received; got != before+1 {
			t.Fatalf("Received went %d -> %d for one frame", before, got)
		}
		for _, d := range []*checkDriver{fr.din, fr.dout} {
			if _, err := d.take(); err != nil {
				t.Fatalf("router output a malformed frame for input %x: %v", frame, err)
			}
		}
		fr.r.Tick()
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzInput when
// VNET_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("VNET_WRITE_SEEDS") != "1" {
		t.Skip("set VNET_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzInput")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzInput")
	must(t, os.MkdirAll(dir, 0o755))
	for i, s := range fuzzSeeds() {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s), 0o644))
	}
}

// TestForwardAllocs: with the neighbour resolved, forwarding allocates
// nothing, for either family.
func TestForwardAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	fr := newFuzzRouter(t)
	for _, frame := range [][]byte{
		rawUDP(mac(1), addr("10.1.0.2"), addr("198.51.100.7"), 64, 512),
		rawUDP(mac(1), addr("2001:db8:1::2"), addr("2001:db8:77::7"), 64, 512),
	} {
		fwd := fr.r.Stats().Forwarded
		if n := testing.AllocsPerRun(1000, func() { fr.in.Input(frame) }); n != 0 {
			t.Fatalf("%.1f allocations per forwarded packet, want 0", n)
		}
		if got := fr.r.Stats().Forwarded - fwd; got < 1000 {
			t.Fatalf("only %d of the packets were forwarded", got)
		}
		if n, err := fr.dout.take(); err != nil || n < 1000 {
			t.Fatalf("out0 sent %d frames: %v", n, err)
		}
	}
}

// TestNeighborCacheBound: a scan of a connected network cannot grow the
// cache past MaxEntries.
func TestNeighborCacheBound(t *testing.T) {
	tp := newTopo(t, NeighborConfig{MaxEntries: 8})
	for i := range 20 {
		tp.a.sendUDP6(t, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 14: 1, 15: byte(i)}), 64, 1, 2, nil)
	}
	if n := len(tp.r.Neighbors(tp.out)); n != 8 {
		t.Fatalf("%d entries, want the bound 8", n)
	}
	if st := tp.r.Stats(); st.Unresolved != 12 {
		t.Fatalf("unresolved %d, want 12 refused", st.Unresolved)
	}
}
