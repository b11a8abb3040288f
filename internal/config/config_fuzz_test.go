package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns either a Config
// or an *Errors whose every entry names the file, and that a Config that
// parses survives Marshal and Parse unchanged, and diffs empty with itself.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullExample))
	f.Add([]byte(""))
	f.Add([]byte("static:\n  - {prefix: 10.0.0.0/8, via: [10.0.0.1]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("Config returned with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) == 0 {
				t.Fatalf("error is not a non-empty *Errors: %v", err)
			}
			for _, e := range errs.List {
				if !strings.HasPrefix(e.Error(), "f.yaml") || e.Msg == "" {
					t.Fatalf("error without file or message: %q", e.Error())
				}
			}
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		c2, err := Parse("marshalled.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of Marshal output failed: %v\n%s", err, out)
		}
		if !c.Equal(c2) {
			t.Fatalf("round trip differs:\n%+v\n%+v\n%s", c, c2, out)
		}
		if ch := Diff(c, c2); !ch.Empty() {
			t.Fatalf("Diff of equal configs: %s", ch)
		}
	})
}

// TestFuzzSeeds keeps the seed corpus meaningful: seeds named valid_* must
// parse and seeds named invalid_* must not.
func TestFuzzSeeds(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(raw), "\n")
		rest = strings.TrimSpace(rest)
		quoted, ok := strings.CutPrefix(rest, "[]byte(")
		if !ok {
			t.Fatalf("%s: unexpected corpus format", e.Name())
		}
		text, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		_, err = Parse(e.Name(), []byte(text))
		switch {
		case strings.HasPrefix(e.Name(), "valid_") && err != nil:
			t.Errorf("%s: %v", e.Name(), err)
		case strings.HasPrefix(e.Name(), "invalid_") && err == nil:
			t.Errorf("%s parsed without error", e.Name())
		}
	}
}
