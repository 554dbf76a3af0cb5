//go:build !amd64

package bpf

// Without a counter the package knows how to read (the board's Cortex-A7
// reads time through the kernel), SystemClock uses Go's monotonic clock
// for every read.
const haveCycles = false

func cycles() uint64 { return 0 }
