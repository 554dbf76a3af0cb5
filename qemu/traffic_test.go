package qemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baretap/baretap/internal/benchdata"

	"github.com/baretap/baretap/nic/enet"
	"github.com/baretap/baretap/pcap"
)

// Traffic helpers for the ENET tests: the shared corpus, a firmware boot with both ENETs on
// UDP links owned by the test and UART2 in a file, and a paced replay.

// benchDir returns ../shared/bench from the module root, skipping the test when it is absent.
func benchDir(tb testing.TB) string {
	tb.Helper()
	return benchdata.Dir(tb, "traffic.pcap")
}

// corpus returns the frames of traffic.pcap in order.
func corpus(tb testing.TB) [][]byte {
	tb.Helper()
	_, frames, err := pcap.ReadFile(filepath.Join(benchDir(tb), "traffic.pcap"))
	if err != nil {
		tb.Fatal(err)
	}
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = f.Data
	}
	return out
}

// oversize reports whether the MAC flags a frame LG: with its FCS it is longer than
// RCR.MAX_FL, which the driver programs to enet.MaxFrame. QEMU's model applies the same rule.
func oversize(f []byte) bool { return len(f)+enet.FCSLen > enet.MaxFrame }

// corpusFilter is one filters.json entry with its oracle decisions.
type corpusFilter struct {
	Expr  string
	Insns []struct {
		Code   uint16
		Jt, Jf uint8
		K      uint32
	}
	accept []bool
}

// Bytecode is the program as the comma form `capture start --bytecode` takes.
func (f corpusFilter) Bytecode() string {
	parts := []string{strconv.Itoa(len(f.Insns))}
	for _, in := range f.Insns {
		parts = append(parts, fmt.Sprintf("%d %d %d %d", in.Code, in.Jt, in.Jf, in.K))
	}
	return strings.Join(parts, ",")
}

func loadFilter(tb testing.TB, expr string) corpusFilter {
	tb.Helper()
	dir := benchDir(tb)
	var filters []corpusFilter
	b, err := os.ReadFile(filepath.Join(dir, "filters.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &filters); err != nil {
		tb.Fatal(err)
	}
	var oracle struct {
		Frames  int
		Filters []struct {
			Expr    string
			Matches int
			Bitmap  string
		}
	}
	if b, err = os.ReadFile(filepath.Join(dir, "filters-oracle.json")); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &oracle); err != nil {
		tb.Fatal(err)
	}
	for i, f := range filters {
		if f.Expr != expr {
			continue
		}
		o := oracle.Filters[i]
		bits, err := base64.StdEncoding.DecodeString(o.Bitmap)
		if err != nil || o.Expr != expr {
			tb.Fatalf("oracle entry %d (%q): %v", i, o.Expr, err)
		}
		f.accept = make([]bool, oracle.Frames)
		n := 0
		for j := range f.accept {
			f.accept[j] = bits[j/8]&(1<<(j%8)) != 0
			if f.accept[j] {
				n++
			}
		}
		if n != o.Matches {
			tb.Fatalf("oracle bitmap of %q has %d bits set, says %d", expr, n, o.Matches)
		}
		return f
	}
	tb.Fatalf("no filter %q in filters.json", expr)
	return corpusFilter{}
}

// netBoard is the firmware booted with both ENETs on host links and UART2 in a file.
type netBoard struct {
	m      *Machine
	links  [2]*HostLink
	uart2  string
	tb     testing.TB
	rxSeen [2]uint64 // frames each port has taken off its ring, at the last poll
}

func bootNetBoard(tb testing.TB, timeout time.Duration) *netBoard {
	tb.Helper()
	fw, _ := Firmware(tb)
	b := &netBoard{tb: tb, uart2: filepath.Join(tb.TempDir(), "uart2.pcap")}
	b.links[0] = NewHostLink(tb, "enet1")
	b.links[1] = NewHostLink(tb, "enet2")
	b.m = Boot(tb, Options{
		Image:   fw.Path,
		NICs:    []string{b.links[0].Netdev, b.links[1].Netdev},
		UART2:   "file:" + b.uart2,
		Timeout: timeout,
	})
	b.m.MustExpect(prompt, 30*time.Second)
	return b
}

// run sends a console command and returns its output up to the next prompt.
func (b *netBoard) run(cmd string, timeout time.Duration) string {
	b.tb.Helper()
	if err := b.m.Send(cmd); err != nil {
		b.tb.Fatal(err)
	}
	out, err := b.m.Expect(`(?s)^(.*?)`+regexp.QuoteMeta(prompt), timeout)
	if err != nil {
		b.tb.Fatal(err)
	}
	return out[1]
}

// portStats is the driver's counters for one port, from ifconfig.
type portStats struct {
	RxFrames, RxRunts, RxErrors, RxNoBuf         uint64
	Length, NonOctet, CRC, Overrun, Trunc, Frags uint64
	TxFrames, TxNoBuf, OErrors                   uint64
}

var (
	rxLine    = regexp.MustCompile(`rx frames (\d+) bytes \d+ runts (\d+) errors (\d+) nobuf (\d+)`)
	rxErrLine = regexp.MustCompile(`rxerr length (\d+) nonoctet (\d+) crc (\d+) overrun (\d+) truncated (\d+) fragments (\d+)`)
	txLine    = regexp.MustCompile(`tx frames (\d+) bytes \d+ nobuf (\d+) toolong \d+ oerrors (\d+)`)
)

func atoi(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }

func (b *netBoard) stats(port int) portStats {
	b.tb.Helper()
	out := b.run(fmt.Sprintf("ifconfig enet%d", port), 10*time.Second)
	rx, rxe, tx := rxLine.FindStringSubmatch(out), rxErrLine.FindStringSubmatch(out), txLine.FindStringSubmatch(out)
	if rx == nil || rxe == nil || tx == nil {
		b.tb.Fatalf("ifconfig enet%d: unexpected output %q", port, out)
	}
	s := portStats{
		RxFrames: atoi(rx[1]), RxRunts: atoi(rx[2]), RxErrors: atoi(rx[3]), RxNoBuf: atoi(rx[4]),
		Length: atoi(rxe[1]), NonOctet: atoi(rxe[2]), CRC: atoi(rxe[3]), Overrun: atoi(rxe[4]), Trunc: atoi(rxe[5]), Frags: atoi(rxe[6]),
		TxFrames: atoi(tx[1]), TxNoBuf: atoi(tx[2]), OErrors: atoi(tx[3]),
	}
	b.rxSeen[port] = s.RxFrames + s.RxErrors + s.RxNoBuf
	return s
}

// replayWindow bounds the frames in flight, so that they fit the driver's receive ring even
// with a few jumbo frames among them (QEMU splits one over 6 buffers, and a ring that runs
// out mid-frame loses the frame's end).
const replayWindow = 64

// replayBytes bounds the bytes in flight: QEMU reads the netdev socket in its I/O thread,
// and the host drops datagrams silently once that socket's receive buffer is full
// (net.core.rmem_default; each datagram costs its length plus the kernel's overhead, which
// frameCost over-estimates). Half the buffer leaves room for QEMU falling behind.
func replayBytes() int {
	n := 212992
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_default"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			n = v
		}
	}
	return n / 2
}

func frameCost(f []byte) int { return 2*len(f) + 1024 }

// replay sends frames into port's ENET, one datagram each, keeping at most replayWindow
// frames and replayBytes bytes beyond what the driver has taken off its ring (polled
// through ifconfig), and returns when the driver has taken them all. Nothing is
// retransmitted: a frame lost anywhere makes the final wait fail.
func (b *netBoard) replay(port int, frames [][]byte, deadline time.Duration) time.Duration {
	b.tb.Helper()
	link := b.links[port]
	base := b.rxSeen[port]
	limit := replayBytes()
	start := time.Now()
	taken := func() int { return int(b.rxSeen[port] - base) }
	inflight := 0 // cost of frames[taken:sent]
	done := 0     // frames whose cost has left inflight
	for sent := 0; sent < len(frames) || taken() < len(frames); {
		for ; done < taken() && done < sent; done++ {
			inflight -= frameCost(frames[done])
		}
		for sent < len(frames) && sent-taken() < replayWindow && (inflight+frameCost(frames[sent]) <= limit || sent == taken()) {
			if _, err := link.Conn.WriteToUDP(frames[sent], link.QEMUAddr); err != nil {
				b.tb.Fatalf("sending frame %d: %v", sent, err)
			}
			inflight += frameCost(frames[sent])
			sent++
		}
		if time.Since(start) > deadline {
			b.tb.Fatalf("replay: %d of %d frames taken after %v (sent %d)", taken(), len(frames), deadline, sent)
		}
		b.stats(port)
	}
	return time.Since(start)
}

// collector gathers the frames QEMU sends out of one ENET on its host link.
type collector struct {
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
}

func collect(tb testing.TB, conn *net.UDPConn) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	tb.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *collector) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.frames
	c.frames = nil
	return f
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

var bpfStatsLine = regexp.MustCompile(`bpf: received (\d+) matched (\d+) captured (\d+) dropped (\d+) filtered (\d+)`)

// captureStats is what capture stop prints.
type captureStats struct{ Received, Matched, Captured, Dropped, Filtered uint64 }

func (b *netBoard) stopCapture() captureStats {
	b.tb.Helper()
	out := b.run("capture stop", 2*time.Minute)
	m := bpfStatsLine.FindStringSubmatch(out)
	if m == nil {
		b.tb.Fatalf("capture stop: unexpected output %q", out)
	}
	return captureStats{atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]), atoi(m[5])}
}

// benchFrames is BARETAP_ENET_FRAMES: replay only that many corpus frames in the benchmark
// (0 or unset: all).
func benchFrames() int {
	n, _ := strconv.Atoi(os.Getenv("BARETAP_ENET_FRAMES"))
	return n
}
