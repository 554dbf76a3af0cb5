package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Reader reads records from a capture file.
type Reader struct {
	r      io.Reader
	hdr    Header
	buf    []byte // record data, reused by Next
	rec    [recordHeaderLen]byte
	count  int // records read so far, for error messages
	offset int64
}

// NewReader reads and checks the file header from r. Errors say what is
// wrong with the header ("not a pcap file: magic 0x...").
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("not a pcap file: %d bytes, shorter than the %d-byte file header", n, fileHeaderLen)
		}
		return nil, err
	}
	rd := &Reader{r: r, offset: fileHeaderLen}
	switch {
	case binary.LittleEndian.Uint32(h[offMagic:]) == MagicMicroseconds:
		rd.hdr.ByteOrder = binary.LittleEndian
	case binary.BigEndian.Uint32(h[offMagic:]) == MagicMicroseconds:
		rd.hdr.ByteOrder = binary.BigEndian
	case binary.LittleEndian.Uint32(h[offMagic:]) == MagicNanoseconds:
		rd.hdr.ByteOrder, rd.hdr.Nanosecond = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[offMagic:]) == MagicNanoseconds:
		rd.hdr.ByteOrder, rd.hdr.Nanosecond = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap file: magic %#08x (pcapng and other formats are not supported)", binary.BigEndian.Uint32(h[offMagic:]))
	}
	bo := rd.hdr.ByteOrder
	major, minor := bo.Uint16(h[offMajor:]), bo.Uint16(h[offMinor:])
	if major != VersionMajor {
		return nil, fmt.Errorf("unsupported pcap version %d.%d (want %d.x)", major, minor, VersionMajor)
	}
	rd.hdr.Snaplen = bo.Uint32(h[offSnaplen:])
	rd.hdr.LinkType = bo.Uint32(h[offLinkType:])
	return rd, nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// LinkType returns the LINKTYPE_* value without the FCS flag bits.
func (r *Reader) LinkType() uint32 { return r.hdr.LinkType & 0xffff }

// Next returns the next record. The data slice is reused by the following
// call; copy it to keep it. At the end of the file Next returns io.EOF; a
// record cut short returns an error wrapping io.ErrUnexpectedEOF.
func (r *Reader) Next() ([]byte, CaptureInfo, error) {
	n, err := io.ReadFull(r.r, r.rec[:])
	if err == io.EOF {
		return nil, CaptureInfo{}, io.EOF
	}
	if err != nil {
		return nil, CaptureInfo{}, r.recordErr(err, "header (%d of %d bytes)", n, recordHeaderLen)
	}
	bo := r.hdr.ByteOrder
	sec := bo.Uint32(r.rec[offTsSec:])
	frac := bo.Uint32(r.rec[offTsFrac:])
	incl := bo.Uint32(r.rec[offInclLen:])
	orig := bo.Uint32(r.rec[offOrigLen:])
	if incl > MaxSnaplen {
		return nil, CaptureInfo{}, fmt.Errorf("pcap record %d at offset %d: capture length %d exceeds the maximum %d", r.count, r.offset, incl, MaxSnaplen)
	}
	nsec := int64(frac)
	if r.hdr.Nanosecond {
		if frac >= 1e9 {
			return nil, CaptureInfo{}, fmt.Errorf("pcap record %d at offset %d: nanoseconds field %d is not below 1e9", r.count, r.offset, frac)
		}
	} else {
		if frac >= 1e6 {
			return nil, CaptureInfo{}, fmt.Errorf("pcap record %d at offset %d: microseconds field %d is not below 1e6", r.count, r.offset, frac)
		}
		nsec *= 1000
	}
	if cap(r.buf) < int(incl) {
		r.buf = make([]byte, incl, max(int(incl), 2048))
	}
	data := r.buf[:incl]
	if n, err := io.ReadFull(r.r, data); err != nil {
		return nil, CaptureInfo{}, r.recordErr(err, "data (%d of %d bytes)", n, incl)
	}
	ci := CaptureInfo{
		Timestamp:     time.Unix(int64(sec), nsec).UTC(),
		CaptureLength: int(incl),
		Length:        int(orig),
	}
	r.count++
	r.offset += recordHeaderLen + int64(incl)
	return data, ci, nil
}

func (r *Reader) recordErr(err error, format string, args ...any) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	what := fmt.Sprintf(format, args...)
	return fmt.Errorf("pcap record %d at offset %d: truncated %s: %w", r.count, r.offset, what, err)
}

// Frame is one record held in memory.
type Frame struct {
	CaptureInfo
	Data []byte
}

// ReadFile reads a whole capture file into memory: every frame's data is
// a sub-slice of one backing array, so the frames cost two allocations
// beyond the file's size.
func ReadFile(path string) (Header, []Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, nil, err
	}
	hdr, frames, err := ReadAll(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return hdr, nil, fmt.Errorf("%s: %w", path, err)
	}
	return hdr, frames, nil
}

// ReadAll reads every record from r. sizeHint, when positive, is the file
// size, used to size the backing array once.
func ReadAll(r io.Reader, sizeHint int64) (Header, []Frame, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	var store []byte
	if sizeHint > 0 && sizeHint < 1<<31 {
		store = make([]byte, 0, sizeHint)
	}
	var frames []Frame
	for {
		data, ci, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rd.hdr, nil, err
		}
		if len(store)+len(data) > cap(store) {
			// Out of room: start a new backing array rather than move
			// the frames already sliced out of the old one.
			store = make([]byte, 0, max(len(data), 1<<20))
		}
		start := len(store)
		store = append(store, data...)
		frames = append(frames, Frame{CaptureInfo: ci, Data: store[start:len(store):len(store)]})
	}
	return rd.hdr, frames, nil
}
