package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baretap/baretap/nic/enet"
	"github.com/baretap/baretap/nic/enet/model"
	"github.com/baretap/baretap/pcap"
)

// The network commands on the host, with both ports on the in-memory ENET model and the
// export in a buffer: the same code the board runs, minus the registers and the UART.

// lockedBuffer is the export "UART": the capture goroutine writes, the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

func setupModelNetwork(t *testing.T) ([]*model.MAC, []*enet.ENET, *lockedBuffer, *Console, *bytes.Buffer) {
	t.Helper()
	var macs []*model.MAC
	var ports []*enet.ENET
	for i, phy := range []int{2, 1} {
		m := model.New(0x10000000, 4<<20)
		m.PHYAddr = phy
		m.QueueWhenStopped = true
		hw, err := enet.New(enet.Config{Name: []string{"enet0", "enet1"}[i], Regs: m, DMA: m, PHY: phy, RMII: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := hw.Init(); err != nil {
			t.Fatal(err)
		}
		macs, ports = append(macs, m), append(ports, hw)
	}
	export := &lockedBuffer{}
	if err := setupNetwork(ports, export); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		network.mu.Lock()
		if network.capture != nil {
			network.capture.stop()
			network.capture = nil
		}
		network.ports, network.export, network.stack, network.bridged = nil, nil, nil, false
		network.mu.Unlock()
	})
	out := &bytes.Buffer{}
	c := NewConsole(ConsoleConfig{In: strings.NewReader(""), Out: out, Platform: newFakePlatform(), Version: "test"})
	return macs, ports, export, c, out
}

func testFrame(n, seq int) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = byte(seq + i*7)
	}
	copy(f, []byte{2, 0, 0, 0, 0, byte(seq), 2, 1, 1, 1, 1, 1, 0x08, 0x00})
	return f
}

func TestCaptureCommandStreamsPcap(t *testing.T) {
	macs, ports, export, c, out := setupModelNetwork(t)
	// "ether[12:2] == 0x0800 and len >= 100": the ld/jeq/ld len/jge form of tcpdump -ddd.
	prog := `"6,40 0 0 12,21 0 3 2048,128 0 0 0,53 0 1 100,6 0 0 262144,6 0 0 0"`
	if err := c.Exec("capture start enet0 --bytecode " + prog); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if ports[0].Ifnet().Flags()&(1<<8) == 0 {
		t.Error("capture did not make enet0 promiscuous")
	}
	var want [][]byte
	for i := 0; i < 50; i++ {
		f := testFrame(60+i*10, i)
		if i%3 == 0 {
			f[12] = 0x86 // not IPv4: filtered out
		}
		macs[0].Receive(f)
		ports[0].Service(64)
		if f[12] == 0x08 && len(f) >= 100 {
			want = append(want, f)
		}
	}
	out.Reset()
	if err := c.Exec("capture stop"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("bpf: received 50 matched %d captured %d dropped 0", len(want), len(want))) {
		t.Errorf("capture stop printed %q (want %d matched)", out, len(want))
	}
	_, got, err := pcap.ReadAll(bytes.NewReader(export.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("stream holds %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	if ports[0].Ifnet().Flags()&(1<<8) != 0 {
		t.Error("enet0 still promiscuous after capture stop")
	}
}

func TestCaptureCommandErrors(t *testing.T) {
	_, _, _, c, out := setupModelNetwork(t)
	for _, tc := range []struct{ line, want string }{
		{"capture", "start or stop"},
		{"capture stop", "no capture running"},
		{"capture start", "needs an interface"},
		{"capture start enet7", `no interface "enet7"`},
		{`capture start enet0 --bytecode "2,21 0 5 2048,6 0 0 65535"`, "instruction 0"},
		{`capture start enet0 --bytecode "1,6 0 0"`, "capture:"},
		{"capture start enet0 --bytecode", "needs a program"},
		{"capture start enet0 --snaplen 5", "unexpected argument"},
	} {
		out.Reset()
		if err := c.Exec(tc.line); err == nil || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: %v, printed %q; want an error mentioning %q", tc.line, err, out, tc.want)
		}
	}
	if err := c.Exec("capture start enet1"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := c.Exec("capture start enet0"); err == nil || !strings.Contains(out.String(), "running") {
		t.Errorf("second capture: %v %q", err, out)
	}
}

func TestBridgeAndIfconfigCommands(t *testing.T) {
	macs, ports, _, c, out := setupModelNetwork(t)
	if err := c.Exec("bridge on"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		macs[0].Receive(testFrame(64+i, i))
		macs[1].Receive(testFrame(80+i, 100+i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for (ports[0].Stats().RxFrames < 20 || ports[1].Stats().RxFrames < 20) && time.Now().Before(deadline) {
		ports[0].Service(64)
		ports[1].Service(64)
	}
	s1, s0 := macs[1].Sent(), macs[0].Sent()
	if len(s1) != 20 || len(s0) != 20 {
		t.Fatalf("bridged %d and %d frames, want 20 each way", len(s1), len(s0))
	}
	for i := 0; i < 20; i++ {
		if !bytes.Equal(s1[i], testFrame(64+i, i)) || !bytes.Equal(s0[i], testFrame(80+i, 100+i)) {
			t.Fatalf("frame %d changed crossing the bridge", i)
		}
	}
	if err := c.Exec("bridge off"); err != nil {
		t.Fatal(err)
	}
	macs[0].Receive(testFrame(64, 1))
	ports[0].Service(64)
	if s := macs[1].Sent(); len(s) != 0 {
		t.Errorf("bridge off still forwarded %d frames", len(s))
	}
	out.Reset()
	if err := c.Exec("ifconfig enet0"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"enet0: flags=", "100baseTX <full-duplex>", "rx frames 21 ", "tx frames 20 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ifconfig enet0 lacks %q:\n%s", want, out)
		}
	}
	if err := c.Exec("ifconfig enet1 ether 02:00:00:00:00:42"); err != nil {
		t.Fatal(err)
	}
	if macs[1].Reg(enet.ENETx_PALR) != 0x02000000 || macs[1].Reg(enet.ENETx_PAUR)>>16 != 0x0042 {
		t.Errorf("ifconfig ether did not program PALR/PAUR")
	}
	out.Reset()
	if err := c.Exec("ifconfig enet1 ether 01:00:5e:00:00:01"); err == nil {
		t.Errorf("multicast MAC accepted: %s", out)
	}
}
