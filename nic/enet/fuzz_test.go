package enet_test

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/baretap/baretap/nic/enet"
)

// FuzzReceiveDescriptors lets the MAC write anything into the receive descriptors: the
// fuzzer's bytes become the length/status word of each descriptor in turn. Whatever a
// broken or hostile MAC writes, the driver must not panic or read outside a buffer, must
// hand the ifnet only frames it can vouch for (L set, no error bit, a length that fits a
// buffer), and must account for every last descriptor exactly once.
func FuzzReceiveDescriptors(f *testing.F) {
	le := func(words ...uint32) []byte {
		b := make([]byte, 4*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b
	}
	const l = 1 << (16 + enet.BD_RX_L)
	f.Add(le(l | 64))                                                        // one good frame
	f.Add(le(l | 3))                                                         // shorter than the FCS
	f.Add(le(l | 0xffff))                                                    // longer than a buffer
	f.Add(le(1536, 1536, l|(1<<(16+enet.BD_RX_LG))|100))                     // an oversize frame in three pieces
	f.Add(le(l|(1<<(16+enet.BD_RX_CR))|64, l|64))                            // a CRC error, then a good frame
	f.Add(le(l | (1 << (16 + enet.BD_RX_OV)) | (1 << (16 + enet.BD_RX_TR)))) // overrun
	f.Add(le(1536, 1536, 1536, 1536, 1536, 1536, 1536, 1536))                // pieces with no end
	f.Fuzz(func(t *testing.T, words []byte) {
		const ringN = 8
		r := newRig(t, ring(ringN, 2))
		ringAddr := r.mac.Reg(enet.ENETx_RDSR) - r.mac.Base()
		mem := r.mac.Memory()
		var lasts, good uint64
		idx := 0 // the descriptor the driver looks at next: it starts at 0 and goes in order
		for len(words) >= 4 {
			// Fill up to a ring's worth, then let the driver take them.
			n := 0
			for ; n < ringN && len(words) >= 4; n++ {
				w := binary.LittleEndian.Uint32(words)
				words = words[4:]
				w &^= 1 << (16 + enet.BD_RX_E) // the MAC hands the descriptor over
				p := (*uint32)(unsafe.Pointer(&mem[ringAddr+uint32(8*idx)]))
				// Keep the ring's own wrap bit: it is the driver's, and the model's walk
				// depends on it.
				wrap := uint32(0)
				if idx == ringN-1 {
					wrap = 1 << (16 + enet.BD_RX_W)
				}
				w = w&^(1<<(16+enet.BD_RX_W)) | wrap
				atomic.StoreUint32(p, w)
				idx = (idx + 1) % ringN
				if w&l != 0 {
					lasts++
					length := int(w & 0xffff)
					if w>>16&(1<<enet.BD_RX_LG|1<<enet.BD_RX_NO|1<<enet.BD_RX_CR|1<<enet.BD_RX_OV|1<<enet.BD_RX_TR) == 0 && length >= enet.FCSLen && length <= enet.BufSize {
						good++
					}
				}
			}
			for {
				if _, more := r.hw.Receive(3); !more {
					break
				}
			}
		}
		st := r.hw.Stats()
		if st.RxFrames+st.RxErrors != lasts {
			t.Fatalf("%d frames + %d errors for %d last descriptors", st.RxFrames, st.RxErrors, lasts)
		}
		if st.RxFrames > good {
			t.Fatalf("delivered %d frames, only %d were deliverable", st.RxFrames, good)
		}
		for _, fr := range r.frames() {
			if len(fr) > enet.BufSize-enet.FCSLen {
				t.Fatalf("delivered a %d-byte frame", len(fr))
			}
		}
	})
}
