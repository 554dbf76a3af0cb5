package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Capture record layout: each record in a read(2) buffer or a zero-copy
// buffer is a header followed by the captured bytes, and the next record
// starts at the next multiple of BPF_ALIGNMENT (sys/net/bpf.h, bpf(4)).
//
// The layout is FreeBSD's LP64 one on every GOARCH, so a buffer captured on
// the 32-bit board reads the same on a 64-bit host:
//
//	offset  size  bpf_hdr (µs / none)   bpf_xhdr (ns / bintime)
//	 0      8     bh_tstamp.tv_sec      bh_tstamp.bt_sec
//	 8      8     bh_tstamp.tv_usec     bh_tstamp.bt_frac
//	16      4     bh_caplen             bh_caplen
//	20      4     bh_datalen            bh_datalen
//	24      2     bh_hdrlen             bh_hdrlen
//	26            SIZEOF_BPF_HDR (offsetof(bh_hdrlen) + 2, not sizeof)
//
// Fields are in host byte order, as the kernel writes them.
const (
	// BPF_ALIGNMENT is sizeof(long) on LP64 FreeBSD.
	BPF_ALIGNMENT = 8
	// SIZEOF_BPF_HDR is the bytes of a record header that carry data.
	SIZEOF_BPF_HDR = 26

	hdrOffSec     = 0
	hdrOffFrac    = 8
	hdrOffCaplen  = 16
	hdrOffDatalen = 20
	hdrOffHdrlen  = 24
)

// WordAlign is BPF_WORDALIGN: n rounded up to BPF_ALIGNMENT.
func WordAlign(n int) int { return (n + BPF_ALIGNMENT - 1) &^ (BPF_ALIGNMENT - 1) }

// recordHdrLen is bh_hdrlen for a link header of linkHdrLen bytes: the
// header is padded so that the network-layer header after the link header
// starts word aligned (bpf_attachd's bif_hdrlen computation).
func recordHdrLen(linkHdrLen int) int {
	return WordAlign(linkHdrLen+SIZEOF_BPF_HDR) - linkHdrLen
}

// Record is one parsed capture record. Data aliases the buffer.
type Record struct {
	Sec     int64  // tv_sec or bt_sec
	Frac    uint64 // tv_usec, or bt_frac in ns or 2^-64 s, by timestamp format
	Caplen  uint32 // bytes captured (len(Data))
	Datalen uint32 // bytes on the wire
	Hdrlen  uint16 // header bytes before Data
	Data    []byte
}

// ErrBadRecord is wrapped by every ParseRecord error.
var ErrBadRecord = errors.New("bpf: malformed capture record")

// ParseRecord reads the record at the start of buf and returns it with the
// offset of the next record (BPF_WORDALIGN(hdrlen+caplen), which may lie
// past len(buf) for the last record). It allocates nothing for a good
// record; a consumer walks a whole buffer with it, so the checks are one
// test on the fast path and the error is built apart (badRecord).
func ParseRecord(buf []byte) (Record, int, error) {
	// The fields go from locals straight into the result, and the error
	// path is a separate function: building a Record in memory here costs
	// stack zeroing and store-forwarding stalls worth more than the parse.
	if len(buf) >= SIZEOF_BPF_HDR {
		h := buf[:SIZEOF_BPF_HDR]
		ne := binary.NativeEndian
		caplen := ne.Uint32(h[hdrOffCaplen:])
		datalen := ne.Uint32(h[hdrOffDatalen:])
		hdrlen := ne.Uint16(h[hdrOffHdrlen:])
		end := uint64(hdrlen) + uint64(caplen)
		if hdrlen >= SIZEOF_BPF_HDR && caplen <= datalen && end <= uint64(len(buf)) {
			return Record{
				Sec:     int64(ne.Uint64(h[hdrOffSec:])),
				Frac:    ne.Uint64(h[hdrOffFrac:]),
				Caplen:  caplen,
				Datalen: datalen,
				Hdrlen:  hdrlen,
				Data:    buf[hdrlen:end:end],
			}, WordAlign(int(end)), nil
		}
	}
	return badRecord(buf)
}

// badRecord is ParseRecord for a buffer whose first record is malformed:
// the header fields it could read, and what is wrong.
//
//go:noinline
func badRecord(buf []byte) (Record, int, error) {
	var r Record
	n := len(buf)
	if n < SIZEOF_BPF_HDR {
		return r, 0, fmt.Errorf("%w: %d bytes left, header needs %d", ErrBadRecord, n, SIZEOF_BPF_HDR)
	}
	ne := binary.NativeEndian
	r.Sec = int64(ne.Uint64(buf[hdrOffSec:]))
	r.Frac = ne.Uint64(buf[hdrOffFrac:])
	r.Caplen = ne.Uint32(buf[hdrOffCaplen:])
	r.Datalen = ne.Uint32(buf[hdrOffDatalen:])
	r.Hdrlen = ne.Uint16(buf[hdrOffHdrlen:])
	var err error
	switch {
	case int(r.Hdrlen) < SIZEOF_BPF_HDR:
		err = fmt.Errorf("%w: bh_hdrlen %d shorter than the header (%d)", ErrBadRecord, r.Hdrlen, SIZEOF_BPF_HDR)
	case r.Caplen > r.Datalen:
		err = fmt.Errorf("%w: bh_caplen %d exceeds bh_datalen %d", ErrBadRecord, r.Caplen, r.Datalen)
	default:
		err = fmt.Errorf("%w: bh_hdrlen %d + bh_caplen %d exceeds the %d bytes left", ErrBadRecord, r.Hdrlen, r.Caplen, n)
	}
	return r, 0, err
}

// putHeader writes a record header at b[0:hdrlen], zeroing the padding up
// to hdrlen. b must hold at least hdrlen >= SIZEOF_BPF_HDR bytes.
func putHeader(b []byte, sec int64, frac uint64, caplen, datalen uint32, hdrlen int) {
	h := b[:SIZEOF_BPF_HDR:SIZEOF_BPF_HDR] // one bounds check for the five stores
	ne := binary.NativeEndian
	ne.PutUint64(h[hdrOffSec:], uint64(sec))
	ne.PutUint64(h[hdrOffFrac:], frac)
	ne.PutUint32(h[hdrOffCaplen:], caplen)
	ne.PutUint32(h[hdrOffDatalen:], datalen)
	ne.PutUint16(h[hdrOffHdrlen:], uint16(hdrlen))
	if hdrlen > SIZEOF_BPF_HDR {
		clear(b[SIZEOF_BPF_HDR:hdrlen])
	}
}
