// Package bpf re-creates FreeBSD's classic BPF capture machinery: the filter
// machine (insn.go, validate.go, vm.go, compile.go, disasm.go, parse.go) and
// the descriptors, taps and buffers built on it (see locking.go for the
// capture side's locks and their order).
//
// # The machine
//
// A program is a slice of Insn, the Go form of struct bpf_insn. The machine
// has a 32-bit accumulator A, an index register X and sixteen scratch words
// M[0..15]. Loads read the packet in network byte order; the program ends
// with a return whose value is the verdict: how many bytes of the packet to
// capture, 0 meaning reject. The packet has two lengths, as in FreeBSD's
// bpf_filter(pc, p, wirelen, buflen): loads are bounded by the captured
// bytes (len(pkt)), while BPF_LEN ("ld #pktlen") loads the length the frame
// had on the wire.
//
// Runtime semantics follow FreeBSD's sys/net/bpf_filter.c:
//
//   - a load that does not fit inside the captured bytes ends the program
//     with verdict 0; an indexed load checks k and X separately, so an X+k
//     that wraps past 2^32 is out of bounds rather than a small offset;
//   - division and modulo by X == 0 end the program with verdict 0
//     (division by a constant 0 is refused by the validator);
//   - arithmetic is unsigned and wraps modulo 2^32; comparisons are unsigned.
//
// Two points where C leaves the result open are fixed here:
//
//   - Shifts by 32 or more. bpf_filter.c computes A <<= k on a u_int32_t,
//     which C leaves undefined for k >= 32: on amd64 the shift instruction
//     masks the count to 5 bits (so A << 32 == A), on 32-bit ARM, our
//     target, a register shift uses the count's low byte (32..255 give 0,
//     256 behaves as 0), and a constant count may be folded either way.
//     This package gives 0 for every count >= 32, which is what Go's shift
//     operators and golang.org/x/net/bpf give.
//   - Unwritten scratch memory. FreeBSD's M[] is an uninitialised stack
//     array; here A, X and M[] all start at zero, as in x/net/bpf.
//
// # Validation
//
// Validate applies bpf_validate's rules once, when a program is installed:
// known opcodes only (Legal; FreeBSD's bpf_code_map plus MOD and XOR),
// forward jumps that land inside the program, scratch indexes below 16, no
// constant division or modulo by zero, a return last, and at most
// net.bpf.maxinsns instructions (DefaultMaxInsns, 512, unless the caller
// says otherwise). Every error wraps ErrInvalidProgram and reads
// "instruction N: why". libpcap compiles `ip6 protochain` into a loop closed
// by a backward ja (k = 0xfffffff1); FreeBSD, Linux and x/net/bpf refuse it
// and so does Validate.
//
// # Interpreter and compiled path
//
// Filter is the reference interpreter, FreeBSD's bpf_filter instruction for
// instruction. It never panics or loops forever on an unvalidated program
// (unknown opcodes, out-of-range jumps and scratch indexes give 0), and it
// follows a backward ja the way libpcap's userland interpreter does, so it
// gives tcpdump -r's verdicts for `ip6 protochain` too.
//
// Compile validates and translates a program once; Program.Run returns the
// same verdict as Filter for every validated program and allocates nothing.
// Where the platform has a code generator (amd64 and arm, on Linux and on the
// firmware's kernel) the program becomes machine code; see "Native code"
// below. CompilePortable stops at the portable compiled form (compile.go),
// FreeBSD's net.bpf.jitter.enable=0: a flat array of ops run by one dense
// switch. What costs per packet there is the number of dispatches (an
// indirect jump whose target depends on the packet), so the ops fold
// instructions into as few as they can:
//
//   - jump targets are resolved to absolute op indexes, and dispatch is on
//     a dense internal opcode, so no code bits are decoded per packet;
//   - a conditional jump on a constant absorbs the packet load (or
//     "ld #pktlen") and the "and #m" before it ("ldh [14]; and #0xfff;
//     jeq #100"): one op, one bounds check, unless a jump lands inside the
//     group;
//   - a chain of "jeq" tests on the same A along their false branches (the
//     EtherType dispatch "jeq #0x800 ... jeq #0x86dd", the three VLAN
//     EtherTypes) becomes one multi-way op comparing up to six cases, with
//     a branch per case but no dispatch;
//   - jumps are threaded at compile time through "ja", tests whose two
//     branches agree and tests whose outcome the path already fixes (the
//     true branch of "jeq #v" knows A == v); unreachable ops are dropped;
//   - returns are recognised before dispatch; absolute loads whose offset
//     cannot fit compile to "return 0", so every bounds check is one 32-bit
//     comparison that cannot overflow.
//
// Packet and op reads go through raw pointers after the machine's own
// bounds check (Go's checks would repeat it, and keeping len(ops) live cost
// registers the loop needs); Compile's layout guarantees every op index is
// in range. Branch targets are chosen with plain branches: a conditional
// move makes the next op's address wait for the packet byte.
//
// Because wall-clock figures on a shared machine are noisy, the ops were
// steered by instruction counts: TestCostPass runs one compiled pass over
// the corpus for one filter under valgrind --tool=callgrind (see the test's
// comment; BPF_COST_PATH=portable selects the ops). Per 20011-frame pass,
// against the previous single-fusion form: tcp 2.50M -> 2.01M instructions,
// vlan 2.54M -> 1.78M, "ip multicast or ip6 multicast" 2.60M -> 2.08M,
// "port 80 or port 443" 5.37M -> 3.73M.
//
// Measured and dropped on the ops: a branch-free select over all cases of a
// multi-way op (more instructions than the branches it removed: tcp 2.78M);
// running scratch-memory programs on the interpreter to drop M[]'s zeroing
// (the extra call made Run set up a stack frame and cost more than it
// saved); a generic Run instantiated with and without M[] (the same);
// dispatching "ret #k" through the switch instead of testing it first (fewer
// instructions, slower in wall time); a branch-free evaluation of every test
// with a verdict table built at compile time (more evaluation than saved
// misprediction, in portable Go).
//
// # Native code
//
// The step after the ops is FreeBSD's own, bpf_jitter: translate the
// validated program into machine code once (jit.go is the frontend,
// jit_<arch>.go the generators, jit_<arch>.s the call). Run then calls the
// code through jitcall, a small assembly function whose frame holds M[], and
// the code returns the verdict. The ops stay in the Program as the
// reference the tests compare against and as the fallback when a
// generator declines a program. The amd64 generator (jit_amd64.go):
//
//   - A, X, the packet base and buflen live in registers for the whole
//     program; one BPF instruction becomes a short fixed sequence, and
//     words are byte-swapped by MOVBE where the CPU has it (checked once),
//     else MOV and BSWAP;
//   - a packet load costs one compare and one fused branch, and often
//     none: a forward pass knows, per instruction, the buflen every path
//     into it has checked, and a backward pass knows the buflen below which
//     every path onward can only end with 0 (a failing load or "ret #0"),
//     so the first load checks for the later ones ("ldh [12]" checks the 30
//     bytes "ld [26]" needs). Indexed loads form X+k+size in 64 bits, where
//     it cannot wrap, and compare it with buflen: exactly FreeBSD's test;
//   - conditional jumps branch straight to their targets, one of them
//     falling through; jumps through "ja" and tests whose branches agree
//     are threaded, unreached instructions are left out; branches take
//     the rel8 form when near and rel32 otherwise, so programs up to maxOps
//     instructions work;
//   - a test whose two branches both return selects the verdict with CMOV:
//     the final accept-or-reject test is the branch real traffic predicts
//     worst;
//   - every failure (a load past buflen, division by X == 0) jumps to one
//     "return 0", the program's own final "ret #0" when it has one;
//   - only the registers and scratch words some path reads before writing
//     are zeroed on entry; shifts by X clamp counts of 32 or more to a 0
//     result with CMOV, as Go's shift (the interpreter's) does;
//   - chains of tests that all reject to the same "ret #k" ("ldh [12];
//     jeq #0x800; ldb [23]; jeq #17; ldh [20]; jset #0x1fff"), with loads
//     between them that an earlier check covered, are evaluated without a
//     branch per test: SETcc records each outcome, AND gathers them, one
//     branch (or a CMOV between two returns) decides. The first tests of a
//     filter (which EtherType? which protocol?) are the branches real
//     traffic predicts worst; the fail target does not read the A the
//     skipped path would have left (tested by jit_chain_test.go).
//
// Tests hold the machine code to the interpreter, the ops and x/net/bpf:
// every corpus filter over every frame and over sampled frames cut at every
// length (jit_test.go), hand-written edge cases with worked-out verdicts,
// a random program of 64535 instructions, a sparse packet over 4 GiB
// (offsets past 2^31, the 32-bit clamp), encodings against objdump
// (jit_amd64_test.go), and the FuzzAgree and FuzzValidate differentials.
//
// On the shared corpus (BenchmarkCorpus -count 3, all paths interleaved in
// each iteration, on a 2-core machine) the native code is 3.29x x/net/bpf
// as the median of the per-filter speed-ups (from 2.45x, "arp and arp[6:2]
// == 1", to 5.96x, "ip and not net ... and not net ..."), and 3.07-3.30x
// on the filter with the median x/net/bpf time ("udp"), re-measured on its
// own; against libpcap's C bpf_filter the median is 1.74x (0.79x, "arp and
// arp[6:2] == 1", to 2.90x). The portable ops give 1.79x x/net/bpf. All
// allocate nothing. Over one cache-resident frame ("median-hot") the native
// code takes 4.1-6.7 ns a frame, 5.4-6.1x x/net/bpf. The short filters
// (arp, ether broadcast, icmp6, less 64: 2.5-2.9x) are where the fixed
// cost of a call and the memory walk every path pays (4.5-6 ns a frame)
// weigh most.
//
// Run inlines into its caller as one call of run (assembly on amd64 and
// arm), which tail-jumps to jitcall (or to runOps0 without native code):
// one Go call per packet. On arm the native code runs 27 guest
// instructions a frame for "tcp" against 117 for the ops (jit_arm.go has
// the ARM figures, all emulated; the ARM generator has no test chains).
//
// # Interoperability
//
// Disassemble prints a program exactly as `tcpdump -d` does and ParseProgram
// reads `tcpdump -dd`, `tcpdump -ddd` and the one-line comma form, so
// programs move between this package and libpcap's tools unchanged.
//
// # Concurrency
//
// Filter, Validate, Disassemble and ParseProgram are pure functions. A
// Program is immutable after Compile and safe for concurrent use: Run keeps
// the machine state in locals.
//
// # Capture
//
// Descriptors, attach points, taps and buffers (desc.go, attach.go, tap.go,
// buffer.go, zbuf.go, tstamp.go) follow FreeBSD's bpf(4); locking.go
// describes the locks. A driver's tap with nobody listening is one atomic
// load (Mtap inlines into the driver). With listeners, a tap walks an
// immutable published list without taking a lock, runs each read filter,
// counts a rejection with one atomic add, and for a match reads the clock
// (once per packet, whatever the number of descriptors, before taking the
// descriptor lock), takes the descriptor lock, writes the record header and
// copies the frame.
//
// Figures (BenchmarkTap*; amd64 KVM guest, 2 cores shared with other
// jobs; ratios from the same run):
//
//   - no listener: 0.62-1.96 ns over the sessions (target <= 2 ns); the
//     same instructions measure 0.62, 0.98 or 1.63 ns depending on where
//     the benchmark loop falls relative to 32-byte code boundaries;
//   - one accept-all zero-copy listener, 64-byte frames, default stamps
//     (BPF_T_MICROTIME, tscfg normal): 107 ns per frame at the start of
//     the work, 67-70 with Go's clock, 38.5-39.7 ns with the TSC
//     timecounter: 25.2-26.0 million frames/s against the 14.88 of 10 GbE
//     line rate. With tscfg fast 27.5 ns, with no stamp 22.9-24.2 ns;
//   - the same through the copying read path: 46.3-46.5 ns (normal),
//     34.7 (fast), 31.0-32.2 (none). The zero-copy path is 1.19x, 1.27x
//     and 1.37-1.43x faster (x-anchor of BenchmarkTapCopyRead64), not the
//     2x asked: see below;
//   - 8 zero-copy listeners with different corpus filters: 208 -> 169-175
//     -> 112-113 ns per frame (the last with the TSC), 3.6x running the 8
//     compiled filters alone (31 ns); 0 allocations on every tap path.
//
// Where the 39 ns go: about 12 ns for the stamp (the TSC read and the
// timeval), 12 ns for the descriptor lock (two locked read-modify-writes;
// the release waits for the record's stores to drain), and the rest for
// the filter call, the record header, the copy, the counters and the
// consumer's walk of the records.
//
// Why the copying read is not 2x slower: both paths run the same tap into
// a buffer; the copying path then moves each record to the reader's
// buffer. BenchmarkTapCopyRead64 times that move alone (3.1 ns for a
// 64-byte frame's record) and reports the copying path's extra time in
// such moves: 2.3-3.1 (the move, the consumer's reads of a buffer it did
// not write, and a working set half as large again). A 2x ratio would
// need the extra to equal the whole tap, which itself writes that record
// and reads the clock: about 12 record moves. In FreeBSD the
// 2x comes from read(2)'s system call and copyout, which a function call in
// one address space does not pay.
//
// What took the time out: no per-packet read lock (taps walk a published
// list, see locking.go; -15 ns), the TSC timecounter in place of Go's
// clock (tstamp.go; 23 -> 9 ns a read, -12 ns a frame), reading the clock
// before the descriptor lock rather than under it (-7 ns), the system
// clock called without an interface and its boot time precomputed,
// ParseRecord without the store-forwarding stalls of building its result
// in memory (21 -> 13 ns per record in a buffer walk), and one call level
// less per packet. Measured and dropped: runtime.nanotime through linkname
// instead of time.Since (no gain), touching the next record's cache line
// before writing it (no gain), a spin lock released with a plain store
// instead of the descriptor mutex (-4.5 ns a frame in a micro-benchmark;
// not worth a lock of our own, with its own starvation and preemption
// questions, on the capture path).
package bpf
