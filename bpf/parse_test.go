package bpf

import (
	"fmt"
	"strings"
	"testing"
)

// arpProg is `tcpdump -y EN10MB -dd arp` (libpcap 1.10.3).
var arpProg = prog(
	Insn{Code: 0x28, K: 12},
	Insn{Code: 0x15, Jt: 0, Jf: 1, K: 0x806},
	Insn{Code: 0x6, K: 262144},
	Insn{Code: 0x6, K: 0},
)

func TestParseForms(t *testing.T) {
	cases := []struct{ name, text string }{
		{"-dd", "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n"},
		{"-dd without trailing comma, blank lines", "\n{ 0x28, 0, 0, 0x0000000c },\n\n{0x15,0,1,0x806},\n{ 0x6, 0, 0, 262144 },\n{ 0x6, 0, 0, 00 }\n\n"},
		{"-ddd", "4\n40 0 0 12\n21 0 1 2054\n6 0 0 262144\n6 0 0 0\n"},
		{"-ddd with CRLF and tabs", "4\r\n40\t0 0 12\r\n21 0 1 2054\r\n6 0 0 262144\r\n6 0 0 0\r\n"},
		{"comma form", "4,40 0 0 12,21 0 1 2054,6 0 0 262144,6 0 0 0"},
		{"comma form, trailing comma and newline", "4,40 0 0 12,21 0 1 2054,6 0 0 262144,6 0 0 0,\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseProgram(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if !equalInsns(got, arpProg) {
				t.Errorf("got %v, want %v", got, arpProg)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"empty", "  \n\n", "empty program text"},
		{"-ddd count mismatch", "3\n6 0 0 1\n6 0 0 2\n", "line 3: count on line 1 is 3 but 2 instructions follow"},
		{"-ddd bad count", "four\n6 0 0 1\n", `line 1: instruction count "four": not a number`},
		{"-ddd too few fields", "1\n6 0 0\n", `line 2: want 4 decimal fields "code jt jf k", got 3`},
		{"-ddd hex in decimal form", "1\n0x6 0 0 1\n", `line 2: field 1 (code) "0x6": not a number`},
		{"-ddd negative k", "1\n6 0 0 -1\n", `line 2: field 4 (k) "-1": not a number`},
		{"-ddd jt too big", "1\n21 256 0 1\n", `line 2: field 2 (jt) "256": out of range (max 255)`},
		{"-ddd code too big", "1\n65536 0 0 1\n", `line 2: field 1 (code) "65536": out of range (max 65535)`},
		{"-ddd k too big", "1\n6 0 0 4294967296\n", `line 2: field 4 (k) "4294967296": out of range (max 4294967295)`},
		{"-dd missing brace", "{ 0x6, 0, 0, 1 },\n 0x6, 0, 0, 1 },\n", "line 2: want a C initialiser like { 0x28, 0, 0, 0x0000000c }"},
		{"-dd three fields", "{ 0x6, 0, 0 },\n", "line 1: want 4 fields (code, jt, jf, k), got 3"},
		{"-dd bad hex", "{ 0x6, 0, 0, 0xfg },\n", `line 1: field 4 (k) "0xfg": not a number`},
		{"-dd bad octal", "{ 0x6, 0, 0, 08 },\n", `line 1: field 4 (k) "08": not a number`},
		{"-dd empty field", "{ 0x6, , 0, 1 },\n", "line 1: field 2 (jt) \"\": missing"},
		{"comma count mismatch", "2,6 0 0 1", "count says 2 instructions but 1 follow"},
		{"comma bad field", "1,6 0 x 1", `instruction 0: field 3 (jf) "x": not a number`},
		{"comma then more lines", "1,6 0 0 1\n6 0 0 1\n", "line 2: unexpected text after the one-line comma form"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseProgram(c.text)
			if err == nil {
				t.Fatalf("ParseProgram accepted %q", c.text)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error %q\nwant prefix %q", err, c.want)
			}
		})
	}
}

// formatDDD writes prog the way `tcpdump -ddd` does.
func formatDDD(p []Insn) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(p))
	for _, in := range p {
		fmt.Fprintf(&b, "%d %d %d %d\n", in.Code, in.Jt, in.Jf, in.K)
	}
	return b.String()
}

// formatDD writes prog the way `tcpdump -dd` does.
func formatDD(p []Insn) string {
	var b strings.Builder
	for _, in := range p {
		fmt.Fprintf(&b, "{ 0x%x, %d, %d, 0x%08x },\n", in.Code, in.Jt, in.Jf, in.K)
	}
	return b.String()
}

func TestParseRoundTripExtremes(t *testing.T) {
	p := prog(Insn{Code: 0xffff, Jt: 255, Jf: 0, K: 0xffffffff}, Insn{Code: 0, Jt: 0, Jf: 255, K: 0})
	for name, text := range map[string]string{"-ddd": formatDDD(p), "-dd": formatDD(p)} {
		got, err := ParseProgram(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equalInsns(got, p) {
			t.Errorf("%s: got %v, want %v", name, got, p)
		}
	}
}
