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
// IPv4 keeps per chunk a 32-bit descriptor. For a chunk with one value
// (one next hop, or none: 61% of uniformly random addresses on the full
// table) the descriptor is the answer. Every other chunk's descriptor
// holds the offset of its flat block in an arena: one byte per /24 of the
// chunk, its next hop (IPv4 numbers its next hops apart from IPv6, so up
// to 254 of them fit a byte), or an escape for a /24 that holds longer
// prefixes (a sub-block of 256 16-bit values: 448 on the full table) or
// whose next hop does not fit, found by a binary search of the block's
// escape list. So a lookup is the descriptor (a 256 KiB array,
// cache-resident) and, for 39% of random addresses and nearly all
// table-drawn ones, one byte of the arena (7 MB: the blocks alone,
// packed; the chunks' entries are kept elsewhere): no search, no pointer
// to follow, and no unpredictable branch on anything read from memory.
// The lookup reads both the descriptor's answer and a block byte (from an
// always-cached zero block for inline chunks) and selects with a
// conditional move, because random keys mix the kinds and a mispredicted
// branch per lookup cost more than that load. Earlier designs here, as
// random-address speed against bart: DXR's compact range arrays (a binary
// search whose every step waits on the previous load and mispredicts)
// 1.9x; 16-bit flat blocks inside the nodes, reached through a second
// 512 KiB array of block pointers, 2.8x; byte blocks in the arena behind
// 64-bit descriptors that also held chunks of up to three ranges, 3.3x.
//
// IPv6 uses the same nodes as a multibit trie with 16-bit strides: a
// chunk's ranges may point at a child node for the next 16 bits, so a
// lookup walks at most seven nodes. A flat range search over 128-bit keys
// would need 16-byte range starts and deep binary searches in the few
// dense /16s that hold most of the IPv6 table (2001::/16, 2a00-2a0f::/16,
// 2400-240f::/16), while the trie keeps every node in the 32-bit format
// and resolves most table prefixes (/32 to /48) in two or three nodes.
//
// The IPv6 lookup is one function with no call: 99.3% of random keys in
// 2000::/3 end at an empty root slot (about 60 /16s hold routes on the
// full table), and table-drawn keys at the first (15%) or second node
// (85%), where it searches the node's ranges by its format with
// branch-free binary search steps. It reads the address's two 64-bit
// halves from the netip.Addr itself (checked at init against As16, which
// it falls back to): As16's two 8-byte stores and one 16-byte reload
// defeat store forwarding, which cost more than half of a random lookup.
// Each node keeps, beside its children, their word pointers (kidw,
// filled when the writer publishes a chunk, before the store), so the
// search in a child starts without waiting for the load of the child's
// node. Tried and dropped: a second array of root word pointers beside
// the root slots, for the same saving at the root (no gain measured), and
// copying an updated root's kidw from the root it replaces instead of
// reading every child (update cost within noise: the time goes to
// allocating and scanning the new array, not to the children).
//
// Every node keeps its share of the RIB (its prefixes and their next hops)
// behind its lookup part (an IPv4 block lives in the arena instead, with
// the node beside it writer-side). An update recompiles only the span of the changed
// prefix within its node, splices it into the node's other ranges and
// copies the path above it (for a prefix of /16 or shorter: the chunks it
// covers whose cover changes), never the whole table; AddRoutes compiles
// each touched node once for bulk loads. Next hops are interned: routes
// store a 15-bit index into their family's next-hop array in the FIB.
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
// the chunk meant (IPv6 re-checks its chunk's root instead; a new IPv6
// node, its kidw included, is complete before the store that publishes
// its root, and kidw is never written once published). A Lookup
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
// by 25%. Even paired, a busy host moves it: a run while the VM's
// neighbours were loud read random IPv4 at 2.8-3.2x for the design before
// last, which quiet runs put at 3.2-3.4x. Last two runs, 6 + 3 counts of
// the IPv4 lookups, 4 of the others; for IPv6 lookups, IPv6 memory and
// updates, two runs of 3 and 2 counts after the IPv6 work, when the IPv4
// lookups read 11.9 / 13.0-13.2 / 5.1 ns (unchanged; 4.3 / 7.5 / 6.6x a
// slower bart):
//
//	IPv4 random addresses      12-14 ns   3.77-4.16x bart (target 3x;
//	                                      2.75-2.95x before the arena)
//	IPv4 table-drawn           13-16 ns   5.8-6.5x bart (before: 3.7-3.9x)
//	IPv4 1,024-address hot set 5.1-5.9 ns 6.2-6.5x bart (before: 4.6-4.8x)
//	IPv6 random / drawn / hot  3.3 / 57-60 / 36 ns
//	                           2.37-2.39 / 1.72-1.79 / 1.43-1.48x bart
//	                           (before: 14-15 / 132-139 / 75-80 ns,
//	                           0.59-0.60 / 0.97-1.02 / 0.78-0.80x)
//	4-FIB/1-FIB slowdown, IPv4 random 1.31-1.39 (bart 1.47-1.57); drawn
//	                           1.27-1.41 (bart 1.51-1.68)
//	allocations per lookup     0
//
// A random IPv4 key reads the /16's descriptor (a 256 KiB array,
// L2-resident) and, for a complex /16, one byte of its block in the 7 MB
// arena, which misses to L3. Memory and updates (go test -bench
// 'Bytes|Build|Update'):
//
//	IPv4 bytes per prefix      14.3 amd64 (bart 22.7; 19.6 before); 13.7
//	                           arm (bart 19.8; 18.8 before; under
//	                           qemu-arm, GOARM=7)
//	IPv6 bytes per prefix      30.6 amd64 (bart 43.2; 28.8 before
//	                           kidw); 24.4 arm (bart 30.4; 22.9 before)
//	IPv6 update                28-32 us per Add + Delete (bart 0.4 us;
//	                           24-25 us before kidw: the root's kidw is
//	                           copied with its children); Add one by one
//	                           5.4-6.0 us (4.3-4.5 before); AddRoutes
//	                           0.36-0.51 us (0.36-0.53 before)
//	IPv4 load, Add one by one  1.5-1.6 us per prefix (1.2 before);
//	                           AddRoutes 0.32-0.36 us; bart Insert 0.05 us
//	IPv4 update                6.0-6.4 us per Add + Delete of a /17-/32
//	                           (bart 0.3 us; 5.0-5.2 us before the arena)
//
// Where the time goes: the IPv4 lookup's fast path is 54 instructions
// (its assembly; 69 before the arena, and bart about 240 by callgrind),
// and for 39% of random addresses one access to the arena's line, which
// misses the caches. Updates pay for the flat blocks, as before (an
// update re-encodes the chunk's 256 values, about 1.5x the cost with
// compact ranges), and now for the arena's copies: every replaced block
// stays in the arena as garbage until it fills, and then the live blocks
// are copied to a new arena with half as much room again (3 ms on the
// full table, roughly 1 us of each Add + Delete above; the arena may hold
// up to 1.5 times its live blocks meanwhile, and a bulk load trims it to
// 1/32 of room). An IPv6 lookup on the hot set waits mostly on its
// dependent loads (root index, root range, the child's ranges: the range
// loads are most of its profile), random ones on the root slot. Bulk
// loads carve the entries' nodes out of 256 KiB slabs, which saves the
// size-class rounding of one allocation per chunk.
package route
