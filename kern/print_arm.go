package kern

// Kernel console output. It writes straight to the console UART and allocates nothing, so it
// works in the trap path and before the Go runtime starts.

func kputc(c byte) {
	if c == '\n' {
		console.PutByte('\r')
	}
	console.PutByte(c)
}

func kputs(s string) {
	for i := 0; i < len(s); i++ {
		kputc(s[i])
	}
}

func kputHex(v uint32) {
	const digits = "0123456789abcdef"
	kputs("0x")
	for i := 28; i >= 0; i -= 4 {
		kputc(digits[v>>uint(i)&0xf])
	}
}

func kputDec(v uint64) {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		kputc(b[i])
	}
}

func kputInt(v int64) {
	if v < 0 {
		kputc('-')
		v = -v
	}
	kputDec(uint64(v))
}
