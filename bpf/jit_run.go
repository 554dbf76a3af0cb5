//go:build !amd64 && !arm

package bpf

// run executes p: its native code when it has some, the ops otherwise.
func run(p *Program, pkt []byte, wirelen uint32) uint32 {
	if p.native.entry == 0 {
		return p.runOps(pkt, wirelen)
	}
	return jitcall(p.native.entry, pkt, wirelen)
}
