//go:build !linux

package bpf

import "errors"

// Without an mmap/mprotect this package knows, programs stay on the ops path.
func execMap(code []byte) ([]byte, error) {
	return nil, errors.New("bpf: no executable memory on this system")
}

func execUnmap([]byte) {}
