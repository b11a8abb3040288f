// Package fulltable reads the full Internet table that routerd's tests and
// benchmarks use: ../shared/data/fulltable-prefixes.txt.gz beside the
// repository (1,062,046 prefixes, one per line, gzipped; the gaissmai/bart
// module's test data).
package fulltable

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rel is the file's place relative to the directory that holds the
// repository.
const rel = "shared/data/fulltable-prefixes.txt.gz"

// Path finds the file by walking up from the working directory (a test runs
// in its package's directory, a benchmark program in the repository's), so
// no caller needs to know how deep it is.
func Path() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("full table not found: no %s beside any directory above the working directory", rel)
		}
		dir = parent
	}
}

// Load reads a gzipped prefix list, masking each prefix and dropping
// duplicates; limit > 0 keeps only the first limit prefixes. A line that is
// not a prefix is an error naming the line.
func Load(path string, limit int) ([]netip.Prefix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := make(map[netip.Prefix]struct{}, 1<<20)
	out := make([]netip.Prefix, 0, 1<<20)
	sc := bufio.NewScanner(z)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		p = p.Masked()
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": no prefixes")
	}
	return out, nil
}

// ForTest loads the whole table for a test or benchmark, skipping it with
// the reason when the file is not there.
func ForTest(tb testing.TB) []netip.Prefix {
	tb.Helper()
	p, err := Path()
	if err != nil {
		tb.Skip(err)
	}
	ps, err := Load(p, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}
