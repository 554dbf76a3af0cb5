// Package bpf re-creates FreeBSD's classic BPF capture machinery: the filter
// machine (this part) and the descriptors, taps and buffers built on it.
//
// # The filter machine
//
// A program is a slice of Insn, the Go form of struct bpf_insn. The machine
// has a 32-bit accumulator A, an index register X and sixteen scratch words
// M[0..15], all zero when a packet arrives. Loads read the packet in network
// byte order; the program ends with a return whose value is the verdict: the
// number of bytes of the packet to capture, 0 meaning reject.
//
// Validate applies FreeBSD's bpf_validate rules once, when a program is
// installed. Filter is the reference interpreter, instruction for
// instruction FreeBSD's bpf_filter. Compile validates and translates a
// program into the form Program.Run executes; Run returns the same verdict
// as Filter for every validated program and allocates nothing.
//
// Disassemble prints a program the way `tcpdump -d` does and ParseProgram
// reads the `tcpdump -dd` and `tcpdump -ddd` forms, so programs move between
// this package and libpcap's tools unchanged.
package bpf
