package bpf

// Placeholder until the arm code generator lands: no native code.
func jitEmit([]Insn) ([]byte, bool) { return nil, false }

func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32 {
	panic("bpf: no native code yet")
}

func jitSync(start, n uintptr) {}
