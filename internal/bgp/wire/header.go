package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MessageType is the type octet of the message header.
type MessageType uint8

// Message types (RFC 4271 §4.1, RFC 2918).
const (
	TypeOpen         MessageType = 1
	TypeUpdate       MessageType = 2
	TypeNotification MessageType = 3
	TypeKeepalive    MessageType = 4
	TypeRouteRefresh MessageType = 5
)

func (t MessageType) String() string {
	switch t {
	case TypeOpen:
		return "OPEN"
	case TypeUpdate:
		return "UPDATE"
	case TypeNotification:
		return "NOTIFICATION"
	case TypeKeepalive:
		return "KEEPALIVE"
	case TypeRouteRefresh:
		return "ROUTE-REFRESH"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Message sizes.
const (
	HeaderLen = 19
	// MaxMessageLen is the largest message without the extended message
	// capability, and the largest OPEN or KEEPALIVE ever (RFC 8654 §4).
	MaxMessageLen = 4096
	// MaxExtendedMessageLen is the largest message once both sides have
	// advertised the extended message capability (RFC 8654).
	MaxExtendedMessageLen = 65535
)

// minLen is the smallest legal total length of each message type.
var minLen = [...]int{
	TypeOpen:         29,
	TypeUpdate:       23,
	TypeNotification: 21,
	TypeKeepalive:    19,
	TypeRouteRefresh: 23,
}

// Header is a decoded message header.
type Header struct {
	Length int // total length, header included
	Type   MessageType
}

// ParseHeader checks the 19-byte header at the start of b: the all-ones
// marker, a length within [the type's minimum, maxLen] (maxLen is
// MaxMessageLen or, after extended message negotiation,
// MaxExtendedMessageLen; OPEN and KEEPALIVE stay within 4096), and a known
// type. Errors are Message Header Errors (1/1, 1/2 with the length as data,
// 1/3 with the type as data), all SessionReset.
func ParseHeader(b []byte, maxLen int) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, newError(CodeHeader, SubBadMessageLength, nil, SessionReset, "header truncated to %d bytes", len(b))
	}
	for _, c := range b[:16] {
		if c != 0xff {
			return Header{}, newError(CodeHeader, SubConnNotSynchronized, nil, SessionReset, "marker is not all ones")
		}
	}
	h := Header{Length: int(binary.BigEndian.Uint16(b[16:])), Type: MessageType(b[18])}
	if h.Type < TypeOpen || h.Type > TypeRouteRefresh {
		return h, newError(CodeHeader, SubBadMessageType, b[18:19], SessionReset, "unknown message type %d", b[18])
	}
	max := maxLen
	if max <= 0 || max > MaxExtendedMessageLen {
		max = MaxMessageLen
	}
	if h.Type == TypeOpen || h.Type == TypeKeepalive {
		max = min(max, MaxMessageLen)
	}
	if h.Length < minLen[h.Type] || h.Length > max || h.Type == TypeKeepalive && h.Length != HeaderLen {
		return h, newError(CodeHeader, SubBadMessageLength, b[16:18], SessionReset, "%s length %d", h.Type, h.Length)
	}
	return h, nil
}

// ReadMessage reads one message from r into buf and returns its header and
// body (the bytes after the header, aliasing buf). buf should hold maxLen
// bytes; a shorter one is replaced by a new buffer for this call. Errors
// from r are returned as they are; protocol errors are *Error values from
// ParseHeader.
func ReadMessage(r io.Reader, buf []byte, maxLen int) (Header, []byte, error) {
	if maxLen <= 0 || maxLen > MaxExtendedMessageLen {
		maxLen = MaxMessageLen
	}
	if len(buf) < maxLen {
		buf = make([]byte, maxLen)
	}
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(buf[:HeaderLen], maxLen)
	if err != nil {
		return h, nil, err
	}
	if _, err := io.ReadFull(r, buf[HeaderLen:h.Length]); err != nil {
		return h, nil, err
	}
	return h, buf[HeaderLen:h.Length], nil
}

// appendHeader appends a header with a zero length; finishMessage fills it.
func appendHeader(dst []byte, t MessageType) []byte {
	dst = append(dst, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0)
	return append(dst, byte(t))
}

// finishMessage writes the length of the message that starts at dst[start].
func finishMessage(dst []byte, start int) []byte {
	binary.BigEndian.PutUint16(dst[start+16:], uint16(len(dst)-start))
	return dst
}

// AppendKeepalive appends a KEEPALIVE message.
func AppendKeepalive(dst []byte) []byte {
	start := len(dst)
	return finishMessage(appendHeader(dst, TypeKeepalive), start)
}
