//go:build !amd64 && !arm

package bpf

// No code generator for this architecture: every program runs on the ops path.
func jitEmit([]Insn) ([]byte, bool) { return nil, false }

func jitcall(entry uintptr, pkt []byte, wirelen uint32) uint32 {
	panic("bpf: no native code on this architecture")
}

func jitSync(start, n uintptr) {}
