package vnet

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/nic"
	"github.com/baretap/baretap/route"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func TestNewAndNames(t *testing.T) {
	h := newHost(t, Options{})
	v0 := h.Default()
	if v0.Name() != "vnet0" || v0.ID() != 0 {
		t.Fatalf("default vnet %s/%d, want vnet0/0", v0.Name(), v0.ID())
	}
	a := newVnet(t, h, "a", Options{})
	_, err := h.New("a", Options{})
	wantErrno(t, err, syscall.EEXIST)
	_, err = h.New("", Options{})
	wantErrno(t, err, syscall.EINVAL)
	bad := bpf.DefaultSettings()
	bad.BufSize = 1
	_, err = h.New("b", Options{BPF: &bad})
	wantErrno(t, err, syscall.EINVAL)
	_, err = h.New("b", Options{Neighbor: NeighborConfig{MaxHold: -1}})
	wantErrno(t, err, syscall.EINVAL)
	if h.ByName("a") != a || h.ByName("b") != nil || len(h.Stacks()) != 2 {
		t.Fatalf("registry: ByName(a)=%v ByName(b)=%v Stacks=%d", h.ByName("a"), h.ByName("b"), len(h.Stacks()))
	}
	wantErrno(t, v0.Destroy(), syscall.EPERM)
}

// TestIsolation: two vnets with interfaces of the same name and the same
// addresses keep separate indexes, addresses, routes, settings and bpf
// listeners.
func TestIsolation(t *testing.T) {
	h := newHost(t, Options{})
	a := newVnet(t, h, "a", Options{FIBs: 2})
	b := newVnet(t, h, "b", Options{FIBs: 2})
	ea, pa := newPair(t, "eth0", "peerA", 1, 2)
	eb, pb := newPair(t, "eth0", "peerB", 3, 4)
	must(t, a.Attach(ea))
	must(t, b.Attach(eb))
	if ea.Index() != 1 || eb.Index() != 1 {
		t.Fatalf("indexes %d, %d: each vnet numbers from 1", ea.Index(), eb.Index())
	}
	if a.IfByName("eth0") != ea || b.IfByName("eth0") != eb || h.Default().IfByName("eth0") != nil {
		t.Fatal("ifunit sees another vnet's interface")
	}
	wantErrno(t, b.Attach(ea), syscall.EBUSY)

	must(t, a.AddAddr(ea, pfx("10.0.0.1/24"), netip.Addr{}))
	must(t, b.AddAddr(eb, pfx("10.0.0.1/24"), netip.Addr{})) // same address, other vnet: fine
	t0, _ := a.FIBs().Table(0)
	must(t, t0.Add(route.Route{Prefix: pfx("192.0.2.0/24"), NextHop: route.NextHop{Gateway: addr("10.0.0.2"), IfIndex: 1}}))
	if _, err := b.FIBs().Lookup(0, addr("192.0.2.9")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("vnet b resolves a's static route: %v", err)
	}
	if nh, err := a.FIBs().Lookup(0, addr("192.0.2.9")); err != nil || nh.Gateway != addr("10.0.0.2") {
		t.Fatalf("vnet a: %v %v", nh, err)
	}
	must(t, a.DeleteAddr(ea, addr("10.0.0.1")))
	if got := b.Addrs(eb); len(got) != 1 || got[0] != pfx("10.0.0.1/24") {
		t.Fatalf("deleting in a changed b's addresses: %v", got)
	}
	if _, err := b.FIBs().Lookup(0, addr("10.0.0.7")); err != nil {
		t.Fatalf("deleting in a removed b's connected route: %v", err)
	}
	if _, err := a.FIBs().Lookup(0, addr("10.0.0.7")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("a's connected route survived its address: %v", err)
	}

	// Settings are per vnet.
	set := bpf.DefaultSettings()
	set.BufSize = 8192
	must(t, a.BPF().SetSettings(set))
	must(t, a.FIBs().SetNum(4))
	a.FIBs().SetAddAddrAllFIBs(true)
	a.SetForwarding(true)
	if b.BPF().Settings().BufSize == 8192 || b.FIBs().Num() != 2 || b.FIBs().AddAddrAllFIBs() || b.Forwarding() {
		t.Fatalf("a's settings leaked into b: bufsize %d fibs %d allfibs %v fwd %v",
			b.BPF().Settings().BufSize, b.FIBs().Num(), b.FIBs().AddAddrAllFIBs(), b.Forwarding())
	}

	// bpf listeners: each vnet's eth0 is its own attach point.
	da, db := listen(t, a.BPF(), "eth0"), listen(t, b.BPF(), "eth0")
	if _, err := h.Default().BPF().Open(bpf.OpenRead).Interface(); err == nil {
		t.Fatal("unattached descriptor reports an interface")
	}
	if err := h.Default().BPF().Open(bpf.OpenRead).SetInterface("eth0"); !errors.Is(err, syscall.ENXIO) {
		t.Fatalf("vnet0's bpf found eth0: %v", err)
	}
	fr := make([]byte, 60)
	copy(fr, mac(1))
	fr[12], fr[13] = 0x88, 0xb5
	fr[20] = 0xa
	must(t, pa.Output(fr))
	copy(fr, mac(3))
	fr[20] = 0xb
	must(t, pb.Output(fr))
	must(t, pb.Output(fr))
	ga, gb := captured(t, da), captured(t, db)
	if len(ga) != 1 || ga[0][20] != 0xa || len(gb) != 2 || gb[0][20] != 0xb {
		t.Fatalf("a's listener got %d frames, b's %d: want 1 (a's) and 2 (b's)", len(ga), len(gb))
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Received != 1 || sb.Received != 2 || sa.UnknownType != 1 || sb.UnknownType != 2 {
		t.Fatalf("stats a %+v b %+v", sa, sb)
	}
}

// TestNoCrossVnetContext is the missing-CURVNET_RESTORE class of bug: while
// vnet a is in the middle of sending a frame (a driver callback on a's
// goroutine), work done on vnet b must change b only, and b's processing
// of a frame a hands it must use b's state.
func TestNoCrossVnetContext(t *testing.T) {
	h := newHost(t, Options{})
	a := newVnet(t, h, "a", Options{Forwarding: true})
	b := newVnet(t, h, "b", Options{})
	// a: lan (to a test host) and wan (hook driver) -> b's uplink.
	lan, hostEnd := newPair(t, "lan", "host", 1, 2)
	drv := &hookDriver{}
	wan, err := nic.New(nic.Config{Name: "wan", MTU: 1500, Addr: mac(3), Driver: drv})
	must(t, err)
	up, err := nic.New(nic.Config{Name: "up", MTU: 1500, Addr: mac(4), Driver: &hookDriver{peer: wan}})
	must(t, err)
	drv.peer = up
	wan.SetUp(true)
	up.SetUp(true)
	must(t, a.Attach(lan))
	must(t, a.Attach(wan))
	must(t, b.Attach(up))
	must(t, a.AddAddr(lan, pfx("10.1.0.1/24"), netip.Addr{}))
	must(t, a.AddAddr(wan, pfx("10.9.0.1/24"), netip.Addr{}))
	must(t, b.AddAddr(up, pfx("10.9.0.2/24"), netip.Addr{}))

	host := newEndpoint(t, hostEnd, "10.1.0.2/24", "", "10.1.0.1", "")
	var once sync.Once
	drv.fn = func([]byte) {
		once.Do(func() {
			// Runs inside a's forwarding, on a's goroutine.
			must(t, b.AddAddr(up, pfx("10.77.0.1/24"), netip.Addr{}))
			tb, _ := b.FIBs().Table(0)
			must(t, tb.Add(route.Route{Prefix: pfx("198.51.100.0/24"), NextHop: route.NextHop{Gateway: addr("10.9.0.1"), IfIndex: uint32(up.Index())}}))
		})
	}
	host.sendUDP4(t, addr("10.9.0.2"), 64, 1000, 2000, []byte("to b"))

	if got := a.Addrs(wan); len(got) != 1 {
		t.Fatalf("b.AddAddr during a's callback changed a: %v", got)
	}
	if _, err := a.FIBs().Lookup(0, addr("198.51.100.1")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("b's route add during a's callback landed in a: %v", err)
	}
	if _, err := b.FIBs().Lookup(0, addr("198.51.100.1")); err != nil {
		t.Fatalf("b's route missing: %v", err)
	}
	if a.IfaWithAddr(addr("10.77.0.1")) != nil {
		t.Fatal("a sees b's new address")
	}
	// b processed the frames a handed it (ARP request, then the packet)
	// with b's state: b delivered, a forwarded.
	sa, sb := a.Stats(), b.Stats()
	if sa.Forwarded != 1 || sa.Delivered != 0 || sb.Delivered != 1 || sb.Forwarded != 0 || sb.ARPIn != 1 || sb.Adverts != 1 {
		t.Fatalf("a %+v\nb %+v", sa, sb)
	}
	if n := neighborsOf(b, up); len(n) != 1 || n[0].Addr != addr("10.9.0.1") {
		t.Fatalf("b's neighbour cache: %+v", n)
	}
	if n := neighborsOf(a, wan); len(n) != 1 || n[0].Addr != addr("10.9.0.2") || n[0].MAC != [6]byte(mac(4)) {
		t.Fatalf("a's wan neighbour cache: %+v", n)
	}
}

func neighborsOf(s *Stack, ifp *nic.Ifnet) []Neighbor { return s.Neighbors(ifp) }

func TestMoveIfWithTaps(t *testing.T) {
	goroutineLeakCheck(t)
	h := newHost(t, Options{})
	v0 := h.Default()
	a := newVnet(t, h, "a", Options{})
	eth1, peer := newPair(t, "eth1", "peer", 1, 2)
	must(t, v0.Attach(eth1))
	must(t, v0.AddAddr(eth1, pfx("10.0.0.1/24"), netip.Addr{}))
	t0, _ := v0.FIBs().Table(0)
	must(t, t0.Add(route.Route{Prefix: pfx("192.0.2.0/24"), NextHop: route.NextHop{Gateway: addr("10.0.0.2"), IfIndex: uint32(eth1.Index())}}))

	// A reader blocked on eth1 in vnet0 wakes with ENXIO on the move.
	d := v0.BPF().Open(bpf.OpenRead)
	must(t, d.SetInterface("eth1"))
	n, _ := d.BufferLen()
	done := make(chan error)
	go func() {
		_, err := d.Read(make([]byte, n))
		done <- err
	}()
	other, _ := newPair(t, "eth1", "x", 5, 6)
	must(t, a.Attach(other))
	wantErrno(t, h.MoveIf(eth1, a), syscall.EEXIST) // a has an eth1 already
	if h.VnetOf(eth1) != v0 || v0.IfByName("eth1") != eth1 {
		t.Fatal("a refused move changed where eth1 is")
	}
	must(t, a.Detach(other))
	must(t, h.MoveIf(eth1, a))
	wantErrno(t, <-done, syscall.ENXIO)
	d.Close()

	if v0.IfByName("eth1") != nil || a.IfByName("eth1") != eth1 || h.VnetOf(eth1) != a {
		t.Fatal("eth1 not moved")
	}
	if len(a.Addrs(eth1)) != 0 || v0.IfaWithAddr(addr("10.0.0.1")) != nil {
		t.Fatal("addresses followed the interface (if_vmove purges them)")
	}
	if _, err := v0.FIBs().Lookup(0, addr("192.0.2.1")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("vnet0 still routes through the departed interface: %v", err)
	}
	if _, err := v0.FIBs().Lookup(0, addr("10.0.0.9")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("vnet0 kept the connected route: %v", err)
	}
	// The attach point followed: same DLT in a, gone from vnet0.
	if err := v0.BPF().Open(bpf.OpenRead).SetInterface("eth1"); !errors.Is(err, syscall.ENXIO) {
		t.Fatalf("vnet0's bpf still has eth1: %v", err)
	}
	da := listen(t, a.BPF(), "eth1")
	if dlt, err := da.DLT(); err != nil || dlt != bpf.DLT_EN10MB {
		t.Fatalf("DLT in a: %d %v", dlt, err)
	}
	fr := make([]byte, 60)
	copy(fr, mac(1))
	fr[12], fr[13] = 0x88, 0xb5
	must(t, peer.Output(fr))
	if got := captured(t, da); len(got) != 1 {
		t.Fatalf("listener in a got %d frames after the move, want 1", len(got))
	}
	if a.Stats().Received != 1 || v0.Stats().Received != 0 {
		t.Fatalf("received: a %d vnet0 %d", a.Stats().Received, v0.Stats().Received)
	}
	// Back with -vnet semantics: to vnet0.
	must(t, h.MoveIf(eth1, v0))
	if v0.IfByName("eth1") != eth1 || a.IfByName("eth1") != nil {
		t.Fatal("move back failed")
	}
}

func TestDestroyReturnsInterfaces(t *testing.T) {
	goroutineLeakCheck(t)
	h := newHost(t, Options{})
	v0 := h.Default()
	for i := range 100 {
		a := newVnet(t, h, fmt.Sprintf("jail%d", i), Options{FIBs: 2})
		moved, _ := newPair(t, "mv0", "p", 1, 2)
		born, _ := newPair(t, fmt.Sprintf("born%d", i), "p", 3, 4)
		must(t, v0.Attach(moved))
		must(t, h.MoveIf(moved, a))
		must(t, a.Attach(born))
		must(t, a.AddAddr(born, pfx("10.0.0.1/24"), netip.Addr{}))
		d := a.BPF().Open(bpf.OpenRead)
		must(t, d.SetInterface("mv0"))
		n, _ := d.BufferLen()
		done := make(chan error)
		go func() {
			_, err := d.Read(make([]byte, n))
			done <- err
		}()
		must(t, a.Destroy())
		wantErrno(t, <-done, syscall.ENXIO)
		d.Close()
		if h.VnetOf(moved) != v0 || h.VnetOf(born) != v0 || v0.IfByName("mv0") != moved || v0.IfByName(born.Name()) != born {
			t.Fatalf("round %d: interfaces not back in vnet0", i)
		}
		if !a.Destroyed() || h.ByName(a.Name()) != nil {
			t.Fatalf("round %d: vnet still registered", i)
		}
		wantErrno(t, a.Destroy(), syscall.ENXIO)
		wantErrno(t, a.Attach(moved), syscall.EBUSY)
		x, _ := newPair(t, "x", "y", 7, 8)
		wantErrno(t, a.Attach(x), syscall.ENXIO)
		wantErrno(t, h.MoveIf(moved, a), syscall.ENXIO)
		if len(v0.Addrs(born)) != 0 {
			t.Fatalf("round %d: addresses came back with the interface", i)
		}
		must(t, v0.Detach(moved))
		must(t, v0.Detach(born))
	}
	if n := len(v0.Interfaces()); n != 0 || len(h.Stacks()) != 1 {
		t.Fatalf("%d interfaces, %d vnets left", n, len(h.Stacks()))
	}
}

// A vnet's interface whose home is another live vnet goes home, not to
// vnet0; one whose name is taken at home is detached and reported.
func TestDestroyHomeAndClash(t *testing.T) {
	h := newHost(t, Options{})
	v0 := h.Default()
	home := newVnet(t, h, "home", Options{})
	jail := newVnet(t, h, "jail", Options{})
	e, _ := newPair(t, "e0", "p", 1, 2)
	must(t, home.Attach(e))
	must(t, h.MoveIf(e, jail))
	c, _ := newPair(t, "c0", "p", 3, 4)
	must(t, jail.Attach(c))
	dup, _ := newPair(t, "c0", "p", 5, 6)
	must(t, v0.Attach(dup))
	err := jail.Destroy()
	wantErrno(t, err, syscall.EEXIST)
	if h.VnetOf(e) != home || h.VnetOf(c) != nil || v0.IfByName("c0") != dup {
		t.Fatalf("after destroy: e in %v, c in %v", h.VnetOf(e), h.VnetOf(c))
	}
}

func TestFIBSettings(t *testing.T) {
	h := newHost(t, Options{})
	v := newVnet(t, h, "v", Options{FIBs: 3})
	e, _ := newPair(t, "e0", "p", 1, 2)
	must(t, v.Attach(e))
	wantErrno(t, v.SetIfFIB(e, 3), syscall.EINVAL)
	wantErrno(t, v.SetIfFIB(e, -1), syscall.EINVAL)
	if err := v.SetFIBRules([]Rule{{FIB: 3}}); !errors.Is(err, route.ErrBadFIB) {
		t.Fatalf("setfib rule to FIB 3 of 3: %v", err)
	}
	wantErrno(t, v.SetFIBRules([]Rule{{DstPorts: PortRange{80, 80}, FIB: 1}}), syscall.EINVAL)
	wantErrno(t, v.SetFIBRules([]Rule{{Proto: protoTCP, DstPorts: PortRange{90, 80}, FIB: 1}}), syscall.EINVAL)
	wantErrno(t, v.SetFIBRules([]Rule{{Src: pfx("10.0.0.0/8"), Dst: pfx("2001:db8::/32"), FIB: 1}}), syscall.EINVAL)
	must(t, v.SetIfFIB(e, 2))

	// add_addr_allfibs off: the connected route goes to the interface's
	// FIB only.
	must(t, v.AddAddr(e, pfx("10.0.0.1/24"), netip.Addr{}))
	for fib, want := range []bool{false, false, true} {
		_, err := v.FIBs().Lookup(fib, addr("10.0.0.5"))
		if (err == nil) != want {
			t.Fatalf("allfibs=0: FIB %d has route: %v, want %v", fib, err == nil, want)
		}
	}
	// On: to every FIB, and removed from every FIB.
	v.FIBs().SetAddAddrAllFIBs(true)
	must(t, v.AddAddr(e, pfx("2001:db8:1::1/64"), netip.Addr{}))
	for fib := range 3 {
		nh, err := v.FIBs().Lookup(fib, addr("2001:db8:1::99"))
		if err != nil || nh.IfIndex != uint32(e.Index()) || nh.Flags&route.FlagConnected == 0 {
			t.Fatalf("allfibs=1: FIB %d: %+v %v", fib, nh, err)
		}
	}
	must(t, v.DeleteAddr(e, addr("2001:db8:1::1")))
	for fib := range 3 {
		if _, err := v.FIBs().Lookup(fib, addr("2001:db8:1::99")); !errors.Is(err, route.ErrNoRoute) {
			t.Fatalf("FIB %d kept the route: %v", fib, err)
		}
	}
	// A point-to-point address installs a host route to its peer.
	must(t, v.AddAddr(e, pfx("172.16.0.1/32"), addr("172.16.0.2")))
	if r, ok := mustTable(t, v, 0).LookupRoute(addr("172.16.0.2")); !ok || r.Prefix != pfx("172.16.0.2/32") {
		t.Fatalf("p2p route: %+v %v", r, ok)
	}
}

func mustTable(t *testing.T, v *Stack, fib int) *route.Table {
	t.Helper()
	tb, err := v.FIBs().Table(fib)
	must(t, err)
	return tb
}

func TestAddrErrors(t *testing.T) {
	h := newHost(t, Options{})
	v := h.Default()
	e, f := newPair(t, "e0", "e1", 1, 2)
	must(t, v.Attach(e))
	must(t, v.Attach(f))
	must(t, v.AddAddr(e, pfx("10.0.0.1/24"), netip.Addr{}))
	wantErrno(t, v.AddAddr(e, pfx("10.0.0.1/24"), netip.Addr{}), syscall.EEXIST)
	wantErrno(t, v.AddAddr(f, pfx("10.0.0.1/16"), netip.Addr{}), syscall.EEXIST)
	for _, p := range []netip.Prefix{{}, pfx("0.0.0.0/8"), pfx("224.0.0.1/32"), pfx("::ffff:10.0.0.1/128"), pfx("::/0")} {
		wantErrno(t, v.AddAddr(e, p, netip.Addr{}), syscall.EINVAL)
	}
	wantErrno(t, v.AddAddr(e, pfx("10.1.0.1/32"), addr("2001:db8::1")), syscall.EINVAL)
	wantErrno(t, v.DeleteAddr(e, addr("10.0.0.2")), syscall.EADDRNOTAVAIL)
	wantErrno(t, v.DeleteAddr(f, addr("10.0.0.1")), syscall.EADDRNOTAVAIL)
	g, _ := newPair(t, "g0", "g1", 3, 4)
	wantErrno(t, v.AddAddr(g, pfx("10.2.0.1/24"), netip.Addr{}), syscall.ENXIO)
	wantErrno(t, v.DeleteAddr(g, addr("10.2.0.1")), syscall.ENXIO)

	// A second address in the same prefix shares the route; deleting the
	// owner hands the route over to it.
	must(t, v.AddAddr(f, pfx("10.0.0.2/24"), netip.Addr{}))
	if nh, _ := v.FIBs().Lookup(0, addr("10.0.0.9")); nh.IfIndex != uint32(e.Index()) {
		t.Fatalf("shared route through %d, want the first address's interface %d", nh.IfIndex, e.Index())
	}
	must(t, v.DeleteAddr(e, addr("10.0.0.1")))
	if nh, err := v.FIBs().Lookup(0, addr("10.0.0.9")); err != nil || nh.IfIndex != uint32(f.Index()) {
		t.Fatalf("route not handed over: %+v %v", nh, err)
	}
	must(t, v.DeleteAddr(f, addr("10.0.0.2")))
	if _, err := v.FIBs().Lookup(0, addr("10.0.0.9")); !errors.Is(err, route.ErrNoRoute) {
		t.Fatalf("route outlived the last address: %v", err)
	}
}

func TestIfAddrLookupsAndRefs(t *testing.T) {
	h := newHost(t, Options{})
	v := h.Default()
	e, f := newPair(t, "e0", "e1", 1, 2)
	must(t, v.Attach(e))
	must(t, v.Attach(f))
	must(t, v.AddAddr(e, pfx("10.0.0.1/8"), netip.Addr{}))
	must(t, v.AddAddr(f, pfx("10.1.0.1/16"), netip.Addr{}))
	must(t, v.AddAddr(f, pfx("2001:db8::1/64"), netip.Addr{}))
	must(t, v.AddAddr(e, pfx("192.168.9.1/32"), addr("192.168.9.2")))

	cases := []struct {
		name string
		get  func() *IfAddr
		want netip.Prefix
	}{
		{"withaddr", func() *IfAddr { return v.IfaWithAddr(addr("10.1.0.1")) }, pfx("10.1.0.1/16")},
		{"withnet longest", func() *IfAddr { return v.IfaWithNet(addr("10.1.2.3")) }, pfx("10.1.0.1/16")},
		{"withnet shorter", func() *IfAddr { return v.IfaWithNet(addr("10.2.0.3")) }, pfx("10.0.0.1/8")},
		{"withnet v6", func() *IfAddr { return v.IfaWithNet(addr("2001:db8::77")) }, pfx("2001:db8::1/64")},
		{"withdstaddr", func() *IfAddr { return v.IfaWithDstAddr(addr("192.168.9.2")) }, pfx("192.168.9.1/32")},
	}
	for _, c := range cases {
		got := c.get()
		if got == nil || got.Prefix() != c.want || got.Refs() != 2 {
			t.Fatalf("%s: %v, want %v with 2 references (list + lookup)", c.name, got, c.want)
		}
		got.Release()
	}
	if v.IfaWithAddr(addr("10.9.9.9")) != nil || v.IfaWithNet(addr("11.0.0.1")) != nil ||
		v.IfaWithNet(addr("192.168.9.2")) != nil || v.IfaWithDstAddr(addr("10.0.0.1")) != nil {
		t.Fatal("lookup found an address that does not match")
	}

	// Hold a reference across the delete.
	ifa := v.IfaWithNet(addr("10.1.2.3"))
	must(t, v.DeleteAddr(f, addr("10.1.0.1")))
	if !ifa.Removed() || ifa.Prefix() != pfx("10.1.0.1/16") || ifa.Ifnet() != f || ifa.Refs() != 1 {
		t.Fatalf("held address after delete: removed %v prefix %v refs %d", ifa.Removed(), ifa.Prefix(), ifa.Refs())
	}
	if got := v.IfaWithNet(addr("10.1.2.3")); got == nil || got.Prefix() != pfx("10.0.0.1/8") {
		t.Fatalf("lookup after delete: %v", got)
	} else {
		got.Release()
	}
	ifa.Ref()
	ifa.Release()
	ifa.Release()
	if ifa.Refs() != 0 {
		t.Fatalf("refs %d after the last release", ifa.Refs())
	}
	for name, fn := range map[string]func(){"release": ifa.Release, "ref": ifa.Ref} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s of a freed address did not panic", name)
				}
			}()
			fn()
		}()
	}
}

// TestIfAddrConcurrent: readers look addresses up and read them while a
// writer adds and deletes them (run with -race).
func TestIfAddrConcurrent(t *testing.T) {
	h := newHost(t, Options{FIBs: 2})
	v := h.Default()
	e, _ := newPair(t, "e0", "e1", 1, 2)
	must(t, v.Attach(e))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := netip.AddrFrom4([4]byte{10, byte(i % 8), 0, 1})
				var ifa *IfAddr
				if r%2 == 0 {
					ifa = v.IfaWithAddr(a)
				} else {
					ifa = v.IfaWithNet(a)
				}
				if ifa == nil {
					continue
				}
				if !ifa.Prefix().Contains(a) || ifa.Ifnet() != e {
					t.Errorf("lookup %v returned %v", a, ifa.Prefix())
				}
				_ = ifa.Removed()
				ifa.Release()
			}
		}()
	}
	for i := range 2000 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i % 8), 0, 1}), 24)
		if i%16 < 8 {
			must(t, v.AddAddr(e, p, netip.Addr{}))
		} else {
			must(t, v.DeleteAddr(e, p.Addr()))
		}
	}
	close(stop)
	wg.Wait()
}

// TestMoveWhileForwarding moves the router's input interface between two
// forwarding vnets, and changes addresses, while frames keep arriving on
// it (run with -race): no panic, no race, and every frame is counted by
// exactly one vnet or dropped as in flight.
func TestMoveWhileForwarding(t *testing.T) {
	goroutineLeakCheck(t)
	h := newHost(t, Options{Forwarding: true})
	v0 := h.Default()
	a := newVnet(t, h, "a", Options{Forwarding: true})
	in, peer := newPair(t, "in0", "peer", 1, 2)
	out, _ := newPair(t, "out0", "sink", 3, 4)
	must(t, v0.Attach(in))
	must(t, v0.Attach(out))
	must(t, v0.AddAddr(out, pfx("10.2.0.1/24"), netip.Addr{}))
	frame := rawUDP(mac(1), addr("10.1.0.2"), addr("10.2.0.9"), 64, 32)
	stop := make(chan struct{})
	var wg, senders sync.WaitGroup
	const frames = 4000
	for range 2 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for range frames / 2 {
				_ = peer.Output(frame)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			to := a
			if i%2 == 1 {
				to = v0
			}
			must(t, h.MoveIf(in, to))
			_ = to.AddAddr(in, pfx("10.1.0.1/24"), netip.Addr{})
			_ = to.SetIfFIB(in, 0)
			runtime.Gosched()
		}
	}()
	senders.Wait()
	close(stop)
	wg.Wait()
	if got := v0.Stats().Received + a.Stats().Received + in.Stats().IQDrops; got > frames {
		t.Fatalf("%d frames counted for %d sent", got, frames)
	}
}
