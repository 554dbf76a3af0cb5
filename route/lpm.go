package route

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"sync/atomic"
	"unsafe"
)

// This file holds the longest-prefix-match engine shared by both families.
//
// Shape. An address is cut into 16-bit segments. Segment 0 indexes a direct
// table of 65,536 chunk slots (the D16 part of DXR). Prefixes of length 0..16
// ("short" prefixes) are not stored in chunks: they live in per-length maps
// and are folded into every chunk they cover as the chunk's cover next hop.
// A chunk is a node of depth 1; a node of depth d holds the prefixes whose
// length lies in (16d, 16d+16] as entries, and compiles them, with its
// cover, into a sorted array of ranges over its 16-bit segment (the R part of
// DXR: "the last range starting at or below the key wins"). IPv4 ends at
// depth 1 and encodes its ranges for lookups in the flat or inline format
// (see dir4); IPv6 uses the four range formats. IPv6 nodes also have
// children, one per segment value that has longer prefixes below it; a
// child shows up in the parent's ranges as a one-value range whose value
// is the child's index with kidFlag set.
//
// Node words (all uint32, immutable once published):
//
//	w[0]  bit 31: short format; bit 30: direct; bit 29: indexed;
//	      bit 28: flat (IPv4); bit 27: inline (IPv4);
//	      bits 0..16: number of ranges (flat: of sub-blocks; bits
//	      17..25: of escapes)
//	w[1]  bits 15..31: number of entries; bits 0..14: cover next hop
//	      lookup part, by format:
//	        flat:    none in the node: it is in the dir4 arena (w[0],
//	                 then 256 bytes, the value of each /24 of the chunk
//	                 or esc8, then one escape word per esc8 /24, j<<16 |
//	                 a next hop or kidFlag | i for a /24 holding longer
//	                 prefixes, whose 256 uint16 values (one per address)
//	                 are sub-block i, after the escapes)
//	        inline:  the chunk's 32-bit descriptor (its one next hop)
//	        long:    one word per range, start<<16 | value
//	        short:   one uint16 per range, start>>8<<8 | value (every start
//	                 a multiple of 256, every value below 256, no children)
//	        direct:  256 bytes, the value of each /8 step (a short node
//	                 with more than directMin ranges)
//	        indexed: 256 uint16 (the last range starting at or below each
//	                 /8 step), then the long ranges (more than indexMin)
//	      entries: marker<<15 | next hop, marker = 1<<r | prefix bits,
//	               r = length within the segment (1..16), sorted by
//	               (start, r)
//
// Keeping the node's entries (its share of the RIB) behind its lookup part
// means a node is one allocation, lookups touch only its front (IPv4 flat
// nodes keep the lookup part in the arena instead, packed without the
// entries between blocks), and an update rebuilds exactly the nodes on the path to the changed prefix
// (plus, for a short prefix, the chunks it covers), never the whole table;
// within the changed node only the prefix's span is recompiled (patchEnt,
// patchKid) and the rest of its ranges copied.
//
// Concurrency: lookups never lock. Nodes and arena parts are immutable
// once published; a writer builds replacements beside them and publishes
// each chunk with one atomic store (IPv4: a descriptor, which names its
// arena part, see dir4; IPv6: one atomic pointer per chunk, with path
// copying below it; the new nodes' kidw, the children's word pointers
// lookups follow, are filled before that store). Writers are serialized by the owning Table's mutex,
// which also protects the short maps, coverLen, the leaf cache, the IPv4
// node words (words4), the arena's used end and the builder scratch.

// checkPatch makes every patchEnt compare its result with a full compile
// of the node and panic on a difference; tests turn it on.
var checkPatch = false

const (
	segBits   = 16
	nhBits    = 15
	nhMask    = 1<<nhBits - 1
	kidFlag   = 1 << 15
	hdrWords  = 2
	countMask = 1<<17 - 1
	shortFlag = 1 << 31
	// directFlag: one load instead of a search for dense nodes (at /24
	// granularity for IPv4).
	directFlag = 1 << 30
	// indexFlag: a search covers one /8 step's ranges only.
	indexFlag = 1 << 29
	// flatFlag (IPv4 only): the lookup part, kept in the dir4 arena rather
	// than in the node's words, is a flat block of 256 bytes,
	// the value of each /24 of the chunk (esc8 for a /24 whose value does
	// not fit a byte or that holds longer prefixes), then the escapes, one
	// word per escaped /24 (j<<16 | value, sorted by j; the value is a
	// next hop or kidFlag | i for sub-block i), then the sub-blocks, 256
	// uint16 each (the value of each address of the /24). The count field
	// is the number of sub-blocks, bits escShift.. the number of escapes.
	flatFlag = 1 << 28
	// inlineFlag (IPv4 only): the chunk has one value, which its
	// descriptor holds (kind inline); the lookup part is that descriptor,
	// one word.
	inlineFlag  = 1 << 27
	escShift    = 17
	escMask     = 1<<9 - 1
	esc8        = 0xff // a block byte that sends the lookup to the escapes
	block8Words = 64   // 256 bytes
	subWords    = 128  // 256 uint16
	directMin   = 16   // ranges above which a short node goes direct
	indexMin    = 32   // ranges above which a long node gets an index
	indexWords  = 128  // 256 uint16
	directWords = 64   // 256 bytes
	// maxKids bounds the children of one IPv6 node (index must fit 15 bits).
	maxKids = nhMask + 1
)

// dir4 is the IPv4 direct table: per chunk a 32-bit descriptor, and an
// arena holding the lookup parts of the chunks that need one. The
// descriptors fill 256 KiB, the only array a lookup indexes by the key's
// top 16 bits.
//
// The descriptor alone (kind inline) answers chunks with one value (a
// leaf: its next hop, or 0 for no route; 61% of uniformly random
// addresses on the full table). For the others (kind complex) it holds
// the byte offset in the arena of the chunk's flat block (see flatFlag):
// the value of the key's /24 is one byte at a fixed offset from it (next
// hops 1..254; each family numbers its own), so a lookup costs the
// descriptor and one cache line of the arena, with no search and no
// pointer to load. A /24 holding longer prefixes, or whose next hop does
// not fit a byte, reads esc8 and takes the slow path, a binary search of
// the part's escapes. The arena holds only lookup parts, packed: a full
// table's fill 7 MB. The chunks' entries stay in the writer's nodes
// (lpm.words4). A lookup loads a block byte even for inline chunks (at
// offset 0, zeros, always cached) and selects the answer with a
// conditional move: random keys mix the kinds, and a mispredicted branch
// on the kind stalls the lookups behind it.
//
// A 64-bit descriptor that also held chunks of two or three ranges on
// /24 boundaries inline (6% of the chunks; 512 KiB of descriptors) was
// slower: random lookups ran at 3.3x bart against 3.8-4.2x with 32 bits.
// Fewer instructions and half the descriptor cache lines outweigh the
// blocks those chunks now need (1 MB more arena). Before the arena, 16-bit
// blocks inside the nodes (11 MB, spread among the entries) were reached
// through a second 512 KiB array of block pointers: 2.8x.
//
// Publishing needs no seqlock: a descriptor and the offset of its part are
// one word, and a part in the arena is never written again once a
// descriptor names it: the writer appends a chunk's new part past the
// used end of the arena (lpm.used4) and then stores its descriptor. A
// replaced part stays as garbage until the arena is full; then the writer
// copies the live parts into a new arena with room for half as much more
// (compact4: a few ms on the full table, once per some thousands of
// updates) and a new descriptor array, and publishes that dir4 as a
// whole, so a reader still on the old one reads the old state, which the
// writer never writes again. The garbage collector keeps an old dir4 and
// its arena while a reader holds it. Next-hop slots are handled by the
// next-hop array pointer, which a reader loads before the dir4 (see
// Table.lookup).
//
// Descriptor layout (uint32): bit 31 clear (inline), bits 0..14 the next
// hop; bit 31 set (complex), bits 0..30 the byte offset in arena of the
// chunk's block (its header word w0 is the word before).
type dir4 struct {
	desc [1 << segBits]atomic.Uint32
	// arena: parts, each the flat node's header word w0, then its block,
	// escapes and sub-blocks; immutable below the writer's lpm.used4.
	// The first noPartWords are the (zero) block inline chunks read.
	arena []uint32
}

const (
	complexD    = 1 << 31 // a complex descriptor; the rest is the offset
	offMask     = complexD - 1
	noPartWords = block8Words
	// minRoom is the least headroom a compaction leaves (64 KiB), so
	// that small tables do not copy their direct table every few
	// updates.
	minRoom = 1 << 14
)

// partWords is the size of a flat node's lookup part in the arena.
func partWords(w0 uint32) int {
	return 1 + block8Words + int(w0>>escShift&escMask) + subWords*int(w0&countMask)
}

// part returns the arena part a complex descriptor names.
func (tab *dir4) part(d uint32) []uint32 {
	off := int(d&offMask)/4 - 1
	return tab.arena[off : off+partWords(tab.arena[off])]
}

// key128 is an address as two big-endian halves; IPv4 sits in the top 32
// bits of hi.
type key128 struct{ hi, lo uint64 }

// seg returns 16-bit segment d (0 = most significant).
func (k key128) seg(d int) uint32 {
	if d < 4 {
		return uint32(k.hi>>(48-16*d)) & 0xffff
	}
	return uint32(k.lo>>(48-16*(d-4))) & 0xffff
}

// node is one trie node. For IPv4 only w is used and the chunk slot points
// at &w[0]; IPv6 nodes carry their children and their own segment value.
type node struct {
	w    []uint32
	kids []*node // sorted by seg
	// kidw holds &kids[i].w[0] for each child, so that a lookup reaches a
	// child's words without waiting on the load of its node. The writer
	// fills it in publish (fillKidw), before the chunk's atomic store,
	// and only for nodes not yet published.
	kidw []*uint32
	seg  uint16 // this node's segment value in its parent (writer only)
}

// fillKidw sets kidw in every node of the tree under n that has children
// and no kidw yet: the nodes an update built. A published node always has
// its kidw (publish is the only way IPv6 nodes reach readers), so the walk
// stops at the old subtrees the new path shares, and it never writes a
// node a reader can see.
func fillKidw(n *node) {
	if n == nil || len(n.kids) == 0 || n.kidw != nil {
		return
	}
	kw := make([]*uint32, len(n.kids))
	for i, k := range n.kids {
		if k.kidw == nil && len(k.kids) > 0 {
			fillKidw(k)
		}
		kw[i] = unsafe.SliceData(k.w)
	}
	n.kidw = kw
}

// rangeWords is the size of a node's lookup part in words, by format.
func rangeWords(w0 uint32) int {
	n := int(w0 & countMask)
	switch {
	case w0&flatFlag != 0:
		return 0 // in the arena
	case w0&inlineFlag != 0:
		return 1
	case w0&directFlag != 0:
		return directWords
	case w0&shortFlag != 0:
		return (n + 1) / 2
	case w0&indexFlag != 0:
		return indexWords + n
	}
	return n
}

func (n *node) cover() uint16 { return uint16(n.w[1] & nhMask) }

func (n *node) ents() []uint32 {
	off := hdrWords + rangeWords(n.w[0])
	return n.w[off : off+int(n.w[1]>>nhBits)]
}

// empty reports a node with neither entries nor children.
func (n *node) empty() bool { return n.w[1]>>nhBits == 0 && len(n.kids) == 0 }

// chunkNode rebuilds the node of an IPv4 chunk from its flat node pointer.
func chunkNode(p *uint32) *node {
	h := unsafe.Slice(p, hdrWords)
	n := hdrWords + rangeWords(h[0]) + int(h[1]>>nhBits)
	return &node{w: unsafe.Slice(p, n)}
}

// Entry encoding.

func entMake(r int, bits uint32, nh uint16) uint32 {
	return (1<<r|bits)<<nhBits | uint32(nh)
}

func entDecode(e uint32) (start, end uint32, r int) {
	m := e >> nhBits
	r = bits.Len32(m) - 1
	b := m ^ 1<<r
	start = b << (segBits - r)
	end = start + 1<<(segBits-r) - 1
	return start, end, r
}

// entOrder sorts entries by start, then by length (outer before inner).
func entOrder(e uint32) uint32 {
	s, _, r := entDecode(e)
	return s<<5 | uint32(r)
}

// coverAt is the value segment point k gets from cover and the entries
// shorter than below (within the segment) alone.
func coverAt(ents []uint32, k uint32, cover uint16, below int) uint16 {
	best, bestR := cover, 0
	for _, e := range ents {
		s, end, r := entDecode(e)
		if s > k {
			break
		}
		if k <= end && r > bestR && r < below {
			best, bestR = uint16(e&nhMask), r
		}
	}
	return best
}

// builder holds the writer's scratch space (protected by Table.mu).
type builder struct {
	v4 bool // encode IPv4 nodes (flat or inline)
	// part is the lookup part of the flat node whose words start at
	// partOf, the last one encoded, until publish4 copies it to the
	// arena.
	part     []uint32
	partOf   *uint32
	bulk     bool // allocate flat nodes from slab
	slab     []uint32
	old      []uint32
	out      []uint32
	ranges   []uint32
	stack    []span
	kidCover []uint16
	ents     []uint32
}

type span struct {
	end uint32
	val uint16
}

func (b *builder) emit(start uint32, v uint16) {
	r := b.ranges
	if n := len(r); n > 0 {
		last := r[n-1]
		if last>>16 == start {
			r = r[:n-1]
			if n > 1 && uint16(r[n-2]&0xffff) == v {
				b.ranges = r
				return
			}
			b.ranges = append(r, start<<16|uint32(v))
			return
		}
		if uint16(last&0xffff) == v {
			return
		}
	}
	b.ranges = append(r, start<<16|uint32(v))
}

func (b *builder) top(cover uint16) uint16 {
	if n := len(b.stack); n > 0 {
		return b.stack[n-1].val
	}
	return cover
}

func (b *builder) popBefore(s uint32, cover uint16) {
	for len(b.stack) > 0 && b.stack[len(b.stack)-1].end < s {
		end := b.stack[len(b.stack)-1].end
		b.stack = b.stack[:len(b.stack)-1]
		if end < 0xffff {
			b.emit(end+1, b.top(cover))
		}
	}
}

// build compiles cover, entries and children into a new node's words and
// leaves each child's cover in b.kidCover.
func (b *builder) build(cover uint16, ents []uint32, kids []*node) []uint32 {
	b.ranges = b.ranges[:0]
	b.stack = b.stack[:0]
	b.kidCover = b.kidCover[:0]
	b.emit(0, cover)
	i, j := 0, 0
	for i < len(ents) || j < len(kids) {
		var s, e uint32
		var v uint16
		kid := false
		if i < len(ents) {
			es, ee, r := entDecode(ents[i])
			if j < len(kids) && uint32(kids[j].seg)<<5|17 < es<<5|uint32(r) {
				kid = true
			} else {
				s, e, v = es, ee, uint16(ents[i]&nhMask)
				i++
			}
		} else {
			kid = true
		}
		if kid {
			s = uint32(kids[j].seg)
			e, v = s, uint16(kidFlag|j)
			j++
		}
		b.popBefore(s, cover)
		if kid {
			b.kidCover = append(b.kidCover, b.top(cover))
		}
		b.emit(s, v)
		b.stack = append(b.stack, span{e, v})
	}
	b.popBefore(1<<16, cover)
	return b.encode(b.ranges, cover, ents, len(kids) > 0)
}

// encode lays out a node of the builder's family.
func (b *builder) encode(out []uint32, cover uint16, ents []uint32, hasKids bool) []uint32 {
	if b.v4 {
		return b.encode4(out, cover, ents)
	}
	return encode(out, cover, ents, hasKids)
}

// Slabs: a bulk load (addBatch) carves the IPv4 nodes it builds out of
// large allocations instead of one allocation each, which would round
// every node (520 bytes and up) to a size class and waste about a sixth
// of the table. A slab is freed when the last node in it is replaced, so
// updates after a bulk load can leave at most the slabs' size behind.
const (
	slabWords = 1 << 16
	slabMax   = slabWords / 8 // larger nodes get their own allocation
)

// alloc returns n zeroed words for a node.
func (b *builder) alloc(n int) []uint32 {
	if !b.bulk || n > slabMax {
		return make([]uint32, n)
	}
	if len(b.slab) < n {
		b.slab = make([]uint32, slabWords)
	}
	w := b.slab[:n:n]
	b.slab = b.slab[n:]
	return w
}

// encode lays out a node from its ranges (long form), cover and entries,
// choosing the most compact lookup format.
func encode(out []uint32, cover uint16, ents []uint32, hasKids bool) []uint32 {
	short := !hasKids
	if short {
		for _, r := range out {
			if r&0x00ff0000 != 0 || r&0xffff > 0xff {
				short = false
				break
			}
		}
	}
	w0 := uint32(len(out))
	switch {
	case short && len(out) > directMin:
		w0 |= shortFlag | directFlag
	case short:
		w0 |= shortFlag
	case len(out) > indexMin:
		w0 |= indexFlag
	}
	rw := rangeWords(w0)
	w := make([]uint32, hdrWords+rw+len(ents))
	w[0] = w0
	w[1] = uint32(len(ents))<<nhBits | uint32(cover)
	dst := unsafe.Pointer(&w[hdrWords])
	switch {
	case w0&directFlag != 0:
		d := unsafe.Slice((*uint8)(dst), 256)
		for k, r := range out {
			end := 256
			if k+1 < len(out) {
				end = int(out[k+1] >> 24)
			}
			for j := int(r >> 24); j < end; j++ {
				d[j] = uint8(r)
			}
		}
	case w0&shortFlag != 0:
		d := unsafe.Slice((*uint16)(dst), len(out))
		for k, r := range out {
			d[k] = uint16(r>>16)&0xff00 | uint16(r&0xff)
		}
	case w0&indexFlag != 0:
		idx := unsafe.Slice((*uint16)(dst), 256)
		k := 0
		for j := range 256 {
			for k+1 < len(out) && out[k+1]>>16 <= uint32(j)<<8 {
				k++
			}
			idx[j] = uint16(k)
		}
		copy(w[hdrWords+indexWords:], out)
	default:
		copy(w[hdrWords:], out)
	}
	copy(w[hdrWords+rw:], ents)
	return w
}

type opKind int

const (
	opAdd opKind = iota
	opChange
	opDelete
)

// lpm is one family's table. levels is the deepest node depth (1 for IPv4,
// 7 for IPv6). All fields except the chunk slots are protected by the
// owning Table's mutex.
type lpm struct {
	levels int
	is4    bool
	// chunks4 / chunks6: the direct table, allocated on first use so an empty
	// FIB costs little (up to 65,536 FIBs may exist).
	chunks4  atomic.Pointer[dir4]
	chunks6  atomic.Pointer[[1 << segBits]atomic.Pointer[node]]
	short    [segBits + 1]map[uint32]uint16
	coverLen []uint8 // per chunk: length+1 of the short prefix covering it, 0 = none
	leaves   map[uint16]*node
	// words4 holds the words of each IPv4 chunk's node that has entries
	// (flat nodes without their lookup part, which is in the arena);
	// lookups never read it. used4 is how much of the arena is written,
	// live4 how much of that descriptors name.
	words4       []*uint32
	used4, live4 int
	// used has a bit per chunk with entries or children, so walks skip
	// the empty ones.
	used  []uint64
	b     builder
	count int
	// nh numbers the family's next hops: each family has its own, so
	// that the IPv4 slots stay low (a block byte holds slots up to 254).
	nh nhTable
}

func (t *lpm) setup(is4 bool) {
	t.is4, t.levels = is4, 7
	t.b.v4 = is4
	if is4 {
		t.levels = 1
	}
}

func (t *lpm) init() {
	if t.coverLen != nil {
		return
	}
	t.coverLen = make([]uint8, 1<<segBits)
	for i := range t.short {
		t.short[i] = make(map[uint32]uint16)
	}
	t.leaves = make(map[uint16]*node)
	t.used = make([]uint64, 1<<segBits/64)
	if t.is4 {
		t.words4 = make([]*uint32, 1<<segBits)
		t.used4 = noPartWords
		t.chunks4.Store(&dir4{arena: make([]uint32, noPartWords)})
	} else {
		t.chunks6.Store(new([1 << segBits]atomic.Pointer[node]))
	}
}

// view returns chunk c's node for readers holding the table's read lock:
// nil for a chunk without entries or children (its cover is in the short
// maps), so readers never touch the writer's leaf cache.
func (t *lpm) view(c uint32) *node {
	if t.is4 {
		if t.words4 == nil || t.words4[c] == nil {
			return nil
		}
		return chunkNode(t.words4[c])
	}
	return t.chunk(c)
}

// chunk returns chunk c for the writer (Table.mu held).
func (t *lpm) chunk(c uint32) *node {
	if t.is4 {
		tab := t.chunks4.Load()
		if tab == nil {
			return nil
		}
		if p := t.words4[c]; p != nil {
			return chunkNode(p)
		}
		if d := tab.desc[c].Load(); d != 0 {
			return t.leaf(uint16(d & nhMask))
		}
		return nil
	}
	tab := t.chunks6.Load()
	if tab == nil {
		return nil
	}
	return tab[c].Load()
}

func (t *lpm) publish(c uint32, n *node) {
	if n != nil && !n.empty() {
		t.used[c/64] |= 1 << (c % 64)
	} else {
		t.used[c/64] &^= 1 << (c % 64)
	}
	if t.is4 {
		t.publish4(c, n)
		return
	}
	fillKidw(n)
	t.chunks6.Load()[c].Store(n)
}

func (t *lpm) publish4(c uint32, n *node) {
	var d uint32
	var words *uint32
	var part []uint32
	switch {
	case n == nil:
		d = 0
	case n.w[0]&flatFlag == 0:
		d = n.w[hdrWords]
		if n.w[1]>>nhBits != 0 {
			words = &n.w[0]
		}
	default:
		if t.b.partOf != &n.w[0] {
			panic("route: publishing a flat node whose part was not just built")
		}
		part, words = t.b.part, &n.w[0]
		t.b.partOf = nil
	}
	tab := t.chunks4.Load()
	if t.used4+len(part) > len(tab.arena) {
		// Room for half the live parts more: updates pay for a copy of
		// the arena every (live/2)/(part size) of them, and the arena is
		// at most 1.5 times its live parts between copies (a quarter
		// more room made the full-table update 15% slower).
		slack := 2
		if t.b.bulk {
			slack = 1 // loading: double the arena
		}
		tab = t.compact4(len(part), slack)
	}
	if part != nil {
		// Append the part past everything a descriptor may name, then
		// name it.
		off := t.used4
		copy(tab.arena[off:], part)
		t.used4 += len(part)
		t.live4 += len(part)
		if 4*(off+1) > offMask {
			panic("route: IPv4 arena past 2 GiB")
		}
		d = complexD | uint32(4*(off+1))
	}
	if old := tab.desc[c].Load(); old&complexD != 0 {
		t.live4 -= len(tab.part(old))
	}
	tab.desc[c].Store(d)
	t.words4[c] = words
	if len(tab.arena) > 4*minRoom && t.live4 < len(tab.arena)/8 {
		// Mostly garbage after deletes (a flush): give it back.
		t.compact4(0, 2)
	}
}

// compact4 copies the live parts of the arena into a new one with room
// for extra more words and headroom of 1/slack of the live parts (at
// least minRoom words), and publishes a new dir4 with it. Readers still on
// the old dir4 read the state it had: the writer never writes it again.
func (t *lpm) compact4(extra, slack int) *dir4 {
	old := t.chunks4.Load()
	need := noPartWords + t.live4 + extra
	nt := &dir4{arena: make([]uint32, need+max(t.live4/slack, minRoom))}
	used := noPartWords
	for c := range old.desc {
		d := old.desc[c].Load()
		if d&complexD != 0 {
			p := old.part(d)
			copy(nt.arena[used:], p)
			d = complexD | uint32(4*(used+1))
			used += len(p)
		}
		nt.desc[c].Store(d)
	}
	t.used4 = used
	t.chunks4.Store(nt)
	return nt
}

// trim4 shrinks the arena after a bulk load to the live parts and a
// little headroom for updates.
func (t *lpm) trim4() {
	if spare := len(t.chunks4.Load().arena) - noPartWords - t.live4; spare > max(t.live4/16, 2*minRoom) {
		t.compact4(0, 32)
	}
}

// encode4 lays out an IPv4 chunk from its ranges (long form, canonical:
// no two neighbours with the same value): inline when it has one value,
// else flat.
func (b *builder) encode4(out []uint32, cover uint16, ents []uint32) []uint32 {
	if len(out) == 1 {
		// One value: the descriptor is the chunk's next hop.
		w := make([]uint32, hdrWords+1+len(ents))
		w[0] = inlineFlag
		w[1] = uint32(len(ents))<<nhBits | uint32(cover)
		w[2] = out[0] & nhMask
		copy(w[hdrWords+1:], ents)
		return w
	}
	// A /24 needs a sub-block when a range starts inside it; it and a /24
	// whose value does not fit a byte (esc8 or more) are escaped.
	var vals [256]uint16
	nsub, nesc := 0, 0
	r := 0
	for j := range 256 {
		base := uint32(j) << 8
		for r+1 < len(out) && out[r+1]>>16 <= base {
			r++
		}
		if r+1 == len(out) || out[r+1]>>16 > base|0xff {
			vals[j] = uint16(out[r])
			if vals[j] >= esc8 {
				nesc++
			}
			continue
		}
		vals[j] = kidFlag | uint16(nsub)
		nsub++
		nesc++
		for r+1 < len(out) && out[r+1]>>16 <= base|0xff {
			r++
		}
	}
	w := b.alloc(hdrWords + len(ents))
	w[0] = flatFlag | uint32(nesc)<<escShift | uint32(nsub)
	w[1] = uint32(len(ents))<<nhBits | uint32(cover)
	copy(w[hdrWords:], ents)
	pw := partWords(w[0])
	if cap(b.part) < pw {
		b.part = make([]uint32, pw)
	}
	part := b.part[:pw]
	clear(part)
	part[0] = w[0]
	blk := unsafe.Slice((*uint8)(unsafe.Pointer(&part[1])), 256)
	esc := part[1+block8Words : 1+block8Words+nesc]
	subs := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(part[1+block8Words:]))), 2*(nesc+subWords*nsub))[2*nesc:]
	r, e := 0, 0
	for j, x := range vals {
		if x < esc8 {
			blk[j] = uint8(x)
			continue
		}
		blk[j] = esc8
		esc[e] = uint32(j)<<16 | uint32(x)
		e++
		if x&kidFlag == 0 {
			continue
		}
		base := uint32(j) << 8
		sb := subs[256*int(x&nhMask):][:256]
		for k := range 256 {
			for r+1 < len(out) && out[r+1]>>16 <= base|uint32(k) {
				r++
			}
			sb[k] = uint16(out[r])
		}
	}
	b.part, b.partOf = part, &w[0]
	return w
}

// leaf returns the shared chunk for a chunk with only a cover.
func (t *lpm) leaf(cover uint16) *node {
	if cover == 0 {
		return nil
	}
	if n, ok := t.leaves[cover]; ok {
		return n
	}
	n := &node{w: t.b.build(cover, nil, nil)}
	t.leaves[cover] = n
	return n
}

// finish turns a freshly built depth-d node into what its parent stores.
func (t *lpm) finish(n *node, d int) *node {
	if !n.empty() {
		return n
	}
	if d == 1 {
		return t.leaf(n.cover())
	}
	return nil
}

// rebuild builds a node from cover, ents and kids, then re-covers every
// child whose cover changed (cascading down).
func (t *lpm) rebuild(d int, seg uint16, cover uint16, ents []uint32, kids []*node) *node {
	n := &node{w: t.b.build(cover, ents, kids), seg: seg}
	if len(kids) == 0 {
		return t.finish(n, d)
	}
	var changed []int
	for i, k := range kids {
		if t.b.kidCover[i] != k.cover() {
			changed = append(changed, i)
		}
	}
	nk := make([]*node, len(kids))
	copy(nk, kids)
	if len(changed) > 0 {
		covers := make([]uint16, len(changed))
		for i, ci := range changed {
			covers[i] = t.b.kidCover[ci]
		}
		for i, ci := range changed {
			k := nk[ci]
			nk[ci] = t.rebuild(d+1, k.seg, covers[i], k.ents(), k.kids)
		}
	}
	n.kids = nk
	return n
}

// recover re-covers chunk c.
func (t *lpm) recover(c uint32, cover uint16) {
	n := t.chunk(c)
	if n == nil {
		t.publish(c, t.leaf(cover))
		return
	}
	if n.cover() == cover {
		return
	}
	t.publish(c, t.rebuild(1, uint16(c), cover, n.ents(), n.kids))
}

// apply performs op for prefix (k, l) with next hop nh (ignored for
// delete). It returns the previous next hop for change and delete.
func (t *lpm) apply(op opKind, k key128, l int, nh uint16) (uint16, error) {
	t.init()
	if l <= segBits {
		return t.applyShort(op, k, l, nh)
	}
	c := k.seg(0)
	old, err := t.modifyInto(c, op, k, l, nh)
	if err == nil {
		switch op {
		case opAdd:
			t.count++
		case opDelete:
			t.count--
		}
	}
	return old, err
}

func (t *lpm) modifyInto(c uint32, op opKind, k key128, l int, nh uint16) (uint16, error) {
	n := t.chunk(c)
	cover := uint16(0)
	if n != nil {
		cover = n.cover()
	}
	nn, old, err := t.modify(n, 1, uint16(c), cover, k, l, nh, op)
	if err != nil {
		return 0, err
	}
	t.publish(c, nn)
	return old, nil
}

func (t *lpm) applyShort(op opKind, k key128, l int, nh uint16) (uint16, error) {
	key := k.seg(0) >> (segBits - l)
	m := t.short[l]
	old, ok := m[key]
	switch op {
	case opAdd:
		if ok {
			return 0, errExists
		}
		m[key] = nh
		t.count++
	case opChange:
		if !ok {
			return 0, errNotFound
		}
		m[key] = nh
	case opDelete:
		if !ok {
			return 0, errNotFound
		}
		delete(m, key)
		t.count--
	}
	first := key << (segBits - l)
	last := first + 1<<(segBits-l) - 1
	mine := uint8(l + 1)
	for c := first; c <= last; c++ {
		cl := t.coverLen[c]
		switch {
		case op != opDelete && cl <= mine:
			t.coverLen[c] = mine
			t.recover(c, nh)
		case op == opDelete && cl == mine:
			cover, cl := uint16(0), uint8(0)
			for s := l - 1; s >= 0; s-- {
				var sk uint32
				if s > 0 {
					sk = c >> (segBits - s)
				}
				if v, ok := t.short[s][sk]; ok {
					cover, cl = v, uint8(s+1)
					break
				}
			}
			t.coverLen[c] = cl
			t.recover(c, cover)
		}
	}
	return old, nil
}

// modify applies op below node n (nil: none yet) at depth d and returns the
// node that replaces it.
func (t *lpm) modify(n *node, d int, seg uint16, cover uint16, k key128, l int, nh uint16, op opKind) (*node, uint16, error) {
	var ents []uint32
	var kids []*node
	if n != nil {
		ents, kids = n.ents(), n.kids
	}
	if l <= segBits*(d+1) {
		r := l - segBits*d
		e := entMake(r, k.seg(d)>>(segBits-r), nh)
		want := entOrder(e)
		i := sort.Search(len(ents), func(i int) bool { return entOrder(ents[i]) >= want })
		found := i < len(ents) && entOrder(ents[i]) == want
		var old uint16
		ne := t.b.ents[:0]
		switch op {
		case opAdd:
			if found {
				return nil, 0, errExists
			}
			ne = append(ne, ents[:i]...)
			ne = append(ne, e)
			ne = append(ne, ents[i:]...)
		case opChange:
			if !found {
				return nil, 0, errNotFound
			}
			old = uint16(ents[i] & nhMask)
			ne = append(ne, ents...)
			ne[i] = e
		case opDelete:
			if !found {
				return nil, 0, errNotFound
			}
			old = uint16(ents[i] & nhMask)
			ne = append(ne, ents[:i]...)
			ne = append(ne, ents[i+1:]...)
		}
		t.b.ents = ne
		if n == nil || len(ne) == 0 {
			return t.rebuild(d, seg, cover, ne, kids), old, nil
		}
		es, ee, _ := entDecode(e)
		base := uint16(e & nhMask)
		if op == opDelete {
			base = coverAt(ne, es, cover, r)
		}
		return t.patchEnt(n, d, seg, cover, ne, es, ee, r, base), old, nil
	}
	if d >= t.levels {
		panic("route: prefix deeper than the trie")
	}
	s := k.seg(d)
	i := sort.Search(len(kids), func(i int) bool { return uint32(kids[i].seg) >= s })
	var kid *node
	if i < len(kids) && uint32(kids[i].seg) == s {
		kid = kids[i]
	} else if op != opAdd {
		return nil, 0, errNotFound
	}
	if kid == nil && len(kids) >= maxKids {
		return nil, 0, errTooManyKids
	}
	nk, old, err := t.modify(kid, d+1, uint16(s), coverAt(ents, s, cover, segBits+1), k, l, nh, op)
	if err != nil {
		return nil, 0, err
	}
	var kk []*node
	switch {
	case kid == nil:
		kk = make([]*node, 0, len(kids)+1)
		kk = append(kk, kids[:i]...)
		kk = append(kk, nk)
		kk = append(kk, kids[i:]...)
		if len(kids) > 0 {
			// Patch the ranges instead of recompiling the node: big IPv6
			// nodes have thousands of entries and children.
			return &node{w: t.patchKid(n, true, i, s, 0), seg: seg, kids: kk}, old, nil
		}
	case nk == nil:
		kk = make([]*node, 0, len(kids)-1)
		kk = append(kk, kids[:i]...)
		kk = append(kk, kids[i+1:]...)
		if len(kk) > 0 {
			return &node{w: t.patchKid(n, false, i, s, coverAt(ents, s, cover, segBits+1)), seg: seg, kids: kk}, old, nil
		}
	default:
		// Same child slot: the ranges (which name children by index) do
		// not change, so share the words and copy only the child list.
		kk = make([]*node, len(kids))
		copy(kk, kids)
		kk[i] = nk
		return &node{w: n.w, seg: seg, kids: kk}, old, nil
	}
	// Children keep their covers (ents did not change), so no cascade.
	nn := &node{w: t.b.build(cover, ents, kk), seg: seg, kids: kk}
	if len(kk) == 0 {
		nn.kids = nil
		return t.finish(nn, d), old, nil
	}
	return nn, old, nil
}

// batchEnt is one prefix longer than /16 for addBatch.
type batchEnt struct {
	k  key128
	l  int
	nh uint16
}

// addBatch adds prefixes longer than /16, sorted by address then length
// and absent from the table, compiling each node it touches once.
func (t *lpm) addBatch(items []batchEnt) error {
	t.init()
	t.b.bulk = true
	defer func() { t.b.bulk, t.b.slab = false, nil }()
	for len(items) > 0 {
		c := items[0].k.seg(0)
		n := 1
		for n < len(items) && items[n].k.seg(0) == c {
			n++
		}
		old := t.chunk(c)
		cover := uint16(0)
		if old != nil {
			cover = old.cover()
		}
		nn, err := t.batchNode(old, 1, uint16(c), cover, items[:n])
		if err != nil {
			return err
		}
		t.publish(c, nn)
		t.count += n
		items = items[n:]
	}
	if t.is4 {
		t.trim4()
	}
	return nil
}

func (t *lpm) batchNode(n *node, d int, seg, cover uint16, items []batchEnt) (*node, error) {
	var ents []uint32
	var kids []*node
	if n != nil {
		ents, kids = n.ents(), n.kids
	}
	var add []uint32
	var deeper []batchEnt
	for _, it := range items {
		if it.l <= segBits*(d+1) {
			r := it.l - segBits*d
			add = append(add, entMake(r, it.k.seg(d)>>(segBits-r), it.nh))
		} else {
			deeper = append(deeper, it)
		}
	}
	// Address-then-length order is entOrder within one node.
	merged := make([]uint32, 0, len(ents)+len(add))
	i, j := 0, 0
	for i < len(ents) || j < len(add) {
		if j == len(add) || i < len(ents) && entOrder(ents[i]) < entOrder(add[j]) {
			merged = append(merged, ents[i])
			i++
		} else {
			merged = append(merged, add[j])
			j++
		}
	}
	nk := kids
	if len(deeper) > 0 {
		nk = make([]*node, 0, len(kids))
		ki := 0
		for len(deeper) > 0 {
			s := deeper[0].k.seg(d)
			m := 1
			for m < len(deeper) && deeper[m].k.seg(d) == s {
				m++
			}
			for ki < len(kids) && uint32(kids[ki].seg) < s {
				nk = append(nk, kids[ki])
				ki++
			}
			var kid *node
			if ki < len(kids) && uint32(kids[ki].seg) == s {
				kid = kids[ki]
				ki++
			}
			c, err := t.batchNode(kid, d+1, uint16(s), coverAt(merged, s, cover, segBits+1), deeper[:m])
			if err != nil {
				return nil, err
			}
			nk = append(nk, c)
			deeper = deeper[m:]
		}
		nk = append(nk, kids[ki:]...)
		if len(nk) > maxKids {
			return nil, errTooManyKids
		}
	}
	return t.rebuild(d, seg, cover, merged, nk), nil
}

func dumpEnts(ne []uint32) []string {
	var o []string
	for _, x := range ne {
		a, b, r := entDecode(x)
		o = append(o, fmt.Sprintf("%x-%x/%d=%x", a, b, r, x&nhMask))
	}
	return o
}

// decodeRanges returns n's ranges in the long form, whatever its format;
// part is the lookup part of a flat node (in the arena).
func decodeRanges(n *node, part []uint32, dst []uint32) []uint32 {
	w0 := n.w[0]
	cnt := int(w0 & countMask)
	dst = dst[:0]
	base := unsafe.Pointer(unsafe.SliceData(n.w[hdrWords:]))
	switch {
	case w0&flatFlag != 0:
		blk := unsafe.Slice((*uint8)(unsafe.Pointer(&part[1])), 256)
		esc := part[1+block8Words:][:w0>>escShift&escMask]
		nesc := len(esc)
		subs := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(part[1+block8Words:]))), 2*nesc+256*cnt)[2*nesc:]
		prev := uint32(1 << 16) // no value
		add := func(start uint32, v uint16) {
			if uint32(v) != prev {
				dst = append(dst, start<<16|uint32(v))
				prev = uint32(v)
			}
		}
		e := 0
		for j, b := range blk {
			v := uint16(b)
			if b == esc8 {
				v = uint16(esc[e])
				e++
			}
			if v&kidFlag == 0 {
				add(uint32(j)<<8, v)
				continue
			}
			sb := subs[256*int(v&nhMask):][:256]
			for k, x := range sb {
				add(uint32(j)<<8|uint32(k), x)
			}
		}
	case w0&inlineFlag != 0:
		dst = append(dst, n.w[hdrWords])
	case w0&directFlag != 0:
		d := unsafe.Slice((*uint8)(base), 256)
		for j := range 256 {
			if j == 0 || d[j] != d[j-1] {
				dst = append(dst, uint32(j)<<24|uint32(d[j]))
			}
		}
	case w0&shortFlag != 0:
		for _, r := range unsafe.Slice((*uint16)(base), cnt) {
			dst = append(dst, uint32(r&0xff00)<<16|uint32(r&0xff))
		}
	case w0&indexFlag != 0:
		dst = append(dst, n.w[hdrWords+indexWords:hdrWords+indexWords+cnt]...)
	default:
		dst = append(dst, n.w[hdrWords:hdrWords+cnt]...)
	}
	return dst
}

// patchEnt rebuilds node n after one entry [s, e] of length r changed: ne
// are its new entries, base the value [s, e] now has outside the prefixes
// nested in it. Only [s, e] is recompiled (from the entries and children
// inside it); the rest of the ranges are spliced from the old node, and
// only children inside [s, e] may need a new cover.
func (t *lpm) patchEnt(n *node, d int, seg, cover uint16, ne []uint32, s, e uint32, r int, base uint16) *node {
	b := &t.b
	var part []uint32
	if n.w[0]&flatFlag != 0 {
		// An IPv4 chunk (seg is its number): its part is the one its
		// descriptor names.
		tab := t.chunks4.Load()
		part = tab.part(tab.desc[seg].Load())
	}
	old := decodeRanges(n, part, b.old)
	b.old = old
	kids := n.kids

	// Compile [s, e] as a node of its own with cover base.
	b.ranges = b.ranges[:0]
	b.stack = b.stack[:0]
	b.kidCover = b.kidCover[:0]
	b.emit(s, base)
	i := sort.Search(len(ne), func(i int) bool { return entOrder(ne[i]) > s<<5|uint32(r) })
	j := sort.Search(len(kids), func(j int) bool { return uint32(kids[j].seg) >= s })
	firstKid := j
	for {
		var is, ie, ir uint32
		var v uint16
		haveEnt, haveKid := false, false
		if i < len(ne) {
			var rr int
			is, ie, rr = entDecode(ne[i])
			ir = uint32(rr)
			haveEnt = is <= e
		}
		if j < len(kids) && uint32(kids[j].seg) <= e {
			haveKid = true
		}
		if !haveEnt && !haveKid {
			break
		}
		kid := haveKid && (!haveEnt || uint32(kids[j].seg)<<5|17 < is<<5|ir)
		if kid {
			is = uint32(kids[j].seg)
			ie, v = is, uint16(kidFlag|j)
			j++
		} else {
			v = uint16(ne[i] & nhMask)
			i++
		}
		b.popBefore(is, base)
		if kid {
			b.kidCover = append(b.kidCover, b.top(base))
		}
		b.emit(is, v)
		b.stack = append(b.stack, span{ie, v})
	}
	b.popBefore(e+1, base)
	sub := b.ranges
	for len(sub) > 0 && sub[len(sub)-1]>>16 > e {
		sub = sub[:len(sub)-1]
	}

	// Splice: old ranges before s, the new [s, e], the old value at e+1,
	// old ranges after it.
	out := b.out[:0]
	push := func(x uint32) {
		if m := len(out); m > 0 {
			if out[m-1]>>16 == x>>16 {
				out[m-1] = x
				if m > 1 && out[m-2]&0xffff == x&0xffff && x&kidFlag == 0 {
					out = out[:m-1]
				}
				return
			}
			if out[m-1]&0xffff == x&0xffff && x&kidFlag == 0 {
				return
			}
		}
		out = append(out, x)
	}
	k := 0
	for k < len(old) && old[k]>>16 < s {
		out = append(out, old[k])
		k++
	}
	for _, x := range sub {
		push(x)
	}
	if e < 0xffff {
		after := e + 1
		for k < len(old) && old[k]>>16 <= after {
			k++
		}
		push(after<<16 | old[k-1]&0xffff)
		for ; k < len(old); k++ {
			push(old[k])
		}
	}
	b.out = out

	nk := kids
	for c, cv := range b.kidCover {
		ki := firstKid + c
		if kids[ki].cover() == cv {
			continue
		}
		if &nk[0] == &kids[0] {
			nk = append([]*node(nil), kids...)
		}
		covers := append([]uint16(nil), b.kidCover[c:]...)
		for cc := range covers {
			kk := nk[firstKid+c+cc]
			if kk.cover() != covers[cc] {
				nk[firstKid+c+cc] = t.rebuild(d+1, kk.seg, covers[cc], kk.ents(), kk.kids)
			}
		}
		break
	}
	nn := &node{w: b.encode(out, cover, ne, len(kids) > 0), seg: seg, kids: nk}
	if checkPatch {
		sb := builder{v4: b.v4}
		ref := sb.build(cover, ne, nk)
		if !slices.Equal(ref, nn.w) || (sb.partOf == nil) != (b.partOf != &nn.w[0]) || sb.partOf != nil && !slices.Equal(sb.part, b.part) {
			panic(fmt.Sprintf("route: patchEnt differs from a full compile: d=%d s=%#x e=%#x r=%d base=%d\n old %x\n sub %x\n got %x\n ref %x\n kids %d first %d covers %v\n ne %v", d, s, e, r, base, old, sub, out, sb.ranges, len(kids), firstKid, b.kidCover, dumpEnts(ne)))
		}
	}
	return t.finish(nn, d)
}

// patchKid returns n's words with child i at segment value s added (add)
// or removed (then point s reverts to value back), renumbering the other
// children. n has children both before and after, so its ranges are in the
// long or indexed format.
func (t *lpm) patchKid(n *node, add bool, i int, s uint32, back uint16) []uint32 {
	w0 := n.w[0]
	cnt := int(w0 & countMask)
	off := hdrWords
	if w0&indexFlag != 0 {
		off += indexWords
	}
	rs := n.w[off : off+cnt]
	out := t.b.ranges[:0]
	kidVal := func(v uint32) uint32 {
		if v&kidFlag != 0 {
			k := int(v & nhMask)
			if add && k >= i {
				return v + 1
			}
			if !add && k > i {
				return v - 1
			}
		}
		return v
	}
	push := func(start, v uint32) {
		if m := len(out); m > 0 && out[m-1]&0xffff == v && v&kidFlag == 0 {
			return
		}
		out = append(out, start<<16|v)
	}
	for j := 0; j < len(rs); j++ {
		start, v := rs[j]>>16, rs[j]&0xffff
		next := uint32(1 << 16)
		if j+1 < len(rs) {
			next = rs[j+1] >> 16
		}
		switch {
		case add && start <= s && s < next:
			if start < s {
				push(start, v)
			}
			push(s, kidFlag|uint32(i))
			if s+1 < next {
				push(s+1, v)
			}
		case !add && start == s && v == kidFlag|uint32(i):
			push(s, uint32(back))
		default:
			push(start, kidVal(v))
		}
	}
	t.b.ranges = out
	w := encode(out, n.cover(), n.ents(), true)
	if checkPatch {
		kk := make([]*node, 0, len(n.kids)+1)
		kk = append(kk, n.kids[:i]...)
		if add {
			kk = append(kk, &node{seg: uint16(s)})
			kk = append(kk, n.kids[i:]...)
		} else {
			kk = append(kk, n.kids[i+1:]...)
		}
		var sb builder
		if ref := sb.build(n.cover(), n.ents(), kk); !slices.Equal(ref, w) {
			panic(fmt.Sprintf("route: patchKid differs from a full compile: add %v i %d s %#x", add, i, s))
		}
	}
	return w
}

// get returns the next hop stored for exactly (k, l).
func (t *lpm) get(k key128, l int) (uint16, bool) {
	if t.coverLen == nil {
		return 0, false
	}
	if l <= segBits {
		v, ok := t.short[l][k.seg(0)>>(segBits-l)]
		return v, ok
	}
	n := t.view(k.seg(0))
	for d := 1; n != nil; d++ {
		if l <= segBits*(d+1) {
			r := l - segBits*d
			want := entOrder(entMake(r, k.seg(d)>>(segBits-r), 0))
			ents := n.ents()
			i := sort.Search(len(ents), func(i int) bool { return entOrder(ents[i]) >= want })
			if i < len(ents) && entOrder(ents[i]) == want {
				return uint16(ents[i] & nhMask), true
			}
			return 0, false
		}
		s := k.seg(d)
		i := sort.Search(len(n.kids), func(i int) bool { return uint32(n.kids[i].seg) >= s })
		if i == len(n.kids) || uint32(n.kids[i].seg) != s {
			return 0, false
		}
		n = n.kids[i]
	}
	return 0, false
}

// match finds the longest stored prefix containing k through the RIB side
// of the nodes (entries), not the compiled ranges. It returns the prefix
// length and next hop, or ok false.
func (t *lpm) match(k key128) (l int, nh uint16, ok bool) {
	if t.coverLen == nil {
		return 0, 0, false
	}
	c := k.seg(0)
	if cl := t.coverLen[c]; cl > 0 {
		l = int(cl) - 1
		var sk uint32
		if l > 0 {
			sk = c >> (segBits - l)
		}
		nh, ok = t.short[l][sk], true
	}
	n := t.view(c)
	for d := 1; n != nil; d++ {
		s := k.seg(d)
		bestR := 0
		for _, e := range n.ents() {
			es, ee, r := entDecode(e)
			if es > s {
				break
			}
			if s <= ee && r > bestR {
				bestR, nh = r, uint16(e&nhMask)
			}
		}
		if bestR > 0 {
			l, ok = segBits*d+bestR, true
		}
		i := sort.Search(len(n.kids), func(i int) bool { return uint32(n.kids[i].seg) >= s })
		if i == len(n.kids) || uint32(n.kids[i].seg) != s {
			break
		}
		n = n.kids[i]
	}
	return l, nh, ok
}

// walk calls fn for every stored prefix in address order, shorter first.
func (t *lpm) walk(fn func(k key128, l int, nh uint16) bool) bool {
	if t.coverLen == nil {
		return true
	}
	type short struct {
		c  uint32
		l  int
		nh uint16
	}
	var shorts []short
	for l, m := range t.short {
		for key, nh := range m {
			c := uint32(0)
			if l > 0 {
				c = key << (segBits - l)
			}
			shorts = append(shorts, short{c, l, nh})
		}
	}
	slices.SortFunc(shorts, func(a, b short) int {
		if a.c != b.c {
			return cmp.Compare(a.c, b.c)
		}
		return a.l - b.l
	})
	emitShorts := func(upTo uint32) bool {
		for len(shorts) > 0 && shorts[0].c <= upTo {
			if !fn(setSeg(key128{}, 0, shorts[0].c), shorts[0].l, shorts[0].nh) {
				return false
			}
			shorts = shorts[1:]
		}
		return true
	}
	for wi, w := range t.used {
		for w != 0 {
			c := uint32(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
			if !emitShorts(c) {
				return false
			}
			if n := t.view(c); n != nil && !t.walkNode(n, 1, setSeg(key128{}, 0, c), fn) {
				return false
			}
		}
	}
	return emitShorts(1<<segBits - 1)
}

func (t *lpm) walkNode(n *node, d int, base key128, fn func(key128, int, uint16) bool) bool {
	ents, kids := n.ents(), n.kids
	i, j := 0, 0
	for i < len(ents) || j < len(kids) {
		if i < len(ents) {
			es, _, r := entDecode(ents[i])
			if j == len(kids) || es<<5|uint32(r) < uint32(kids[j].seg)<<5|17 {
				if !fn(setSeg(base, d, es), segBits*d+r, uint16(ents[i]&nhMask)) {
					return false
				}
				i++
				continue
			}
		}
		k := kids[j]
		if !t.walkNode(k, d+1, setSeg(base, d, uint32(k.seg)), fn) {
			return false
		}
		j++
	}
	return true
}

func setSeg(k key128, d int, v uint32) key128 {
	if d < 4 {
		k.hi |= uint64(v&0xffff) << (48 - 16*d)
	} else {
		k.lo |= uint64(v&0xffff) << (48 - 16*(d-4))
	}
	return k
}
