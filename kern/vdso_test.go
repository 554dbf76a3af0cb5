package kern

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testVDSOBase uint32 = 0x80231000
	testVDSOFn   uint32 = 0x800a1234
)

func buildTestVDSO(t testing.TB) []byte {
	buf := make([]byte, VDSOMaxSize)
	n := BuildVDSO(buf, testVDSOBase, testVDSOFn)
	if n <= 0 || n > VDSOMaxSize {
		t.Fatalf("size %d", n)
	}
	return buf[:n]
}

// TestVDSOParsesWithDebugELF reads the image with the standard library's ELF reader: the
// dynamic symbol must be there with its version, as glibc and the Go runtime look it up.
func TestVDSOParsesWithDebugELF(t *testing.T) {
	img := buildTestVDSO(t)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS32 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_ARM || f.Type != elf.ET_DYN {
		t.Errorf("header: %v %v %v %v", f.Class, f.Data, f.Machine, f.Type)
	}
	var load, dyn *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			load = p
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if load == nil || dyn == nil {
		t.Fatalf("program headers %v", f.Progs)
	}
	// The runtime's load offset (loadAddr + p_offset - p_vaddr) must be 0, so that the
	// absolute addresses inside are right.
	if load.Off != 0 || load.Vaddr != uint64(testVDSOBase) || load.Filesz != uint64(len(img)) {
		t.Errorf("PT_LOAD off %#x vaddr %#x filesz %d", load.Off, load.Vaddr, load.Filesz)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	if len(syms) != 1 {
		t.Fatalf("dynamic symbols %+v", syms)
	}
	s := syms[0]
	if s.Name != "__vdso_clock_gettime" || s.Value != uint64(testVDSOFn) || elf.ST_TYPE(s.Info) != elf.STT_FUNC ||
		elf.ST_BIND(s.Info) != elf.STB_GLOBAL || s.Version != "LINUX_2.6" {
		t.Errorf("symbol %+v", s)
	}
	vers, err := f.DynamicVersions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vers) != 2 || vers[0].Name != "linux-vdso.so.1" || vers[0].Flags&elf.VER_FLG_BASE == 0 || vers[1].Name != "LINUX_2.6" || vers[1].Index != 2 {
		t.Errorf("versions %+v", vers)
	}
	if soname, err := f.DynString(elf.DT_SONAME); err != nil || len(soname) != 1 || soname[0] != "linux-vdso.so.1" {
		t.Errorf("DT_SONAME %q %v", soname, err)
	}
}

// TestVDSORuntimeLookup walks the image the way the Go runtime does (vdsoInitFromSysinfoEhdr,
// vdsoFindVersion, vdsoParseSymbols in runtime/vdso_linux.go): DT_HASH bucket by the symbol's
// ELF hash, the version by its hash and name. The hashes are the runtime's own constants
// (runtime/vdso_linux_arm.go), an oracle independent of ELFHash.
func TestVDSORuntimeLookup(t *testing.T) {
	const symHash, verHash = 0xd35ec75, 0x3ae75f6
	if ELFHash("__vdso_clock_gettime") != symHash || ELFHash("LINUX_2.6") != verHash {
		t.Fatalf("ELFHash disagrees with the runtime's constants: %#x %#x", ELFHash("__vdso_clock_gettime"), ELFHash("LINUX_2.6"))
	}
	img := buildTestVDSO(t)
	le := binary.LittleEndian
	at := func(addr uint32) []byte { return img[addr-testVDSOBase:] } // load offset 0: addresses are absolute
	phoff, phnum := le.Uint32(img[28:]), le.Uint16(img[44:])
	var dynOff uint32
	for i := uint32(0); i < uint32(phnum); i++ {
		p := img[phoff+32*i:]
		if le.Uint32(p) == uint32(elf.PT_DYNAMIC) {
			dynOff = le.Uint32(p[4:])
		}
	}
	tags := map[uint32]uint32{}
	for d := img[dynOff:]; le.Uint32(d) != 0; d = d[8:] {
		tags[le.Uint32(d)] = le.Uint32(d[4:])
	}
	strtab, symtab, hash := at(tags[uint32(elf.DT_STRTAB)]), at(tags[uint32(elf.DT_SYMTAB)]), at(tags[uint32(elf.DT_HASH)])
	versym, verdef := at(tags[uint32(elf.DT_VERSYM)]), at(tags[uint32(elf.DT_VERDEF)])
	cstr := func(off uint32) string { return string(strtab[off : off+uint32(bytes.IndexByte(strtab[off:], 0))]) }
	// Version index of LINUX_2.6.
	version := -1
	for def := verdef; ; {
		flags, ndx := le.Uint16(def[2:]), le.Uint16(def[4:])
		if flags&uint16(elf.VER_FLG_BASE) == 0 {
			aux := def[le.Uint32(def[12:]):]
			if le.Uint32(def[8:]) == verHash && cstr(le.Uint32(aux)) == "LINUX_2.6" {
				version = int(ndx & 0x7fff)
			}
		}
		next := le.Uint32(def[16:])
		if next == 0 {
			break
		}
		def = def[next:]
	}
	if version != 2 {
		t.Fatalf("LINUX_2.6 not found in verdef (%d)", version)
	}
	nbucket := le.Uint32(hash)
	found := uint32(0)
	for i := le.Uint32(hash[8+4*(symHash%nbucket):]); i != 0; i = le.Uint32(hash[8+4*nbucket+4*i:]) {
		sym := symtab[16*i:]
		if cstr(le.Uint32(sym)) == "__vdso_clock_gettime" && int(le.Uint16(versym[2*i:])&0x7fff) == version {
			found = le.Uint32(sym[4:])
		}
	}
	if found != testVDSOFn {
		t.Errorf("runtime-style lookup found %#x, want %#x", found, testVDSOFn)
	}
}

// TestVDSOReadelf cross-checks with binutils' readelf when it is installed (a development
// aid, not a requirement).
func TestVDSOReadelf(t *testing.T) {
	readelf, err := exec.LookPath("arm-none-eabi-readelf")
	if err != nil {
		if readelf, err = exec.LookPath("readelf"); err != nil {
			t.Skip("no readelf installed")
		}
	}
	path := filepath.Join(t.TempDir(), "vdso.so")
	if err := os.WriteFile(path, buildTestVDSO(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(readelf, "-W", "--dyn-syms", "-V", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", readelf, err, out)
	}
	s := string(out)
	if !strings.Contains(s, "__vdso_clock_gettime@@LINUX_2.6") || !strings.Contains(s, "800a1234") || strings.Contains(s, "Warning") {
		t.Errorf("readelf:\n%s", s)
	}
}
