//go:build linux

package bpf

import "syscall"

// execMap copies code into fresh anonymous pages and makes them read+execute
// (never writable and executable at once). On the firmware the kernel's
// mmap and mprotect serve the same calls from its own page allocator.
func execMap(code []byte) ([]byte, error) {
	mem, err := syscall.Mmap(-1, 0, len(code), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, err
	}
	copy(mem, code)
	if err := syscall.Mprotect(mem, syscall.PROT_READ|syscall.PROT_EXEC); err != nil {
		syscall.Munmap(mem)
		return nil, err
	}
	return mem, nil
}

func execUnmap(mem []byte) { syscall.Munmap(mem) }
