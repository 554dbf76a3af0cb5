package route

import (
	"fmt"
	"net/netip"
	"syscall"
)

// Errors wrap the errno FreeBSD's routing socket (route(4)) and setfib(2)
// return, so callers can test them with errors.Is(err, syscall.EEXIST).
var (
	// ErrExists: adding a prefix that is already in the table (EEXIST).
	ErrExists = fmt.Errorf("route already in table: %w", syscall.EEXIST)
	// ErrNotFound: deleting, changing or getting a prefix that is not there
	// (ESRCH, "no such process" in route(8) output).
	ErrNotFound = fmt.Errorf("route not in table: %w", syscall.ESRCH)
	// ErrInvalid: a malformed prefix, next hop or argument (EINVAL).
	ErrInvalid = fmt.Errorf("invalid argument: %w", syscall.EINVAL)
	// ErrBadFIB: a FIB number at or past the FIB count, or negative
	// (setfib(2), SO_SETFIB: EINVAL).
	ErrBadFIB = fmt.Errorf("no such FIB: %w", syscall.EINVAL)
	// ErrNoRoute: a lookup found nothing (ip_output's EHOSTUNREACH).
	ErrNoRoute = fmt.Errorf("no route to host: %w", syscall.EHOSTUNREACH)
	// ErrFull: a table ran out of next-hop indexes (32,767 distinct next
	// hops per address family in one FIB), or an IPv6 node out of child
	// slots (ENOSPC).
	ErrFull = fmt.Errorf("routing table full: %w", syscall.ENOSPC)
)

// Internal sentinels of the engine; Table wraps them with context.
var (
	errExists      = ErrExists
	errNotFound    = ErrNotFound
	errTooManyKids = fmt.Errorf("more than %d more-specific branches under one /16 step: %w", maxKids, ErrFull)
)

// Error describes a failed table operation.
type Error struct {
	Op     string // "add", "delete", "change", "get", "setfib", ...
	FIB    int
	Prefix netip.Prefix // zero when the operation has none
	Err    error
}

func (e *Error) Error() string {
	if e.Prefix.IsValid() {
		return fmt.Sprintf("route %s %s (fib %d): %v", e.Op, e.Prefix, e.FIB, e.Err)
	}
	return fmt.Sprintf("route %s (fib %d): %v", e.Op, e.FIB, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
