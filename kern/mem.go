package kern

// Ranges is the kernel's range allocator: the set of free address ranges inside one managed
// region [Lo, Hi), kept sorted and coalesced in a fixed-size table so that the kernel can use
// it while it runs without a Go heap (no allocation, no pointers). Memory that is not free is
// in use: mmap takes from the set, munmap gives back, and freed memory is reused by later
// requests.
//
// Locking: Ranges has no lock of its own. The kernel instances are only touched from the trap
// path (interrupts masked, one core); user-mode callers mask interrupts around their use.
type Ranges struct {
	lo, hi uintptr
	n      int
	r      [maxRanges]span
}

// maxRanges bounds the fragmentation the table can describe. The Go runtime maps memory in
// large, mostly adjacent pieces; 512 holes is far more than it produces.
const maxRanges = 512

type span struct{ start, end uintptr }

// Init makes [lo, hi) the managed region, entirely free.
func (m *Ranges) Init(lo, hi uintptr) {
	m.lo, m.hi = lo, hi
	m.n = 0
	if lo < hi {
		m.r[0] = span{lo, hi}
		m.n = 1
	}
}

// Lo and Hi return the managed region.
func (m *Ranges) Lo() uintptr { return m.lo }
func (m *Ranges) Hi() uintptr { return m.hi }

// FreeBytes returns how many bytes are free.
func (m *Ranges) FreeBytes() uintptr {
	var t uintptr
	for i := 0; i < m.n; i++ {
		t += m.r[i].end - m.r[i].start
	}
	return t
}

// UsedBytes returns how many bytes of the region are in use.
func (m *Ranges) UsedBytes() uintptr { return m.hi - m.lo - m.FreeBytes() }

// Holes returns how many free ranges there are (1 means no fragmentation).
func (m *Ranges) Holes() int { return m.n }

// clip intersects [start, end) with the region; ok is false when the result is empty or the
// range wraps.
func (m *Ranges) clip(start, end uintptr) (uintptr, uintptr, bool) {
	if end <= start {
		return 0, 0, false
	}
	if start < m.lo {
		start = m.lo
	}
	if end > m.hi {
		end = m.hi
	}
	return start, end, start < end
}

// IsFree reports whether all of [start, end) is free.
func (m *Ranges) IsFree(start, end uintptr) bool {
	if end <= start || start < m.lo || end > m.hi {
		return false
	}
	for i := 0; i < m.n; i++ {
		if m.r[i].start <= start && end <= m.r[i].end {
			return true
		}
	}
	return false
}

// IsUsed reports whether none of [start, end) is free (the whole range lies in the region
// and is in use).
func (m *Ranges) IsUsed(start, end uintptr) bool {
	if end <= start || start < m.lo || end > m.hi {
		return false
	}
	for i := 0; i < m.n; i++ {
		if m.r[i].start < end && start < m.r[i].end {
			return false
		}
	}
	return true
}

// Release returns [start, end) to the free set (the part of it inside the region; parts that
// are already free stay free). It reports false, changing nothing, when the table has no room
// for the extra hole this would create.
func (m *Ranges) Release(start, end uintptr) bool {
	start, end, ok := m.clip(start, end)
	if !ok {
		return true
	}
	// First range that ends at or after start: everything before it stays untouched.
	i := 0
	for i < m.n && m.r[i].end < start {
		i++
	}
	// Ranges i..j-1 touch or overlap [start, end) and merge with it.
	j := i
	for j < m.n && m.r[j].start <= end {
		if m.r[j].start < start {
			start = m.r[j].start
		}
		if m.r[j].end > end {
			end = m.r[j].end
		}
		j++
	}
	merged := j - i
	if merged == 0 {
		if m.n == maxRanges {
			return false
		}
		copy(m.r[i+1:m.n+1], m.r[i:m.n])
		m.n++
	} else if merged > 1 {
		copy(m.r[i+1:], m.r[j:m.n])
		m.n -= merged - 1
	}
	m.r[i] = span{start, end}
	return true
}

// Take marks [start, end) in use (the part inside the region; parts already in use stay in
// use). It reports false, changing nothing, when splitting a free range would overflow the
// table.
func (m *Ranges) Take(start, end uintptr) bool {
	start, end, ok := m.clip(start, end)
	if !ok {
		return true
	}
	// Only a free range strictly containing [start, end) on both sides grows the table.
	for i := 0; i < m.n; i++ {
		r := m.r[i]
		if r.start < start && end < r.end {
			if m.n == maxRanges {
				return false
			}
			copy(m.r[i+2:m.n+1], m.r[i+1:m.n])
			m.n++
			m.r[i] = span{r.start, start}
			m.r[i+1] = span{end, r.end}
			return true
		}
	}
	w := 0
	for i := 0; i < m.n; i++ {
		r := m.r[i]
		if r.end <= start || end <= r.start {
			m.r[w] = r
			w++
			continue
		}
		if r.start < start {
			m.r[w] = span{r.start, start}
			w++
		}
		if end < r.end {
			m.r[w] = span{end, r.end}
			w++
		}
	}
	m.n = w
	return true
}

// AllocHigh takes size bytes aligned to align (a power of two) from the highest free range
// that fits, the way Linux places unhinted mappings top-down. It reports false when nothing
// fits.
func (m *Ranges) AllocHigh(size, align uintptr) (uintptr, bool) {
	if size == 0 || align == 0 || align&(align-1) != 0 {
		return 0, false
	}
	for i := m.n - 1; i >= 0; i-- {
		r := m.r[i]
		if r.end-r.start < size {
			continue
		}
		a := (r.end - size) &^ (align - 1)
		if a < r.start {
			continue
		}
		if m.Take(a, a+size) {
			return a, true
		}
		return 0, false
	}
	return 0, false
}

// AllocLow takes size bytes aligned to align (a power of two) from the lowest free range that
// fits (first fit). It reports false when nothing fits.
func (m *Ranges) AllocLow(size, align uintptr) (uintptr, bool) {
	if size == 0 || align == 0 || align&(align-1) != 0 {
		return 0, false
	}
	for i := 0; i < m.n; i++ {
		r := m.r[i]
		a := (r.start + align - 1) &^ (align - 1)
		if a < r.start || a > r.end || r.end-a < size {
			continue
		}
		if m.Take(a, a+size) {
			return a, true
		}
		return 0, false
	}
	return 0, false
}

// PageSize is the mapping granule the kernel reports (AT_PAGESZ) and enforces on mmap.
const PageSize = 4096

// Map chooses where an anonymous mapping of length bytes goes and marks it in use, following
// Linux's rules for mmap: with fixed, exactly at hint, replacing what was there; else at hint
// when that range is free; else top-down wherever it fits. hint and length must be page
// aligned. It reports false when the mapping cannot be placed (ENOMEM).
func (m *Ranges) Map(hint, length uintptr, fixed bool) (uintptr, bool) {
	if length == 0 || length%PageSize != 0 || hint%PageSize != 0 {
		return 0, false
	}
	end := hint + length
	if fixed {
		if end < hint || hint < m.lo || end > m.hi {
			return 0, false
		}
		if !m.Take(hint, end) {
			return 0, false
		}
		return hint, true
	}
	if hint != 0 && end > hint && m.IsFree(hint, end) {
		if m.Take(hint, end) {
			return hint, true
		}
	}
	return m.AllocHigh(length, PageSize)
}
