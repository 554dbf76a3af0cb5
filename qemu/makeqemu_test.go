package qemu

import (
	"crypto/sha256"
	"fmt"
	"net"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/internal/benchdata"
	"github.com/baretap/baretap/pcap"
)

// TestMakeQemu runs what the README's first command runs (from make -n, with
// free ports and a capture file of its own): the traffic replay into ENET1
// and QEMU with UART2 in a file. The console answers, both ENETs are
// attached to their UDP ports, the replayed frames reach enet0, and a
// capture started at the console lands in the file as a pcap whose every
// frame is one of the replayed ones, as many as the bpf counters say.
func TestMakeQemu(t *testing.T) {
	RequireQEMU(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	traffic := benchdata.Dir(t, "traffic.pcap")
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = FreeUDPPort(); err != nil {
			t.Fatal(err)
		}
	}
	capFile := filepath.Join(t.TempDir(), "capture.pcap")
	cmd := exec.Command("make", "-n", "qemu",
		fmt.Sprintf("FW_ENET1_PORT=%d", ports[0]), fmt.Sprintf("FW_ENET1_PEER=%d", ports[1]),
		fmt.Sprintf("FW_ENET2_PORT=%d", ports[2]), fmt.Sprintf("FW_ENET2_PEER=%d", ports[3]),
		"FW_CAPTURE="+capFile, "FW_TRAFFIC="+filepath.Join(traffic, "traffic.pcap"), "FW_REPLAY_PPS=500")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n qemu: %v", err)
	}
	qemuArgs, replayArgs := makeQemuCommands(t, string(out))

	// The replay, with the tool built here rather than whatever
	// build/baretap holds.
	tool := filepath.Join(t.TempDir(), "baretap")
	if b, err := exec.Command(goTool(), "build", "-C", root, "-o", tool, "./cmd/baretap").CombinedOutput(); err != nil {
		t.Fatalf("building cmd/baretap: %v\n%s", err, b)
	}
	replay := exec.Command(tool, replayArgs...)
	replay.Dir = root
	var replayOut strings.Builder
	replay.Stdout, replay.Stderr = &replayOut, &replayOut
	if err := replay.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		replay.Process.Signal(os.Interrupt)
		replay.Wait()
		t.Logf("baretap %s: %s", strings.Join(replayArgs, " "), replayOut.String())
	})

	m := bootFirmware(t, Options{Args: qemuArgs})
	for _, p := range []int{ports[0], ports[2]} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			c.Close()
			t.Errorf("UDP port %d is free: make qemu did not attach that ENET", p)
		}
	}
	if got := command(t, m, "uptime"); !strings.HasPrefix(got, "up ") {
		t.Errorf("uptime answered %q", got)
	}
	if got := command(t, m, "capture start enet0"); !strings.Contains(got, "capturing on enet0") {
		t.Fatalf("capture start answered %q", got)
	}
	// Let the replay run until enet0 has taken a few hundred frames (at
	// 500 frames/s about a second; give up after 120 looks, a minute).
	var rx uint64
	for look := 0; rx < 300; look++ {
		got := command(t, m, "ifconfig enet0")
		if s := rxLine.FindStringSubmatch(got); s != nil {
			rx = atoi(s[1])
		}
		if rx >= 300 {
			break
		}
		if look == 120 {
			t.Fatalf("enet0 took %d frames in 120 looks half a second apart, replaying at 500 frames/s:\n%s", rx, got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Stopping drains the descriptor's buffers through UART2, which
	// QEMU models byte by byte: allow it time.
	if err := m.Send("capture stop"); err != nil {
		t.Fatal(err)
	}
	stop := m.MustExpect(`(?s)^(.*?)\n`+prompt, 2*time.Minute)[1]
	var records, received, matched, captured, dropped, filtered int
	if _, err := fmt.Sscanf(stop[strings.Index(stop, "stopped: "):], "stopped: %d records streamed", &records); err != nil {
		t.Fatalf("capture stop answered %q", stop)
	}
	if _, err := fmt.Sscanf(stop[strings.Index(stop, "bpf: "):], "bpf: received %d matched %d captured %d dropped %d filtered %d",
		&received, &matched, &captured, &dropped, &filtered); err != nil {
		t.Fatalf("capture stop answered %q", stop)
	}
	if records == 0 || records != captured || dropped != 0 || matched != captured+dropped {
		t.Errorf("counters do not add up: %q", stop)
	}
	m.Send("poweroff")
	if status, err := m.Wait(cmdTimeout); err != nil || status != 0 {
		t.Fatalf("QEMU ended with %d, %v; want status 0", status, err)
	}

	// The capture file: a pcap of exactly the streamed records, each a
	// frame of the replayed file.
	_, sent, err := pcap.ReadFile(filepath.Join(traffic, "traffic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	known := make(map[[32]byte]bool, len(sent))
	for _, f := range sent {
		known[sha256.Sum256(f.Data)] = true
	}
	hdr, got, err := pcap.ReadFile(capFile)
	if err != nil {
		t.Fatalf("the capture file %s: %v", capFile, err)
	}
	if hdr.LinkType&0xffff != pcap.LinkTypeEthernet || len(got) != records {
		t.Errorf("capture file: link type %d, %d frames; want 1 and the %d records streamed", hdr.LinkType, len(got), records)
	}
	for i, f := range got {
		if !known[sha256.Sum256(f.Data)] {
			t.Errorf("captured frame %d (%d bytes) is none of the replayed frames", i, len(f.Data))
			break
		}
	}
	t.Logf("enet0 took %d frames; the capture holds %d", rx, len(got))
}

// makeQemuCommands picks the QEMU command line and the replay command out
// of `make -n qemu`: the replay runs in the background (&) on the line
// that then starts QEMU.
func makeQemuCommands(t *testing.T, out string) (qemuArgs, replay []string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i, w := range f {
			switch {
			case w == QEMU && (i == 0 || strings.HasSuffix(f[i-1], ";")) && qemuArgs == nil:
				// The command itself, not a mention (deps: command -v).
				qemuArgs = f[i+1:]
			case strings.HasSuffix(w, "/baretap") && i+1 < len(f) && f[i+1] == "replay" && replay == nil:
				end := i
				for end < len(f) && f[end] != "&" {
					end++
				}
				replay = f[i+1 : end]
			}
		}
	}
	if qemuArgs == nil || replay == nil {
		t.Fatalf("make -n qemu runs no %s or no replay:\n%s", QEMU, out)
	}
	return qemuArgs, replay
}
