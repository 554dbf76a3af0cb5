package qemu

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/pcap"
)

// The bpf code generator on the emulated Cortex-A7: the firmware's capture filter runs as
// machine code (Program.Native), which needs the kernel's cacheflush system call to succeed.

// TestJITFirmwareCaptureNative: `capture start` with the corpus' tcp filter reports that the
// descriptor runs it as native code. TestENETCaptureCorpusFilter checks the same filter's
// verdicts over the corpus replay.
func TestJITFirmwareCaptureNative(t *testing.T) {
	f := loadFilter(t, "tcp")
	b := bootNetBoard(t, 2*time.Minute)
	out := b.run(`capture start enet0 --bytecode "`+f.Bytecode()+`"`, 10*time.Second)
	if !strings.Contains(out, "capturing on enet0") || !strings.Contains(out, "filter of 12 instructions as native code") {
		t.Errorf("capture start: %q", out)
	}
	b.stopCapture()
	if strings.Contains(b.m.Output(), "unimplemented syscall") {
		t.Errorf("the kernel answered a system call ENOSYS:\n%s", b.m.Output())
	}
}

// jitbenchInput is what qemu/jitbench reads from -X main.data (see its package comment).
func jitbenchInput(t *testing.T, filters [][]bpf.Insn, frames []pcap.Frame, passes int) string {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(filters)))
	for _, f := range filters {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		for _, in := range f {
			b = binary.LittleEndian.AppendUint16(b, in.Code)
			b = append(b, in.Jt, in.Jf)
			b = binary.LittleEndian.AppendUint32(b, in.K)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	for _, fr := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(fr.Length))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(fr.Data)))
		b = append(b, fr.Data...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(passes))
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return base64.StdEncoding.EncodeToString(z.Bytes())
}

// TestJITCorpusOnBoard runs every corpus filter on the emulated Cortex-A7 as native code, as
// portable ops and with x/net/bpf over a sample of the corpus (every 25th frame, cut to 128
// bytes: the input travels on the link command line). Native code and ops must match the
// host's interpreter frame count for frame count, and the figures give the same-run speed-up
// of native code under QEMU (TCG: only the ratios mean anything).
func TestJITCorpusOnBoard(t *testing.T) {
	RequireQEMU(t)
	dir := benchDir(t)
	_, all, err := pcap.ReadFile(filepath.Join(dir, "traffic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var frames []pcap.Frame
	for i := 0; i < len(all); i += 25 {
		f := all[i]
		f.Data = f.Data[:min(len(f.Data), 128)]
		frames = append(frames, f)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "filters.json"))
	if err != nil {
		t.Fatal(err)
	}
	var corpusFilters []struct {
		Expr  string
		Insns []bpf.Insn
	}
	if err := json.Unmarshal(raw, &corpusFilters); err != nil {
		t.Fatal(err)
	}
	var filters [][]bpf.Insn
	var exprs []string
	for _, f := range corpusFilters {
		if bpf.Validate(f.Insns, 0) == nil { // ip6 protochain is not
			filters, exprs = append(filters, f.Insns), append(exprs, f.Expr)
		}
	}
	data := jitbenchInput(t, filters, frames, 100)
	t.Logf("%d filters, %d frames: %d bytes of -X input", len(filters), len(frames), len(data))
	img := Build(t, BuildSpec{
		Package: "./qemu/jitbench",
		Output:  "build/qemu/jitbench.elf",
		LDFlags: []string{"-X", "main.data=" + data},
	})
	out, status := runToExit(t, Options{Image: img.Path}, 4*time.Minute)
	if status != 0 {
		t.Fatalf("jitbench exit status %d:\n%s", status, out)
	}
	line := regexp.MustCompile(`(?m)^jit (\d+) native=(\w+) matches=(\d+),(\d+),(-?\d+) ns=([\d.]+),([\d.]+),([\d.]+)\r?$`)
	seen := 0
	var vsOps, vsXnet []float64
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		i, _ := strconv.Atoi(m[1])
		if i >= len(filters) {
			t.Fatalf("filter index %d out of range", i)
		}
		seen++
		want := 0
		for _, fr := range frames {
			if bpf.Filter(filters[i], fr.Data, uint32(fr.Length)) != 0 {
				want++
			}
		}
		if m[2] != "true" {
			t.Errorf("%q: not native on the board", exprs[i])
		}
		if m[3] != strconv.Itoa(want) || m[4] != strconv.Itoa(want) {
			t.Errorf("%q: native matched %s, ops %s, host interpreter %d of %d frames", exprs[i], m[3], m[4], want, len(frames))
		}
		n, _ := strconv.ParseFloat(m[6], 64)
		o, _ := strconv.ParseFloat(m[7], 64)
		x, _ := strconv.ParseFloat(m[8], 64)
		if n > 0 {
			vsOps, vsXnet = append(vsOps, o/n), append(vsXnet, x/n)
		}
		t.Logf("%-40.40q native %6.1f ns/frame, ops %6.1f (%.2fx), x/net %6.1f (%.2fx)", exprs[i], n, o, o/n, x, x/n)
	}
	if seen != len(filters) {
		t.Fatalf("jitbench reported %d of %d filters:\n%s", seen, len(filters), out)
	}
	median := func(v []float64) float64 {
		sort.Float64s(v)
		return v[len(v)/2]
	}
	t.Logf("median over %d filters, %d frames: native %.2fx the portable ops, %.2fx x/net/bpf (qemu-system-arm TCG)", len(vsOps), len(frames), median(vsOps), median(vsXnet))
}
