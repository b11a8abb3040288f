package wire

import (
	"errors"
	"fmt"
)

// NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5).
const (
	CodeHeader        uint8 = 1 // Message Header Error
	CodeOpen          uint8 = 2 // OPEN Message Error
	CodeUpdate        uint8 = 3 // UPDATE Message Error
	CodeHoldTimer     uint8 = 4 // Hold Timer Expired
	CodeFSM           uint8 = 5 // Finite State Machine Error
	CodeCease         uint8 = 6 // Cease
	CodeRouteRefresh  uint8 = 7 // ROUTE-REFRESH Message Error
	CodeSendHoldTimer uint8 = 8 // Send Hold Timer Expired (RFC 9687)
)

// Finite State Machine Error subcodes (RFC 6608).
const (
	SubFSMUnexpectedInOpenSent    uint8 = 1
	SubFSMUnexpectedInOpenConfirm uint8 = 2
	SubFSMUnexpectedInEstablished uint8 = 3
)

// Message Header Error subcodes.
const (
	SubConnNotSynchronized uint8 = 1
	SubBadMessageLength    uint8 = 2
	SubBadMessageType      uint8 = 3
)

// OPEN Message Error subcodes.
const (
	SubUnsupportedVersion    uint8 = 1
	SubBadPeerAS             uint8 = 2
	SubBadBGPIdentifier      uint8 = 3
	SubUnsupportedOptParam   uint8 = 4
	SubUnacceptableHoldTime  uint8 = 6
	SubUnsupportedCapability uint8 = 7
)

// UPDATE Message Error subcodes.
const (
	SubMalformedAttrList     uint8 = 1
	SubUnrecognizedWellKnown uint8 = 2
	SubMissingWellKnown      uint8 = 3
	SubAttrFlags             uint8 = 4
	SubAttrLength            uint8 = 5
	SubInvalidOrigin         uint8 = 6
	SubInvalidNextHop        uint8 = 8
	SubOptionalAttr          uint8 = 9
	SubInvalidNetworkField   uint8 = 10
	SubMalformedASPath       uint8 = 11
)

// Cease subcodes (RFC 4486, RFC 9003).
const (
	SubMaxPrefixes         uint8 = 1
	SubAdminShutdown       uint8 = 2
	SubPeerDeconfigured    uint8 = 3
	SubAdminReset          uint8 = 4
	SubConnectionRejected  uint8 = 5
	SubOtherConfigChange   uint8 = 6
	SubCollisionResolution uint8 = 7
	SubOutOfResources      uint8 = 8
	SubHardReset           uint8 = 9
	SubBFDDown             uint8 = 10
)

// ROUTE-REFRESH Message Error subcodes (RFC 7313).
const (
	SubInvalidRouteRefreshLength uint8 = 1
)

// Action is what RFC 7606 tells the receiver to do about a malformed
// message. Actions are ordered: a larger value is less severe.
type Action uint8

const (
	// SessionReset: send the NOTIFICATION carried by the error and close
	// the session (RFC 4271 §6, RFC 7606 §2).
	SessionReset Action = iota
	// AFISAFIDisable: stop accepting routes of Error.Family for the rest of
	// the session and drop those learned so far (RFC 4760 §7, RFC 7606
	// §2); a speaker that does not implement it resets the session.
	AFISAFIDisable
	// TreatAsWithdraw: the UPDATE's prefixes are withdrawn (the decoder has
	// moved them to Update.Withdrawn) and the session stays up.
	TreatAsWithdraw
	// AttributeDiscard: one attribute was dropped, the UPDATE is otherwise
	// good; reported in Update.Warnings, never returned as the error.
	AttributeDiscard
)

func (a Action) String() string {
	switch a {
	case SessionReset:
		return "session-reset"
	case AFISAFIDisable:
		return "afi-safi-disable"
	case TreatAsWithdraw:
		return "treat-as-withdraw"
	case AttributeDiscard:
		return "attribute-discard"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Error is a protocol error found while decoding a message. Code, Subcode
// and Data are the NOTIFICATION to send when Action is SessionReset (or
// AFISAFIDisable and the session does not implement it); for the milder
// actions they say what the NOTIFICATION would have been, for logs.
type Error struct {
	Code    uint8
	Subcode uint8
	Data    []byte // owned by the Error, never aliases the input
	Action  Action
	// Family is the address family concerned by AFISAFIDisable.
	Family Family
	// AttrType is the path attribute concerned, or 0.
	AttrType AttrType
	// Err describes the problem.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("bgp %s (notification %d/%d)", e.Action, e.Code, e.Subcode)
	if e.AttrType != 0 {
		s += fmt.Sprintf(" attribute %s", e.AttrType)
	}
	if e.Action == AFISAFIDisable {
		s += " family " + e.Family.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Notification returns the NOTIFICATION message that reports e.
func (e *Error) Notification() Notification {
	return Notification{Code: e.Code, Subcode: e.Subcode, Data: e.Data}
}

// AsError returns err as an *Error if it is one (or wraps one).
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// newError builds an Error, copying data so that it never aliases a reused
// receive buffer.
func newError(code, sub uint8, data []byte, action Action, format string, args ...any) *Error {
	var d []byte
	if len(data) > 0 {
		d = append([]byte(nil), data...)
	}
	return &Error{Code: code, Subcode: sub, Data: d, Action: action, Err: fmt.Errorf(format, args...)}
}
