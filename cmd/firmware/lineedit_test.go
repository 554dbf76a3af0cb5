package main

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// Events the editor reports, as the tests spell them: a submitted line is
// itself, the other outcomes are these markers.
const (
	evInterrupt = "<^C>"
	evEOT       = "<^D>"
)

// drive feeds input to a fresh editor one byte at a time and checks, after
// every byte that completes a key, that the terminal model shows exactly
// the prompt and the edited line with the cursor at the edit position, and
// that a submitted line is what the operator saw on its row.
func drive(tb testing.TB, input []byte, complete func(string) []string) ([]string, *screen) {
	tb.Helper()
	var out bytes.Buffer
	e := newLineEditor(nil, &out, Prompt)
	e.complete = complete
	scr := &screen{}
	sync := func() {
		e.flush()
		scr.write(out.Bytes())
		out.Reset()
	}
	promptCols := utf8.RuneCountInString(Prompt)
	var events []string
	e.startLine()
	sync()
	for i, b := range input {
		line, done, err := e.feed(b)
		sync()
		switch {
		case errors.Is(err, ErrInterrupted):
			events = append(events, evInterrupt)
		case errors.Is(err, ErrEndOfTransmission):
			events = append(events, evEOT)
		case err != nil:
			tb.Fatalf("byte %d: unexpected error %v", i, err)
		case done:
			events = append(events, line)
			if got := string(scr.rows[scr.row-1]); strings.TrimRight(got, " ") != strings.TrimRight(Prompt+line, " ") {
				tb.Fatalf("byte %d: submitted %q but the screen row shows %q", i, line, got)
			}
		}
		if done || err != nil {
			e.startLine()
			sync()
			if scr.col != promptCols {
				tb.Fatalf("byte %d: new prompt ends at column %d, want %d", i, scr.col, promptCols)
			}
			continue
		}
		if e.state != stateText || e.utf8Len > 0 {
			continue // in the middle of a key
		}
		// A blank cell and an erased one look the same, so trailing
		// spaces do not count ("\b \b" erases by writing one).
		if got, want := strings.TrimRight(scr.current(), " "), strings.TrimRight(Prompt+string(e.line), " "); got != want {
			tb.Fatalf("byte %d (%q): screen shows %q, editor holds %q", i, b, got, want)
		}
		if want := promptCols + e.pos; scr.col != want {
			tb.Fatalf("byte %d (%q): cursor at column %d, want %d (line %q pos %d)", i, b, scr.col, want, string(e.line), e.pos)
		}
		if len(e.line) > maxLineRunes {
			tb.Fatalf("byte %d: line grew to %d runes, limit %d", i, len(e.line), maxLineRunes)
		}
	}
	if len(scr.unknown) > 0 {
		tb.Fatalf("the editor sent sequences a VT100 does not know: %v", scr.unknown)
	}
	return events, scr
}

// readLines reads input through ReadLine, the way the console does, until
// the input ends.
func readLines(t *testing.T, r io.Reader, complete func(string) []string) []string {
	t.Helper()
	e := newLineEditor(r, io.Discard, Prompt)
	e.complete = complete
	var events []string
	for range 1000 {
		line, err := e.ReadLine()
		switch {
		case errors.Is(err, ErrInterrupted):
			events = append(events, evInterrupt)
		case errors.Is(err, ErrEndOfTransmission):
			events = append(events, evEOT)
		case errors.Is(err, io.EOF):
			return events
		case err != nil:
			t.Fatalf("ReadLine: %v", err)
		default:
			events = append(events, line)
		}
	}
	t.Fatal("ReadLine never reported the end of input")
	return nil
}

func fixedCompleter(words ...string) func(string) []string {
	return func(prefix string) []string {
		var m []string
		for _, w := range words {
			if strings.HasPrefix(w, prefix) {
				m = append(m, w)
			}
		}
		return m
	}
}

const (
	left  = "\x1b[D"
	right = "\x1b[C"
	up    = "\x1b[A"
	down  = "\x1b[B"
)

func TestLineEditing(t *testing.T) {
	complete := fixedCompleter("capture", "cat", "version")
	tests := []struct {
		name  string
		input string
		want  []string
		bells int
	}{
		{"plain", "version\r", []string{"version"}, 0},
		{"DEL erases", "verx\x7fsion\r", []string{"version"}, 0},
		{"BS erases", "verx\bsion\r", []string{"version"}, 0},
		{"erase at start does nothing", "\x7fab\r", []string{"ab"}, 0},
		{"erase in the middle", "versxion" + left + left + left + "\x7f\r", []string{"version"}, 0},
		{"insert after left arrows", "vrsion" + strings.Repeat(left, 5) + "e\r", []string{"version"}, 0},
		{"SS3 arrows", "vrsion" + strings.Repeat("\x1bOD", 5) + "e\x1bOC\r", []string{"version"}, 0},
		{"right arrow stops at end", "ab" + left + right + right + right + "c\r", []string{"abc"}, 0},
		{"ctrl-a ctrl-e", "ersio\x01v\x05n\r", []string{"version"}, 0},
		{"ctrl-b ctrl-f", "vrsion\x02\x02\x02\x02\x02e\x06x\r", []string{"verxsion"}, 0},
		{"VT220 home, delete, end", "xersion\x1b[1~\x1b[3~v\x1b[4~\r", []string{"version"}, 0},
		{"xterm home end", "ersio\x1b[Hv\x1b[Fn\r", []string{"version"}, 0},
		{"ctrl-u kills to start", "junk\x15mem\r", []string{"mem"}, 0},
		{"ctrl-u keeps the rest", "xxmem" + left + left + left + "\x15\r", []string{"mem"}, 0},
		{"ctrl-k kills to end", "memjunk" + strings.Repeat(left, 4) + "\x0b\r", []string{"mem"}, 0},
		{"ctrl-w kills a word", "help mem  \x17version\r", []string{"help version"}, 0},
		{"ctrl-l redraws", "mem\x0c\r", []string{"mem"}, 0},
		{"history up", "version\rmem\r" + up + up + "\r", []string{"version", "mem", "version"}, 0},
		{"history up down restores the typed line", "version\rhel" + up + down + "p\r", []string{"version", "help"}, 0},
		{"history ctrl-p ctrl-n", "a\rb\r\x10\x10\x0e\r", []string{"a", "b", "b"}, 0},
		{"history edit an entry", "mem\r" + up + "\x7f\x7f\x7fuptime\r", []string{"mem", "uptime"}, 0},
		{"history past oldest rings", "a\r" + up + up + "\r", []string{"a", "a"}, 1},
		{"history down when not browsing rings", down + "x\r", []string{"x"}, 1},
		{"history skips repeats and blanks", "a\ra\r\rb\r" + up + up + up + "\r", []string{"a", "a", "", "b", "a"}, 1},
		{"ctrl-c discards the line", "garbage\x03version\r", []string{evInterrupt, "version"}, 0},
		{"ctrl-d on empty line", "\x04mem\r", []string{evEOT, "mem"}, 0},
		{"ctrl-d deletes under the cursor", "versionx" + left + "\x04\r", []string{"version"}, 0},
		{"ctrl-d at end of a line does nothing", "mem\x04\r", []string{"mem"}, 0},
		{"CR LF is one enter", "a\r\nb\r\n", []string{"a", "b"}, 0},
		{"LF alone is enter", "a\nb\n", []string{"a", "b"}, 0},
		{"CR CR is two lines", "a\r\r", []string{"a", ""}, 0},
		{"LF LF is two lines", "a\n\n", []string{"a", ""}, 0},
		{"UTF-8", "é€\r", []string{"é€"}, 0},
		{"broken UTF-8 keeps the enter", "a\xc3\r", []string{"a"}, 0},
		{"stray continuation byte", "a\x80b\r", []string{"ab"}, 0},
		{"garbled escape keeps the enter", "a\x1b[1\r", []string{"a"}, 0},
		{"unknown CSI ignored", "a\x1b[5;3Xb\r", []string{"ab"}, 0},
		{"alt-key ignored", "a\x1bxb\r", []string{"ab"}, 0},
		{"other controls ignored", "a\x00\x07\x1fb\r", []string{"ab"}, 0},
		{"line length limit", strings.Repeat("a", maxLineRunes+3) + "\r", []string{strings.Repeat("a", maxLineRunes)}, 3},
		{"tab completes a unique name", "ver\t\r", []string{"version "}, 0},
		{"tab lists several names", "ca\tp\t\r", []string{"capture "}, 0},
		{"tab with no match rings", "x\t\r", []string{"x"}, 1},
		{"tab after the first word does nothing", "help ver\t\r", []string{"help ver"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, scr := drive(t, []byte(tc.input), complete)
			if !slices.Equal(got, tc.want) {
				t.Errorf("key by key: got %q, want %q", got, tc.want)
			}
			if scr.bells != tc.bells {
				t.Errorf("bells: got %d, want %d", scr.bells, tc.bells)
			}
			// The same input through ReadLine, whole and one byte per read:
			// how the bytes arrive must not change the outcome.
			for _, r := range []io.Reader{strings.NewReader(tc.input), iotest.OneByteReader(strings.NewReader(tc.input))} {
				if got := readLines(t, r, complete); !slices.Equal(got, tc.want) {
					t.Errorf("ReadLine: got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestLineEditorScreen(t *testing.T) {
	// Ctrl-C leaves the abandoned line visible with ^C, as shells do, and
	// the next prompt starts on a fresh row.
	_, scr := drive(t, []byte("garbage\x03mem"), nil)
	want := []string{Prompt + "garbage^C", Prompt + "mem"}
	var got []string
	for _, row := range scr.rows {
		got = append(got, string(row))
	}
	if !slices.Equal(got, want) {
		t.Errorf("screen rows %q, want %q", got, want)
	}

	// Several completions are listed on their own row, then the line is
	// redrawn under them.
	_, scr = drive(t, []byte("ca\t"), fixedCompleter("capture", "cat"))
	got = got[:0]
	for _, row := range scr.rows {
		got = append(got, string(row))
	}
	want = []string{Prompt + "ca", "capture  cat", Prompt + "ca"}
	if !slices.Equal(got, want) {
		t.Errorf("screen rows %q, want %q", got, want)
	}
}

func TestReadLineEndOfInput(t *testing.T) {
	// Input that ends mid-line still delivers the line, then io.EOF.
	e := newLineEditor(strings.NewReader("mem"), io.Discard, Prompt)
	if line, err := e.ReadLine(); line != "mem" || err != nil {
		t.Fatalf("ReadLine = %q, %v; want \"mem\", nil", line, err)
	}
	if line, err := e.ReadLine(); line != "" || err != io.EOF {
		t.Fatalf("ReadLine = %q, %v; want \"\", io.EOF", line, err)
	}

	// A read error other than EOF is passed on.
	boom := errors.New("uart overrun")
	e = newLineEditor(iotest.ErrReader(boom), io.Discard, Prompt)
	if _, err := e.ReadLine(); !errors.Is(err, boom) {
		t.Fatalf("ReadLine error %v, want %v", err, boom)
	}
}

// FuzzLineEditor feeds arbitrary terminal input to the editor: it must
// never panic, the line must stay within its limit and free of control
// characters, and the screen must always show what the editor holds.
func FuzzLineEditor(f *testing.F) {
	for _, seed := range []string{
		"version\r", "verx\x7fsion\r", "a\rb\r\x1b[A\x1b[A\r", "x\x1b[1~\x1b[3~\x1b[4~",
		"\x1bOD\x1bOC", "é\xc3\r", "a\x03b\x04\r\n", "ca\t", "\x1b[5;3X\x1b", strings.Repeat("z", 300),
	} {
		f.Add([]byte(seed))
	}
	complete := fixedCompleter("capture", "cat", "help", "version")
	f.Fuzz(func(t *testing.T, input []byte) {
		events, _ := drive(t, input, complete)
		for _, ev := range events {
			if ev == evInterrupt || ev == evEOT {
				continue
			}
			if n := utf8.RuneCountInString(ev); n > maxLineRunes {
				t.Fatalf("line of %d runes, limit %d", n, maxLineRunes)
			}
			for _, r := range ev {
				if r < 0x20 || r == 0x7f || r == utf8.RuneError {
					t.Fatalf("line %q holds control or invalid rune %U", ev, r)
				}
			}
		}
	})
}
