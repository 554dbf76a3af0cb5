//go:build arm

// Command jitbench runs bpf filters on the emulated board three ways, native code
// (bpf.Compile), the portable ops (bpf.CompilePortable) and golang.org/x/net/bpf, over frames
// and filters the host test links in, and prints for each filter whether it ran native, the
// matches of each path and their ns/frame. qemu/jit_test.go builds, boots and checks it.
//
// The input is -ldflags "-X main.data=..." (no file system on the board): base64 of a gzip
// stream holding, little-endian, the filter count, each filter (instruction count, then
// code u16, jt u8, jf u8, k u32 per instruction), the frame count and each frame (wire
// length u32, captured length u16, bytes), and the number of timed passes (u32).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	xbpf "golang.org/x/net/bpf"

	"github.com/baretap/baretap/bpf"
	_ "github.com/baretap/baretap/kern"
)

var data string

type frame struct {
	b    []byte
	wire uint32
}

func main() {
	filters, frames, passes, err := decode(data)
	if err != nil {
		fmt.Println("jitbench: bad input:", err)
		os.Exit(1)
	}
	fmt.Printf("jitbench: %d filters, %d frames, %d passes\n", len(filters), len(frames), passes)
	for i, f := range filters {
		native, err := bpf.Compile(f, len(f))
		if err != nil {
			fmt.Printf("jit %d error %v\n", i, err)
			continue
		}
		ops, _ := bpf.CompilePortable(f, len(f))
		raw := make([]xbpf.Instruction, len(f))
		for j, in := range f {
			raw[j] = xbpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
		}
		vm, xerr := xbpf.NewVM(raw)
		var mn, mo, mx int
		for _, fr := range frames {
			if native.Run(fr.b, fr.wire) != 0 {
				mn++
			}
			if ops.Run(fr.b, fr.wire) != 0 {
				mo++
			}
		}
		var tn, to, tx time.Duration
		for range passes {
			t0 := time.Now()
			sink += pass(native, frames)
			t1 := time.Now()
			sink += pass(ops, frames)
			t2 := time.Now()
			tn, to = tn+t1.Sub(t0), to+t2.Sub(t1)
			if xerr == nil {
				var acc int
				for _, fr := range frames {
					v, _ := vm.Run(fr.b)
					acc += v
				}
				sink += uint32(acc)
				tx += time.Since(t2)
			}
		}
		if xerr == nil {
			for _, fr := range frames {
				if v, _ := vm.Run(fr.b); v != 0 {
					mx++
				}
			}
		} else {
			mx = -1
		}
		n := float64(passes) * float64(len(frames))
		fmt.Printf("jit %d native=%t matches=%d,%d,%d ns=%.2f,%.2f,%.2f\n", i, native.Native(), mn, mo, mx,
			float64(tn.Nanoseconds())/n, float64(to.Nanoseconds())/n, float64(tx.Nanoseconds())/n)
	}
	fmt.Println("jitbench: done")
	os.Exit(0)
}

// sink keeps the verdicts alive.
var sink uint32

func pass(p *bpf.Program, frames []frame) uint32 {
	var acc uint32
	for i := range frames {
		acc += p.Run(frames[i].b, frames[i].wire)
	}
	return acc
}

func decode(s string) ([][]bpf.Insn, []frame, int, error) {
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, nil, 0, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, nil, 0, err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, 0, err
	}
	short := errors.New("truncated")
	u32 := func() (uint32, error) {
		if len(b) < 4 {
			return 0, short
		}
		v := binary.LittleEndian.Uint32(b)
		b = b[4:]
		return v, nil
	}
	nf, err := u32()
	if err != nil {
		return nil, nil, 0, err
	}
	filters := make([][]bpf.Insn, nf)
	for i := range filters {
		n, err := u32()
		if err != nil || uint64(len(b)) < 8*uint64(n) {
			return nil, nil, 0, short
		}
		for range n {
			filters[i] = append(filters[i], bpf.Insn{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])})
			b = b[8:]
		}
	}
	nfr, err := u32()
	if err != nil {
		return nil, nil, 0, err
	}
	frames := make([]frame, nfr)
	for i := range frames {
		wire, err := u32()
		if err != nil || len(b) < 2 {
			return nil, nil, 0, short
		}
		n := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, nil, 0, short
		}
		frames[i] = frame{b: b[2 : 2+n : 2+n], wire: wire}
		b = b[2+n:]
	}
	passes, err := u32()
	return filters, frames, int(passes), err
}
