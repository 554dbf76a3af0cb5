// Command baretap is the host companion of the baretap firmware.
//
// Usage:
//
//	baretap <command> [flags]
//
// Commands:
//
//	filter   run a classic BPF program over a pcap file and count matches
//	replay   send a pcap file's frames to a QEMU netdev, one per UDP datagram
//
// Run "baretap <command> -h" for a command's flags. Errors are reported on
// one line prefixed "baretap: " with exit status 2.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"filter": {"run a classic BPF program over a pcap file and count matches", runFilter},
	"replay": {"send a pcap file's frames to a QEMU netdev, one per UDP datagram", runReplay},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit status: 0 on
// success, 2 on any error (bad usage, unreadable file, invalid program).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "baretap: unknown command %q (try \"baretap help\")\n", args[0])
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: baretap <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `run "baretap <command> -h" for the command's flags`)
}

// fail prints a one-line error and returns the error exit status.
func fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "baretap: "+format+"\n", args...)
	return 2
}
