package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/pcap"
)

// listenUDP opens a receiver on loopback standing in for QEMU's netdev.
func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetReadBuffer(1 << 20); err != nil {
		t.Logf("SetReadBuffer: %v", err)
	}
	return c
}

// receive reads n datagrams (or fails after a deadline).
func receive(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got [][]byte
	buf := make([]byte, 70000)
	for len(got) < n {
		m, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

func patterned(n int, tag byte) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = tag + byte(i)
	}
	return f
}

func TestReplaySendsEveryFrameInOrder(t *testing.T) {
	frames := [][]byte{patterned(60, 1), patterned(1514, 2), patterned(14, 3), patterned(9000, 4)}
	path := writePcap(t, linkTypeEthernet, frames...)
	c := listenUDP(t)
	code, out, errOut := runCLI("replay", "-r", path, "-to", c.LocalAddr().String(), "-pps", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := receive(t, c, len(frames))
	for i := range frames {
		if !bytes.Equal(got[i], frames[i]) {
			t.Errorf("datagram %d: %d bytes, want frame %d (%d bytes) byte for byte", i, len(got[i]), i, len(frames[i]))
		}
	}
	want := fmt.Sprintf("sent 4 frames (%d bytes), skipped 0", 60+1514+14+9000)
	if !strings.HasPrefix(out, want) {
		t.Errorf("summary %q, want prefix %q", out, want)
	}
}

// TestReplayFrom: -from sets the source address, which a connected
// receiver (QEMU's dgram netdev) filters on.
func TestReplayFrom(t *testing.T) {
	path := writePcap(t, linkTypeEthernet, patterned(60, 1))
	c := listenUDP(t)
	src := listenUDP(t) // reserve a port, then free it for the replay
	from := src.LocalAddr().String()
	src.Close()
	code, _, errOut := runCLI("replay", "-r", path, "-to", c.LocalAddr().String(), "-from", from, "-pps", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, addr, err := c.ReadFromUDP(make([]byte, 100))
	if err != nil || addr.String() != from {
		t.Fatalf("datagram from %v (%v), want from %s", addr, err, from)
	}
}

func TestReplayLoopAndCount(t *testing.T) {
	frames := [][]byte{patterned(60, 1), patterned(61, 2), patterned(62, 3)}
	path := writePcap(t, linkTypeEthernet, frames...)
	c := listenUDP(t)
	code, out, errOut := runCLI("replay", "-r", path, "-to", c.LocalAddr().String(), "-pps", "0", "-loop", "-count", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := receive(t, c, 7)
	for i, g := range got {
		if !bytes.Equal(g, frames[i%3]) {
			t.Errorf("datagram %d is not frame %d", i, i%3)
		}
	}
	if !strings.HasPrefix(out, "sent 7 frames") {
		t.Errorf("summary %q", out)
	}
	// Nothing beyond the count.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := c.ReadFromUDP(make([]byte, 100)); err == nil {
		t.Errorf("an eighth datagram of %d bytes arrived", n)
	}
}

// TestReplayPaced: with pacing, each frame waits for one tick of the
// pacer, so after three ticks exactly three frames have gone, whatever the
// machine's speed (the ticks come from the test, not a clock).
func TestReplayPaced(t *testing.T) {
	frames := []pcap.Frame{{Data: patterned(60, 1)}, {Data: patterned(61, 2)}}
	c := listenUDP(t)
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tick := make(chan time.Time) // unbuffered: a send returns once the loop took it
	stop := make(chan os.Signal, 1)
	done := make(chan replayStats)
	go func() {
		var st replayStats
		sendFrames(conn, c.LocalAddr().(*net.UDPAddr), frames, true, 0, tick, stop, &st)
		done <- st
	}()
	for range 3 {
		tick <- time.Time{}
	}
	got := receive(t, c, 3)
	stop <- os.Interrupt
	st := <-done
	if st.sent != 3 {
		t.Errorf("after 3 ticks %d frames were sent, want 3", st.sent)
	}
	for i, g := range got {
		if !bytes.Equal(g, frames[i%2].Data) {
			t.Errorf("datagram %d is not frame %d", i, i%2)
		}
	}
}

func TestReplayBadArguments(t *testing.T) {
	eth := writePcap(t, linkTypeEthernet, patterned(60, 1))
	raw := writePcap(t, 101, patterned(60, 1)) // LINKTYPE_RAW
	empty := writePcap(t, linkTypeEthernet)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-to", "127.0.0.1:9"}, "-r FILE is required"},
		{[]string{"-r", eth}, "-to HOST:PORT is required"},
		{[]string{"-r", eth, "-to", "127.0.0.1"}, "-to \"127.0.0.1\""},
		{[]string{"-r", eth, "-to", "127.0.0.1:0"}, "no port"},
		{[]string{"-r", eth, "-to", "127.0.0.1:9", "-pps", "-1"}, "-pps -1"},
		{[]string{"-r", eth, "-to", "127.0.0.1:9", "-count", "-2"}, "-count -2"},
		{[]string{"-r", raw, "-to", "127.0.0.1:9"}, "link type 101"},
		{[]string{"-r", empty, "-to", "127.0.0.1:9"}, "no frames"},
		{[]string{"-r", "/nonexistent.pcap", "-to", "127.0.0.1:9"}, "no such file"},
		{[]string{"-r", eth, "-to", "127.0.0.1:9", "extra"}, "unexpected argument"},
		{[]string{"-r", eth, "-to", "127.0.0.1:9", "-from", "nowhere:x"}, "-from \"nowhere:x\""},
	} {
		code, _, errOut := runCLI(append([]string{"replay"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("replay %q: exit %d, stderr %q; want 2 and one line containing %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestReplaySkipsFramesTooLongForADatagram(t *testing.T) {
	frames := [][]byte{patterned(60, 1), patterned(maxDatagram+1, 2), patterned(61, 3)}
	path := writePcap(t, linkTypeEthernet, frames...)
	c := listenUDP(t)
	code, out, errOut := runCLI("replay", "-r", path, "-to", c.LocalAddr().String(), "-pps", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := receive(t, c, 2)
	if !bytes.Equal(got[0], frames[0]) || !bytes.Equal(got[1], frames[2]) {
		t.Errorf("got %d and %d bytes, want the 60- and 61-byte frames", len(got[0]), len(got[1]))
	}
	if want := "sent 2 frames (121 bytes), skipped 1"; !strings.HasPrefix(out, want) {
		t.Errorf("summary %q, want prefix %q", out, want)
	}
}
