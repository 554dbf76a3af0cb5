// Package pcap reads and writes classic libpcap capture files (the format
// `tcpdump -w` writes; pcap-savefile(5), IETF draft-ietf-opsawg-pcap): a
// 24-byte file header followed by records of a 16-byte header and the
// captured bytes.
//
// The reader accepts both timestamp precisions (magic 0xa1b2c3d4 for
// microseconds, 0xa1b23c4d for nanoseconds) in both byte orders, version
// 2.4, any link type (LinkType reports it; baretap filters expect
// LinkTypeEthernet). The writer produces the same four variants.
//
// A Reader or Writer is not safe for concurrent use.
package pcap

import (
	"encoding/binary"
	"time"
)

// File header magic numbers as they read in the writer's byte order.
const (
	MagicMicroseconds = 0xa1b2c3d4
	MagicNanoseconds  = 0xa1b23c4d
)

// File format version this package reads and writes.
const (
	VersionMajor = 2
	VersionMinor = 4
)

// LinkTypeEthernet is LINKTYPE_ETHERNET (tcpdump.org/linktypes.html): IEEE
// 802.3 frames starting with the destination MAC address, no FCS.
const LinkTypeEthernet = 1

// MaxSnaplen is the largest record length accepted: libpcap's
// MAXIMUM_SNAPLEN (262144), which also bounds what a corrupt length field
// can make the reader allocate.
const MaxSnaplen = 262144

const (
	fileHeaderLen   = 24
	recordHeaderLen = 16
)

// File header field offsets.
const (
	offMagic    = 0
	offMajor    = 4
	offMinor    = 6
	offThisZone = 8
	offSigFigs  = 12
	offSnaplen  = 16
	offLinkType = 20
)

// Record header field offsets.
const (
	offTsSec   = 0
	offTsFrac  = 4 // microseconds or nanoseconds, by magic
	offInclLen = 8
	offOrigLen = 12
)

// Header describes a capture file.
type Header struct {
	ByteOrder  binary.ByteOrder // order of the multi-byte header fields
	Nanosecond bool             // timestamps carry nanoseconds, not microseconds
	Snaplen    uint32           // largest record the capture kept
	LinkType   uint32           // LINKTYPE_* in the low 16 bits; FCS flags above
}

// CaptureInfo is one record's metadata.
type CaptureInfo struct {
	Timestamp     time.Time
	CaptureLength int // bytes stored in the file (len of the data)
	Length        int // bytes the frame had on the wire
}
