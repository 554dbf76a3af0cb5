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
// distinct next hops in one FIB; Lookup on FIBs returns EHOSTUNREACH when
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
// ("the last range starting at or below the key wins"), stored in the most
// compact of four formats: one-byte values per /8 step (direct), two-byte
// ranges, four-byte ranges, or four-byte ranges behind a 256-entry index.
// For IPv4 the direct table holds a 64-bit descriptor per chunk that alone
// answers chunks with one next hop or up to three ranges, and otherwise
// gives the format, so a lookup costs the descriptor and one range access.
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
// behind its ranges. An update recompiles only the span of the changed
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
// LookupRoute and Walk take it for reading. Lookup takes no lock: nodes are
// immutable once published, a writer builds replacements beside them and
// publishes each chunk with atomic stores (IPv4 descriptors use a per-chunk
// version as a seqlock so a reader never pairs a descriptor with another
// version's node), and the next-hop array is copied, never written, when a
// slot is reused. A Lookup concurrent with an update returns the answer of
// either the old or the new table. FIBs.mu serializes changes to the FIB
// set and operations across FIBs; lock order is FIBs.mu, then Table.mu.
package route
