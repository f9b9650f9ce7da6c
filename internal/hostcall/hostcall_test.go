package hostcall

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fragile has a method that panics on a nil argument, and one that does
// not.
type fragile struct{}

func (fragile) Len(r *http.Request) int { return len(r.URL.Path) }
func (fragile) Safe(s string, d time.Duration, ctx context.Context, b []byte, m map[string]int, e error, a [2]int) bool {
	return s == "" && d == 0 && ctx != nil && b == nil && m == nil && e != nil && a == [2]int{}
}

// Methods calls every exported method with each of Basic's values, and
// reports the one whose nil request panicked.
func TestMethodsFindsPanics(t *testing.T) {
	calls, panics := Methods(t, fragile{}, Basic, func(any) {})
	if len(panics) != 1 || !strings.HasPrefix(panics[0], "hostcall.fragile.Len(") {
		t.Fatalf("panics %q", panics)
	}
	// Len: 3 requests; Safe: each position's values in turn, 3 strings,
	// 3 durations, 2 contexts, slices, maps and errors, 1 array.
	if want := 3 + (3 + 3 + 2 + 2 + 2 + 2 + 1); calls != want {
		t.Errorf("%d calls, want %d", calls, want)
	}
}

// Basic has a value for every kind of type but channels, the zero value
// first for the plain ones.
func TestBasic(t *testing.T) {
	for _, v := range []any{"", 0, int8(0), uint64(0), 0.0, false, []byte(nil), map[int]int(nil), (*int)(nil), struct{}{}, [1]int{}, (func())(nil)} {
		typ := reflect.TypeOf(v)
		vals := Basic(typ)
		if len(vals) == 0 {
			t.Errorf("no values of %v", typ)
		}
		for _, val := range vals {
			if val.Type() != typ {
				t.Errorf("%v: a value of %v", typ, val.Type())
			}
		}
	}
	if vals := Basic(reflect.TypeFor[chan int]()); vals != nil {
		t.Errorf("channels: %v", vals)
	}
	if vals := Basic(reflect.TypeFor[*http.Request]()); len(vals) != 3 || !vals[2].IsNil() {
		t.Errorf("requests: %v", vals)
	}
}

// errorRecorder is a testing.TB that keeps what Error is given.
type errorRecorder struct {
	testing.TB
	errs []string
}

func (r *errorRecorder) Helper() {}
func (r *errorRecorder) Error(args ...any) {
	for _, a := range args {
		r.errs = append(r.errs, a.(string))
	}
}

// Sweep fails its test once for each call that panicked, receivers' and
// functions' alike, and counts every call.
func TestSweepFailsOnPanics(t *testing.T) {
	rec := &errorRecorder{TB: t}
	fragileFunc := func(r *http.Request) string { return r.Method }
	calls := Sweep(rec, []any{fragile{}}, map[string]any{"fragileFunc": fragileFunc}, Basic, func(any) {})
	if len(rec.errs) != 2 || !strings.HasPrefix(rec.errs[0], "hostcall.fragile.Len(") || !strings.HasPrefix(rec.errs[1], "fragileFunc(") {
		t.Fatalf("errors %q", rec.errs)
	}
	if want := 3 + (3 + 3 + 2 + 2 + 2 + 2 + 1) + 3; calls != want {
		t.Fatalf("%d calls, want %d", calls, want)
	}
}

// Of gives nil as the type's zero value and converts the rest.
func TestOf(t *testing.T) {
	type name string
	got := Of(reflect.TypeFor[name](), "x", nil)
	if got[0].Type() != reflect.TypeFor[name]() || got[0].String() != "x" || !got[1].IsZero() || got[1].Type() != reflect.TypeFor[name]() {
		t.Fatalf("Of = %v", got)
	}
}
