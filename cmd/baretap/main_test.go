package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baretap/baretap/internal/benchdata"

	"github.com/baretap/baretap/pcap"
)

// runCLI runs the command in-process and returns its exit status, stdout
// and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writePcap writes frames to a temporary pcap file.
func writePcap(t *testing.T, linkType uint32, frames ...[]byte) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.Header{LinkType: linkType})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(pcap.CaptureInfo{Timestamp: time.Unix(1700000000, 0)}, f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "t.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// arpDDD is `tcpdump -y EN10MB -ddd arp`.
const arpDDD = "4\n40 0 0 12\n21 0 1 2054\n6 0 0 262144\n6 0 0 0\n"

func frame(ethertype uint16, n int) []byte {
	f := make([]byte, n)
	f[12], f[13] = byte(ethertype>>8), byte(ethertype)
	return f
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestFilterCounts(t *testing.T) {
	file := writePcap(t, pcap.LinkTypeEthernet, frame(0x0806, 60), frame(0x0800, 60), frame(0x0806, 42), frame(0x86dd, 80), []byte{1, 2})
	for _, form := range []struct{ name, text string }{
		{"ddd", arpDDD},
		{"dd", "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n"},
		{"comma", "4,40 0 0 12,21 0 1 2054,6 0 0 262144,6 0 0 0\n"},
	} {
		t.Run(form.name, func(t *testing.T) {
			code, out, errOut := runCLI("filter", "-r", file, "-f", writeFile(t, "p", form.text))
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if got := lastLine(out); got != "matched 2 of 5 frames" {
				t.Errorf("last line %q", got)
			}
		})
	}
}

func TestFilterBench(t *testing.T) {
	file := writePcap(t, pcap.LinkTypeEthernet, frame(0x0806, 60), frame(0x0800, 60))
	prog := writeFile(t, "p", arpDDD)
	// The path line says which form ran: machine code where this host
	// has a generator, unless -nojit; the interpreter for -novalidate.
	native := "portable"
	if runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm") {
		native = "native"
	}
	for _, c := range []struct {
		flags []string
		path  string
	}{
		{nil, native},
		{[]string{"-nojit"}, "portable"},
		{[]string{"-novalidate"}, "interpreter"},
	} {
		args := append([]string{"filter", "-r", file, "-f", prog, "-bench", "3"}, c.flags...)
		code, out, errOut := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.flags, code, errOut)
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 3 || lines[0] != "path "+c.path || lines[2] != "matched 1 of 2 frames" {
			t.Fatalf("%v: output %q, want path %s, ns/frame, matched 1 of 2", c.flags, out, c.path)
		}
		f := strings.Fields(lines[1])
		if len(f) != 2 || f[0] != "ns/frame" {
			t.Fatalf("%v: second line %q, want \"ns/frame X\"", c.flags, lines[1])
		}
		if ns, err := strconv.ParseFloat(f[1], 64); err != nil || ns <= 0 {
			t.Errorf("%v: ns/frame %q is not a positive number", c.flags, f[1])
		}
	}
}

// TestFilterNoJIT: the portable form gives the same counts as the default
// path and the interpreter over the shared corpus traffic.
func TestFilterNoJIT(t *testing.T) {
	traffic := filepath.Join(benchDir(t), "traffic.pcap")
	for _, text := range []string{arpDDD, "4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0\n"} {
		prog := writeFile(t, "p", text)
		var last []string
		for _, flags := range [][]string{nil, {"-nojit"}, {"-novalidate"}} {
			code, out, errOut := runCLI(append([]string{"filter", "-r", traffic, "-f", prog}, flags...)...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", flags, code, errOut)
			}
			last = append(last, lastLine(out))
		}
		if last[0] != last[1] || last[0] != last[2] {
			t.Errorf("counts differ: default %q, -nojit %q, -novalidate %q", last[0], last[1], last[2])
		}
	}
}

func TestErrors(t *testing.T) {
	good := writePcap(t, pcap.LinkTypeEthernet, frame(0x0806, 60))
	prog := writeFile(t, "arp", arpDDD)
	cases := []struct {
		name string
		args []string
		want string // substring of the one-line error
	}{
		{"no command", nil, "usage: baretap"},
		{"unknown command", []string{"frob"}, `baretap: unknown command "frob"`},
		{"no -r", []string{"filter", "-f", prog}, "baretap: filter: -r FILE.pcap is required"},
		{"no program", []string{"filter", "-r", good}, "baretap: filter: give exactly one of -f PROG and -e EXPR"},
		{"both programs", []string{"filter", "-r", good, "-f", prog, "-e", "arp"}, "give exactly one of"},
		{"unknown flag", []string{"filter", "-x"}, "baretap: filter: flag provided but not defined: -x"},
		{"stray argument", []string{"filter", "-r", good, "-e", "tcp", "port", "80"}, `unexpected argument "port"`},
		{"missing pcap", []string{"filter", "-r", "/nonexistent.pcap", "-f", prog}, "baretap: open /nonexistent.pcap: no such file or directory"},
		{"not a pcap", []string{"filter", "-r", writeFile(t, "x.pcap", strings.Repeat("garbage!", 8)), "-f", prog}, "not a pcap file: magic 0x67617262"},
		{"truncated pcap", []string{"filter", "-r", writeFile(t, "cut.pcap", readHead(t, good, 40)), "-f", prog}, "truncated data"},
		{"wrong link type", []string{"filter", "-r", writePcap(t, 101, []byte{0x45}), "-f", prog}, "link type 101, want 1 (LINKTYPE_ETHERNET)"},
		{"missing program", []string{"filter", "-r", good, "-f", "/nonexistent.txt"}, "baretap: open /nonexistent.txt"},
		{"unparsable program", []string{"filter", "-r", good, "-f", writeFile(t, "bad", "2\n6 0 0 1\n6 0 zero 1\n")}, `bad: line 3: field 3 (jf) "zero": not a number`},
		{"invalid program", []string{"filter", "-r", good, "-f", writeFile(t, "div0", "2\n52 0 0 0\n6 0 0 1\n")}, "div0: instruction 0: division by constant zero"},
		{"program too long", []string{"filter", "-r", good, "-f", prog, "-maxinsns", "3"}, "program has 4 instructions, more than the limit of 3"},
		{"negative bench", []string{"filter", "-r", good, "-f", prog, "-bench", "-1"}, "-bench must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(c.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q, want it to contain %q", errOut, c.want)
			}
			if c.args != nil && (strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "baretap: ")) {
				t.Errorf("stderr %q is not one line prefixed \"baretap: \"", errOut)
			}
		})
	}
}

func readHead(t *testing.T, path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"filter", "-h"}} {
		code, out, _ := runCLI(args...)
		if code != 0 || !strings.Contains(out, "usage: baretap") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	_, out, _ := runCLI("filter", "-h")
	if !strings.Contains(out, "tcpdump -y EN10MB -ddd EXPR") {
		t.Error("filter usage does not say -e shells out to tcpdump")
	}
}

// benchDir returns ../shared/bench relative to the module root, or skips.
func benchDir(t *testing.T) string {
	t.Helper()
	return benchdata.Dir(t, "traffic.pcap")
}

// TestCountsMatchTcpdump is acceptance point 2: for every corpus
// expression, `tcpdump -r traffic.pcap --count EXPR` and `baretap filter`
// report the same number of matching frames. The program is compiled by
// the installed tcpdump (-ddd) and read back with -f. `ip6 protochain 6`
// fails FreeBSD's validator (exit 2, instruction 18), so it is also run
// with -novalidate, which must match tcpdump.
func TestCountsMatchTcpdump(t *testing.T) {
	bench := benchDir(t)
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: `make deps` installs it (apt-get install tcpdump)")
	}
	traffic := filepath.Join(bench, "traffic.pcap")
	raw, err := os.ReadFile(filepath.Join(bench, "filters.json"))
	if err != nil {
		t.Fatal(err)
	}
	var filters []struct {
		Expr string `json:"expr"`
	}
	if err := json.Unmarshal(raw, &filters); err != nil {
		t.Fatal(err)
	}
	for _, f := range filters {
		t.Run(f.Expr, func(t *testing.T) {
			out, err := exec.Command(tcpdump, "-r", traffic, "--count", f.Expr).Output()
			if err != nil {
				t.Fatalf("tcpdump --count: %v", err)
			}
			var want int
			if _, err := fmt.Sscanf(string(out), "%d packets", &want); err != nil {
				t.Fatalf("tcpdump printed %q", out)
			}
			ddd, err := exec.Command(tcpdump, "-y", "EN10MB", "-ddd", f.Expr).Output()
			if err != nil {
				t.Fatalf("tcpdump -ddd: %v", err)
			}
			prog := writeFile(t, "prog.ddd", string(ddd))
			args := []string{"filter", "-r", traffic, "-f", prog}
			if f.Expr == "ip6 protochain 6" {
				code, _, errOut := runCLI(args...)
				if code != 2 || !strings.Contains(errOut, "instruction 18: ja -15 jumps backward") {
					t.Errorf("validated run: exit %d, stderr %q; want the backward-jump error", code, errOut)
				}
				args = append(args, "-novalidate")
			}
			code, stdout, errOut := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got, wantLine := lastLine(stdout), fmt.Sprintf("matched %d of 20011 frames", want); got != wantLine {
				t.Errorf("baretap: %q, tcpdump: %d packets", got, want)
			}
		})
	}
	// -e compiles through tcpdump too.
	code, stdout, errOut := runCLI("filter", "-r", traffic, "-e", "arp and arp[6:2] == 1")
	if code != 0 || lastLine(stdout) != "matched 260 of 20011 frames" {
		t.Errorf("-e: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	code, _, errOut = runCLI("filter", "-r", traffic, "-e", "tcp port")
	if code != 2 || !strings.HasPrefix(errOut, "baretap: tcpdump -ddd \"tcp port\": ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bad -e expression: exit %d, stderr %q", code, errOut)
	}
}
