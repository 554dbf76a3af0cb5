package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baretap/baretap/pcap"
)

// maxDatagram is the largest UDP payload over IPv4: a frame longer than
// this cannot travel as one datagram and is skipped (and counted).
const maxDatagram = 65507

// linkTypeEthernet is LINKTYPE_ETHERNET: the only link type a QEMU netdev
// carries.
const linkTypeEthernet = 1

// runReplay sends the frames of a pcap file to a UDP address, one Ethernet
// frame per datagram, which is how QEMU's dgram and socket netdevs take
// frames into an emulated NIC (`make qemu` feeds ENET1 this way).
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("r", "", "pcap `file` to send (LINKTYPE_ETHERNET)")
	to := fs.String("to", "", "UDP `address` to send to, host:port (a QEMU netdev's local port)")
	pps := fs.Float64("pps", 100, "frames per `second`; 0 sends as fast as the socket takes them")
	loop := fs.Bool("loop", false, "start over at the end of the file until stopped (Ctrl-C)")
	count := fs.Int("count", 0, "stop after `N` frames (0: the whole file, or forever with -loop)")
	wait := fs.Duration("wait", 0, "`delay` before the first frame (lets QEMU bind its port)")
	from := fs.String("from", "", "local UDP `address` to send from, host:port: a QEMU dgram netdev only takes datagrams from its remote address")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: baretap replay -r FILE.pcap -to HOST:PORT [-from HOST:PORT] [-pps N] [-loop] [-count N] [-wait D]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "baretap: replay: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *file == "":
		return fail("-r FILE is required")
	case *to == "":
		return fail("-to HOST:PORT is required")
	case *pps < 0:
		return fail("-pps %v: must be >= 0", *pps)
	case *count < 0:
		return fail("-count %d: must be >= 0", *count)
	case *wait < 0:
		return fail("-wait %v: must be >= 0", *wait)
	}
	dst, err := net.ResolveUDPAddr("udp", *to)
	if err != nil {
		return fail("-to %q: %v", *to, err)
	}
	if dst.Port == 0 {
		return fail("-to %q: no port", *to)
	}
	var src *net.UDPAddr
	if *from != "" {
		if src, err = net.ResolveUDPAddr("udp", *from); err != nil {
			return fail("-from %q: %v", *from, err)
		}
	}
	hdr, frames, err := pcap.ReadFile(*file)
	if err != nil {
		return fail("%v", err)
	}
	if lt := hdr.LinkType & 0xffff; lt != linkTypeEthernet {
		return fail("%s: link type %d; a NIC takes Ethernet frames (LINKTYPE_ETHERNET, 1)", *file, lt)
	}
	if len(frames) == 0 {
		return fail("%s: no frames", *file)
	}
	// An unconnected socket: while nothing listens yet (QEMU still
	// starting), the ICMP port-unreachable answers are not turned into
	// errors on later sends. QEMU connects its dgram socket to the
	// netdev's remote address, so the kernel hands it only datagrams from
	// there: -from must be that address.
	conn, err := net.ListenUDP("udp", src)
	if err != nil {
		return fail("%v", err)
	}
	defer conn.Close()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)

	var st replayStats
	report := func() {
		fmt.Fprintf(stdout, "sent %d frames (%d bytes), skipped %d longer than %d bytes, %d send errors\n",
			st.sent, st.bytes, st.skipped, maxDatagram, st.errors)
	}
	if *wait > 0 {
		select {
		case <-stop:
			report()
			return 0
		case <-time.After(*wait):
		}
	}
	var tick <-chan time.Time
	if *pps > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *pps))
		defer t.Stop()
		tick = t.C
	}
	sendFrames(conn, dst, frames, *loop, *count, tick, stop, &st)
	report()
	return 0
}

// sendFrames sends frames to dst in order, starting over at the end when
// loop is set, until count frames are taken from the file (0: no limit) or
// stop fires. With a tick channel, each frame waits for one tick (the
// pacing); without, frames go as fast as the socket takes them.
func sendFrames(conn *net.UDPConn, dst *net.UDPAddr, frames []pcap.Frame, loop bool, count int, tick <-chan time.Time, stop <-chan os.Signal, st *replayStats) {
	for i := 0; count == 0 || st.sent+st.skipped+st.errors < count; i++ {
		if i == len(frames) {
			if !loop {
				return
			}
			i = 0
		}
		if tick != nil {
			select {
			case <-stop:
				return
			case <-tick:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
		data := frames[i].Data
		if len(data) > maxDatagram {
			st.skipped++
			continue
		}
		if _, err := conn.WriteToUDP(data, dst); err != nil {
			st.errors++
			continue
		}
		st.sent++
		st.bytes += len(data)
	}
}

type replayStats struct {
	sent, skipped, errors, bytes int
}
