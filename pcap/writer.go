package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Writer writes a capture file. It writes each record straight to the
// underlying writer (two Write calls, header and data); wrap that in a
// bufio.Writer, and flush it, when writing many records.
type Writer struct {
	w   io.Writer
	hdr Header
	rec [recordHeaderLen]byte
}

// NewWriter writes the file header described by h to w. A nil h.ByteOrder
// means little-endian; h.Snaplen 0 means MaxSnaplen.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if h.ByteOrder == nil {
		h.ByteOrder = binary.LittleEndian
	}
	if h.Snaplen == 0 {
		h.Snaplen = MaxSnaplen
	}
	if h.Snaplen > MaxSnaplen {
		return nil, fmt.Errorf("pcap: snaplen %d exceeds the maximum %d", h.Snaplen, MaxSnaplen)
	}
	var b [fileHeaderLen]byte
	bo := h.ByteOrder
	magic := uint32(MagicMicroseconds)
	if h.Nanosecond {
		magic = MagicNanoseconds
	}
	bo.PutUint32(b[offMagic:], magic)
	bo.PutUint16(b[offMajor:], VersionMajor)
	bo.PutUint16(b[offMinor:], VersionMinor)
	bo.PutUint32(b[offThisZone:], 0)
	bo.PutUint32(b[offSigFigs:], 0)
	bo.PutUint32(b[offSnaplen:], h.Snaplen)
	bo.PutUint32(b[offLinkType:], h.LinkType)
	if _, err := w.Write(b[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, hdr: h}, nil
}

// WritePacket appends one record. ci.Length is the wire length (at least
// len(data); 0 means len(data)); ci.CaptureLength is ignored in favour of
// len(data). Data longer than the snaplen is an error rather than silently
// truncated.
func (w *Writer) WritePacket(ci CaptureInfo, data []byte) error {
	if len(data) > int(w.hdr.Snaplen) {
		return fmt.Errorf("pcap: %d-byte record exceeds the snaplen %d", len(data), w.hdr.Snaplen)
	}
	wire := ci.Length
	if wire == 0 {
		wire = len(data)
	}
	if wire < len(data) {
		return errors.New("pcap: wire length shorter than the captured data")
	}
	if uint64(wire) > math.MaxUint32 {
		return fmt.Errorf("pcap: wire length %d does not fit in 32 bits", wire)
	}
	sec := ci.Timestamp.Unix()
	if sec < 0 || sec > 1<<32-1 {
		return fmt.Errorf("pcap: timestamp %v outside the 32-bit seconds range", ci.Timestamp)
	}
	frac := uint32(ci.Timestamp.Nanosecond())
	if !w.hdr.Nanosecond {
		frac /= 1000
	}
	bo := w.hdr.ByteOrder
	bo.PutUint32(w.rec[offTsSec:], uint32(sec))
	bo.PutUint32(w.rec[offTsFrac:], frac)
	bo.PutUint32(w.rec[offInclLen:], uint32(len(data)))
	bo.PutUint32(w.rec[offOrigLen:], uint32(wire))
	if _, err := w.w.Write(w.rec[:]); err != nil {
		return err
	}
	_, err := w.w.Write(data)
	return err
}
