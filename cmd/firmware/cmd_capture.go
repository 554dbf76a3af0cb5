package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baretap/baretap/bpf"
	"github.com/baretap/baretap/pcap"
)

// capture start IFACE [--bytecode "N,c jt jf k,..."] opens a bpf descriptor on the
// interface with the given filter (the lines of tcpdump -ddd joined by commas, the form
// iptables' bpf match takes; none means accept all), takes a promiscuous reference, and
// streams what it captures as a pcap file (LINKTYPE_ETHERNET, microsecond stamps) on UART2.
// capture stop drains the descriptor, ends the stream and prints the bpf statistics.

func init() {
	register(command{name: "capture", args: `start IFACE [--bytecode "N,c jt jf k,..."] | stop`, summary: "stream a capture as pcap on UART2, or stop it and print its statistics", run: cmdCapture})
}

// capture is a running export. Its goroutine owns d's reads and the pcap writer.
type capture struct {
	iface    string
	d        *bpf.Desc
	stopping atomic.Bool
	done     chan error
	records  atomic.Uint64 // records written to the stream
}

// captureReadTimeout bounds how long a partly filled buffer waits before it is streamed.
const captureReadTimeout = 50 * time.Millisecond

func cmdCapture(c *Console, args []string) error {
	if len(args) == 0 {
		return badUsage("start or stop?")
	}
	network.mu.Lock()
	defer network.mu.Unlock()
	switch args[0] {
	case "start":
		if len(args) < 2 {
			return badUsage("start needs an interface")
		}
		var prog []bpf.Insn
		switch {
		case len(args) == 2:
		case args[2] == "--bytecode" && len(args) > 3:
			// The console splits on blanks; the program's own blanks separate the fields of
			// each instruction, so joining with one blank gives the argument back.
			text := strings.Trim(strings.Join(args[3:], " "), `"'`)
			var err error
			if prog, err = bpf.ParseProgram(text); err != nil {
				return err
			}
			if err := bpf.Validate(prog, network.stack.Settings().MaxInsns); err != nil {
				return err
			}
		case args[2] == "--bytecode":
			return badUsage("--bytecode needs a program")
		default:
			return badUsage("unexpected argument %q", args[2])
		}
		cp, err := startCapture(args[1], prog)
		if err != nil {
			return err
		}
		network.capture = cp
		c.Printf("capturing on %s to UART2 (pcap, LINKTYPE_ETHERNET)%s\n", args[1], filterKind(prog))
		return nil
	case "stop":
		if len(args) > 1 {
			return badUsage("unexpected argument %q", args[1])
		}
		cp := network.capture
		if cp == nil {
			return errors.New("no capture running")
		}
		network.capture = nil
		st, err := cp.stop()
		c.Printf("capture on %s stopped: %d records streamed\n", cp.iface, cp.records.Load())
		c.Printf("bpf: received %d matched %d captured %d dropped %d filtered %d\n", st.Received, st.Matched, st.Captured, st.Dropped, st.Filtered)
		return err
	}
	return badUsage("unknown subcommand %q", args[0])
}

// startCapture opens and configures the descriptor and starts the export. network.mu held.
func startCapture(iface string, prog []bpf.Insn) (*capture, error) {
	if _, err := portLocked(iface); err != nil {
		return nil, err
	}
	if network.capture != nil {
		return nil, fmt.Errorf("a capture on %s is running: capture stop ends it", network.capture.iface)
	}
	if network.export == nil {
		return nil, errors.New("no export UART on this platform")
	}
	d := network.stack.Open(bpf.OpenRead)
	fail := func(err error) (*capture, error) {
		d.Close()
		return nil, err
	}
	blen, err := d.SetBufferLen(captureBufSize)
	if err != nil {
		return fail(err)
	}
	if prog != nil {
		if err := d.SetFilter(prog); err != nil {
			return fail(err)
		}
	}
	if err := d.SetInterface(iface); err != nil {
		return fail(err)
	}
	if err := d.Promisc(); err != nil {
		return fail(err)
	}
	if err := d.SetReadTimeout(bpf.Timeval{Usec: captureReadTimeout.Microseconds()}); err != nil {
		return fail(err)
	}
	out := bufio.NewWriterSize(network.export, 64<<10)
	w, err := pcap.NewWriter(out, pcap.Header{LinkType: pcap.LinkTypeEthernet})
	if err != nil {
		return fail(err)
	}
	cp := &capture{iface: iface, d: d, done: make(chan error, 1)}
	go cp.run(w, out, make([]byte, blen))
	return cp, nil
}

// run streams every buffer the descriptor fills until stop, then drains what is left
// (non-blocking reads until EWOULDBLOCK) and flushes.
func (cp *capture) run(w *pcap.Writer, out *bufio.Writer, buf []byte) {
	draining := false
	var err error
	for {
		n, rerr := cp.d.Read(buf)
		if rerr != nil {
			if !draining || !errors.Is(rerr, syscall.EWOULDBLOCK) {
				err = rerr
			}
			break
		}
		if werr := cp.write(w, buf[:n]); werr != nil {
			err = werr
			break
		}
		if !draining && cp.stopping.Load() {
			draining = true
			if err = cp.d.SetNonblock(true); err != nil {
				break
			}
		}
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	cp.done <- err
}

func (cp *capture) write(w *pcap.Writer, b []byte) error {
	for off := 0; off < len(b); {
		rec, next, err := bpf.ParseRecord(b[off:])
		if err != nil {
			return err
		}
		sec := rec.Sec
		if sec < 0 {
			sec = 0
		}
		ts := time.Unix(sec, int64(rec.Frac)*1000)
		if err := w.WritePacket(pcap.CaptureInfo{Timestamp: ts, Length: int(rec.Datalen)}, rec.Data); err != nil {
			return err
		}
		cp.records.Add(1)
		off += next
	}
	return nil
}

// stop ends the export and returns the descriptor's statistics, read after the drain so
// that they describe exactly what was streamed.
func (cp *capture) stop() (bpf.Stats, error) {
	// Shut the door before draining: with traffic still arriving faster
	// than UART2 drains, the drain would otherwise never reach an empty
	// buffer. BIOCSETFNR keeps what is buffered; later frames still count
	// as received, not matched, so the counters keep adding up.
	reject := []bpf.Insn{{Code: bpf.BPF_RET | bpf.BPF_K, K: 0}}
	if err := cp.d.SetFilterNoReset(reject); err != nil {
		return bpf.Stats{}, err
	}
	cp.stopping.Store(true)
	err := <-cp.done
	st, serr := cp.d.Stats()
	cp.d.Close()
	if err == nil {
		err = serr
	}
	return st, err
}

// filterKind says how the descriptor runs prog: bpf's machine code or its portable ops. The
// descriptor compiles its own copy; the code generator decides the same way for both.
func filterKind(prog []bpf.Insn) string {
	if prog == nil {
		return ""
	}
	p, err := bpf.Compile(prog, len(prog))
	if err != nil {
		return ""
	}
	if p.Native() {
		return fmt.Sprintf(", filter of %d instructions as native code", len(prog))
	}
	return fmt.Sprintf(", filter of %d instructions on the portable ops", len(prog))
}
