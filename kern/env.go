package kern

// SplitEnv splits the Env link option (space-separated NAME=VALUE words) into out and
// returns how many words it stored; words beyond len(out) are dropped, and so are words
// without '=' or starting with it, which Linux programs would not see as variables. It
// allocates nothing (the words are substrings of s), so the kernel can use it before the
// Go runtime starts.
func SplitEnv(s string, out []string) int {
	n := 0
	for len(s) > 0 && n < len(out) {
		i := 0
		for i < len(s) && s[i] != ' ' {
			i++
		}
		w := s[:i]
		if eq := indexByte(w, '='); eq > 0 {
			out[n] = w
			n++
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return n
}

// ParseSeconds parses a small decimal number of seconds (the Watchdog link option); ok is
// false for anything but 1 to 3 digits.
func ParseSeconds(s string) (n int, ok bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
