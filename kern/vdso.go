package kern

import "encoding/binary"

// The in-image vDSO: a minimal ELF32 shared object, built at boot in kernel memory and
// passed to the program as AT_SYSINFO_EHDR, that exports __vdso_clock_gettime (version
// LINUX_2.6, as the runtime's vdso_linux_arm.go looks it up). The runtime then reads the
// clock without a system call. The object is "linked" at its own address: its one PT_LOAD
// has p_vaddr equal to where it lies and p_offset 0, so the runtime's load offset is 0 and
// every address in it is absolute, including the symbol, which points at kernel text.
//
// Layout (offsets in bytes): ELF header, two program headers (PT_LOAD, PT_DYNAMIC), the
// dynamic table, DT_HASH, .dynsym, .gnu.version, .gnu.version_d, .dynstr, .shstrtab, and
// section headers so that ordinary ELF tools (debug/elf, readelf) can read it too.

const (
	vdsoSymbol  = "__vdso_clock_gettime"
	vdsoVersion = "LINUX_2.6"
	vdsoSoname  = "linux-vdso.so.1"

	// VDSOMaxSize bounds the image BuildVDSO writes.
	VDSOMaxSize = 1024
)

// ELF constants (System V gABI, Linux symbol versioning).
const (
	etDyn        = 3
	emARM        = 40
	ptLoad       = 1
	ptDynamic    = 2
	pfR          = 4
	pfX          = 1
	dtNull       = 0
	dtHash       = 4
	dtStrtab     = 5
	dtSymtab     = 6
	dtStrsz      = 10
	dtSyment     = 11
	dtSoname     = 14
	dtVersym     = 0x6ffffff0
	dtVerdef     = 0x6ffffffc
	dtVerdefnum  = 0x6ffffffd
	shtProgbits  = 1
	shtStrtab    = 3
	shtHash      = 5
	shtDynamic   = 6
	shtDynsym    = 11
	shtVerdef    = 0x6ffffffd
	shtVersym    = 0x6fffffff
	shfAlloc     = 2
	stbGlobal    = 1
	sttFunc      = 2
	verFlgBase   = 1
	efARMEABIv5  = 0x05000000
	efARMHardABI = 0x400
)

// ELFHash is the System V ABI symbol hash, used by DT_HASH and for version names.
func ELFHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		if g != 0 {
			h ^= g >> 24
		}
		h &^= g
	}
	return h
}

// BuildVDSO writes the vDSO image into buf for loading at address base, with
// __vdso_clock_gettime at address fn, and returns its size. It allocates nothing; buf must
// hold VDSOMaxSize bytes.
func BuildVDSO(buf []byte, base, fn uint32) int {
	_ = buf[VDSOMaxSize-1]
	clear(buf[:VDSOMaxSize])
	le := binary.LittleEndian
	const (
		ehdrSize = 52
		phdrSize = 32
		shdrSize = 40
		offPhdr  = ehdrSize
		offDyn   = offPhdr + 2*phdrSize
		nDyn     = 11
		offHash  = offDyn + nDyn*8
		offSym   = offHash + 5*4
		offVsym  = offSym + 2*16
		offVdef  = offVsym + 2*2
		offStr   = offVdef + 2*(20+8)
	)
	// .dynstr: "", symbol, version, soname.
	strtab := "\x00" + vdsoSymbol + "\x00" + vdsoVersion + "\x00" + vdsoSoname + "\x00"
	const (
		strSym    = 1
		strVer    = strSym + len(vdsoSymbol) + 1
		strSoname = strVer + len(vdsoVersion) + 1
	)
	shstr := "\x00.hash\x00.dynsym\x00.dynstr\x00.gnu.version\x00.gnu.version_d\x00.dynamic\x00.text\x00.shstrtab\x00"
	offShstr := offStr + len(strtab)
	offShdr := (offShstr + len(shstr) + 3) &^ 3
	const nShdr = 9
	size := offShdr + nShdr*shdrSize

	// ELF header.
	copy(buf, "\x7fELF")
	buf[4] = 1 // ELFCLASS32
	buf[5] = 1 // ELFDATA2LSB
	buf[6] = 1 // EV_CURRENT
	le.PutUint16(buf[16:], etDyn)
	le.PutUint16(buf[18:], emARM)
	le.PutUint32(buf[20:], 1)
	le.PutUint32(buf[24:], fn) // e_entry: unused, harmless
	le.PutUint32(buf[28:], offPhdr)
	le.PutUint32(buf[32:], uint32(offShdr))
	le.PutUint32(buf[36:], efARMEABIv5|efARMHardABI)
	le.PutUint16(buf[40:], ehdrSize)
	le.PutUint16(buf[42:], phdrSize)
	le.PutUint16(buf[44:], 2)
	le.PutUint16(buf[46:], shdrSize)
	le.PutUint16(buf[48:], nShdr)
	le.PutUint16(buf[50:], nShdr-1) // .shstrtab is last

	phdr := func(i int, typ, off, filesz, flags uint32) {
		p := buf[offPhdr+i*phdrSize:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], off)
		le.PutUint32(p[8:], base+off) // p_vaddr
		le.PutUint32(p[12:], base+off)
		le.PutUint32(p[16:], filesz)
		le.PutUint32(p[20:], filesz)
		le.PutUint32(p[24:], flags)
		le.PutUint32(p[28:], 4)
	}
	phdr(0, ptLoad, 0, uint32(size), pfR|pfX)
	phdr(1, ptDynamic, offDyn, nDyn*8, pfR)

	// Dynamic table: absolute addresses, since the load offset is 0.
	dyn := func(i int, tag, val uint32) {
		le.PutUint32(buf[offDyn+8*i:], tag)
		le.PutUint32(buf[offDyn+8*i+4:], val)
	}
	dyn(0, dtHash, base+offHash)
	dyn(1, dtStrtab, base+offStr)
	dyn(2, dtSymtab, base+offSym)
	dyn(3, dtStrsz, uint32(len(strtab)))
	dyn(4, dtSyment, 16)
	dyn(5, dtSoname, uint32(strSoname))
	dyn(6, dtVersym, base+offVsym)
	dyn(7, dtVerdef, base+offVdef)
	dyn(8, dtVerdefnum, 2)
	dyn(9, dtNull, 0)

	// DT_HASH: one bucket, two symbols (0 is the null symbol).
	le.PutUint32(buf[offHash:], 1)
	le.PutUint32(buf[offHash+4:], 2)
	le.PutUint32(buf[offHash+8:], 1)
	le.PutUint32(buf[offHash+12:], 0)
	le.PutUint32(buf[offHash+16:], 0)

	// Symbol 1: the clock function, in section 7 (.text, which covers it nominally).
	s := buf[offSym+16:]
	le.PutUint32(s[0:], uint32(strSym))
	le.PutUint32(s[4:], fn)
	le.PutUint32(s[8:], 64)
	s[12] = stbGlobal<<4 | sttFunc
	le.PutUint16(s[14:], 7)

	// Versions: symbol 1 has version index 2 (LINUX_2.6); index 1 is the base definition
	// (the soname), which the runtime skips but dereferences.
	le.PutUint16(buf[offVsym+2:], 2)
	verdef := func(off, flags, ndx uint16, hash, name, next uint32) {
		v := buf[int(offVdef)+int(off):]
		le.PutUint16(v[0:], 1) // vd_version
		le.PutUint16(v[2:], flags)
		le.PutUint16(v[4:], ndx)
		le.PutUint16(v[6:], 1) // vd_cnt
		le.PutUint32(v[8:], hash)
		le.PutUint32(v[12:], 20) // vd_aux: right after
		le.PutUint32(v[16:], next)
		le.PutUint32(v[20:], name) // vda_name
		le.PutUint32(v[24:], 0)    // vda_next
	}
	verdef(0, verFlgBase, 1, ELFHash(vdsoSoname), uint32(strSoname), 28)
	verdef(28, 0, 2, ELFHash(vdsoVersion), uint32(strVer), 0)

	copy(buf[offStr:], strtab)
	copy(buf[offShstr:], shstr)

	shdr := func(i int, name int, typ, flags, off, sz, link, info, align, entsize uint32) {
		p := buf[offShdr+i*shdrSize:]
		le.PutUint32(p[0:], uint32(name))
		le.PutUint32(p[4:], typ)
		le.PutUint32(p[8:], flags)
		addr := uint32(0)
		if flags&shfAlloc != 0 {
			addr = base + off
		}
		le.PutUint32(p[12:], addr)
		le.PutUint32(p[16:], off)
		le.PutUint32(p[20:], sz)
		le.PutUint32(p[24:], link)
		le.PutUint32(p[28:], info)
		le.PutUint32(p[32:], align)
		le.PutUint32(p[36:], entsize)
	}
	// Section name offsets in shstr.
	const (
		nHash    = 1
		nDynsym  = nHash + len(".hash") + 1
		nDynstr  = nDynsym + len(".dynsym") + 1
		nVersym  = nDynstr + len(".dynstr") + 1
		nVerdef  = nVersym + len(".gnu.version") + 1
		nDynamic = nVerdef + len(".gnu.version_d") + 1
		nText    = nDynamic + len(".dynamic") + 1
		nShstr   = nText + len(".text") + 1
	)
	shdr(1, nHash, shtHash, shfAlloc, offHash, 5*4, 2, 0, 4, 4)
	shdr(2, nDynsym, shtDynsym, shfAlloc, offSym, 2*16, 3, 1, 4, 16)
	shdr(3, nDynstr, shtStrtab, shfAlloc, offStr, uint32(len(strtab)), 0, 0, 1, 0)
	shdr(4, nVersym, shtVersym, shfAlloc, offVsym, 4, 2, 0, 2, 2)
	shdr(5, nVerdef, shtVerdef, shfAlloc, offVdef, 56, 3, 2, 4, 0)
	shdr(6, nDynamic, shtDynamic, shfAlloc, offDyn, nDyn*8, 3, 0, 4, 8)
	// .text describes the function's place (outside the image) for tools; it has no
	// bytes in the file.
	p := buf[offShdr+7*shdrSize:]
	le.PutUint32(p[0:], uint32(nText))
	le.PutUint32(p[4:], 8) // SHT_NOBITS
	le.PutUint32(p[8:], shfAlloc|4)
	le.PutUint32(p[12:], fn)
	le.PutUint32(p[16:], uint32(size))
	le.PutUint32(p[20:], 64)
	le.PutUint32(p[32:], 4)
	shdr(8, nShstr, shtStrtab, 0, uint32(offShstr), uint32(len(shstr)), 0, 0, 1, 0)
	return size
}
