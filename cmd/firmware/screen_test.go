package main

import (
	"strconv"
	"unicode/utf8"
)

// screen is a small model of the terminal at the other end of UART1: it
// interprets the console's output the way a VT100 does, so tests check what
// the operator sees rather than which bytes the editor chose to send. It
// knows only the sequences a VT100 would act on; anything else is a test
// failure (unknown).
//
// "\n" moves to the start of the next row, as the baretap kernel's UART
// write (LF → CR LF) makes it on the board.
type screen struct {
	rows    [][]rune
	row     int
	col     int
	unknown []string // sequences the model does not know
	bells   int
}

func (s *screen) write(p []byte) {
	for len(p) > 0 {
		if p[0] == 0x1b {
			n := s.escape(p)
			p = p[n:]
			continue
		}
		r, n := utf8.DecodeRune(p)
		p = p[n:]
		switch r {
		case '\r':
			s.col = 0
		case '\n':
			s.row++
			s.col = 0
		case '\b':
			if s.col > 0 {
				s.col--
			}
		case '\a':
			s.bells++
		default:
			if r < 0x20 || r == 0x7f {
				s.unknown = append(s.unknown, strconv.QuoteRune(r))
				continue
			}
			s.put(r)
		}
	}
}

// escape interprets one ESC sequence at the start of p and returns its length.
func (s *screen) escape(p []byte) int {
	if len(p) < 2 || p[1] != '[' {
		s.unknown = append(s.unknown, strconv.Quote(string(p[:min(2, len(p))])))
		return min(2, len(p))
	}
	i := 2
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i == len(p) {
		s.unknown = append(s.unknown, strconv.Quote(string(p)))
		return len(p)
	}
	n := 1
	if i > 2 {
		n, _ = strconv.Atoi(string(p[2:i]))
	}
	switch p[i] {
	case 'K': // erase to end of line (parameter 0 only)
		if i == 2 || string(p[2:i]) == "0" {
			s.line()
			if s.col < len(s.rows[s.row]) {
				s.rows[s.row] = s.rows[s.row][:s.col]
			}
			break
		}
		s.unknown = append(s.unknown, strconv.Quote(string(p[:i+1])))
	case 'D':
		s.col = max(0, s.col-n)
	case 'C':
		s.col += n
	default:
		s.unknown = append(s.unknown, strconv.Quote(string(p[:i+1])))
	}
	return i + 1
}

func (s *screen) line() {
	for len(s.rows) <= s.row {
		s.rows = append(s.rows, nil)
	}
}

func (s *screen) put(r rune) {
	s.line()
	row := s.rows[s.row]
	for len(row) < s.col {
		row = append(row, ' ')
	}
	if s.col < len(row) {
		row[s.col] = r
	} else {
		row = append(row, r)
	}
	s.rows[s.row] = row
	s.col++
}

// current returns the text of the cursor's row.
func (s *screen) current() string {
	s.line()
	return string(s.rows[s.row])
}
