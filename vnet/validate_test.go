package vnet

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestStatsFieldsMatch: Stats is filled from counters by field position.
func TestStatsFieldsMatch(t *testing.T) {
	st, ct := reflect.TypeOf(Stats{}), reflect.TypeOf(counters{})
	if st.NumField() != ct.NumField() {
		t.Fatalf("Stats has %d fields, counters %d", st.NumField(), ct.NumField())
	}
	for i := range st.NumField() {
		if st.Field(i).Name != ct.Field(i).Name {
			t.Fatalf("field %d: Stats.%s vs counters.%s", i, st.Field(i).Name, ct.Field(i).Name)
		}
	}
}

// TestInputValidation sends malformed and unforwardable frames; each is
// dropped and counted under its reason, and nothing leaves the router.
func TestInputValidation(t *testing.T) {
	fr := newFuzzRouter(t)
	a4, b4 := addr("10.1.0.2"), addr("198.51.100.7")
	a6, b6 := addr("2001:db8:1::2"), addr("2001:db8:77::7")
	mod := func(f []byte, fn func(p []byte)) []byte {
		f = append([]byte(nil), f...)
		fn(f[ethHdrLen:])
		return f
	}
	resum := func(p []byte) {
		binary.BigEndian.PutUint16(p[ip4OffCsum:], 0)
		binary.BigEndian.PutUint16(p[ip4OffCsum:], checksum(p[:int(p[0]&15)*4]))
	}
	v4, v6 := rawUDP(mac(1), a4, b4, 64, 8), rawUDP(mac(1), a6, b6, 64, 8)
	cases := []struct {
		name  string
		frame []byte
		field string
	}{
		{"runt", make([]byte, 10), "BadHeader"},
		{"other MAC", append(append([]byte(nil), mac(9)...), v4[6:]...), "NotForUs"},
		{"vlan", mod(v4, func([]byte) {}), "UnknownType"},
		{"v4 short", v4[:ethHdrLen+19], "BadHeader"},
		{"v4 version 5", mod(v4, func(p []byte) { p[0] = 0x55; resum(p) }), "BadHeader"},
		{"v4 ihl 4", mod(v4, func(p []byte) { p[0] = 0x44 }), "BadHeader"},
		{"v4 total > frame", mod(v4, func(p []byte) { binary.BigEndian.PutUint16(p[ip4OffTotLen:], 200); resum(p) }), "BadHeader"},
		{"v4 total < ihl", mod(v4, func(p []byte) { binary.BigEndian.PutUint16(p[ip4OffTotLen:], 19); resum(p) }), "BadHeader"},
		{"v4 checksum", mod(v4, func(p []byte) { p[ip4OffCsum] ^= 1 }), "BadChecksum"},
		{"v4 src multicast", mod(v4, func(p []byte) { p[ip4OffSrc] = 224; resum(p) }), "Martian"},
		{"v4 src loopback", mod(v4, func(p []byte) { p[ip4OffSrc] = 127; resum(p) }), "Martian"},
		{"v4 dst link-local", mod(v4, func(p []byte) { copy(p[ip4OffDst:], []byte{169, 254, 1, 1}); resum(p) }), "Martian"},
		{"v4 to limited broadcast", mod(v4, func(p []byte) { copy(p[ip4OffDst:], []byte{255, 255, 255, 255}); resum(p) }), "Delivered"},
		{"v4 to directed broadcast", mod(v4, func(p []byte) { copy(p[ip4OffDst:], []byte{10, 2, 0, 255}); resum(p) }), "Delivered"},
		{"v6 short", v6[:ethHdrLen+39], "BadHeader"},
		{"v6 version", mod(v6, func(p []byte) { p[0] = 0x40 }), "BadHeader"},
		{"v6 plen > frame", mod(v6, func(p []byte) { binary.BigEndian.PutUint16(p[ip6OffPlen:], 999) }), "BadHeader"},
		{"v6 jumbo", mod(v6, func(p []byte) { binary.BigEndian.PutUint16(p[ip6OffPlen:], 0); p[ip6OffNext] = 0 }), "BadHeader"},
		{"v6 src link-local", mod(v6, func(p []byte) { p[ip6OffSrc], p[ip6OffSrc+1] = 0xfe, 0x80 }), "Martian"},
		{"v6 src multicast", mod(v6, func(p []byte) { p[ip6OffSrc] = 0xff }), "Martian"},
		{"v6 multicast dst", mod(v6, func(p []byte) { p[ip6OffDst] = 0xff }), "Delivered"},
		{"arp short", append(append([]byte(nil), v4[:12]...), 0x08, 0x06, 0, 1), "BadHeader"},
	}
	cases[2].frame[12], cases[2].frame[13] = 0x81, 0x00
	for _, c := range cases {
		before := reflect.ValueOf(fr.r.Stats())
		fr.in.Input(c.frame)
		after := reflect.ValueOf(fr.r.Stats())
		for i := range after.NumField() {
			name := after.Type().Field(i).Name
			d := after.Field(i).Uint() - before.Field(i).Uint()
			want := uint64(0)
			if name == c.field || name == "Received" {
				want = 1
			}
			if d != want {
				t.Errorf("%s: %s went up by %d, want %d", c.name, name, d, want)
			}
		}
		if n, _ := fr.dout.take(); n != 0 {
			t.Errorf("%s: %d frames forwarded", c.name, n)
		}
		fr.din.take()
	}
	// With forwarding off, a good packet is counted and dropped.
	fr.r.SetForwarding(false)
	fr.in.Input(v4)
	if st := fr.r.Stats(); st.NoForward != 1 {
		t.Fatalf("NoForward %d", st.NoForward)
	}
}

// TestDecTTLIncremental checks the RFC 1624 update against a full
// recomputation over random headers, including the TTL 1 and checksum
// 0x0000/0xffff corners.
func TestDecTTLIncremental(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("VNET_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		must(t, err)
		seed = n
	}
	t.Logf("seed %d (replay with VNET_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1624))
	hdr := make([]byte, 20)
	for i := range 200000 {
		for j := range hdr {
			hdr[j] = byte(rng.Uint32())
		}
		hdr[0] = 0x45
		if i%1000 == 0 {
			clear(hdr[1:]) // near-zero headers exercise the 0xffff corner
		}
		if hdr[ip4OffTTL] == 0 {
			hdr[ip4OffTTL] = 1
		}
		binary.BigEndian.PutUint16(hdr[ip4OffCsum:], 0)
		binary.BigEndian.PutUint16(hdr[ip4OffCsum:], checksum(hdr))
		decTTL(hdr)
		got := binary.BigEndian.Uint16(hdr[ip4OffCsum:])
		binary.BigEndian.PutUint16(hdr[ip4OffCsum:], 0)
		want := checksum(hdr)
		if got != want {
			t.Fatalf("header %x: incremental checksum %#04x, full recomputation %#04x", hdr, got, want)
		}
	}
}
