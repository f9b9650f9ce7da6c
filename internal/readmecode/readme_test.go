package readmecode_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/readme"
)

// Every Go block of the README is a region of this package's files, which
// the compiler checks (and TestListCreate runs): the block must be the
// region's text, dedented. A Go block without a "go NAME" mark must say
// why with "skip (reason)"; a region no block shows is an error too.
func TestREADMEGoBlocks(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Blocks(string(text))
	if err != nil {
		t.Fatal(err)
	}
	regions := goRegions(t)
	shown := map[string]bool{}
	for _, b := range blocks {
		if b.Lang != "go" {
			continue
		}
		name, ok := strings.CutPrefix(b.Mark, "go ")
		switch {
		case strings.HasPrefix(b.Mark, "skip ("):
			continue
		case !ok:
			t.Errorf("README line %d: a Go block with no region (mark it <!-- readme-test: go NAME --> and add the region here, or skip it with a reason)", b.Line)
			continue
		}
		want, found := regions[name]
		switch {
		case !found:
			t.Errorf("README line %d: no region %q in internal/readmecode", b.Line, name)
		case b.Body != want:
			t.Errorf("README line %d: the block differs from region %q, which the compiler checks.\nREADME:\n%s\nregion:\n%s", b.Line, name, b.Body, want)
		}
		shown[name] = true
	}
	for name := range regions {
		if !shown[name] {
			t.Errorf("region %q is shown by no README block", name)
		}
	}
	if len(shown) < 5 {
		t.Errorf("only %d Go blocks checked", len(shown))
	}
}

// goRegions returns the regions of this directory's Go files: the lines
// between "// README: NAME" and "// README: end", dedented by their
// common indentation.
func goRegions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var lines []string
		for i, line := range strings.Split(string(src), "\n") {
			marker, isMarker := strings.CutPrefix(strings.TrimSpace(line), "// README: ")
			switch {
			case isMarker && marker == "end":
				if name == "" {
					t.Fatalf("%s:%d: an end with no region", f, i+1)
				}
				regions[name] = dedent(lines)
				name, lines = "", nil
			case isMarker:
				if _, dup := regions[marker]; dup || name != "" {
					t.Fatalf("%s:%d: region %q twice, or inside another", f, i+1, marker)
				}
				name = marker
			case name != "":
				lines = append(lines, line)
			}
		}
		if name != "" {
			t.Fatalf("%s: region %q never ends", f, name)
		}
	}
	return regions
}

// dedent removes the indentation all non-blank lines share, and blank
// lines at the ends, and joins the lines as a README block's body is.
func dedent(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
