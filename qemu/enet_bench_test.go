package qemu

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkENETRx measures frames per second through ENET1 into the tap: the corpus is
// replayed into ENET1 (paced by the driver's own progress, see replay) with no capture
// attached, then again with an accept-all capture streaming pcap on UART2. The anchor is
// the capture-off run in the same boot; capture-on/capture-off is the share of the
// capture-off rate kept with capture on (target >= 0.9). The figures include the pacing
// round trips through the console, which both runs pay alike.
func BenchmarkENETRx(b *testing.B) {
	frames := corpus(b)
	if n := benchFrames(); n > 0 && n < len(frames) {
		frames = frames[:n]
	}
	nb := bootNetBoard(b, 15*time.Minute)
	var off, on time.Duration
	for b.Loop() {
		off += nb.replay(0, frames, 5*time.Minute)
		if out := nb.run("capture start enet0", 10*time.Second); !strings.Contains(out, "capturing on enet0") {
			b.Fatalf("capture start: %q", out)
		}
		on += nb.replay(0, frames, 5*time.Minute)
		cs := nb.stopCapture()
		if cs.Dropped != 0 {
			b.Logf("capture dropped %d of %d", cs.Dropped, cs.Matched)
		}
	}
	n := float64(len(frames) * b.N)
	b.ReportMetric(n/off.Seconds(), "capture-off-frames/s")
	b.ReportMetric(n/on.Seconds(), "capture-on-frames/s")
	b.ReportMetric(off.Seconds()/on.Seconds(), "capture-on/capture-off")
}
