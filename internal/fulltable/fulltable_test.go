package fulltable

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	z := gzip.NewWriter(f)
	z.Write([]byte(text))
	z.Close()
	f.Close()
	return p
}

func TestLoad(t *testing.T) {
	ps, err := Load(write(t, "10.0.0.1/8\n10.0.0.0/8\n\n2001:db8::/32\n192.0.2.0/24\n"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].String() != "10.0.0.0/8" || ps[1].String() != "2001:db8::/32" {
		t.Fatalf("got %v: want masked, deduplicated, limited", ps)
	}
	if _, err := Load(write(t, "10.0.0.0/8\nbogus\n"), 0); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("bad line: err = %v, want it named by line", err)
	}
}

func TestPath(t *testing.T) {
	if p, err := Path(); err == nil {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Skip(err)
	}
}
