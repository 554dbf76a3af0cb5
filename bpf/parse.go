package bpf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseProgram reads a program in one of the text forms users already have:
//
//   - `tcpdump -dd` output, one C initialiser a line: { 0x28, 0, 0, 0x0000000c },
//   - `tcpdump -ddd` output: a line with the instruction count, then one
//     line "code jt jf k" in decimal per instruction;
//   - the one-line comma form of the same numbers, "N,code jt jf k,...", that
//     iptables' bpf match (--bytecode) and nft take.
//
// Blank lines are ignored. The form is recognised from the first
// non-blank character ('{' means -dd) and line (a comma means the comma
// form). Errors name the line (or, in the comma form, the instruction) and
// the field that is wrong. ParseProgram does not validate the program.
func ParseProgram(text string) ([]Insn, error) {
	lines := strings.Split(text, "\n")
	first := -1
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, errors.New("empty program text")
	}
	head := strings.TrimSpace(lines[first])
	switch {
	case strings.HasPrefix(head, "{"):
		return parseDD(lines)
	case strings.Contains(head, ","):
		for i := first + 1; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "" {
				return nil, fmt.Errorf("line %d: unexpected text after the one-line comma form", i+1)
			}
		}
		return parseComma(head)
	default:
		return parseDDD(lines, first)
	}
}

var fieldNames = [4]string{"code", "jt", "jf", "k"}

// fieldBits are the widths of struct bpf_insn's fields.
var fieldBits = [4]int{16, 8, 8, 32}

// parseDD reads `tcpdump -dd` lines: "{ code, jt, jf, k }," with C integer
// constants (0x hex, leading-0 octal, decimal).
func parseDD(lines []string) ([]Insn, error) {
	var prog []Insn
	for i, raw := range lines {
		l := strings.TrimSpace(raw)
		if l == "" {
			continue
		}
		l = strings.TrimSuffix(l, ",")
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			return nil, fmt.Errorf("line %d: want a C initialiser like { 0x28, 0, 0, 0x0000000c }, got %q", i+1, clip(raw))
		}
		fields := strings.Split(l[1:len(l)-1], ",")
		if len(fields) != 4 {
			return nil, fmt.Errorf("line %d: want 4 fields (code, jt, jf, k), got %d", i+1, len(fields))
		}
		ins, err := insnFromFields(fields, parseCInt)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		prog = append(prog, ins)
	}
	return prog, nil
}

// parseDDD reads `tcpdump -ddd` output: the count, then "code jt jf k".
func parseDDD(lines []string, first int) ([]Insn, error) {
	countText := strings.TrimSpace(lines[first])
	count, err := parseDecimal(countText, 31)
	if err != nil {
		return nil, fmt.Errorf("line %d: instruction count %q: %w", first+1, clip(countText), err)
	}
	prog := make([]Insn, 0, min(count, 4096))
	last := first + 1
	for i := first + 1; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		last = i + 1
		fields := strings.Fields(l)
		if len(fields) != 4 {
			return nil, fmt.Errorf("line %d: want 4 decimal fields \"code jt jf k\", got %d", i+1, len(fields))
		}
		ins, err := insnFromFields(fields, parseDecimal)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		prog = append(prog, ins)
	}
	if uint64(len(prog)) != count {
		return nil, fmt.Errorf("line %d: count on line %d is %d but %d instructions follow", last, first+1, count, len(prog))
	}
	return prog, nil
}

// parseComma reads "N,code jt jf k,code jt jf k,...".
func parseComma(s string) ([]Insn, error) {
	parts := strings.Split(strings.TrimSuffix(s, ","), ",")
	count, err := parseDecimal(strings.TrimSpace(parts[0]), 31)
	if err != nil {
		return nil, fmt.Errorf("instruction count %q: %w", clip(parts[0]), err)
	}
	if uint64(len(parts)-1) != count {
		return nil, fmt.Errorf("count says %d instructions but %d follow", count, len(parts)-1)
	}
	prog := make([]Insn, 0, len(parts)-1)
	for i, p := range parts[1:] {
		fields := strings.Fields(p)
		if len(fields) != 4 {
			return nil, fmt.Errorf("instruction %d: want 4 fields \"code jt jf k\", got %d", i, len(fields))
		}
		ins, err := insnFromFields(fields, parseDecimal)
		if err != nil {
			return nil, fmt.Errorf("instruction %d: %w", i, err)
		}
		prog = append(prog, ins)
	}
	return prog, nil
}

func insnFromFields(fields []string, parse func(string, int) (uint64, error)) (Insn, error) {
	var v [4]uint64
	for f, text := range fields {
		text = strings.TrimSpace(text)
		n, err := parse(text, fieldBits[f])
		if err != nil {
			return Insn{}, fmt.Errorf("field %d (%s) %q: %w", f+1, fieldNames[f], clip(text), err)
		}
		v[f] = n
	}
	return Insn{Code: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}, nil
}

var errNotNumber = errors.New("not a number")

// parseDecimal accepts only decimal digits, as tcpdump -ddd prints them.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
	}
	return checkRange(strconv.ParseUint(s, 10, 64))(bits)
}

// parseCInt accepts a C integer constant: 0x hex, leading-0 octal, decimal.
func parseCInt(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	base, digits := 10, s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	for _, c := range digits {
		ok := c >= '0' && c <= '9'
		if base == 8 {
			ok = c >= '0' && c <= '7'
		} else if base == 16 {
			ok = ok || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
		}
		if !ok {
			return 0, errNotNumber
		}
	}
	return checkRange(strconv.ParseUint(digits, base, 64))(bits)
}

func checkRange(n uint64, err error) func(bits int) (uint64, error) {
	return func(bits int) (uint64, error) {
		if err != nil || n >= 1<<bits {
			return 0, fmt.Errorf("out of range (max %d)", uint64(1)<<bits-1)
		}
		return n, nil
	}
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
