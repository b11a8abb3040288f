package wire

import (
	"fmt"
	"unicode/utf8"
)

// Notification is a NOTIFICATION message (RFC 4271 §4.5).
type Notification struct {
	Code    uint8
	Subcode uint8
	Data    []byte
}

// MaxShutdownMessage is the longest shutdown communication, in bytes
// (RFC 9003 §2).
const MaxShutdownMessage = 255

// DecodeNotification decodes a NOTIFICATION body. Data is copied. A body
// shorter than 2 bytes is a bad message length (1/2).
func DecodeNotification(body []byte) (Notification, error) {
	if len(body) < 2 {
		return Notification{}, newError(CodeHeader, SubBadMessageLength, []byte{0, byte(HeaderLen + len(body))}, SessionReset, "NOTIFICATION of %d bytes", len(body))
	}
	n := Notification{Code: body[0], Subcode: body[1]}
	if len(body) > 2 {
		n.Data = append([]byte(nil), body[2:]...)
	}
	return n, nil
}

// AppendMessage appends n as a complete NOTIFICATION message, truncating
// Data so that the message fits in maxLen bytes.
func (n Notification) AppendMessage(dst []byte, maxLen int) []byte {
	if maxLen <= 0 || maxLen > MaxExtendedMessageLen {
		maxLen = MaxMessageLen
	}
	start := len(dst)
	dst = appendHeader(dst, TypeNotification)
	dst = append(dst, n.Code, n.Subcode)
	d := n.Data
	if room := maxLen - HeaderLen - 2; len(d) > room {
		d = d[:room]
	}
	dst = append(dst, d...)
	return finishMessage(dst, start)
}

// NewShutdown returns a Cease NOTIFICATION with subcode SubAdminShutdown or
// SubAdminReset carrying the shutdown communication msg (RFC 9003),
// truncated at a UTF-8 character boundary to MaxShutdownMessage bytes.
func NewShutdown(subcode uint8, msg string) Notification {
	b := []byte(msg)
	if len(b) > MaxShutdownMessage {
		b = b[:MaxShutdownMessage]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	data := make([]byte, 0, 1+len(b))
	data = append(data, byte(len(b)))
	data = append(data, b...)
	return Notification{Code: CodeCease, Subcode: subcode, Data: data}
}

// ShutdownMessage returns the RFC 9003 shutdown communication of an
// Administrative Shutdown or Administrative Reset Cease. ok is false when n
// is not one of those or carries no well-formed communication (a length
// that overruns the data, or invalid UTF-8); a zero-length communication is
// well-formed and returns "" with ok true.
func (n Notification) ShutdownMessage() (msg string, ok bool) {
	if n.Code != CodeCease || (n.Subcode != SubAdminShutdown && n.Subcode != SubAdminReset) || len(n.Data) == 0 {
		return "", false
	}
	l := int(n.Data[0])
	if len(n.Data) < 1+l || !utf8.Valid(n.Data[1:1+l]) {
		return "", false
	}
	return string(n.Data[1 : 1+l]), true
}

// HardReset wraps n in a Cease / Hard Reset (RFC 8538 §3): its data is
// n's code, subcode and data. A speaker that negotiated the N bit sends
// it where the neighbour is to drop the session's routes rather than keep
// them as stale.
func HardReset(n Notification) Notification {
	data := make([]byte, 0, 2+len(n.Data))
	data = append(data, n.Code, n.Subcode)
	data = append(data, n.Data...)
	return Notification{Code: CodeCease, Subcode: SubHardReset, Data: data}
}

// IsHardReset reports whether n is a Cease / Hard Reset.
func (n Notification) IsHardReset() bool { return n.Code == CodeCease && n.Subcode == SubHardReset }

// Inner returns the NOTIFICATION a Hard Reset carries; ok is false when n
// is no Hard Reset or its data is shorter than a code and a subcode.
func (n Notification) Inner() (inner Notification, ok bool) {
	if !n.IsHardReset() || len(n.Data) < 2 {
		return Notification{}, false
	}
	inner = Notification{Code: n.Data[0], Subcode: n.Data[1]}
	if len(n.Data) > 2 {
		inner.Data = n.Data[2:]
	}
	return inner, true
}

func (n Notification) String() string {
	if in, ok := n.Inner(); ok {
		return fmt.Sprintf("notification %d/%d (hard reset) of %s", n.Code, n.Subcode, in)
	}
	s := fmt.Sprintf("notification %d/%d (%s)", n.Code, n.Subcode, n.reason())
	if m, ok := n.ShutdownMessage(); ok {
		return s + fmt.Sprintf(": %q", m)
	}
	if len(n.Data) > 0 {
		s += fmt.Sprintf(" data %x", n.Data)
	}
	return s
}

func (n Notification) reason() string {
	switch n.Code {
	case CodeHeader:
		return "message header error"
	case CodeOpen:
		return "OPEN message error"
	case CodeUpdate:
		return "UPDATE message error"
	case CodeHoldTimer:
		return "hold timer expired"
	case CodeFSM:
		return "finite state machine error"
	case CodeCease:
		return "cease"
	case CodeRouteRefresh:
		return "ROUTE-REFRESH message error"
	case CodeSendHoldTimer:
		return "send hold timer expired"
	}
	return "unknown"
}
