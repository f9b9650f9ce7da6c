package redisstore_test

import (
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/testservers"
)

// TestExamples runs the package's examples, which need Redis and so have
// no Output comment, against the Redis the other tests use: it skips,
// saying what to set, when there is none, and fails when
// KEYWARD_TEST_REDIS is set and its server does not answer. Each example
// must print what its doc comment says it prints (the indented lines
// after "it prints:"), so what a reader sees is checked.
func TestExamples(t *testing.T) {
	// Not parallel: it sets the variable the examples read, and takes
	// standard output while an example runs.
	t.Setenv(testservers.RedisEnv, redisURL(t))
	run := map[string]func(){
		"Open":                     ExampleOpen,
		"_combine":                 Example_combine,
		"Store_WatchInvalidations": ExampleStore_WatchInvalidations,
	}
	f, err := parser.ParseFile(token.NewFileSet(), "example_test.go", nil, parser.ParseComments)
	must(t, err)
	examples := doc.Examples(f)
	if len(examples) != len(run) {
		t.Errorf("example_test.go has %d examples, TestExamples runs %d", len(examples), len(run))
	}
	for _, ex := range examples {
		t.Run(ex.Name, func(t *testing.T) {
			example, ok := run[ex.Name]
			if !ok {
				t.Fatalf("Example%s is not in TestExamples: add it", ex.Name)
			}
			want, ok := documentedOutput(ex.Doc)
			if !ok {
				t.Fatalf("the doc comment of Example%s does not say what it prints", ex.Name)
			}
			if got := printed(t, example); strings.TrimSpace(got) != want {
				t.Errorf("Example%s printed:\n%s\nits doc comment says:\n%s", ex.Name, got, want)
			}
		})
	}
}

// documentedOutput returns the indented lines that follow "it prints:" in
// an example's doc comment, unindented.
func documentedOutput(comment string) (string, bool) {
	_, after, ok := strings.Cut(comment, "it prints:\n")
	if !ok {
		return "", false
	}
	var lines []string
	for line := range strings.Lines(after) {
		text, indented := strings.CutPrefix(strings.TrimRight(line, "\n"), "\t")
		if !indented {
			if len(lines) > 0 {
				break
			}
			continue // the empty line before the block
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, "\n"), len(lines) > 0
}

// printed runs f and returns what it wrote to standard output, as go test
// does for an example with an Output comment.
func printed(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	must(t, err)
	defer r.Close()
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	stdout := os.Stdout
	func() {
		os.Stdout = w
		defer func() {
			os.Stdout = stdout
			_ = w.Close()
		}()
		f()
	}()
	return <-out
}
