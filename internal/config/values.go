package config

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Routing table numbers with fixed meaning in Linux.
const (
	TableDefault uint32 = 253
	TableMain    uint32 = 254
	TableLocal   uint32 = 255
)

// prefix parses a route destination. The prefix must be in canonical form:
// no host bits set, no IPv4-mapped IPv6.
func (d *decoder) prefix(n *yaml.Node, path string) (netip.Prefix, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return netip.Prefix{}, false
	}
	if !strings.Contains(s, "/") {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			d.errorf(n, path, "%s is an address, not a prefix; did you mean %s/%d?", s, s, a.BitLen())
			return netip.Prefix{}, false
		}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		d.errorf(n, path, "%q is not a valid prefix (%s)", s, reason(err))
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		d.errorf(n, path, "%s is an IPv4-mapped IPv6 prefix; write the IPv4 prefix instead", s)
		return netip.Prefix{}, false
	}
	if m := p.Masked(); m != p {
		d.errorf(n, path, "%s has host bits set; did you mean %s?", s, m)
		return netip.Prefix{}, false
	}
	return p, true
}

// addr parses a single IP address without zone.
func (d *decoder) addr(n *yaml.Node, path string) (netip.Addr, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		d.errorf(n, path, "%q is not a valid IP address (%s)", s, reason(err))
		return netip.Addr{}, false
	}
	if a.Zone() != "" {
		d.errorf(n, path, "%s has a zone; give the interface with dev instead", s)
		return netip.Addr{}, false
	}
	if a.Is4In6() {
		d.errorf(n, path, "%s is an IPv4-mapped IPv6 address; write the IPv4 address instead", s)
		return netip.Addr{}, false
	}
	return a, true
}

// reason trims the input echo from a net/netip parse error.
func reason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "): "); i >= 0 {
		return s[i+3:]
	}
	return s
}

// ifname checks a Linux interface name the way the kernel does: 1 to 15
// bytes, not "." or "..", no '/', ':' or white space.
func (d *decoder) ifname(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\r\v\f") {
		d.errorf(n, path, "%q is not a valid interface name (1 to 15 characters, no '/', ':' or spaces)", s)
		return "", false
	}
	return s, true
}

// absPath checks an absolute, clean file system path.
func (d *decoder) absPath(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if !filepath.IsAbs(s) {
		d.errorf(n, path, "%q is not an absolute path", s)
		return "", false
	}
	if c := filepath.Clean(s); c != s {
		d.errorf(n, path, "%q is not a clean path; did you mean %q?", s, c)
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		d.errorf(n, path, "path contains a NUL byte")
		return "", false
	}
	return s, true
}

// accountName checks a user or group given by name or by numeric id. It
// does not look the name up: a configuration may be checked on another
// host than the one that runs it.
func (d *decoder) accountName(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if isDecimal(s) {
		if v, err := strconv.ParseUint(s, 10, 32); err != nil || v == 1<<32-1 {
			d.errorf(n, path, "id %s is out of range 0..%d", s, uint32(1<<32-2))
			return "", false
		}
		return s, true
	}
	valid := len(s) <= 32 && s[0] != '-'
	for i := 0; i < len(s) && valid; i++ {
		c := s[i]
		valid = c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '$' && i == len(s)-1
	}
	if !valid {
		d.errorf(n, path, "%q is not a valid user or group name", s)
		return "", false
	}
	return s, true
}
