package kern

import "encoding/binary"

// Auxiliary vector tags (Linux include/uapi/linux/auxvec.h and asm/auxvec.h).
const (
	AT_NULL         = 0
	AT_PAGESZ       = 6
	AT_PLATFORM     = 15
	AT_HWCAP        = 16
	AT_CLKTCK       = 17
	AT_SECURE       = 23
	AT_RANDOM       = 25
	AT_HWCAP2       = 26
	AT_SYSINFO_EHDR = 33
)

// HWCAP bits for 32-bit arm (Linux arch/arm/include/uapi/asm/hwcap.h). The runtime refuses to
// start with GOARM=7 unless VFP and VFPv3 are present.
const (
	HWCAP_HALF      = 1 << 1
	HWCAP_THUMB     = 1 << 2
	HWCAP_FAST_MULT = 1 << 4
	HWCAP_VFP       = 1 << 6
	HWCAP_EDSP      = 1 << 7
	HWCAP_NEON      = 1 << 12
	HWCAP_VFPv3     = 1 << 13
	HWCAP_TLS       = 1 << 15
	HWCAP_VFPv4     = 1 << 16
	HWCAP_IDIVA     = 1 << 17
	HWCAP_IDIVT     = 1 << 18
	HWCAP_VFPD32    = 1 << 19
	HWCAP_LPAE      = 1 << 20
)

// CortexA7HWCAP is what Linux reports for the i.MX6UL's Cortex-A7 (VFPv4-D32 with NEON,
// hardware divide, LPAE).
const CortexA7HWCAP = HWCAP_HALF | HWCAP_THUMB | HWCAP_FAST_MULT | HWCAP_VFP | HWCAP_EDSP |
	HWCAP_NEON | HWCAP_VFPv3 | HWCAP_TLS | HWCAP_VFPv4 | HWCAP_IDIVA | HWCAP_IDIVT |
	HWCAP_VFPD32 | HWCAP_LPAE

// AuxEntry is one auxiliary vector entry of a 32-bit process.
type AuxEntry struct{ Tag, Val uint32 }

// BuildStack writes the initial process stack the way Linux's ELF loader does for a 32-bit
// process, at the top of mem (whose first byte is at address base):
//
//	sp -> argc
//	      argv[0..argc-1], NULL
//	      envp[0..], NULL
//	      auxv pairs from aux, then AT_RANDOM, AT_NULL
//	      (padding)
//	      16 random bytes, argument and environment strings (NUL-terminated)
//	top of mem
//
// The returned sp is 8-byte aligned (AAPCS). aux must not contain AT_RANDOM or AT_NULL; they
// are appended. ok is false when mem is too small. BuildStack allocates nothing, so the kernel
// can run it before the Go runtime exists.
func BuildStack(mem []byte, base uintptr, argv, envp []string, aux []AuxEntry, random *[16]byte) (sp uintptr, ok bool) {
	top := len(mem)
	// Strings and random bytes go at the top, growing down.
	put := func(b []byte, s string) int {
		n := len(b) + len(s) + 1
		if top < n {
			return -1
		}
		top -= n
		copy(mem[top:], b)
		copy(mem[top+len(b):], s)
		mem[top+len(b)+len(s)] = 0
		return top
	}
	randOff := top - 16
	if randOff < 0 {
		return 0, false
	}
	copy(mem[randOff:], random[:])
	top = randOff

	words := 1 + len(argv) + 1 + len(envp) + 1 + 2*(len(aux)+2)
	// Strings are placed first; their addresses are written into the vectors below.
	var strTop = top
	for _, s := range argv {
		if put(nil, s) < 0 {
			return 0, false
		}
	}
	for _, s := range envp {
		if put(nil, s) < 0 {
			return 0, false
		}
	}
	vec := (top - 4*words) &^ 7
	if vec < 0 {
		return 0, false
	}
	w := vec
	word := func(v uint32) {
		binary.LittleEndian.PutUint32(mem[w:], v)
		w += 4
	}
	word(uint32(len(argv)))
	// Walk the strings again in the order they were placed (downwards from strTop).
	s := strTop
	for _, a := range argv {
		s -= len(a) + 1
		word(uint32(base) + uint32(s))
	}
	word(0)
	for _, e := range envp {
		s -= len(e) + 1
		word(uint32(base) + uint32(s))
	}
	word(0)
	for _, a := range aux {
		word(a.Tag)
		word(a.Val)
	}
	word(AT_RANDOM)
	word(uint32(base) + uint32(randOff))
	word(AT_NULL)
	word(0)
	return base + uintptr(vec), true
}
