package qemu

import (
	"strings"
	"testing"
	"time"
)

// The bpf code generator on the emulated Cortex-A7: the firmware's capture filter runs as
// machine code (Program.Native), which needs the kernel's cacheflush system call to succeed.

// TestJITFirmwareCaptureNative: `capture start` with the corpus' tcp filter reports that the
// descriptor runs it as native code. TestENETCaptureCorpusFilter checks the same filter's
// verdicts over the corpus replay.
func TestJITFirmwareCaptureNative(t *testing.T) {
	f := loadFilter(t, "tcp")
	b := bootNetBoard(t, 2*time.Minute)
	out := b.run(`capture start enet0 --bytecode "`+f.Bytecode()+`"`, 10*time.Second)
	if !strings.Contains(out, "capturing on enet0") || !strings.Contains(out, "filter of 12 instructions as native code") {
		t.Errorf("capture start: %q", out)
	}
	b.stopCapture()
	if strings.Contains(b.m.Output(), "unimplemented syscall") {
		t.Errorf("the kernel answered a system call ENOSYS:\n%s", b.m.Output())
	}
}
