package route

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseRoute parses the console's route syntax:
//
//	DEST [via GATEWAY] [dev IFINDEX] [mtu N] [metric N] [static] [connected]
//
// DEST is a CIDR prefix, or a bare address for a host route (/32, /128).
// Keywords may come in any order, each at most once. Errors wrap
// ErrInvalid and name the offending word.
func ParseRoute(s string) (Route, error) {
	var r Route
	f := strings.Fields(s)
	if len(f) == 0 {
		return r, parseErr(s, "empty route")
	}
	if strings.Contains(f[0], "/") {
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return r, parseErr(s, "destination %q: %v", f[0], err)
		}
		r.Prefix = p
	} else {
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			return r, parseErr(s, "destination %q: %v", f[0], err)
		}
		if a.Zone() != "" {
			return r, parseErr(s, "destination %q has a zone", f[0])
		}
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	seen := map[string]bool{}
	for i := 1; i < len(f); i++ {
		kw := f[i]
		if seen[kw] {
			return r, parseErr(s, "%q given twice", kw)
		}
		seen[kw] = true
		switch kw {
		case "static":
			r.Flags |= FlagStatic
			continue
		case "connected":
			r.Flags |= FlagConnected
			continue
		case "via", "dev", "mtu", "metric":
		default:
			return r, parseErr(s, "unknown keyword %q", kw)
		}
		if i+1 >= len(f) {
			return r, parseErr(s, "%q needs a value", kw)
		}
		i++
		v := f[i]
		if kw == "via" {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return r, parseErr(s, "gateway %q: %v", v, err)
			}
			if a.Is4() != r.Prefix.Addr().Is4() {
				return r, parseErr(s, "gateway %s and destination %s differ in address family", a, r.Prefix)
			}
			r.Gateway = a
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return r, parseErr(s, "%s %q: not a 32-bit unsigned number", kw, v)
		}
		switch kw {
		case "dev":
			r.IfIndex = uint32(n)
		case "mtu":
			r.MTU = uint32(n)
		case "metric":
			r.Metric = uint32(n)
		}
	}
	return r, nil
}

func parseErr(s, format string, args ...any) error {
	return fmt.Errorf("parse route %q: %s: %w", s, fmt.Sprintf(format, args...), ErrInvalid)
}

// String formats r in ParseRoute's syntax; derived flags (up, gateway,
// host) are implied by the fields and not printed.
func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Prefix.String())
	if r.Gateway.IsValid() {
		b.WriteString(" via ")
		b.WriteString(r.Gateway.String())
	}
	if r.IfIndex != 0 {
		fmt.Fprintf(&b, " dev %d", r.IfIndex)
	}
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Flags&FlagStatic != 0 {
		b.WriteString(" static")
	}
	if r.Flags&FlagConnected != 0 {
		b.WriteString(" connected")
	}
	return b.String()
}
