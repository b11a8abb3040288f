package wire

import (
	"encoding/hex"
	"strings"
	"testing"
)

// hexb decodes hex written with spaces and comments-free line breaks.
func hexb(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// attr builds one encoded path attribute.
func attr(flags uint8, t AttrType, v []byte) []byte {
	return append(appendAttrHeader(nil, flags, t, len(v)), v...)
}

// updateBody builds an UPDATE body from its three parts.
func updateBody(withdrawn, attrs, nlri []byte) []byte {
	b := []byte{byte(len(withdrawn) >> 8), byte(len(withdrawn))}
	b = append(b, withdrawn...)
	b = append(b, byte(len(attrs)>>8), byte(len(attrs)))
	b = append(b, attrs...)
	return append(b, nlri...)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// Common attributes for hand-built UPDATEs.
var (
	aOriginIGP = attr(FlagTransitive, AttrOrigin, []byte{0})
	aPath4     = attr(FlagTransitive, AttrASPath, hexb("02 02 0000fde9 0000fdea")) // 65001 65002
	aPath2     = attr(FlagTransitive, AttrASPath, hexb("02 02 fde9 fdea"))
	aNextHop   = attr(FlagTransitive, AttrNextHop, hexb("c0000201")) // 192.0.2.1
	nlri10     = hexb("08 0a  10 ac10")                              // 10/8, 172.16/16
)

// splitMessages splits a stream of messages.
func splitMessages(t testing.TB, b []byte, max int) (out [][]byte) {
	t.Helper()
	for len(b) > 0 {
		h, err := ParseHeader(b, max)
		if err != nil {
			t.Fatalf("header: %v", err)
		}
		out = append(out, b[:h.Length])
		b = b[h.Length:]
	}
	return out
}
