package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/pcap"
)

const filterUsage = `usage: baretap filter -r FILE.pcap (-f PROG | -e EXPR) [-bench R] [-maxinsns N] [-nojit] [-novalidate]

Runs a classic BPF program over every frame of a pcap file (LINKTYPE_ETHERNET)
and prints "matched M of N frames" as its last line. A frame matches when the
program's verdict is not 0.

PROG is a file holding the program as printed by "tcpdump -dd" (C initialisers),
"tcpdump -ddd" (decimal), or the one-line "N,code jt jf k,..." form. -e compiles
EXPR by running "tcpdump -y EN10MB -ddd EXPR", so it needs tcpdump installed.

The program is checked with FreeBSD's validator (net.bpf.maxinsns = -maxinsns)
and run on the compiled path: machine code where this host has a code
generator (amd64, arm), the portable compiled form otherwise. -nojit keeps it
on the portable form, like FreeBSD's net.bpf.jitter.enable=0. -novalidate skips
the validator and runs the interpreter with libpcap's semantics instead, as
"tcpdump -r" does; it accepts programs such as "ip6 protochain" whose backward
jump FreeBSD refuses.

-bench R runs the program R more times over all frames (held in memory) and
prints "path P" (native, portable or interpreter: what ran) and "ns/frame X"
for it before the last line.

flags:
`

func runFilter(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("filter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("r", "", "pcap `file` to read")
	progFile := fs.String("f", "", "program `file` in tcpdump -dd, -ddd or comma form")
	expr := fs.String("e", "", "pcap filter `expression`, compiled with tcpdump -y EN10MB -ddd")
	rounds := fs.Int("bench", 0, "time `R` runs over all frames and print ns/frame")
	maxInsns := fs.Int("maxinsns", bpf.DefaultMaxInsns, "longest program accepted (net.bpf.maxinsns)")
	noValidate := fs.Bool("novalidate", false, "skip FreeBSD's validator; run the interpreter as libpcap does")
	noJIT := fs.Bool("nojit", false, "run the portable compiled form, not machine code (net.bpf.jitter.enable=0)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, filterUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail(stderr, "filter: %v (see baretap filter -h)", err)
	}
	switch {
	case fs.NArg() > 0:
		return fail(stderr, "filter: unexpected argument %q (quote the expression given to -e)", fs.Arg(0))
	case *file == "":
		return fail(stderr, "filter: -r FILE.pcap is required")
	case (*progFile == "") == (*expr == ""):
		return fail(stderr, "filter: give exactly one of -f PROG and -e EXPR")
	case *rounds < 0:
		return fail(stderr, "filter: -bench must not be negative")
	case *maxInsns < 1:
		return fail(stderr, "filter: -maxinsns must be at least 1")
	}

	insns, err := loadProgram(*progFile, *expr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	// verdict runs the program over one frame; path says which form.
	var verdict func(pkt []byte, wirelen uint32) uint32
	path := "interpreter"
	if *noValidate {
		verdict = func(pkt []byte, wirelen uint32) uint32 { return bpf.Filter(insns, pkt, wirelen) }
	} else {
		compile := bpf.Compile
		if *noJIT {
			compile = bpf.CompilePortable
		}
		p, err := compile(insns, *maxInsns)
		if err != nil {
			return fail(stderr, "%s: %v", programName(*progFile, *expr), err)
		}
		verdict = p.Run
		path = "portable"
		if p.Native() {
			path = "native"
		}
	}

	hdr, frames, err := pcap.ReadFile(*file)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if lt := hdr.LinkType & 0xffff; lt != pcap.LinkTypeEthernet {
		return fail(stderr, "%s: link type %d, want %d (LINKTYPE_ETHERNET)", *file, lt, pcap.LinkTypeEthernet)
	}

	matched := 0
	for i := range frames {
		if verdict(frames[i].Data, uint32(frames[i].Length)) != 0 {
			matched++
		}
	}
	if *rounds > 0 && len(frames) > 0 {
		var sink uint32
		start := time.Now()
		for range *rounds {
			for i := range frames {
				sink += verdict(frames[i].Data, uint32(frames[i].Length))
			}
		}
		elapsed := time.Since(start)
		ns := float64(elapsed.Nanoseconds()) / float64(*rounds) / float64(len(frames))
		fmt.Fprintf(stdout, "path %s\n", path)
		fmt.Fprintf(stdout, "ns/frame %.2f\n", ns)
		_ = sink
	}
	fmt.Fprintf(stdout, "matched %d of %d frames\n", matched, len(frames))
	return 0
}

func programName(file, expr string) string {
	if file != "" {
		return file
	}
	return fmt.Sprintf("expression %q", expr)
}

// loadProgram reads the -f file or compiles the -e expression.
func loadProgram(file, expr string) ([]bpf.Insn, error) {
	var text string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		text = string(b)
	} else {
		tcpdump, err := exec.LookPath("tcpdump")
		if err != nil {
			return nil, errors.New("-e needs tcpdump to compile the expression; install it or pass -f with tcpdump -ddd output")
		}
		var out, errOut bytes.Buffer
		cmd := exec.Command(tcpdump, "-y", "EN10MB", "-ddd", expr)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errOut.String())
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			if msg == "" {
				msg = err.Error()
			}
			return nil, fmt.Errorf("tcpdump -ddd %q: %s", expr, msg)
		}
		text = out.String()
	}
	insns, err := bpf.ParseProgram(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", programName(file, expr), err)
	}
	return insns, nil
}
