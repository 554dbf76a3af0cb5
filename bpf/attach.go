package bpf

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Link types (DLT_*, sys/net/dlt.h) with the link header lengths the write
// path knows (bpf_movein).
const (
	DLT_NULL             = 0   // 4-byte address family in host order
	DLT_EN10MB           = 1   // Ethernet, 14-byte header
	DLT_PPP              = 9   // 4-byte PPP header
	DLT_RAW              = 12  // raw IP, no link header
	DLT_IEEE802_11       = 105 // 802.11 frames
	DLT_IEEE802_11_RADIO = 127 // radiotap + 802.11
)

// Interface is what the capture machinery needs from a network interface.
// It is defined here so that this package imports no driver: the nic
// package implements it and calls into bpf, never the other way.
type Interface interface {
	// Name is if_xname, the name BIOCSETIF looks up.
	Name() string
	// MTU bounds the payload of an injected frame.
	MTU() int
	// IsUp reports IFF_UP; writes to a down interface fail with ENETDOWN.
	IsUp() bool
	// HardwareAddr is the source address filled in when header-complete
	// is off.
	HardwareAddr() net.HardwareAddr
	// SetPromisc adds (on) or drops one promiscuous reference, as
	// ifpromisc(9) does; the hardware sees only 0<->1 transitions.
	SetPromisc(on bool) error
	// Transmit sends an injected frame. When tapOut is false the
	// interface must not tap it on its TX path (FreeBSD's M_PROMISC
	// mark on a fed-back frame). The frame is not retained after return.
	Transmit(frame []byte, tapOut bool) error
	// Input delivers a frame as if the interface had received it
	// (BIOCFEEDBACK). The frame is not retained after return.
	Input(frame []byte)
}

// TrackFunc is a bpf_track event handler: attach is true when a descriptor
// joins the reader list of (ifp, dlt), false when a reader leaves it.
// Writer-only descriptors cause no event. It runs with the Stack's lock
// held and must not call the Stack or its descriptors.
type TrackFunc func(ifp Interface, dlt uint32, attach bool)

// Stack is one instance of the capture machinery: its attach points, its
// settings and its clock. A vnet will own one; nothing is global.
type Stack struct {
	clock Clock
	sys   *SystemClock // clock, when it is one: called without an interface

	mu       sync.Mutex // BPF_LOCK; see locking.go
	settings Settings
	ifs      []*If
	track    []*trackEntry
}

type trackEntry struct{ fn TrackFunc }

// NewStack returns a Stack with the given settings and clock (a
// SystemClock at settings.Hz when clock is nil).
func NewStack(s Settings, clock Clock) (*Stack, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = NewSystemClock(s.Hz)
	}
	sys, _ := clock.(*SystemClock)
	return &Stack{clock: clock, sys: sys, settings: s}, nil
}

// Settings returns the current settings.
func (s *Stack) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// SetSettings replaces the settings (the sysctl writes). New values apply
// to later operations; existing buffers keep their size.
func (s *Stack) SetSettings(set Settings) error {
	if err := set.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = set
	for _, b := range s.ifs {
		b.publishTSMode(set.TSCfgDefault)
	}
	return nil
}

// Clock returns the Stack's clock.
func (s *Stack) Clock() Clock { return s.clock }

// Track subscribes fn to bpf_track events; the returned func unsubscribes.
func (s *Stack) Track(fn TrackFunc) (cancel func()) {
	e := &trackEntry{fn: fn}
	s.mu.Lock()
	s.track = append(s.track, e)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, o := range s.track {
			if o == e {
				s.track = append(s.track[:i:i], s.track[i+1:]...)
				return
			}
		}
	}
}

// s.mu held.
func (s *Stack) notify(b *If, attach bool) {
	for _, e := range s.track {
		e.fn(b.ifp, b.dlt, attach)
	}
}

// If is an attach point, FreeBSD's struct bpf_if: one (interface, DLT)
// pair. Drivers keep the *If that Attach returns and tap through it. After
// Detach it stays valid and its taps do nothing (FreeBSD's dead_bpf_if).
type If struct {
	stack  *Stack
	ifp    Interface
	dlt    uint32
	hdrlen int // link header length
	bhlen  int // bh_hdrlen of every record captured here

	// taps is the reader list as taps walk it, nil when there is no
	// reader, and npeers its length, which the idle check loads. Both
	// are published by publish.
	taps   atomic.Pointer[[]listener]
	npeers atomic.Int32
	// tsmode is the effective TSMode (never TSDefault), read per packet.
	tsmode atomic.Int32

	dlist []*Desc // readers; protected by stack.mu
	wlist []*Desc // writer-only descriptors; protected by stack.mu
	dying bool    // protected by stack.mu
	tscfg TSMode  // own net.bpf.tscfg.<ifname> value; protected by stack.mu
}

// publish replaces the list taps walk with a snapshot of the readers'
// current filter, direction and counting period. Every change to one of
// them calls it. stack.mu held.
func (b *If) publish() {
	if len(b.dlist) == 0 {
		b.npeers.Store(0)
		b.taps.Store(nil)
		return
	}
	ls := make([]listener, len(b.dlist))
	for i, d := range b.dlist {
		ls[i] = listener{d: d, prog: d.rprog, cnt: d.cnt, skip: skipOf(d.dir), stamp: d.tstamp&BPF_T_FORMAT_MASK != BPF_T_NONE}
	}
	b.taps.Store(&ls)
	b.npeers.Store(int32(len(ls)))
}

// Attach registers ifp with link type dlt and a link header of hdrlen
// bytes (bpfattach2). An interface may be attached with several DLTs; the
// first one attached is the one BIOCSETIF picks. Attaching the same (ifp,
// dlt) twice fails with EEXIST.
func (s *Stack) Attach(ifp Interface, dlt uint32, hdrlen int) (*If, error) {
	if ifp == nil || hdrlen < 0 || hdrlen > 256 {
		return nil, errorf("bpfattach", syscall.EINVAL, "nil interface or link header length %d outside [0, 256]", hdrlen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.ifs {
		if b.ifp == ifp && b.dlt == dlt {
			return nil, errorf("bpfattach", syscall.EEXIST, "%s already attached with DLT %d", ifp.Name(), dlt)
		}
	}
	b := &If{stack: s, ifp: ifp, dlt: dlt, hdrlen: hdrlen, bhlen: recordHdrLen(hdrlen)}
	b.publishTSMode(s.settings.TSCfgDefault)
	s.ifs = append(s.ifs, b)
	return b, nil
}

// Detach removes every attach point of ifp (bpfdetach walks all DLTs of the
// interface, the multi-DLT leak fixed in FreeBSD's history), detaches every
// reader and writer-only descriptor and wakes blocked readers, which then
// fail with ENXIO. It returns the number of attach points removed; 0 means
// ifp was not attached.
func (s *Stack) Detach(ifp Interface) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	kept := s.ifs[:0]
	for _, b := range s.ifs {
		if b.ifp != ifp {
			kept = append(kept, b)
			continue
		}
		n++
		b.dying = true
		victims := append(append([]*Desc(nil), b.dlist...), b.wlist...)
		for _, d := range victims {
			d.detachLocked(true)
		}
	}
	clear(s.ifs[len(kept):])
	s.ifs = kept
	return n
}

// AttachPoints returns how many attach points the Stack holds.
func (s *Stack) AttachPoints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ifs)
}

// DLT returns the attach point's link type.
func (b *If) DLT() uint32 { return b.dlt }

// Interface returns the attached interface.
func (b *If) Interface() Interface { return b.ifp }

// Readers returns the number of descriptors on the reader list taps walk.
func (b *If) Readers() int { return int(b.npeers.Load()) }

// s.mu held (or b not yet published).
func (b *If) publishTSMode(def TSMode) {
	m := b.tscfg
	if m == TSDefault {
		m = def
	}
	b.tsmode.Store(int32(m))
}

// SetTSConfig sets net.bpf.tscfg.<ifname> for every attach point of the
// interface named ifname. ENXIO if no attach point has that name.
func (s *Stack) SetTSConfig(ifname string, m TSMode) error {
	if m < TSDefault || m > TSExternal {
		return errorf("tscfg", syscall.EINVAL, "%s: invalid mode %v", ifname, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, b := range s.ifs {
		if b.ifp.Name() == ifname {
			found = true
			b.tscfg = m
			b.publishTSMode(s.settings.TSCfgDefault)
		}
	}
	if !found {
		return errorf("tscfg", syscall.ENXIO, "no attached interface %q", ifname)
	}
	return nil
}

// TSConfig returns the interface's own setting and the mode in effect.
func (s *Stack) TSConfig(ifname string) (own, effective TSMode, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.ifs {
		if b.ifp.Name() == ifname {
			return b.tscfg, TSMode(b.tsmode.Load()), nil
		}
	}
	return 0, 0, errorf("tscfg", syscall.ENXIO, "no attached interface %q", ifname)
}

// SetTSConfigDefault sets net.bpf.tscfg.default; TSDefault is refused with
// EINVAL as r228986 does.
func (s *Stack) SetTSConfigDefault(m TSMode) error {
	if m <= TSDefault || m > TSExternal {
		return errorf("tscfg", syscall.EINVAL, "default: invalid mode %v", m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings.TSCfgDefault = m
	for _, b := range s.ifs {
		b.publishTSMode(m)
	}
	return nil
}

// ZeroCounters is a write of an all-zero xbpf_d to net.bpf.stats (netstat
// -B -z): it zeroes the counters of every descriptor on every reader list.
// As in FreeBSD's bpf_zero_counters, writer-only descriptors are skipped
// and the write-failure count (wdcount) is left alone: we follow the code.
func (s *Stack) ZeroCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.ifs {
		for _, d := range b.dlist {
			d.mu.Lock()
			d.cnt = new(tapCounts)
			d.fcount, d.dcount, d.ccount = 0, 0, 0
			d.wcount, d.wfcount = 0, 0
			d.mu.Unlock()
		}
		b.publish()
	}
}

// s.mu held.
func (s *Stack) lookupIf(name string) *If {
	for _, b := range s.ifs {
		if b.ifp.Name() == name && !b.dying {
			return b
		}
	}
	return nil
}
