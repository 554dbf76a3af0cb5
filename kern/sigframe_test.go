package kern

import (
	"encoding/binary"
	"math/rand"
	"testing"
)

// cLayout computes member offsets of a C struct from its declaration (name, size, align),
// the way the ARM EABI compiler lays it out: each member at the next multiple of its
// alignment. It is the oracle for the rt_sigframe offsets, written from the Linux headers
// (arch/arm/include/uapi/asm/sigcontext.h, asm-generic/ucontext.h, arch/arm/kernel/signal.c)
// rather than from sigframe.go's constants.
func cLayout(members []struct {
	name        string
	size, align int
}) (map[string]int, int) {
	off := map[string]int{}
	o := 0
	maxAlign := 1
	for _, m := range members {
		o = (o + m.align - 1) / m.align * m.align
		off[m.name] = o
		o += m.size
		if m.align > maxAlign {
			maxAlign = m.align
		}
	}
	return off, (o + maxAlign - 1) / maxAlign * maxAlign
}

type member = struct {
	name        string
	size, align int
}

func TestSigframeLayout(t *testing.T) {
	sigcontext := []member{{"trap_no", 4, 4}, {"error_code", 4, 4}, {"oldmask", 4, 4}}
	for _, r := range []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "fp", "ip", "sp", "lr", "pc", "cpsr", "fault_address"} {
		sigcontext = append(sigcontext, member{r, 4, 4})
	}
	sc, scSize := cLayout(sigcontext)
	uc, ucSize := cLayout([]member{
		{"uc_flags", 4, 4}, {"uc_link", 4, 4},
		{"uc_stack", 12, 4}, // stack_t {void *ss_sp; int ss_flags; size_t ss_size}
		{"uc_mcontext", scSize, 4},
		{"uc_sigmask", 128, 4},  // sigset_t + __unused padding to 128 bytes
		{"uc_regspace", 512, 8}, // unsigned long [128] __aligned(8)
	})
	frame, frameSize := cLayout([]member{{"info", 128, 4}, {"uc", ucSize, 8}, {"retcode", 16, 4}})
	if ucSize != 744 || frameSize != sigframeSize {
		t.Fatalf("ucontext %d bytes, frame %d; sigframe.go says %d", ucSize, frameSize, sigframeSize)
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"uc offset", sigframeUcontext, frame["uc"]},
		{"uc_stack", ucStack, uc["uc_stack"]},
		{"uc_mcontext", ucMcontext, uc["uc_mcontext"]},
		{"uc_sigmask", ucSigmask, uc["uc_sigmask"]},
		{"uc_regspace", ucRegspace, uc["uc_regspace"]},
		{"r0", mcR0, sc["r0"]},
		{"sp", mcSP, sc["sp"]},
		{"lr", mcLR, sc["lr"]},
		{"pc", mcPC, sc["pc"]},
		{"cpsr", mcCPSR, sc["cpsr"]},
		{"fault_address", mcFaultAddr, sc["fault_address"]},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, the C layout says %d", c.name, c.got, c.want)
		}
	}

	// And WriteSigframe puts the values there.
	mem := make([]byte, sigframeSize)
	var ctx SigContext
	for i := range ctx.R {
		ctx.R[i] = 0x1000 + uint32(i)
	}
	ctx.SP, ctx.LR, ctx.PC, ctx.CPSR, ctx.FaultAddress, ctx.Mask = 0x2000, 0x2004, 0x2008, 0x6000001f, 0x10, 0x1_0000_0003
	WriteSigframe(mem, &SigInfo{Signo: 11, Code: 1, Addr: 0x10}, &ctx)
	le := binary.LittleEndian
	at := func(field string) uint32 {
		return le.Uint32(mem[frame["uc"]+uc["uc_mcontext"]+sc[field]:])
	}
	if le.Uint32(mem[0:]) != 11 || le.Uint32(mem[8:]) != 1 || le.Uint32(mem[12:]) != 0x10 {
		t.Errorf("siginfo % x", mem[:16])
	}
	if at("r0") != 0x1000 || at("r10") != 0x100a || at("fp") != 0x100b || at("ip") != 0x100c ||
		at("sp") != 0x2000 || at("lr") != 0x2004 || at("pc") != 0x2008 || at("cpsr") != 0x6000001f ||
		at("fault_address") != 0x10 || at("oldmask") != 3 {
		t.Errorf("mcontext % x", mem[frame["uc"]+uc["uc_mcontext"]:][:scSize])
	}
	if le.Uint64(mem[frame["uc"]+uc["uc_sigmask"]:]) != 0x1_0000_0003 {
		t.Error("uc_sigmask")
	}
	if le.Uint32(mem[frame["uc"]+uc["uc_regspace"]:]) != vfpMagic {
		t.Error("no VFP record in uc_regspace")
	}
}

func TestSigframeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	mem := make([]byte, sigframeSize)
	for i := 0; i < 100; i++ {
		var in, out SigContext
		for j := range in.R {
			in.R[j] = rng.Uint32()
		}
		for j := range in.D {
			in.D[j] = rng.Uint64()
		}
		in.SP, in.LR, in.PC, in.CPSR, in.FPSCR = rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32()
		in.Mask, in.AltSP, in.AltSize, in.AltFlags = rng.Uint64(), rng.Uint32(), rng.Uint32(), rng.Uint32()
		in.FaultAddress, in.ErrorCode = rng.Uint32(), rng.Uint32()
		WriteSigframe(mem, &SigInfo{Signo: 23}, &in)
		ReadSigframe(mem, &out)
		if in != out {
			t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
		}
	}
}

// FuzzReadSigframe: rt_sigreturn reads a frame the program may have scribbled on. Reading
// never panics, and a frame whose VFP record is damaged leaves the VFP registers alone.
func FuzzReadSigframe(f *testing.F) {
	good := make([]byte, sigframeSize)
	WriteSigframe(good, &SigInfo{Signo: 11}, &SigContext{PC: 0x80010000, D: [32]uint64{1, 2, 3}})
	f.Add(good)
	f.Add(make([]byte, sigframeSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < sigframeSize {
			b = append(b, make([]byte, sigframeSize-len(b))...)
		}
		var c SigContext
		c.D[0] = 0xdeadbeef
		ReadSigframe(b, &c)
		vfp := b[sigframeUcontext+ucRegspace:]
		intact := binary.LittleEndian.Uint32(vfp) == vfpMagic && binary.LittleEndian.Uint32(vfp[4:]) == vfpFrameSize
		if !intact && c.D[0] != 0xdeadbeef {
			t.Fatal("VFP registers taken from a damaged record")
		}
		if intact && c.D[0] != binary.LittleEndian.Uint64(vfp[vfpRegs:]) {
			t.Fatal("VFP d0 not restored")
		}
	})
}
