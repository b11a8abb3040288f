package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeBudget bounds the number of YAML nodes a decode visits. Aliases let a
// small document refer to the same subtree many times over; the budget
// keeps such a document from costing exponential time.
const nodeBudget = 1 << 20

// maxErrors is the most problems one Parse reports; past it the file is
// more likely not a routerd configuration at all.
const maxErrors = 1000

// decoder walks a yaml.Node tree and collects every problem it finds. Its
// helpers report a problem and return ok=false; callers skip the value and
// carry on, so that one pass finds all problems.
type decoder struct {
	file      string
	errs      []Error
	budget    int
	exhausted bool
	truncated bool // errors were dropped past maxErrors
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		d.exhausted, d.truncated = true, true
		return
	}
	e := Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// resolve follows aliases to the node they name and charges the budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 && !d.exhausted {
		d.exhausted = true
		d.errorf(n, "", "document too large: more than %d nodes (counting alias expansion)", nodeBudget)
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of a node for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "no value"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "an unexpected node"
}

// pair is one key and value of a mapping, aliases resolved.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// mapNode is a decoded mapping: its pairs in document order, with each key
// present at most once.
type mapNode struct {
	pairs []pair
	at    *yaml.Node
}

func (m mapNode) get(key string) *yaml.Node {
	for _, p := range m.pairs {
		if p.key == key {
			return p.v
		}
	}
	return nil
}

// mapping checks that n is a mapping (or null, taken as empty) and returns
// its pairs. It reports non-scalar keys, duplicate keys and, when known is
// not nil, keys outside known, and leaves those out of the result.
func (d *decoder) mapping(n *yaml.Node, path string, known []string) (mapNode, bool) {
	m := mapNode{at: n}
	if isNull(n) {
		return m, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return m, false
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if d.exhausted {
			return m, false
		}
		kn := d.resolve(n.Content[i])
		v := d.resolve(n.Content[i+1])
		if kn == nil || v == nil {
			d.errorf(n.Content[i], path, "alias chain too long")
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			d.errorf(kn, path, "a key must be a plain string, got %s", describe(kn))
			continue
		}
		key := kn.Value
		if kn.ShortTag() == "!!merge" {
			d.errorf(kn, path, "merge keys (<<) are not supported; repeat the keys instead")
			continue
		}
		if prev, dup := first[key]; dup {
			d.errorf(kn, path, "duplicate key %q (first at line %d)", key, prev.Line)
			continue
		}
		first[key] = kn
		if known != nil && !contains(known, key) {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(kn, path, "%s", msg)
			continue
		}
		m.pairs = append(m.pairs, pair{key: key, kn: kn, v: v})
	}
	return m, true
}

// require reports each key of keys that m lacks.
func (d *decoder) require(m mapNode, path string, keys ...string) bool {
	ok := true
	for _, k := range keys {
		if m.get(k) == nil {
			d.errorf(m.at, path, "missing required key %q", k)
			ok = false
		}
	}
	return ok
}

// sequence checks that n is a list (or null, taken as empty) and returns
// its items with aliases resolved.
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if d.exhausted {
			return nil, false
		}
		r := d.resolve(c)
		if r == nil {
			d.errorf(c, path, "alias chain too long")
			return nil, false
		}
		items = append(items, r)
	}
	return items, true
}

// scalar returns the text of a scalar node; null is reported as a missing
// value.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a single value, got %s", describe(n))
		return "", false
	}
	if isNull(n) {
		d.errorf(n, path, "missing value")
		return "", false
	}
	return n.Value, true
}

// str returns a non-empty string value.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return "", false
	}
	if s == "" {
		d.errorf(n, path, "empty value")
		return "", false
	}
	return s, true
}

// boolean accepts only true and false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return false, false
	}
	if n.ShortTag() != "!!bool" {
		d.errorf(n, path, "expected true or false, got %s", describe(n))
		return false, false
	}
	return strings.EqualFold(s, "true"), true
}

// isDecimal reports whether s is a decimal integer without sign.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// uint accepts a plain decimal integer in [lo, hi]. Leading zeros are
// refused because YAML 1.1 readers take them as octal.
func (d *decoder) uint(n *yaml.Node, path string, lo, hi uint64) (uint64, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return 0, false
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 || !isDecimal(strings.TrimPrefix(s, "-")) {
		d.errorf(n, path, "expected an integer, got %s", describe(n))
		return 0, false
	}
	if strings.HasPrefix(s, "-") {
		d.errorf(n, path, "%s is out of range %d..%d", s, lo, hi)
		return 0, false
	}
	if len(s) > 1 && s[0] == '0' {
		d.errorf(n, path, "%s has a leading zero; write the decimal number without it", s)
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < lo || v > hi {
		d.errorf(n, path, "%s is out of range %d..%d", s, lo, hi)
		return 0, false
	}
	return v, true
}

// enum accepts one of the given words.
func (d *decoder) enum(n *yaml.Node, path string, words ...string) (string, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return "", false
	}
	if !contains(words, s) || n.ShortTag() != "!!str" {
		d.errorf(n, path, "%s is not one of %s", describe(n), strings.Join(words, ", "))
		return "", false
	}
	return s, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the word of known closest to key, if it is close enough
// to be a likely typo.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
