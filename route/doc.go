// Package route holds a network stack's routing tables: FreeBSD's multiple
// FIBs (setfib(2), net.fibs, net.add_addr_allfibs) over a DXR-class
// longest-prefix-match structure that forwarding goroutines read without
// locks while the control plane changes routes.
//
// # Tables and FIBs
//
// A Table is one FIB with an IPv4 and an IPv6 table: Add, Change, Delete,
// Get (exact prefix), Lookup (longest match, lock-free, allocation-free),
// LookupRoute (longest match with its prefix, for route get), Walk, Flush,
// and AddRoutes for loading a full table at once. FIBs is the per-stack
// set a vnet owns; it has no package-level state. FIB numbers follow
// setfib(2): at or past the count (or negative) is EINVAL. The count starts
// clamped to [1, MaxFIBs] like the net.fibs tunable and can only be raised.
// Interface (connected) routes go to the interface's FIB, or to every FIB
// when AddAddrAllFIBs is set (FreeBSD's net.add_addr_allfibs, 0 by default
// since FreeBSD 13).
//
// # Semantics and errors
//
// Errors are *Error values wrapping the errno route(4) returns: EEXIST for
// a duplicate add, ESRCH for delete, change or get of an absent prefix,
// EINVAL for a bad prefix, next hop, flag or FIB number, ENOSPC past 32,767
// distinct next hops of one address family in one FIB; Lookup on FIBs
// returns EHOSTUNREACH when
// nothing matches. Test them with errors.Is. A prefix with host bits set is
// masked (route add 10.1.2.3/8 installs 10.0.0.0/8), as FreeBSD's
// rtrequest applies the netmask. IPv4-mapped IPv6 prefixes are IPv6. Flags
// carry FreeBSD's RTF_* values; UP, GATEWAY and HOST are derived, STATIC and
// the connected flag (RTF_PINNED) are set by the caller.
//
// # The lookup structure
//
// Addresses are cut into 16-bit segments. The first indexes a direct table
// of 65,536 chunks, as in DXR (Zec, Rizzo, Mikuc, "DXR: towards a billion
// routing lookups per second in software", CCR 2012). A chunk compiles the
// prefixes below it, with the short prefix covering it, into sorted ranges
// ("the last range starting at or below the key wins").
//
// IPv4 keeps per chunk a 64-bit descriptor. The descriptor alone answers
// chunks of up to three ranges on /24 boundaries (one next hop included:
// 67% of uniformly random addresses on the full table). Every other
// chunk's descriptor holds the offset of its flat block in an arena: one
// byte per /24 of the chunk, its next hop (IPv4 numbers its next hops
// apart from IPv6, so up to 254 of them fit a byte), or an escape for a
// /24 that holds longer prefixes (a sub-block of 256 16-bit values: 448
// on the full table) or whose next hop does not fit, found by a binary
// search of the block's escape list. So a lookup is the descriptor (a
// 512 KiB array, cache-resident) and, for a third of random addresses and
// nearly all table-drawn ones, one byte of the arena (6.2 MB: the blocks
// alone, packed; the chunks' entries are kept elsewhere): no search, no
// pointer to follow, and no unpredictable branch on anything read from
// memory. The lookup computes both the descriptor's answer and the
// block's (reading an always-cached zero block for inline chunks) and
// selects with a conditional move, because random keys mix the kinds and
// a mispredicted branch per lookup cost more than that load. The previous
// designs here: DXR's compact range arrays (a binary search whose every
// step waits on the previous load and mispredicts) ran random lookups at
// 1.9x bart; 16-bit flat blocks inside the nodes, reached through a
// second 512 KiB array of block pointers, at 2.8x; the arena of byte
// blocks at 3.3x.
//
// IPv6 uses the same nodes as a multibit trie with 16-bit strides: a
// chunk's ranges may point at a child node for the next 16 bits, so a
// lookup walks at most seven nodes. A flat range search over 128-bit keys
// would need 16-byte range starts and deep binary searches in the few
// dense /16s that hold most of the IPv6 table (2001::/16, 2a00-2a0f::/16,
// 2400-240f::/16), while the trie keeps every node in the 32-bit format
// and resolves most table prefixes (/32 to /48) in two or three nodes.
//
// Every node keeps its share of the RIB (its prefixes and their next hops)
// behind its lookup part. An update recompiles only the span of the changed
// prefix within its node, splices it into the node's other ranges and
// copies the path above it (for a prefix of /16 or shorter: the chunks it
// covers whose cover changes), never the whole table; AddRoutes compiles
// each touched node once for bulk loads. Next hops are interned: routes
// store a 15-bit index into the FIB's next-hop array.
//
// # Concurrency
//
// Table.mu serializes writers and guards the writer-side state (short
// prefix maps, cover lengths, next-hop reference counts, scratch); Get,
// LookupRoute and Walk take it for reading. Lookup takes no lock: nodes
// and arena blocks are immutable once published, a writer builds
// replacements beside them and publishes each chunk with one atomic store.
// An IPv4 descriptor and the offset of its block are one word, and the
// writer appends a new block past the arena's used end before storing the
// descriptor that names it, so a reader always pairs a descriptor with its
// own block. Replaced blocks stay in the arena until it fills; the writer
// then copies the live blocks into a new arena with a new descriptor
// array and publishes the whole IPv4 table at once, so a reader still on
// the old one reads the old state, never written again. The next-hop
// array is copied, never written, when a slot is reused, and every new
// slot publishes a new array: an IPv4 reader loads the array before the
// table and, if it is unchanged after, knows the slot it read holds what
// the chunk meant (IPv6 re-checks its chunk's root instead). A Lookup
// concurrent with an update returns the answer of either the old or the
// new table. FIBs.mu serializes changes to the FIB set and operations
// across FIBs; lock order is FIBs.mu, then Table.mu.
//
// # Measured figures
//
// Full BGP table (901,899 IPv4 and 160,147 IPv6 prefixes, 256 next hops),
// against gaissmai/bart v0.30.0 on the same table and addresses in the
// same run (go test -bench . ./route/ on a 2-vCPU VM; x-bart > 1 means
// faster than bart). The lookup benchmarks alternate ours and bart in
// blocks of 2^17 lookups, so both see the same machine conditions; timing
// each over the whole run in turn let the machine's load swing the ratio
// by 25% (random IPv4 read 2.4x to 3.35x that way). Last run, three
// counts each:
//
//	IPv4 random addresses      22-27 ns   2.78-2.88x bart (target 3x)
//	IPv4 table-drawn           30-58 ns   4.0-4.6x bart
//	IPv4 1,024-address hot set 10-11 ns   4.8-4.9x bart
//	IPv6 random / drawn / hot  17-18 / 197-216 / 110-115 ns
//	                           0.69 / 1.30-1.38 / 0.82-0.90x bart
//	4-FIB/1-FIB slowdown, IPv4 random 1.26-1.37 (bart 1.34-1.73); drawn
//	                           1.24-1.39 (bart 1.70-2.12)
//	allocations per lookup     0
//
// A random IPv4 key reads the /16's descriptor and block pointer (two
// 512 KiB arrays, L2-resident; putting them side by side in one array did
// not help) and, for a complex /16, one 16-bit value of its 512-byte block,
// which misses to L3. Memory and
// updates (go test -bench 'Bytes|Build|Update'):
//
//	IPv4 bytes per prefix      19.6 amd64 (bart 22.7); 18.8 arm (bart 19.8,
//	                           under qemu-arm, GOARM=7)
//	IPv6 bytes per prefix      30.4 amd64 (bart 43.2); 24.5 arm (bart 30.4)
//	IPv4 load, Add one by one  1.9-2.3 us per prefix; AddRoutes 0.44 us;
//	                           bart Insert 0.07 us
//	IPv4 update                7.3 us per Add + Delete of a /17-/32
//	                           (bart 0.3 us; 4.9 us with compact ranges)
//
// Where the time goes: an IPv4 lookup costs about 70 instructions
// (callgrind, random addresses; bart about 240), and for a third of random
// addresses one access to the block's line, which misses the caches. Updates pay for the flat blocks: an update re-encodes the
// chunk's 256 values, about 1.5x the cost with compact ranges. Bulk loads
// carve the blocks out of 256 KiB slabs, which saves the size-class
// rounding of one allocation per chunk (0.8 B/prefix).
package route
