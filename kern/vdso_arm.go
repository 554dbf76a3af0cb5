package kern

import "unsafe"

var vdsoImage [VDSOMaxSize]byte

// vdsoInit builds the vDSO in kernel memory and returns its address for AT_SYSINFO_EHDR.
func vdsoInit() (uintptr, bool) {
	base := uintptr(unsafe.Pointer(&vdsoImage[0]))
	BuildVDSO(vdsoImage[:], uint32(base), uint32(vdsoShimAddr()))
	return base, true
}
