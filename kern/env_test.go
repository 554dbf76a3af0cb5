package kern

import (
	"strconv"
	"strings"
	"testing"
)

func TestSplitEnv(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"GODEBUG=asyncpreemptoff=1", []string{"GODEBUG=asyncpreemptoff=1"}},
		{"A=1  B=2 ", []string{"A=1", "B=2"}},
		{"noequals =x C=", []string{"C="}},
	} {
		var out [4]string
		n := SplitEnv(c.in, out[:])
		if strings.Join(out[:n], "|") != strings.Join(c.want, "|") {
			t.Errorf("SplitEnv(%q) = %q, want %q", c.in, out[:n], c.want)
		}
	}
	var two [2]string
	if n := SplitEnv("A=1 B=2 C=3", two[:]); n != 2 {
		t.Errorf("overflow: %d words", n)
	}
}

// FuzzSplitEnv checks SplitEnv against strings.Fields as the oracle.
func FuzzSplitEnv(f *testing.F) {
	f.Add("GODEBUG=asyncpreemptoff=1 A=b")
	f.Add(" = =x y= ")
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		for _, w := range strings.Split(s, " ") {
			if i := strings.IndexByte(w, '='); i > 0 {
				want = append(want, w)
			}
		}
		out := make([]string, len(want)+1)
		n := SplitEnv(s, out)
		if strings.Join(out[:n], "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("SplitEnv(%q) = %q, want %q", s, out[:n], want)
		}
	})
}

// FuzzParseSeconds checks ParseSeconds against strconv.Atoi on 1-3 digit strings.
func FuzzParseSeconds(f *testing.F) {
	f.Add("1")
	f.Add("128")
	f.Add("-1")
	f.Add("1000")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseSeconds(s)
		v, err := strconv.Atoi(s)
		wantOK := err == nil && len(s) >= 1 && len(s) <= 3 && s[0] != '-' && s[0] != '+'
		if ok != wantOK || ok && n != v {
			t.Fatalf("ParseSeconds(%q) = %d %v; Atoi %d %v", s, n, ok, v, err)
		}
	})
}
