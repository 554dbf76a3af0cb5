package bpf

import (
	"fmt"
	"syscall"
)

// Limits and defaults from FreeBSD's sys/net/bpf.h, bpf_buffer.c and
// bpf_zerocopy.c.
const (
	// BPF_MINBUFSIZE is the smallest capture buffer BIOCSBLEN accepts.
	BPF_MINBUFSIZE = 32
	// BPF_MAXBUFSIZE is the default of net.bpf.maxbufsize (0x80000).
	BPF_MAXBUFSIZE = 0x80000
	// BPF_DEFAULTBUFSIZE is the default of net.bpf.bufsize.
	BPF_DEFAULTBUFSIZE = 4096
	// PageSize is the page size zero-copy buffers are measured in.
	PageSize = 4096
	// BPF_MAX_PAGES bounds one zero-copy buffer (bpf_zerocopy.c).
	BPF_MAX_PAGES = 512
	// DefaultHz is kern.hz: read timeouts are kept in ticks of 1/Hz s.
	DefaultHz = 1000

	// BPF_MAJOR_VERSION and BPF_MINOR_VERSION are what BIOCVERSION reports.
	BPF_MAJOR_VERSION = 1
	BPF_MINOR_VERSION = 1
)

// Settings are the tunables FreeBSD keeps as per-vnet sysctls under
// net.bpf. One value belongs to one Stack (later: one vnet); there are no
// package globals.
type Settings struct {
	// MaxInsns is net.bpf.maxinsns: the longest filter BIOCSETF accepts.
	MaxInsns int
	// MaxBufSize is net.bpf.maxbufsize: BIOCSBLEN clamps to it.
	MaxBufSize int
	// BufSize is net.bpf.bufsize: the buffer size of a new descriptor.
	BufSize int
	// OptimizeWriters is net.bpf.optimize_writers: descriptors stay on the
	// writer-only list until they set a read filter.
	OptimizeWriters bool
	// ZeroCopyEnable is net.bpf.zerocopy_enable. FreeBSD defaults it to 0
	// because zero-copy pages misbehave across fork (PR 163370); a
	// unikernel has no fork, so here it defaults to on.
	ZeroCopyEnable bool
	// TSCfgDefault is net.bpf.tscfg.default: the timestamp mode of
	// interfaces whose own setting is TSDefault. It may not be TSDefault.
	TSCfgDefault TSMode
	// Hz is the tick rate read timeouts are rounded to (kern.hz).
	Hz int
}

// DefaultSettings returns FreeBSD's defaults, except ZeroCopyEnable (see
// Settings).
func DefaultSettings() Settings {
	return Settings{
		MaxInsns:       DefaultMaxInsns,
		MaxBufSize:     BPF_MAXBUFSIZE,
		BufSize:        BPF_DEFAULTBUFSIZE,
		ZeroCopyEnable: true,
		TSCfgDefault:   TSNormal,
		Hz:             DefaultHz,
	}
}

// Validate reports the first setting out of range, wrapping EINVAL.
func (s Settings) Validate() error {
	switch {
	case s.MaxInsns <= 0:
		return errorf("settings", syscall.EINVAL, "maxinsns %d: must be positive", s.MaxInsns)
	case s.MaxBufSize < BPF_MINBUFSIZE:
		return errorf("settings", syscall.EINVAL, "maxbufsize %d: below BPF_MINBUFSIZE (%d)", s.MaxBufSize, BPF_MINBUFSIZE)
	case s.BufSize < BPF_MINBUFSIZE || s.BufSize > s.MaxBufSize:
		return errorf("settings", syscall.EINVAL, "bufsize %d: outside [%d, maxbufsize %d]", s.BufSize, BPF_MINBUFSIZE, s.MaxBufSize)
	case s.TSCfgDefault <= TSDefault || s.TSCfgDefault > TSExternal:
		return errorf("settings", syscall.EINVAL, "tscfg default %v: must be none, fast, normal or external", s.TSCfgDefault)
	case s.Hz <= 0 || s.Hz > 1000000:
		return errorf("settings", syscall.EINVAL, "hz %d: must be in [1, 1000000]", s.Hz)
	}
	return nil
}

// Error is the error every descriptor operation returns: the operation
// (named after its ioctl), FreeBSD's errno for the case, and why. It
// unwraps to the errno, so callers test errors.Is(err, syscall.EINVAL), and
// to the underlying cause when there is one (e.g. ErrInvalidProgram).
type Error struct {
	Op     string
	Errno  syscall.Errno
	Detail string
	Cause  error
}

func (e *Error) Error() string {
	s := "bpf: " + e.Op + ": " + e.Detail
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s + " (" + e.Errno.Error() + ")"
}

// Unwrap returns the errno and, if set, the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Errno, e.Cause}
	}
	return []error{e.Errno}
}

func errorf(op string, errno syscall.Errno, format string, args ...any) error {
	return &Error{Op: op, Errno: errno, Detail: fmt.Sprintf(format, args...)}
}
