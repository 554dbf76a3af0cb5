package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/internal/benchdata"
)

// benchDir returns ../shared/bench relative to the module root, or skips.
func benchDir(t testing.TB) string {
	t.Helper()
	return benchdata.Dir(t, "traffic.pcap")
}

type variant struct {
	name string
	bo   binary.ByteOrder
	nano bool
}

var variants = []variant{
	{"le-usec", binary.LittleEndian, false},
	{"be-usec", binary.BigEndian, false},
	{"le-nsec", binary.LittleEndian, true},
	{"be-nsec", binary.BigEndian, true},
}

// sampleFrames are records with distinct sizes, wire lengths and times.
func sampleFrames() []Frame {
	var fs []Frame
	base := time.Date(2024, 5, 14, 10, 0, 0, 123456789, time.UTC)
	for i, n := range []int{60, 14, 1514, 0, 9018, 64} {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(i*31 + j)
		}
		wire := n
		if i == 2 {
			wire = 4000 // a snapped frame: wire length above the capture
		}
		fs = append(fs, Frame{
			CaptureInfo: CaptureInfo{Timestamp: base.Add(time.Duration(i) * 1500 * time.Millisecond), CaptureLength: n, Length: wire},
			Data:        data,
		})
	}
	return fs
}

func writeFile(t *testing.T, v variant, frames []Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{ByteOrder: v.bo, Nanosecond: v.nano, LinkType: LinkTypeEthernet})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(f.CaptureInfo, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func wantTime(v variant, ts time.Time) time.Time {
	if v.nano {
		return ts
	}
	return ts.Truncate(time.Microsecond)
}

func TestRoundTripAllVariants(t *testing.T) {
	frames := sampleFrames()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			file := writeFile(t, v, frames)
			hdr, got, err := ReadAll(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if hdr.ByteOrder != v.bo || hdr.Nanosecond != v.nano || hdr.LinkType != LinkTypeEthernet || hdr.Snaplen != MaxSnaplen {
				t.Errorf("header = %+v", hdr)
			}
			if len(got) != len(frames) {
				t.Fatalf("read %d frames, wrote %d", len(got), len(frames))
			}
			for i, f := range frames {
				g := got[i]
				if !bytes.Equal(g.Data, f.Data) || g.CaptureLength != len(f.Data) || g.Length != f.Length {
					t.Errorf("frame %d: caplen %d len %d, want %d %d (data equal %v)", i, g.CaptureLength, g.Length, len(f.Data), f.Length, bytes.Equal(g.Data, f.Data))
				}
				if want := wantTime(v, f.Timestamp); !g.Timestamp.Equal(want) {
					t.Errorf("frame %d: time %v, want %v", i, g.Timestamp, want)
				}
			}
		})
	}
}

// TestMagicBytes pins the on-disk header against the byte sequences
// pcap-savefile(5) documents, independent of our own reader.
func TestMagicBytes(t *testing.T) {
	want := map[string]string{
		"le-usec": "d4c3b2a1", "be-usec": "a1b2c3d4",
		"le-nsec": "4d3cb2a1", "be-nsec": "a1b23c4d",
	}
	for _, v := range variants {
		file := writeFile(t, v, nil)
		if got := fmt.Sprintf("%x", file[:4]); got != want[v.name] {
			t.Errorf("%s: magic bytes %s, want %s", v.name, got, want[v.name])
		}
		if len(file) != fileHeaderLen {
			t.Errorf("%s: empty file is %d bytes, want %d", v.name, len(file), fileHeaderLen)
		}
	}
}

// TestWriterReadByTshark has tshark (an independent pcap reader) decode each
// variant our writer produces and compares times and lengths.
func TestWriterReadByTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (make deps installs it)")
	}
	frames := sampleFrames()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), v.name+".pcap")
			if err := os.WriteFile(path, writeFile(t, v, frames), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(frames) {
				t.Fatalf("tshark read %d frames, want %d:\n%s", len(lines), len(frames), out)
			}
			for i, l := range lines {
				f := strings.Split(l, "\t")
				ts := wantTime(v, frames[i].Timestamp)
				wantTS := fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
				wantLine := []string{wantTS, strconv.Itoa(frames[i].Length), strconv.Itoa(len(frames[i].Data))}
				if strings.Join(f, " ") != strings.Join(wantLine, " ") {
					t.Errorf("frame %d: tshark says %q, want %q", i, f, wantLine)
				}
			}
		})
	}
}

// TestCorpusCountMatchesTcpdump reads the shared corpus and checks the
// frame count and total bytes against tcpdump -r.
func TestCorpusCountMatchesTcpdump(t *testing.T) {
	bench := benchDir(t)
	path := filepath.Join(bench, "traffic.pcap")
	hdr, frames, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.LinkType != LinkTypeEthernet {
		t.Errorf("link type %d, want %d", hdr.LinkType, LinkTypeEthernet)
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed (make deps installs it)")
	}
	out, err := exec.Command(tcpdump, "-r", path, "--count").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(out))
	if got := fmt.Sprintf("%d packets", len(frames)); got != want {
		t.Errorf("read %q, tcpdump says %q", got, want)
	}
	// Every record ends where the next begins: sizes add up to the file.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(fileHeaderLen)
	for _, f := range frames {
		total += recordHeaderLen + int64(len(f.Data))
	}
	if total != st.Size() {
		t.Errorf("records account for %d bytes, file has %d", total, st.Size())
	}
}

func TestReaderErrors(t *testing.T) {
	good := writeFile(t, variants[0], sampleFrames()[:2])
	le := binary.LittleEndian
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := []struct {
		name string
		file []byte
		want string // substring of the error
		eof  bool   // error wraps io.ErrUnexpectedEOF
	}{
		{"empty", nil, "shorter than the 24-byte file header", false},
		{"short header", good[:10], "10 bytes, shorter than", false},
		{"pcapng", mutate(func(b []byte) []byte { le.PutUint32(b, 0x0a0d0d0a); return b }), "magic 0x0a0d0d0a", false},
		{"version 1", mutate(func(b []byte) []byte { le.PutUint16(b[4:], 1); return b }), "unsupported pcap version 1.4", false},
		{"cut record header", good[:fileHeaderLen+7], "record 0 at offset 24: truncated header (7 of 16 bytes)", true},
		{"cut data", good[:fileHeaderLen+recordHeaderLen+20], "truncated data (20 of 60 bytes)", true},
		{"huge caplen", mutate(func(b []byte) []byte { le.PutUint32(b[fileHeaderLen+8:], MaxSnaplen+1); return b }), "capture length 262145 exceeds the maximum 262144", false},
		{"usec overflow", mutate(func(b []byte) []byte { le.PutUint32(b[fileHeaderLen+4:], 1000000); return b }), "microseconds field 1000000", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadAll(bytes.NewReader(c.file), 0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) != c.eof {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", !c.eof, c.eof)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{Snaplen: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(CaptureInfo{}, make([]byte, 101)); err == nil || !strings.Contains(err.Error(), "exceeds the snaplen 100") {
		t.Errorf("oversized record: err = %v", err)
	}
	if err := w.WritePacket(CaptureInfo{Length: 10}, make([]byte, 20)); err == nil {
		t.Error("wire length below capture length accepted")
	}
	if _, err := NewWriter(io.Discard, Header{Snaplen: MaxSnaplen + 1}); err == nil {
		t.Error("snaplen above MaxSnaplen accepted")
	}
}

// TestNextReusesBuffer documents that Next allocates nothing per record once
// its buffer has grown.
func TestNextReusesBuffer(t *testing.T) {
	frames := sampleFrames()
	file := writeFile(t, variants[0], append(append(frames, frames...), frames...))
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for range frames {
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1, func() {
		for range frames {
			if _, _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocated %.0f times per %d records", allocs, len(frames))
	}
}
