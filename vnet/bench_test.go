package vnet

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baretap/baretap/internal/benchdata"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/route"
)

// benchDir returns ../shared/bench relative to the module root, or skips.
func benchDir(tb testing.TB) string {
	tb.Helper()
	return benchdata.Dir(tb, "prefixes-v4.txt.gz", "prefixes-v6.txt.gz")
}

func loadPrefixes(tb testing.TB, name string) []netip.Prefix {
	tb.Helper()
	f, err := os.Open(filepath.Join(benchDir(tb), name))
	if err != nil {
		tb.Skipf("%s absent: %v", name, err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var out []netip.Prefix
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		p, err := netip.ParsePrefix(sc.Text())
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// sinkDriver is a driver that counts what it is given and drops it: the
// benchmark's wire.
type sinkDriver struct{ n atomic.Uint64 }

func (d *sinkDriver) Transmit([]byte) error { d.n.Add(1); return nil }
func (d *sinkDriver) SetPromisc(bool) error { return nil }

// fwdBench is a router vnet with a full table whose interfaces are driven
// by direct calls: frames go in through in.Input and leave into a sink.
type fwdBench struct {
	r       *Stack
	in, out *nic.Ifnet
	sink    *sinkDriver
	frames  [][]byte // table-drawn destinations, valid headers
	dsts    []netip.Addr
}

var (
	fwdOnce [2]sync.Once
	fwdEnv  [2]*fwdBench
)

const benchGateways = 4

// newFwdBench builds (once per family) the router: every prefix of the
// table routed through one of benchGateways resolved gateways on out.
func newFwdBench(tb testing.TB, v6 bool) *fwdBench {
	tb.Helper()
	fam, file := 0, "prefixes-v4.txt.gz"
	if v6 {
		fam, file = 1, "prefixes-v6.txt.gz"
	}
	benchDir(tb)
	fwdOnce[fam].Do(func() { fwdEnv[fam] = buildFwdBench(tb, loadPrefixes(tb, file), v6) })
	if fwdEnv[fam] == nil {
		tb.Fatal("forwarding bench setup failed earlier")
	}
	return fwdEnv[fam]
}

func buildFwdBench(tb testing.TB, ps []netip.Prefix, v6 bool) *fwdBench {
	h, err := NewHost(Options{Forwarding: true})
	if err != nil {
		tb.Fatal(err)
	}
	r := h.Default()
	in, err := nic.New(nic.Config{Name: "in0", MTU: 1500, Addr: mac(1), Driver: &sinkDriver{}})
	must(tb, err)
	sink := &sinkDriver{}
	out, err := nic.New(nic.Config{Name: "out0", MTU: 1500, Addr: mac(2), Driver: sink})
	must(tb, err)
	in.SetUp(true)
	out.SetUp(true)
	must(tb, r.Attach(in))
	must(tb, r.Attach(out))
	inNet, outNet := pfx("100.64.1.1/24"), pfx("100.64.2.1/24")
	gw := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{100, 64, 2, byte(10 + i)}) }
	if v6 {
		inNet, outNet = pfx("fd00:1::1/64"), pfx("fd00:2::1/64")
		gw = func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0, 0, 2, 15: byte(10 + i)}) }
	}
	must(tb, r.AddAddr(in, inNet, netip.Addr{}))
	must(tb, r.AddAddr(out, outNet, netip.Addr{}))
	rs := make([]route.Route, 0, len(ps))
	for i, p := range ps {
		if p.Overlaps(inNet) || p.Overlaps(outNet) {
			continue
		}
		rs = append(rs, route.Route{Prefix: p, NextHop: route.NextHop{Gateway: gw(i % benchGateways), IfIndex: uint32(out.Index())}})
	}
	t0, err := r.FIBs().Table(0)
	must(tb, err)
	must(tb, t0.AddRoutes(rs))
	of := r.ifs[out]
	for i := range benchGateways {
		r.learn(of, gw(i), [6]byte{0x02, 0xee, 0, 0, 0, byte(i)}, true)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	b := &fwdBench{r: r, in: in, out: out, sink: sink}
	src := netip.AddrFrom4([4]byte{100, 64, 1, 2})
	if v6 {
		src = netip.AddrFrom16([16]byte{0xfd, 0, 0, 1, 15: 2})
	}
	for range 4096 {
		p := rs[rng.IntN(len(rs))].Prefix
		a := p.Addr().As16()
		var host [16]byte
		binary.BigEndian.PutUint64(host[:8], rng.Uint64())
		binary.BigEndian.PutUint64(host[8:], rng.Uint64())
		if p.Addr().Is4() {
			a4 := p.Addr().As4()
			v := binary.BigEndian.Uint32(a4[:]) | binary.BigEndian.Uint32(host[:4])>>p.Bits()
			if p.Bits() == 0 {
				v = binary.BigEndian.Uint32(host[:4])
			}
			binary.BigEndian.PutUint32(a4[:], v)
			b.dsts = append(b.dsts, netip.AddrFrom4(a4))
		} else {
			for i := p.Bits(); i < 128; i++ {
				if host[i/8]&(0x80>>(i%8)) != 0 {
					a[i/8] |= 0x80 >> (i % 8)
				}
			}
			b.dsts = append(b.dsts, netip.AddrFrom16(a))
		}
		b.frames = append(b.frames, rawUDP(mac(1), src, b.dsts[len(b.dsts)-1], 64, 64))
	}
	return b
}

// rawUDP builds an Ethernet/IP/UDP frame with a payload of n bytes and a
// valid IPv4 header checksum (the UDP checksum is left 0, which the
// forwarder does not look at).
func rawUDP(dstMAC []byte, src, dst netip.Addr, ttl uint8, n int) []byte {
	if src.Is4() {
		fr := make([]byte, ethHdrLen+ip4MinHdr+8+n)
		copy(fr, dstMAC)
		copy(fr[ethOffSrc:], mac(0xa))
		binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP)
		ip := fr[ethHdrLen:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[ip4OffTotLen:], uint16(len(ip)))
		ip[ip4OffTTL], ip[ip4OffProto] = ttl, protoUDP
		s4, d4 := src.As4(), dst.As4()
		copy(ip[ip4OffSrc:], s4[:])
		copy(ip[ip4OffDst:], d4[:])
		binary.BigEndian.PutUint16(ip[ip4OffCsum:], checksum(ip[:ip4MinHdr]))
		binary.BigEndian.PutUint16(ip[ip4MinHdr+4:], uint16(8+n))
		return fr
	}
	fr := make([]byte, ethHdrLen+ip6HdrLen+8+n)
	copy(fr, dstMAC)
	copy(fr[ethOffSrc:], mac(0xa))
	binary.BigEndian.PutUint16(fr[ethOffType:], etherTypeIP6)
	putIP6(fr[ethHdrLen:], src, dst, protoUDP, ttl, 8+n)
	binary.BigEndian.PutUint16(fr[ethHdrLen+ip6HdrLen+4:], uint16(8+n))
	return fr
}

// newWireIfs makes the wire anchor: two interfaces whose input hook only
// outputs the frame unchanged (Input, its bpf check and counters, Output,
// the driver), i.e. everything on the path except forwarding.
func newWireIfs(tb testing.TB) *nic.Ifnet {
	in, err := nic.New(nic.Config{Name: "w0", MTU: 1500, Addr: mac(1), Driver: &sinkDriver{}})
	must(tb, err)
	out, err := nic.New(nic.Config{Name: "w1", MTU: 1500, Addr: mac(2), Driver: &sinkDriver{}})
	must(tb, err)
	in.SetUp(true)
	out.SetUp(true)
	in.SetInput(func(_ *nic.Ifnet, f []byte) { _ = out.Output(f) })
	return in
}

// timeLoop runs fn(i) for i in [0, n) and returns ns per call.
func timeLoop(n int, fn func(i int)) float64 {
	start := time.Now()
	for i := range n {
		fn(i)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func benchForward(b *testing.B, v6 bool) {
	fb := newFwdBench(b, v6)
	wire := newWireIfs(b)
	before := fb.sink.n.Load()
	fwdBefore := fb.r.Stats().Forwarded
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fb.in.Input(fb.frames[i&4095])
		i++
	}
	b.StopTimer()
	if sent, fwd := fb.sink.n.Load()-before, fb.r.Stats().Forwarded-fwdBefore; sent != uint64(i) || fwd != uint64(i) {
		b.Fatalf("%d packets in, %d out, %d counted forwarded", i, sent, fwd)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(i)
	// The anchors run after the measured loop, in the same process, for
	// the same number of packets over the same frames.
	wireNs := timeLoop(i, func(i int) { wire.Input(fb.frames[i&4095]) })
	fibs := fb.r.FIBs()
	lookupNs := timeLoop(i, func(i int) {
		if _, err := fibs.Lookup(0, fb.dsts[i&4095]); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(wireNs, "wire-ns/op")
	b.ReportMetric(lookupNs, "lookup-ns/op")
	b.ReportMetric(ns/wireNs, "x-wire")
	b.ReportMetric(ns/lookupNs, "x-lookup")
}

// BenchmarkForwardV4FullTable forwards table-drawn IPv4 destinations with
// the full ../shared/bench table installed and the gateways resolved; the
// same run measures the wire anchor (input to output without forwarding)
// and the bare FIB lookup, and reports the ratios.
func BenchmarkForwardV4FullTable(b *testing.B) { benchForward(b, false) }

// BenchmarkForwardV6FullTable is the IPv6 counterpart.
func BenchmarkForwardV6FullTable(b *testing.B) { benchForward(b, true) }

// BenchmarkForwardV4FullTableTapped is BenchmarkForwardV4FullTable with a
// bpf listener (accept-all filter, immediate mode, never read, so its
// buffers fill and later packets count as drops) on both the input and the
// output interface: the tap's cost on the forwarding path.
func BenchmarkForwardV4FullTableTapped(b *testing.B) {
	fb := newFwdBench(b, false)
	for _, name := range []string{"in0", "out0"} {
		d := fb.r.BPF().Open(bpf.OpenRead)
		must(b, d.SetInterface(name))
		must(b, d.SetImmediate(true))
		must(b, d.SetFilter([]bpf.Insn{bpf.Stmt(bpf.BPF_RET|bpf.BPF_K, 0xffffffff)}))
		defer d.Close()
	}
	benchForward(b, false)
}
