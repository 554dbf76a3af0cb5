package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"syscall"
	"testing"
)

// FuzzParseRecord: the record parser never panics, never returns data
// outside its input, and accepts every record putHeader writes.
func FuzzParseRecord(f *testing.F) {
	rec := make([]byte, 26+60+2)
	putHeader(rec, 1700000000, 123456, 60, 1514, 26)
	f.Add(rec)
	f.Add(rec[:25])
	f.Add(make([]byte, 26))
	bad := bytes.Clone(rec)
	binary.NativeEndian.PutUint32(bad[hdrOffCaplen:], 0xffffffff)
	f.Add(bad)
	f.Fuzz(func(t *testing.T, buf []byte) {
		r, next, err := ParseRecord(buf)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		end := int(r.Hdrlen) + int(r.Caplen)
		if end > len(buf) || len(r.Data) != int(r.Caplen) || r.Caplen > r.Datalen || int(r.Hdrlen) < SIZEOF_BPF_HDR {
			t.Fatalf("accepted inconsistent record %+v from %d bytes", r, len(buf))
		}
		if next != WordAlign(end) || next%BPF_ALIGNMENT != 0 {
			t.Fatalf("next %d for end %d", next, end)
		}
		out := make([]byte, end)
		putHeader(out, r.Sec, r.Frac, r.Caplen, r.Datalen, int(r.Hdrlen))
		copy(out[r.Hdrlen:], r.Data)
		r2, _, err := ParseRecord(out)
		if err != nil || r2.Sec != r.Sec || r2.Frac != r.Frac || r2.Datalen != r.Datalen || !bytes.Equal(r2.Data, r.Data) {
			t.Fatalf("round trip: %+v vs %+v (%v)", r2, r, err)
		}
	})
}

// FuzzCapturePath taps one fuzzed frame through a descriptor with a fuzzed
// buffer size, snap length and link header length, reads it back, and
// checks the record against the frame: caplen = min(snap, len, buffer
// room), datalen = len, data = frame prefix, header aligned for the link
// header; counters add up.
func FuzzCapturePath(f *testing.F) {
	f.Add(ethFrame(60, 1), uint16(4096), uint32(0xffffffff), uint8(14))
	f.Add(ethFrame(1514, 2), uint16(256), uint32(100), uint8(4))
	f.Add([]byte{}, uint16(32), uint32(1), uint8(0))
	f.Add(ethFrame(200, 3), uint16(40), uint32(65535), uint8(7))
	f.Fuzz(func(t *testing.T, frame []byte, bufsize uint16, snap uint32, linkHdr uint8) {
		s, _ := fixture(t, nil)
		ifp := &testIfp{name: "fz0", mtu: 1500}
		ifp.up.Store(true)
		b, err := s.Attach(ifp, DLT_EN10MB, int(linkHdr))
		if err != nil {
			t.Fatal(err)
		}
		d := s.Open(OpenReadWrite)
		defer d.Close()
		size, err := d.SetBufferLen(int(bufsize))
		if err != nil || size < BPF_MINBUFSIZE || size > BPF_MAXBUFSIZE {
			t.Fatalf("SBLEN(%d) = %d, %v", bufsize, size, err)
		}
		d.SetInterface("fz0")
		d.SetImmediate(true)
		d.SetNonblock(true)
		if snap != 0 {
			d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, snap)})
		} else {
			d.SetFilter([]Insn{Stmt(BPF_RET|BPF_K, 0)})
		}
		b.Mtap(frame, false)
		st := mustStats(t, d)
		buf := make([]byte, size)
		n, err := d.Read(buf)
		hdrlen := recordHdrLen(int(linkHdr))
		want := min(uint64(snap), uint64(len(frame)))
		if want > uint64(size-hdrlen) {
			want = uint64(max(size-hdrlen, 0))
		}
		if snap == 0 || hdrlen > size {
			if st.Captured != 0 || !errors.Is(err, syscall.EWOULDBLOCK) {
				t.Fatalf("nothing should be captured: %+v, read %d %v", st, n, err)
			}
			return
		}
		if err != nil || st.Captured != 1 {
			t.Fatalf("read %d, %v; stats %+v", n, err, st)
		}
		r, _, err := ParseRecord(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if uint64(r.Caplen) != want || int(r.Datalen) != len(frame) || int(r.Hdrlen) != hdrlen || !bytes.Equal(r.Data, frame[:want]) {
			t.Fatalf("record %+v, want caplen %d datalen %d hdrlen %d", r, want, len(frame), hdrlen)
		}
		if (hdrlen+int(linkHdr))%BPF_ALIGNMENT != 0 {
			t.Fatalf("network header not aligned: hdrlen %d + link %d", hdrlen, linkHdr)
		}
	})
}

// FuzzTimestampAndTimeout checks the BIOCSTSTAMP and BIOCSRTIMEOUT
// validators: SetTimestamp succeeds exactly for BPF_T_VALID values (written
// out independently here from bpf.h's definition), and an accepted
// timeout reads back rounded up to a tick, by less than one tick (plus the
// one-tick minimum).
func FuzzTimestampAndTimeout(f *testing.F) {
	f.Add(uint32(BPF_T_NONE|BPF_T_FAST), int64(1), int64(234500))
	f.Add(uint32(BPF_T_BINTIME|BPF_T_MONOTONIC), int64(0), int64(1))
	f.Add(uint32(0x1003), int64(-1), int64(1000000))
	f.Fuzz(func(t *testing.T, ts uint32, sec, usec int64) {
		s, _ := fixture(t, nil)
		d := s.Open(OpenReadWrite)
		defer d.Close()
		format, rest := ts&3, ts&^uint32(0x303)
		valid := ts == 3 || (format != 3 && rest == 0)
		if err := d.SetTimestamp(ts); (err == nil) != valid {
			t.Fatalf("SetTimestamp(%#x) = %v, valid %v", ts, err, valid)
		}
		sec %= 1 << 40 // keep the product in range; larger values saturate
		err := d.SetReadTimeout(Timeval{sec, usec})
		if sec < 0 || usec < 0 || usec >= 1000000 {
			if !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("SetReadTimeout(%d, %d) = %v", sec, usec, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadTimeout()
		in := sec*1000000 + usec
		out := got.Sec*1000000 + got.Usec
		// tvtohz saturates at INT_MAX ticks, kept as INT_MAX-1 (hz 1000).
		const maxOut = (math.MaxInt32 - 1) * 1000
		if in > maxOut {
			if out != maxOut {
				t.Fatalf("timeout %d us read back as %+v, want the saturated %d us", in, got, int64(maxOut))
			}
			return
		}
		if in == 0 && out != 0 || in != 0 && (out < in || out >= in+1000 && out != 1000) || got.Usec >= 1000000 {
			t.Fatalf("timeout %d us read back as %+v", in, got)
		}
	})
}
