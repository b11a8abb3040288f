package wire

import "encoding/binary"

// RefreshSubtype is the Message Subtype of a ROUTE-REFRESH (RFC 7313 §3.2).
type RefreshSubtype uint8

// ROUTE-REFRESH subtypes.
const (
	RefreshNormal RefreshSubtype = 0 // RFC 2918 request
	RefreshBoRR   RefreshSubtype = 1 // beginning of route refresh
	RefreshEoRR   RefreshSubtype = 2 // end of route refresh
)

// RouteRefresh is a ROUTE-REFRESH message (RFC 2918, RFC 7313).
type RouteRefresh struct {
	Family  Family
	Subtype RefreshSubtype
}

// Known reports whether the subtype is one of RFC 7313's; a receiver
// ignores a ROUTE-REFRESH with any other (RFC 7313 §5).
func (r RouteRefresh) Known() bool { return r.Subtype <= RefreshEoRR }

// DecodeRouteRefresh decodes a ROUTE-REFRESH body. A body that is not 4
// bytes is a ROUTE-REFRESH Message Error 7/1 whose data is the whole
// message, as RFC 7313 §5 asks: pass the message with its header as msg
// (or nil to leave the data empty).
func DecodeRouteRefresh(body, msg []byte) (RouteRefresh, error) {
	if len(body) != 4 {
		return RouteRefresh{}, newError(CodeRouteRefresh, SubInvalidRouteRefreshLength, msg, SessionReset, "ROUTE-REFRESH of %d bytes", len(body))
	}
	return RouteRefresh{
		Family:  Family{binary.BigEndian.Uint16(body), body[3]},
		Subtype: RefreshSubtype(body[2]),
	}, nil
}

// AppendMessage appends r as a complete ROUTE-REFRESH message.
func (r RouteRefresh) AppendMessage(dst []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, TypeRouteRefresh)
	dst = binary.BigEndian.AppendUint16(dst, r.Family.AFI)
	dst = append(dst, byte(r.Subtype), r.Family.SAFI)
	return finishMessage(dst, start)
}
