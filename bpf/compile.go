package bpf

// Program is a validated, compiled filter. It is immutable after Compile and
// safe for concurrent use by any number of goroutines: Run keeps all machine
// state in locals.
type Program struct {
	insns []Insn // the source program, as validated
}

// Compile validates prog with Validate(prog, maxInsns) and translates it into
// the fast form Run executes. The result copies prog; later changes to the
// caller's slice do not affect it.
func Compile(prog []Insn, maxInsns int) (*Program, error) {
	if err := Validate(prog, maxInsns); err != nil {
		return nil, err
	}
	p := &Program{insns: append([]Insn(nil), prog...)}
	return p, nil
}

// Run returns the same verdict as Filter(p.Insns(), pkt, wirelen) and
// allocates nothing.
func (p *Program) Run(pkt []byte, wirelen uint32) uint32 {
	return Filter(p.insns, pkt, wirelen)
}

// Insns returns a copy of the validated source program.
func (p *Program) Insns() []Insn { return append([]Insn(nil), p.insns...) }
