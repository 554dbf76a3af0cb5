package main

import (
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// The line editor speaks the VT100/xterm subset every serial terminal
// program sends (minicom, picocom, screen, QEMU's stdio): control characters
// for editing and ESC [ / ESC O sequences for the arrow and navigation keys.
// golang.org/x/term's Terminal was the first choice, but after it reports
// Ctrl-C it keeps the already consumed input and the half-typed line, so the
// next ReadLine sees the same Ctrl-C again: fine for a program that exits on
// Ctrl-C, wrong for a console that must survive it.

// Control characters the editor acts on (ASCII names).
const (
	keyCtrlA = 0x01 // start of line
	keyCtrlB = 0x02 // cursor left
	keyCtrlC = 0x03 // cancel the line
	keyCtrlD = 0x04 // delete under the cursor; end of input on an empty line
	keyCtrlE = 0x05 // end of line
	keyCtrlF = 0x06 // cursor right
	keyBS    = 0x08 // backspace, as some terminals send it
	keyTab   = 0x09 // complete
	keyLF    = 0x0a
	keyCtrlK = 0x0b // delete to end of line
	keyCtrlL = 0x0c // redraw
	keyCR    = 0x0d
	keyCtrlN = 0x0e // history: next
	keyCtrlP = 0x10 // history: previous
	keyCtrlU = 0x15 // delete to start of line
	keyCtrlW = 0x17 // delete the word before the cursor
	keyESC   = 0x1b
	keyDEL   = 0x7f // backspace, as most terminals send it
)

// Output sequences (ECMA-48).
const (
	seqEraseToEOL = "\x1b[K"
	bell          = "\a"
)

const (
	// maxLineRunes bounds a command line; longer input rings the bell.
	maxLineRunes = 4096 // room for a corpus filter as --bytecode
	// maxHistory is how many submitted lines the up arrow reaches.
	maxHistory = 64
	// maxCSIParams bounds the parameter bytes of an escape sequence, so a
	// stream of garbage cannot grow the editor's state.
	maxCSIParams = 16
)

// Errors ReadLine returns for keys that end a line without submitting it.
var (
	// ErrInterrupted: the user typed Ctrl-C. The line is discarded and the
	// next ReadLine starts a fresh one.
	ErrInterrupted = errors.New("interrupted")
	// ErrEndOfTransmission: the user typed Ctrl-D on an empty line, the
	// terminal convention for "no more input".
	ErrEndOfTransmission = errors.New("end of transmission")
)

// decoder states for escape sequences.
const (
	stateText = iota // plain text
	stateESC         // after ESC
	stateCSI         // after ESC [
	stateSS3         // after ESC O
)

// lineEditor reads edited lines from in and echoes them to out.
//
// It is not safe for concurrent use: one goroutine owns a lineEditor, and
// the console serialises everything else that writes to out with it.
type lineEditor struct {
	in  io.Reader
	out io.Writer

	prompt string
	line   []rune // the line being edited
	pos    int    // cursor position in line, 0..len(line)

	history   []string          // oldest first
	histIndex int               // len(history) when not browsing
	histSaved []rune            // the line being typed when browsing started
	lastWasCR bool              // a CR ended the previous line: swallow one LF
	state     int               // escape sequence decoder state
	params    []byte            // CSI parameter bytes
	utf8Buf   [utf8.UTFMax]byte // a multi-byte character being received
	utf8Len   int
	readBuf   [64]byte
	pending   []byte                       // read but not yet decoded, aliases readBuf
	outBuf    []byte                       // echo, written once per read
	complete  func(prefix string) []string // Tab: names starting with prefix; nil disables
	readErr   error                        // from in, reported once pending is decoded
}

func newLineEditor(in io.Reader, out io.Writer, prompt string) *lineEditor {
	return &lineEditor{
		in:     in,
		out:    out,
		prompt: prompt,
		line:   make([]rune, 0, maxLineRunes),
		params: make([]byte, 0, maxCSIParams),
		outBuf: make([]byte, 0, 512),
	}
}

// ReadLine prints the prompt and returns the next line the user submits,
// without its line terminator. It returns ErrInterrupted after Ctrl-C,
// ErrEndOfTransmission after Ctrl-D on an empty line, and the reader's error
// (io.EOF when the input ends) once no partial line is left.
func (e *lineEditor) ReadLine() (string, error) {
	e.startLine()
	for {
		for len(e.pending) > 0 {
			b := e.pending[0]
			e.pending = e.pending[1:]
			line, done, err := e.feed(b)
			if done || err != nil {
				e.flush()
				return line, err
			}
		}
		e.flush()
		if e.readErr != nil {
			err := e.readErr
			if err == io.EOF && len(e.line) > 0 {
				// Input ended mid-line: hand over what was typed, and
				// report the end on the next call.
				line := string(e.line)
				e.emit("\n")
				e.flush()
				return line, nil
			}
			return "", err
		}
		n, err := e.in.Read(e.readBuf[:])
		e.pending = e.readBuf[:n]
		if err != nil {
			e.readErr = err
		}
	}
}

// startLine begins a new, empty line and queues the prompt.
func (e *lineEditor) startLine() {
	e.line = e.line[:0]
	e.pos = 0
	e.histIndex = len(e.history)
	e.histSaved = e.histSaved[:0]
	e.emit(e.prompt)
}

// feed decodes one input byte. done reports a submitted line.
func (e *lineEditor) feed(b byte) (line string, done bool, err error) {
	if e.state != stateText && b < 0x20 {
		// A control character inside an escape sequence aborts the
		// sequence and still acts (ECMA-48 executes C0 controls there), so
		// a garbled sequence cannot swallow the Enter that follows.
		e.state = stateText
	}
	switch e.state {
	case stateESC:
		switch b {
		case '[':
			e.state = stateCSI
			e.params = e.params[:0]
		case 'O':
			e.state = stateSS3
		default:
			// Alt+key or a lone ESC: ignore both.
			e.state = stateText
		}
		return "", false, nil
	case stateCSI:
		if b >= 0x40 && b <= 0x7e { // final byte
			e.state = stateText
			e.csi(b)
		} else if len(e.params) < maxCSIParams {
			e.params = append(e.params, b)
		}
		return "", false, nil
	case stateSS3:
		e.state = stateText
		e.params = e.params[:0]
		e.csi(b) // ESC O A..D, H, F mean what ESC [ A..D, H, F mean
		return "", false, nil
	}

	if e.utf8Len > 0 && b&0xc0 != 0x80 {
		e.utf8Len = 0 // not a continuation byte: drop the broken sequence
	}
	if e.utf8Len > 0 || b >= utf8.RuneSelf {
		e.utf8Buf[e.utf8Len] = b
		e.utf8Len++
		if !utf8.FullRune(e.utf8Buf[:e.utf8Len]) {
			return "", false, nil
		}
		r, _ := utf8.DecodeRune(e.utf8Buf[:e.utf8Len])
		e.utf8Len = 0
		if r != utf8.RuneError {
			e.insert(r)
		}
		return "", false, nil
	}

	wasCR := e.lastWasCR
	e.lastWasCR = false
	switch b {
	case keyCR, keyLF:
		if b == keyLF && wasCR {
			return "", false, nil // the LF of a CR LF pair
		}
		e.lastWasCR = b == keyCR
		line = string(e.line)
		e.emit("\n")
		e.addHistory(line)
		return line, true, nil
	case keyCtrlC:
		e.emit("^C\n")
		return "", false, ErrInterrupted
	case keyCtrlD:
		if len(e.line) == 0 {
			e.emit("\n")
			return "", false, ErrEndOfTransmission
		}
		e.deleteAt(e.pos)
	case keyBS, keyDEL:
		e.backspace()
	case keyCtrlA:
		e.moveTo(0)
	case keyCtrlE:
		e.moveTo(len(e.line))
	case keyCtrlB:
		e.moveTo(e.pos - 1)
	case keyCtrlF:
		e.moveTo(e.pos + 1)
	case keyCtrlK:
		e.line = e.line[:e.pos]
		e.refresh()
	case keyCtrlU:
		e.line = append(e.line[:0], e.line[e.pos:]...)
		e.pos = 0
		e.refresh()
	case keyCtrlW:
		start := e.pos
		for start > 0 && e.line[start-1] == ' ' {
			start--
		}
		for start > 0 && e.line[start-1] != ' ' {
			start--
		}
		e.line = append(e.line[:start], e.line[e.pos:]...)
		e.pos = start
		e.refresh()
	case keyCtrlL:
		e.refresh()
	case keyCtrlP:
		e.historyStep(-1)
	case keyCtrlN:
		e.historyStep(+1)
	case keyTab:
		e.completeWord()
	case keyESC:
		e.state = stateESC
	default:
		if b >= 0x20 {
			e.insert(rune(b))
		}
		// Other control characters mean nothing here.
	}
	return "", false, nil
}

// csi acts on a complete ESC [ params final (or ESC O final) sequence.
func (e *lineEditor) csi(final byte) {
	switch final {
	case 'A':
		e.historyStep(-1)
	case 'B':
		e.historyStep(+1)
	case 'C':
		e.moveTo(e.pos + 1)
	case 'D':
		e.moveTo(e.pos - 1)
	case 'H':
		e.moveTo(0)
	case 'F':
		e.moveTo(len(e.line))
	case '~':
		// VT220 editing keys: ESC [ n ~
		switch string(e.params) {
		case "1", "7":
			e.moveTo(0)
		case "4", "8":
			e.moveTo(len(e.line))
		case "3":
			e.deleteAt(e.pos)
		}
	}
}

func (e *lineEditor) insert(r rune) {
	if len(e.line) >= maxLineRunes {
		e.emit(bell)
		return
	}
	e.line = append(e.line, 0)
	copy(e.line[e.pos+1:], e.line[e.pos:])
	e.line[e.pos] = r
	e.pos++
	if e.pos == len(e.line) {
		e.outBuf = utf8.AppendRune(e.outBuf, r) // typing at the end: plain echo
		return
	}
	e.refresh()
}

// backspace erases the character before the cursor.
func (e *lineEditor) backspace() {
	if e.pos == 0 {
		return
	}
	e.pos--
	e.line = append(e.line[:e.pos], e.line[e.pos+1:]...)
	if e.pos == len(e.line) {
		e.emit("\b \b") // erasing the last character: no redraw needed
		return
	}
	e.refresh()
}

// deleteAt erases the character at index i, under or after the cursor.
func (e *lineEditor) deleteAt(i int) {
	if i < 0 || i >= len(e.line) {
		return
	}
	e.line = append(e.line[:i], e.line[i+1:]...)
	e.refresh()
}

func (e *lineEditor) moveTo(pos int) {
	if pos < 0 || pos > len(e.line) || pos == e.pos {
		return
	}
	e.pos = pos
	e.refresh()
}

// historyStep moves through the history: dir -1 is older, +1 newer. Going
// past the newest entry restores the line that was being typed.
func (e *lineEditor) historyStep(dir int) {
	next := e.histIndex + dir
	if next < 0 || next > len(e.history) {
		e.emit(bell)
		return
	}
	if e.histIndex == len(e.history) {
		e.histSaved = append(e.histSaved[:0], e.line...)
	}
	e.histIndex = next
	if next == len(e.history) {
		e.line = append(e.line[:0], e.histSaved...)
	} else {
		e.line = append(e.line[:0], []rune(e.history[next])...)
	}
	e.pos = len(e.line)
	e.refresh()
}

func (e *lineEditor) addHistory(line string) {
	if line == "" || len(e.history) > 0 && e.history[len(e.history)-1] == line {
		return
	}
	if len(e.history) == maxHistory {
		copy(e.history, e.history[1:])
		e.history = e.history[:maxHistory-1]
	}
	e.history = append(e.history, line)
}

// completeWord completes the first word of the line when the cursor is at
// its end: a unique match is filled in, several are listed.
func (e *lineEditor) completeWord() {
	if e.complete == nil {
		return
	}
	for _, r := range e.line[:e.pos] {
		if r == ' ' {
			return // only the command name completes
		}
	}
	prefix := string(e.line[:e.pos])
	matches := e.complete(prefix)
	switch len(matches) {
	case 0:
		e.emit(bell)
	case 1:
		rest := []rune(matches[0][len(prefix):] + " ")
		for _, r := range rest {
			e.insert(r)
		}
	default:
		e.emit("\n")
		for i, m := range matches {
			if i > 0 {
				e.emit("  ")
			}
			e.emit(m)
		}
		e.emit("\n")
		e.refresh()
	}
}

// refresh redraws the prompt and line and puts the cursor back at pos.
// Every character is assumed to take one column, which holds for the
// ASCII command language.
func (e *lineEditor) refresh() {
	e.emit("\r")
	e.emit(e.prompt)
	for _, r := range e.line {
		e.outBuf = utf8.AppendRune(e.outBuf, r)
	}
	e.emit(seqEraseToEOL)
	if back := len(e.line) - e.pos; back > 0 {
		e.emit("\x1b[")
		e.outBuf = strconv.AppendInt(e.outBuf, int64(back), 10)
		e.emit("D")
	}
}

func (e *lineEditor) emit(s string) { e.outBuf = append(e.outBuf, s...) }

// flush writes the echo accumulated while decoding one read. Echo errors are
// dropped: the next read reports a broken console.
func (e *lineEditor) flush() {
	if len(e.outBuf) > 0 {
		_, _ = e.out.Write(e.outBuf)
		e.outBuf = e.outBuf[:0]
	}
}
