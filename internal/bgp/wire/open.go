package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Version is the BGP version this codec speaks.
const Version = 4

// ASTrans is the 2-octet placeholder for a 4-octet AS number (RFC 6793).
const ASTrans = 23456

// Optional parameter types.
const (
	ParamCapabilities uint8 = 2 // RFC 5492
	paramExtended     uint8 = 255
)

// Open is an OPEN message (RFC 4271 §4.2).
type Open struct {
	Version  uint8
	MyAS     uint16 // the 2-octet field; ASTrans for a 4-octet AS
	HoldTime uint16 // seconds: 0 or at least 3
	ID       netip.Addr
	Caps     Capabilities
}

// PeerAS returns the sender's AS number: the 4-octet AS capability when
// present, else the My Autonomous System field.
func (o *Open) PeerAS() uint32 {
	if o.Caps.HasAS4 {
		return o.Caps.AS4
	}
	return uint32(o.MyAS)
}

// NewOpen returns an OPEN for AS as (sets MyAS and the 4-octet AS
// capability), hold time and identifier; add capabilities to Caps.
func NewOpen(as uint32, holdTime uint16, id netip.Addr) *Open {
	o := &Open{Version: Version, HoldTime: holdTime, ID: id}
	o.MyAS = ASTrans
	if as <= 0xffff {
		o.MyAS = uint16(as)
	}
	o.Caps.HasAS4 = true
	o.Caps.AS4 = as
	return o
}

// DecodeOpen decodes an OPEN message body (after the header) and checks
// what can be checked without configuration: version 4 (2/1, data the
// highest version we support), a non-zero AS (2/2, RFC 7607), a non-zero
// identifier (2/3), hold time 0 or >= 3 (2/6), only the capabilities
// optional parameter (2/4), in either the RFC 4271 or the RFC 9072 extended
// parameters format. The session checks the peer AS against its
// configuration with CheckPeerAS. All errors are SessionReset.
func DecodeOpen(body []byte) (*Open, error) {
	if len(body) < 10 {
		return nil, newError(CodeHeader, SubBadMessageLength, []byte{0, byte(HeaderLen + len(body))}, SessionReset, "OPEN of %d bytes", len(body))
	}
	o := &Open{
		Version:  body[0],
		MyAS:     binary.BigEndian.Uint16(body[1:]),
		HoldTime: binary.BigEndian.Uint16(body[3:]),
		ID:       netip.AddrFrom4([4]byte(body[5:9])),
	}
	if o.Version != Version {
		return nil, newError(CodeOpen, SubUnsupportedVersion, []byte{0, Version}, SessionReset, "version %d", o.Version)
	}
	if err := o.decodeParams(body[9:]); err != nil {
		return nil, err
	}
	if o.MyAS == 0 || o.Caps.HasAS4 && o.Caps.AS4 == 0 {
		return nil, newError(CodeOpen, SubBadPeerAS, nil, SessionReset, "AS 0 in OPEN")
	}
	if o.ID.As4() == [4]byte{} {
		return nil, newError(CodeOpen, SubBadBGPIdentifier, nil, SessionReset, "BGP identifier 0")
	}
	if o.HoldTime == 1 || o.HoldTime == 2 {
		return nil, newError(CodeOpen, SubUnacceptableHoldTime, nil, SessionReset, "hold time %d", o.HoldTime)
	}
	return o, nil
}

func (o *Open) decodeParams(b []byte) error {
	bad := func(format string, args ...any) error {
		return newError(CodeOpen, 0, nil, SessionReset, format, args...)
	}
	n := int(b[0])
	ext := false
	b = b[1:]
	if n == 255 && len(b) >= 3 && b[0] == paramExtended {
		// RFC 9072: Non-Ext OP Len 255, Non-Ext OP Type 255, 2-octet length.
		ext = true
		n = int(binary.BigEndian.Uint16(b[1:]))
		b = b[3:]
	}
	if n != len(b) {
		return bad("optional parameters length %d, %d bytes follow", n, len(b))
	}
	hl := 2
	if ext {
		hl = 3
	}
	for len(b) > 0 {
		if len(b) < hl {
			return bad("optional parameter header truncated")
		}
		t := b[0]
		l := int(b[1])
		if ext {
			l = int(binary.BigEndian.Uint16(b[1:]))
		}
		if len(b) < hl+l {
			return bad("optional parameter %d overruns", t)
		}
		v := b[hl : hl+l]
		b = b[hl+l:]
		if t != ParamCapabilities {
			return newError(CodeOpen, SubUnsupportedOptParam, nil, SessionReset, "optional parameter %d", t)
		}
		if err := o.Caps.decode(v); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// CheckPeerAS returns the Bad Peer AS error (2/2, RFC 4271 §6.2) when the
// OPEN's AS is not want.
func CheckPeerAS(o *Open, want uint32) error {
	if o.PeerAS() != want {
		var data []byte
		if o.MyAS != ASTrans || !o.Caps.HasAS4 {
			data = binary.BigEndian.AppendUint16(nil, o.MyAS)
		}
		return newError(CodeOpen, SubBadPeerAS, data, SessionReset, "peer AS %d, configured %d", o.PeerAS(), want)
	}
	return nil
}

// AppendMessage appends o as a complete OPEN message. Capabilities go in
// one optional parameter, in the RFC 9072 extended format when they do not
// fit in 255 bytes.
func (o *Open) AppendMessage(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = appendHeader(dst, TypeOpen)
	v := o.Version
	if v == 0 {
		v = Version
	}
	dst = append(dst, v)
	dst = binary.BigEndian.AppendUint16(dst, o.MyAS)
	dst = binary.BigEndian.AppendUint16(dst, o.HoldTime)
	if !o.ID.Is4() {
		return dst[:start], fmt.Errorf("OPEN identifier %v is not an IPv4 address", o.ID)
	}
	id := o.ID.As4()
	dst = append(dst, id[:]...)
	lenAt := len(dst)
	dst = append(dst, 0, ParamCapabilities, 0)
	capsAt := len(dst)
	dst, err := o.Caps.append(dst)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - capsAt
	switch {
	case n == 0:
		dst = dst[:lenAt+1]
	case n <= 253:
		dst[lenAt] = byte(n + 2)
		dst[lenAt+2] = byte(n)
	default:
		// Rebuild as Non-Ext OP Len 255, Non-Ext OP Type 255, Extended
		// Opt. Parm. Length, then one parameter with a 2-octet length.
		caps := append([]byte(nil), dst[capsAt:]...)
		dst = append(dst[:lenAt], 255, paramExtended)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n+3))
		dst = append(dst, ParamCapabilities)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		dst = append(dst, caps...)
	}
	if len(dst)-start > MaxMessageLen {
		return dst[:start], fmt.Errorf("OPEN of %d bytes", len(dst)-start)
	}
	return finishMessage(dst, start), nil
}
