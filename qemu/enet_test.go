package qemu

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/pcap"
)

// The ENET driver and the tap path on the emulated board: the corpus is replayed into
// ENET1 through a UDP netdev, and what the firmware streams on UART2 is compared with it.

// expectCapture checks the pcap file streamed on UART2 against want, byte for byte, and has
// tshark read it.
func expectCapture(t *testing.T, path string, want [][]byte) {
	t.Helper()
	h, got, err := pcap.ReadFile(path)
	if err != nil {
		t.Fatalf("UART2 stream: %v", err)
	}
	if h.LinkType != pcap.LinkTypeEthernet {
		t.Errorf("link type %d, want LINKTYPE_ETHERNET", h.LinkType)
	}
	if len(got) != len(want) {
		t.Errorf("UART2 stream holds %d frames, want %d", len(got), len(want))
	}
	bad := 0
	for i := 0; i < min(len(got), len(want)); i++ {
		if !bytes.Equal(got[i].Data, want[i]) || got[i].Length != len(want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("record %d: %d bytes (wire %d), want %d bytes", i, len(got[i].Data), got[i].Length, len(want[i]))
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d records differ", bad)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Logf("tshark not installed: skipping its read of the stream")
		return
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.len").Output()
	if err != nil {
		t.Fatalf("tshark -r on the UART2 stream: %v", err)
	}
	if n := strings.Count(string(out), "\n"); n != len(want) {
		t.Errorf("tshark reads %d frames, want %d", n, len(want))
	}
}

func TestENETCaptureAcceptAll(t *testing.T) {
	frames := corpus(t)
	b := bootNetBoard(t, 5*time.Minute)
	if out := b.run("capture start enet0", 10*time.Second); !strings.Contains(out, "capturing on enet0") {
		t.Fatalf("capture start: %q", out)
	}
	took := b.replay(0, frames, 3*time.Minute)
	cs := b.stopCapture()
	st := b.stats(0)

	var want [][]byte
	var long, runts uint64
	for _, f := range frames {
		switch {
		case oversize(f):
			long++
		default:
			want = append(want, f)
			if len(f) < 60 {
				runts++
			}
		}
	}
	t.Logf("%d frames in %v (%.0f frames/s); driver %+v; bpf %+v", len(frames), took.Round(time.Millisecond), float64(len(frames))/took.Seconds(), st, cs)
	// The counters add up with what the harness sent: every frame was taken off the ring,
	// as a good frame or as an error of the kind the MAC model reports for it.
	if st.RxFrames+st.RxErrors+st.RxNoBuf != uint64(len(frames)) {
		t.Errorf("driver took %d good + %d bad + %d no-buffer, harness sent %d", st.RxFrames, st.RxErrors, st.RxNoBuf, len(frames))
	}
	if st.RxFrames != uint64(len(want)) || st.RxErrors != long || st.Length != long || st.RxRunts != runts {
		t.Errorf("driver: %d good (want %d), %d errors and %d length errors (want %d oversize), %d runts (want %d)",
			st.RxFrames, len(want), st.RxErrors, st.Length, long, st.RxRunts, runts)
	}
	if st.CRC+st.NonOctet+st.Overrun != 0 || st.RxNoBuf != 0 {
		t.Errorf("unexpected errors: %+v", st)
	}
	if cs.Received != uint64(len(want)) || cs.Matched != cs.Received || cs.Captured != cs.Received || cs.Dropped != 0 {
		t.Errorf("bpf stats %+v, want %d received, matched and captured", cs, len(want))
	}
	expectCapture(t, b.uart2, want)
}

func TestENETCaptureCorpusFilter(t *testing.T) {
	frames := corpus(t)
	// tcp: 12 instructions, 9,133 matches; its comma form fits the console's line (the longer
	// corpus filters do not).
	f := loadFilter(t, "tcp")
	if len(f.accept) != len(frames) {
		t.Fatalf("oracle covers %d frames, corpus has %d", len(f.accept), len(frames))
	}
	b := bootNetBoard(t, 5*time.Minute)
	// A program the validator refuses is refused with its error, and no capture starts.
	// (The corpus' own backward-jump program, ip6 protochain 6, is 36 instructions: longer
	// than the console's 256-character line.)
	if out := b.run(`capture start enet0 --bytecode "2,21 0 5 2048,6 0 0 65535"`, 10*time.Second); !strings.Contains(out, "instruction 0") || strings.Contains(out, "capturing") {
		t.Errorf("program jumping past its end: %q", out)
	}
	if out := b.run(`capture start enet0 --bytecode "1,6 0 0"`, 10*time.Second); strings.Contains(out, "capturing") {
		t.Errorf("malformed program accepted: %q", out)
	}
	if out := b.run(`capture start enet0 --bytecode "`+f.Bytecode()+`"`, 10*time.Second); !strings.Contains(out, "capturing on enet0") {
		t.Fatalf("capture start: %q", out)
	}
	b.replay(0, frames, 3*time.Minute)
	cs := b.stopCapture()

	var want [][]byte
	delivered, oracleLong := 0, 0
	for i, fr := range frames {
		if oversize(fr) {
			// Never reaches bpf: the MAC flags it LG and the driver drops it.
			if f.accept[i] {
				oracleLong++
			}
			continue
		}
		delivered++
		if f.accept[i] {
			want = append(want, fr)
		}
	}
	t.Logf("filter %q: %d of %d delivered frames match (%d oversize frames the oracle accepts never reach bpf); bpf %+v", f.Expr, len(want), delivered, oracleLong, cs)
	if cs.Received != uint64(delivered) || cs.Matched != uint64(len(want)) || cs.Captured != cs.Matched || cs.Dropped != 0 || cs.Filtered != cs.Received-cs.Matched {
		t.Errorf("bpf stats %+v; want %d received, %d matched and captured", cs, delivered, len(want))
	}
	expectCapture(t, b.uart2, want)
}

func TestENETBridge(t *testing.T) {
	frames := corpus(t)
	b := bootNetBoard(t, 5*time.Minute)
	if out := b.run("bridge on", 10*time.Second); !strings.Contains(out, "enet0 <-> enet1: on") {
		t.Fatalf("bridge on: %q", out)
	}
	var want [][]byte
	for _, f := range frames {
		if !oversize(f) {
			want = append(want, f)
		}
	}
	collectors := []*collector{collect(t, b.links[0].Conn), collect(t, b.links[1].Conn)}
	for _, dir := range []struct {
		name    string
		in, out int
	}{{"ENET1 to ENET2", 0, 1}, {"ENET2 to ENET1", 1, 0}} {
		t.Run(dir.name, func(t *testing.T) {
			c := collectors[dir.out]
			c.take()
			b.tb = t
			b.replay(dir.in, frames, 3*time.Minute)
			deadline := time.Now().Add(30 * time.Second)
			for c.count() < len(want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // anything extra would show up now
			got := c.take()
			out := b.stats(dir.out)
			if len(got) != len(want) {
				t.Errorf("%d frames came out, want %d (out port %+v)", len(got), len(want), out)
			}
			bad := 0
			for i := 0; i < min(len(got), len(want)); i++ {
				if !bytes.Equal(got[i], want[i]) {
					if bad++; bad <= 5 {
						t.Errorf("frame %d: %d bytes out, %d in", i, len(got[i]), len(want[i]))
					}
				}
			}
			if out.TxNoBuf != 0 || out.OErrors != 0 {
				t.Errorf("out port refused frames: %+v", out)
			}
		})
	}
}
