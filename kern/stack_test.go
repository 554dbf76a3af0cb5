package kern

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// parsedStack is the initial stack read back the way a Linux/arm C runtime (and the Go
// runtime's sysargs) reads it, independently of BuildStack.
type parsedStack struct {
	argv, envp []string
	aux        map[uint32]uint32
	auxOrder   []uint32
}

func parseStack(t testing.TB, mem []byte, base, sp uintptr) parsedStack {
	t.Helper()
	le := binary.LittleEndian
	off := int(sp - base)
	word := func() uint32 {
		if off < 0 || off+4 > len(mem) {
			t.Fatalf("stack walk left the buffer at offset %d", off)
		}
		v := le.Uint32(mem[off:])
		off += 4
		return v
	}
	str := func(addr uint32) string {
		o := int(uintptr(addr) - base)
		if o < 0 || o >= len(mem) {
			t.Fatalf("string pointer %#x outside the stack", addr)
		}
		end := bytes.IndexByte(mem[o:], 0)
		if end < 0 {
			t.Fatalf("string at %#x not terminated", addr)
		}
		return string(mem[o : o+end])
	}
	var p parsedStack
	argc := word()
	for i := uint32(0); i < argc; i++ {
		p.argv = append(p.argv, str(word()))
	}
	if word() != 0 {
		t.Fatal("argv not NULL-terminated")
	}
	for {
		a := word()
		if a == 0 {
			break
		}
		p.envp = append(p.envp, str(a))
	}
	p.aux = map[uint32]uint32{}
	for {
		tag, val := word(), word()
		p.auxOrder = append(p.auxOrder, tag)
		if tag == AT_NULL {
			break
		}
		p.aux[tag] = val
	}
	return p
}

func TestBuildStack(t *testing.T) {
	mem := make([]byte, 4096)
	const base = 0x80400000
	random := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	argv := []string{"baretap", "-v"}
	envp := []string{"GODEBUG=asyncpreemptoff=1", "A=b"}
	aux := []AuxEntry{{AT_PAGESZ, PageSize}, {AT_HWCAP, CortexA7HWCAP}, {AT_SYSINFO_EHDR, 0x80300000}}
	sp, ok := BuildStack(mem, base, argv, envp, aux, &random)
	if !ok {
		t.Fatal("BuildStack failed")
	}
	if sp%8 != 0 || sp < base || sp >= base+uintptr(len(mem)) {
		t.Fatalf("sp %#x: not 8-byte aligned inside the buffer", sp)
	}
	p := parseStack(t, mem, base, sp)
	if len(p.argv) != 2 || p.argv[0] != "baretap" || p.argv[1] != "-v" {
		t.Errorf("argv %q", p.argv)
	}
	if len(p.envp) != 2 || p.envp[0] != envp[0] || p.envp[1] != envp[1] {
		t.Errorf("envp %q", p.envp)
	}
	if p.aux[AT_PAGESZ] != PageSize || p.aux[AT_HWCAP] != CortexA7HWCAP || p.aux[AT_SYSINFO_EHDR] != 0x80300000 {
		t.Errorf("auxv %v", p.aux)
	}
	// The runtime requires VFP and VFPv3 for GOARM=7 (runtime/os_linux_arm.go checkgoarm).
	if p.aux[AT_HWCAP]&HWCAP_VFP == 0 || p.aux[AT_HWCAP]&HWCAP_VFPv3 == 0 {
		t.Error("HWCAP lacks VFP/VFPv3")
	}
	r := p.aux[AT_RANDOM]
	o := int(uintptr(r) - base)
	if o < 0 || o+16 > len(mem) || !bytes.Equal(mem[o:o+16], random[:]) {
		t.Errorf("AT_RANDOM %#x does not point at the random bytes", r)
	}
	if last := p.auxOrder[len(p.auxOrder)-1]; last != AT_NULL {
		t.Errorf("auxv ends with %d", last)
	}
}

func TestBuildStackTooSmall(t *testing.T) {
	var random [16]byte
	for _, n := range []int{0, 8, 40, 64} {
		mem := make([]byte, n)
		if _, ok := BuildStack(mem, 0x1000, []string{"a-long-program-name"}, []string{"X=1"}, nil, &random); ok {
			t.Errorf("%d-byte stack accepted", n)
		}
	}
}

func FuzzBuildStack(f *testing.F) {
	f.Add("baretap", "GODEBUG=x", uint32(6), uint32(4096), 512)
	f.Add("", "", uint32(0), uint32(0), 0)
	f.Fuzz(func(t *testing.T, arg, env string, tag, val uint32, size int) {
		if size < 0 || size > 1<<16 || tag == AT_NULL || tag == AT_RANDOM {
			return
		}
		if bytes.IndexByte([]byte(arg+env), 0) >= 0 {
			return // C strings cannot hold NUL
		}
		mem := make([]byte, size)
		var random [16]byte
		const base = 0x10000
		sp, ok := BuildStack(mem, base, []string{arg}, []string{env}, []AuxEntry{{tag, val}}, &random)
		if !ok {
			return
		}
		p := parseStack(t, mem, base, sp)
		if len(p.argv) != 1 || p.argv[0] != arg || len(p.envp) != 1 || p.envp[0] != env || p.aux[tag] != val {
			t.Fatalf("round trip: %q %q %v", p.argv, p.envp, p.aux)
		}
	})
}
