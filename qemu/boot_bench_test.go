package qemu

import (
	"testing"
	"time"
)

// BenchmarkBootToPrompt measures how long the firmware takes from starting
// QEMU to its first console prompt (target: 1 s), and reports the image
// size (target: 8 MB). The anchor, run in the same loop, is QEMU starting
// the minimal image and exiting: the part of the figure that is QEMU's own
// start-up and ELF loading, not baretap's. The ratio is the firmware's
// boot time in anchor units, comparable across machines and loads.
func BenchmarkBootToPrompt(b *testing.B) {
	fw, _ := Firmware(b)
	anchor := Build(b, BuildSpec{
		Package: "./qemu/testdata/minimal",
		Output:  "build/qemu/minimal-exitZero.elf",
		Entry:   "main.exitZero",
	})
	var fwTotal, anchorTotal time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		m := Boot(b, Options{Image: anchor.Path, Timeout: time.Minute})
		if status, err := m.Wait(time.Minute); err != nil || status != 0 {
			b.Fatalf("anchor: QEMU ended with %d, %v", status, err)
		}
		anchorTotal += time.Since(start)

		start = time.Now()
		m = Boot(b, Options{Image: fw.Path, Timeout: time.Minute})
		if _, err := m.Expect(`\n`+prompt, time.Minute); err != nil {
			b.Fatal(err)
		}
		fwTotal += time.Since(start)
		m.Kill()
		n++
	}
	fwMs := float64(fwTotal.Microseconds()) / 1e3 / float64(n)
	anchorMs := float64(anchorTotal.Microseconds()) / 1e3 / float64(n)
	b.ReportMetric(fwMs, "ms/boot")
	b.ReportMetric(anchorMs, "anchor-ms/boot")
	b.ReportMetric(fwMs/anchorMs, "boot/anchor")
	b.ReportMetric(float64(fw.Size), "image-bytes")
	b.ReportMetric(float64(anchor.Size), "anchor-image-bytes")
}
