package secretscan

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that keeps what would fail.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, a ...any) { r.errors = append(r.errors, format) }
func (r *recorder) Fatal(a ...any)                 { r.fatal = true; panic(r) }

// scan runs ConstantTime over one file of src.
func scan(t *testing.T, src string) *recorder {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"+src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil && v != r {
				panic(v)
			}
		}()
		ConstantTime(r, dir)
	}()
	return r
}

func TestConstantTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		bad       bool
	}{
		{"== on a key", "func f(key, b string) bool { return key == b }", true},
		{"!= on a hash field", "type k struct{ Hash [32]byte }\nfunc f(x, y k) bool { return x.Hash != y.Hash }", true},
		{"bytes.Equal on a mac", "import \"bytes\"\nfunc f(mac, b []byte, n int) bool { return n == 1 && bytes.Equal(mac, b) }", true},
		{"strings.EqualFold on a token", "import \"strings\"\nfunc f(token, b string, n int) bool { return n == 1 && strings.EqualFold(token, b) }", true},
		{"a literal", "func f(key string, n int) bool { return key == \"\" || n == 1 }", false},
		{"subtle", "import \"crypto/subtle\"\nfunc f(key, b []byte) bool { return subtle.ConstantTimeCompare(key, b) == 1 }", false},
		{"not a secret", "func f(name, b string) bool { return name == b }", false},
	}
	for _, tc := range tests {
		r := scan(t, tc.src)
		if r.fatal || (len(r.errors) > 0) != tc.bad {
			t.Errorf("%s: errors %v, fatal %v; want bad %v", tc.name, r.errors, r.fatal, tc.bad)
		}
	}
	if r := scan(t, "func f() {}"); !r.fatal {
		t.Error("a file without comparisons passed: the scan would be looking at nothing")
	}
}
