package pcap

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader. It must never panic or
// allocate beyond MaxSnaplen per record, and whatever it accepts must
// survive a write and re-read unchanged.
func FuzzReader(f *testing.F) {
	frames := sampleFrames()[:3]
	for _, v := range variants {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{ByteOrder: v.bo, Nanosecond: v.nano, LinkType: LinkTypeEthernet})
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range frames {
			fr.Data = fr.Data[:min(len(fr.Data), 80)]
			if err := w.WritePacket(fr.CaptureInfo, fr.Data); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			return
		}
		var got []Frame
		for {
			data, ci, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break
			}
			if len(data) != ci.CaptureLength || len(data) > MaxSnaplen {
				t.Fatalf("data %d bytes, caplen %d", len(data), ci.CaptureLength)
			}
			got = append(got, Frame{CaptureInfo: ci, Data: append([]byte(nil), data...)})
		}
		h := r.Header()
		h.Snaplen = MaxSnaplen
		var buf bytes.Buffer
		w, err := NewWriter(&buf, h)
		if err != nil {
			t.Fatal(err)
		}
		var kept []Frame
		for _, fr := range got {
			// A file may claim a wire length below its capture length
			// or a timestamp the writer cannot represent; the writer
			// refuses those, which is fine.
			if w.WritePacket(fr.CaptureInfo, fr.Data) == nil {
				kept = append(kept, fr)
			}
		}
		_, again, err := ReadAll(bytes.NewReader(buf.Bytes()), 0)
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		if len(again) != len(kept) {
			t.Fatalf("re-read %d frames, wrote %d", len(again), len(kept))
		}
		for i := range kept {
			a, b := again[i], kept[i]
			wire := b.Length
			if wire == 0 {
				wire = len(b.Data)
			}
			if !bytes.Equal(a.Data, b.Data) || !a.Timestamp.Equal(b.Timestamp) || a.Length != wire {
				t.Fatalf("frame %d changed in the round trip: %+v vs %+v", i, a.CaptureInfo, b.CaptureInfo)
			}
		}
	})
}
