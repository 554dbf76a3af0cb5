package bpf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/pcap"
)

// captureCorpus is the shared corpus as the capture tests use it.
type captureCorpus struct {
	dir     string
	frames  []pcap.Frame
	filters []captureFilter
}

type captureFilter struct {
	expr    string
	insns   []Insn
	matches int
	bitmap  []byte
}

// loadCaptureCorpus views the corpus the filter-machine tests load (once per
// test binary, see loadCorpus) with the fields the capture tests use.
func loadCaptureCorpus(t testing.TB) *captureCorpus {
	t.Helper()
	c := loadCorpus(t)
	cc := &captureCorpus{dir: c.Dir, frames: c.Frames}
	for _, f := range c.Filters {
		cc.filters = append(cc.filters, captureFilter{expr: f.Expr, insns: f.Insns, matches: f.Matches, bitmap: f.Bitmap})
	}
	return cc
}

func (f *captureFilter) accepted(i int) bool { return f.bitmap[i/8]>>(i%8)&1 == 1 }

// TestCorpusListeners runs every corpus filter as a zero-copy listener on
// one interface and taps the whole corpus through it. Each listener must
// capture exactly the frames the shared oracle (x/net/bpf, libpcap,
// Linux and tcpdump -r agree) accepts, in order, byte for byte, and its
// counters must add up. For three filters the captured records are also
// written as a pcap file and decoded by tcpdump, which must print the same
// lines as tcpdump applying the filter expression to the original file.
func TestCorpusListeners(t *testing.T) {
	c := loadCaptureCorpus(t)
	s, _ := fixture(t, nil)
	_, bs := newIfp(t, s, "eth0")
	type listener struct {
		f        *captureFilter
		d        *Desc
		bufs     [2][]byte
		next     int
		expected []int // frame indices still to see
		pos      int
		recs     []Record
		keep     bool
	}
	keep := map[string]bool{"tcp": true, "udp": true, "arp": true}
	var ls []*listener
	for i := range c.filters {
		f := &c.filters[i]
		if _, err := Compile(f.insns, DefaultMaxInsns); err != nil {
			t.Logf("%s: rejected by the validator, skipped: %v", f.expr, err)
			continue
		}
		d, a, b := zdesc(t, s, "eth0", 128*PageSize)
		if err := d.SetFilter(f.insns); err != nil {
			t.Fatal(err)
		}
		l := &listener{f: f, d: d, bufs: [2][]byte{a, b}, keep: keep[f.expr]}
		for j := range c.frames {
			if f.accepted(j) {
				l.expected = append(l.expected, j)
			}
		}
		ls = append(ls, l)
	}
	if len(ls) < 8 {
		t.Fatalf("only %d usable corpus filters", len(ls))
	}
	consume := func(l *listener, buf []byte) {
		recs := ZBufRecords(buf)
		for off := 0; off < len(recs); {
			r, adv, err := ParseRecord(recs[off:])
			if err != nil {
				t.Fatalf("%s: %v", l.f.expr, err)
			}
			if l.pos >= len(l.expected) {
				t.Fatalf("%s: more records than the oracle accepts", l.f.expr)
			}
			fr := c.frames[l.expected[l.pos]]
			if !bytes.Equal(r.Data, fr.Data) || int(r.Datalen) != len(fr.Data) {
				t.Fatalf("%s: record %d differs from frame %d", l.f.expr, l.pos, l.expected[l.pos])
			}
			if l.keep {
				r.Data = bytes.Clone(r.Data)
				l.recs = append(l.recs, r)
			}
			l.pos++
			off += adv
		}
		ZBufAck(buf)
	}
	drain := func(l *listener, final bool) {
		for {
			if buf := l.bufs[l.next]; ZBufOwned(buf) {
				consume(l, buf)
				l.next ^= 1
				continue
			}
			if !final {
				return
			}
			if p, _, _ := l.d.RotZBuf(); p == nil && !ZBufOwned(l.bufs[l.next]) {
				return
			}
		}
	}
	for i := range c.frames {
		bs[0].Mtap(c.frames[i].Data, false)
		if i%64 == 63 {
			for _, l := range ls {
				drain(l, false)
			}
		}
	}
	for _, l := range ls {
		drain(l, true)
		st := mustStats(t, l.d)
		if st.Received != uint64(len(c.frames)) || st.Matched != uint64(l.f.matches) || st.Dropped != 0 || l.pos != len(l.expected) {
			t.Errorf("%s: stats %+v, consumed %d, oracle matches %d", l.f.expr, st, l.pos, l.f.matches)
		}
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Log("tcpdump not installed: skipping the tcpdump -r cross-check")
		return
	}
	for _, l := range ls {
		if !l.keep {
			continue
		}
		path := filepath.Join(t.TempDir(), "capture.pcap")
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcap.NewWriter(fh, pcap.Header{LinkType: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.recs {
			if err := w.WritePacket(pcap.CaptureInfo{Timestamp: time.Unix(r.Sec, int64(r.Frac)*1000), Length: int(r.Datalen)}, r.Data); err != nil {
				t.Fatal(err)
			}
		}
		fh.Close()
		ours := runCaptureTcpdump(t, tcpdump, "-r", path, "-nn", "-t")
		theirs := runCaptureTcpdump(t, tcpdump, "-r", filepath.Join(c.dir, "traffic.pcap"), "-nn", "-t", l.f.expr)
		if ours != theirs {
			t.Errorf("%s: tcpdump decodes our capture differently from tcpdump's own filtering", l.f.expr)
		}
		n := strings.Count(ours, "\n")
		if n != l.f.matches {
			t.Errorf("%s: tcpdump printed %d lines, oracle matches %d", l.f.expr, n, l.f.matches)
		}
		t.Logf("%s: tcpdump -r of our capture = tcpdump's own filtering, %d lines", l.f.expr, n)
	}
}

func runCaptureTcpdump(t *testing.T, tcpdump string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(tcpdump, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tcpdump %v: %v: %s", args, err, errb.String())
	}
	return out.String()
}
