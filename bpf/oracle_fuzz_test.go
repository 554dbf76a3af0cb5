package bpf

import (
	"encoding/binary"
	"errors"
	"testing"
)

// Fuzz targets. Seeds live in testdata/fuzz/<Target>/ (corpus filters and
// packets) and are also added here so the targets work without them.

// legalCodes lists the legal opcodes in ascending order.
var legalCodes = func() []uint16 {
	var c []uint16
	for code := range 256 {
		if Legal(uint16(code)) {
			c = append(c, uint16(code))
		}
	}
	return c
}()

// decodeRaw turns bytes into instructions, 8 bytes each (code LE, jt, jf,
// k LE), exactly as they would arrive in a struct bpf_insn array.
func decodeRaw(b []byte) []Insn {
	p := make([]Insn, 0, len(b)/8)
	for ; len(b) >= 8; b = b[8:] {
		p = append(p, Insn{
			Code: binary.LittleEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.LittleEndian.Uint32(b[4:]),
		})
	}
	return p
}

func encodeRaw(p []Insn) []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// decodeValid builds a program that always validates from arbitrary bytes,
// 8 bytes an instruction: an illegal opcode is mapped onto a legal one,
// jump offsets are reduced into the program, scratch indexes below 16,
// constant divisors made non-zero, and the last instruction a return.
// Loads take small offsets unless the low bit of jt is set, so that most
// of them land inside typical packets.
func decodeValid(b []byte) []Insn {
	raw := decodeRaw(b)
	if len(raw) > DefaultMaxInsns {
		raw = raw[:DefaultMaxInsns]
	}
	p := make([]Insn, len(raw))
	for i, r := range raw {
		code := r.Code
		if !Legal(code) {
			code = legalCodes[int(code)%len(legalCodes)]
		}
		in := Insn{Code: code, Jt: r.Jt, Jf: r.Jf, K: r.K}
		remain := len(raw) - i - 1 // instructions after this one
		switch in.Code {
		case BPF_JMP | BPF_JA:
			if remain > 0 {
				in.K %= uint32(remain)
			}
		case BPF_ST, BPF_STX, BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM:
			in.K %= BPF_MEMWORDS
		case BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_MOD | BPF_K:
			if in.K == 0 {
				in.K = 1
			}
		default:
			if in.Class() == BPF_JMP && remain > 0 {
				in.Jt %= uint8(min(remain, 255))
				in.Jf %= uint8(min(remain, 255))
			}
			if (in.Class() == BPF_LD || in.Class() == BPF_LDX) && r.Jt&1 == 0 {
				in.K %= 96
			}
		}
		p[i] = in
	}
	if len(p) > 0 {
		last := &p[len(p)-1]
		if last.Class() != BPF_RET {
			if last.Code&1 == 0 {
				*last = Stmt(BPF_RET|BPF_A, 0)
			} else {
				*last = Stmt(BPF_RET|BPF_K, last.K)
			}
		}
	}
	return p
}

// seedPrograms are small hand-written programs plus the shapes tcpdump
// emits, used as seeds by every target.
func seedPrograms() [][]Insn {
	return [][]Insn{
		arpProg,
		sharedTarget,
		prog(Stmt(BPF_LDX|BPF_B|BPF_MSH, 14), Stmt(BPF_LD|BPF_H|BPF_IND, 16), Jump(BPF_JMP|BPF_JEQ|BPF_K, 80, 0, 1), Stmt(BPF_RET|BPF_K, 65535), Stmt(BPF_RET|BPF_K, 0)),
		prog(Stmt(BPF_LD|BPF_W|BPF_LEN, 0), Jump(BPF_JMP|BPF_JGT|BPF_K, 64, 0, 1), Stmt(BPF_RET|BPF_K, 0), Stmt(BPF_RET|BPF_K, 262144)),
		prog(Stmt(BPF_LD|BPF_IMM, 7), Stmt(BPF_ST, 2), Stmt(BPF_LDX|BPF_MEM, 2), Stmt(BPF_ALU|BPF_DIV|BPF_X, 0), Stmt(BPF_MISC|BPF_TAX, 0), Stmt(BPF_ALU|BPF_LSH|BPF_X, 0), retA),
	}
}

var seedPacket = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
	0x0a, 0x01, 0x02, 0x03, 0xc0, 0xa8, 0x01, 0x0a,
	0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0,
}

// FuzzValidate feeds raw instruction bytes to the validator. It must never
// panic, its errors must wrap ErrInvalidProgram, and a program it accepts
// must run on every path (the interpreter, the machine code where there is
// a generator, the portable ops) without panicking or crashing (an
// out-of-range jump or scratch index would), to the same verdict. A program it rejects must
// still run on the interpreter without panicking or hanging.
func FuzzValidate(f *testing.F) {
	for _, p := range seedPrograms() {
		f.Add(encodeRaw(p), uint16(0))
	}
	f.Add(encodeRaw(prog(Stmt(BPF_JMP|BPF_JA, 0xfffffff1), retA)), uint16(0))
	f.Fuzz(func(t *testing.T, raw []byte, max uint16) {
		p := decodeRaw(raw)
		err := Validate(p, int(max))
		if err != nil {
			if !errors.Is(err, ErrInvalidProgram) {
				t.Fatalf("error %v does not wrap ErrInvalidProgram", err)
			}
			if _, cerr := Compile(p, int(max)); cerr == nil {
				t.Fatal("Compile accepted a program Validate rejects")
			}
			// The interpreter must still neither panic nor hang.
			Filter(p, seedPacket, uint32(len(seedPacket)))
			return
		}
		if n := len(p); n > 0 && p[n-1].Class() != BPF_RET {
			t.Fatal("accepted a program that does not end in a return")
		}
		c, err := Compile(p, int(max))
		if err != nil {
			t.Fatalf("Compile rejected a valid program: %v", err)
		}
		port, err := CompilePortable(p, int(max))
		if err != nil {
			t.Fatalf("CompilePortable rejected a valid program: %v", err)
		}
		for _, pkt := range [][]byte{nil, seedPacket[:13], seedPacket} {
			w := uint32(len(pkt))
			if a, b, o := Filter(p, pkt, w), c.Run(pkt, w), port.Run(pkt, w); a != b || a != o {
				t.Fatalf("interpreter %d, compiled (native=%v) %d, portable %d on a %d-byte packet\n%s", a, c.Native(), b, o, len(pkt), Disassemble(p))
			}
		}
	})
}

// FuzzAgree is the differential target: for a program that validates (built
// by decodeValid) and any packet and wire length, the interpreter, the
// machine code (Compile, where this platform has a generator) and the
// portable ops (CompilePortable) return the same verdict, and x/net/bpf
// returns it too wherever it defines the same result (see xnetComparable;
// x/net/bpf runs with the wire length equal to the captured length, the only
// one it has).
func FuzzAgree(f *testing.F) {
	for _, p := range seedPrograms() {
		f.Add(encodeRaw(p), seedPacket, uint16(0))
		f.Add(encodeRaw(p), seedPacket[:20], uint16(100))
	}
	f.Fuzz(func(t *testing.T, rawProg, pkt []byte, extraWire uint16) {
		p := decodeValid(rawProg)
		if err := Validate(p, 0); err != nil {
			t.Fatalf("decodeValid built an invalid program: %v\n%s", err, Disassemble(p))
		}
		c, err := Compile(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		port, err := CompilePortable(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		wire := uint32(len(pkt)) + uint32(extraWire)
		interp, comp, ops := Filter(p, pkt, wire), c.Run(pkt, wire), port.Run(pkt, wire)
		if interp != comp || interp != ops {
			t.Fatalf("interpreter %d, compiled (native=%v) %d, portable %d (wire %d)\n%s", interp, c.Native(), comp, ops, wire, Disassemble(p))
		}
		if ok, _ := xnetComparable(p); !ok {
			return
		}
		vm, err := xnetVM(p)
		if err != nil {
			t.Fatalf("x/net/bpf refused a comparable program: %v\n%s", err, Disassemble(p))
		}
		want, err := vm.Run(pkt)
		if err != nil {
			t.Fatalf("x/net/bpf: %v", err)
		}
		if got := Filter(p, pkt, uint32(len(pkt))); got != uint32(want) {
			t.Fatalf("interpreter %d, x/net/bpf %d\n%s", got, want, Disassemble(p))
		}
		if got := c.Run(pkt, uint32(len(pkt))); got != uint32(want) {
			t.Fatalf("compiled (native=%v) %d, x/net/bpf %d\n%s", c.Native(), got, want, Disassemble(p))
		}
		if got := port.Run(pkt, uint32(len(pkt))); got != uint32(want) {
			t.Fatalf("portable %d, x/net/bpf %d\n%s", got, want, Disassemble(p))
		}
	})
}

// FuzzParseProgram feeds arbitrary text to the parser. It must never
// panic, and whatever it accepts must print back, in -ddd and -dd form, to
// text that parses to the same program.
func FuzzParseProgram(f *testing.F) {
	for _, p := range seedPrograms() {
		f.Add(formatDDD(p))
		f.Add(formatDD(p))
	}
	f.Add("4,40 0 0 12,21 0 1 2054,6 0 0 262144,6 0 0 0")
	f.Add("1\n6 0 0 99999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseProgram(text)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(p) == 0 {
			return
		}
		for form, out := range map[string]string{"-ddd": formatDDD(p), "-dd": formatDD(p)} {
			again, err := ParseProgram(out)
			if err != nil {
				t.Fatalf("re-parsing our %s output: %v\n%s", form, err, out)
			}
			if !equalInsns(again, p) {
				t.Fatalf("%s round trip changed the program", form)
			}
		}
		_ = Disassemble(p)
	})
}
