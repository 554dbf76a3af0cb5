package bpf

import (
	"math/big"
	"testing"
	"time"
)

// FuzzEncodeStamp checks the record timestamp fields for any instant,
// before the epoch included, against time.Unix's own split into seconds
// and nanoseconds, and bintime's fraction against exact big-integer
// arithmetic.
func FuzzEncodeStamp(f *testing.F) {
	for _, t := range []int64{0, 1, 999, 1000, 999999999, 1e9, 1767225600123456789, -1, -999, -1e9, -1e9 - 1, -1 << 63, 1<<63 - 1} {
		f.Add(t)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		tm := time.Unix(0, ns)
		wantSec, wantNs := tm.Unix(), uint64(tm.Nanosecond())
		for _, format := range []uint32{BPF_T_MICROTIME, BPF_T_NANOTIME, BPF_T_BINTIME} {
			sec, frac := encodeStamp(format, ns)
			var want uint64
			switch format {
			case BPF_T_MICROTIME:
				want = wantNs / 1000
			case BPF_T_NANOTIME:
				want = wantNs
			case BPF_T_BINTIME:
				q := new(big.Int).Lsh(new(big.Int).SetUint64(wantNs), 64)
				want = q.Div(q, big.NewInt(1e9)).Uint64()
			}
			if sec != wantSec || frac != want {
				t.Errorf("format %d, %d ns: got (%d, %d), want (%d, %d)", format, ns, sec, frac, wantSec, want)
			}
		}
		if sec, frac := encodeStamp(BPF_T_NONE, ns); sec != 0 || frac != 0 {
			t.Errorf("BPF_T_NONE: got (%d, %d)", sec, frac)
		}
	})
}
