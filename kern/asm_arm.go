package kern

// Defined in entry_arm.s. None of them may be called before setKernelG except rt0.

func rt0()
func setKernelG()
func vecReset()
func vecUND()
func vecSWI()
func vecPABT()
func vecDABT()
func vecIRQ()
func vecFIQ()
func trapCommon()
func sigreturnTramp()
func vdsoClockGettime()

func semihost(op, arg uintptr) uintptr
func wfi()
func irqDisable() uint32
func irqRestore(cpsr uint32)
func imageEnd() uintptr
func imageStart() uintptr
func kgAddr() uintptr
func trampAddr() uintptr
func vdsoShimAddr() uintptr
func pokeAddr(addr uintptr) uint32

func readCNTVCT() uint64
func readCNTFRQ() uint32
func writeCNTFRQ(v uint32)
func writeCNTV_TVAL(v uint32)
func writeCNTV_CTL(v uint32)

func readDFSR() uint32
func readIFSR() uint32
func readDFAR() uint32
func readIFAR() uint32

func readSCTLR() uint32
func writeSCTLR(v uint32)
func readACTLR() uint32
func writeACTLR(v uint32)
func writeTTBR0(v uint32)
func writeTTBCR(v uint32)
func writeDACR(v uint32)
func invalidateTLBAndICache()
func readCLIDR() uint32
func readCCSIDR(csselr uint32) uint32
func dcacheSetWay(op, sw uint32)
func dsb()
