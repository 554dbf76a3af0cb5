package bpf

// cycles reads the CPU's time-stamp counter.
func cycles() uint64

// invariantTSC reports whether the time-stamp counter ticks at a constant
// rate whatever the power state, the condition for counting time with it.
func invariantTSC() bool

// haveCycles is whether SystemClock may count time with cycles.
var haveCycles = invariantTSC()
