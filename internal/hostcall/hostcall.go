package hostcall

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// All calls f once per choice of argument: each argument position in turn
// takes each of the values values gives for its type, while the others
// take their first (the most ordinary). It passes everything f returns to
// use (to serve a request through a returned handler, say). It returns how
// many calls it made and a description of each that panicked. A type
// values has nothing for fails t.
func All(t testing.TB, name string, f reflect.Value, values func(reflect.Type) []reflect.Value, use func(any)) (int, []string) {
	t.Helper()
	ft := f.Type()
	choices := make([][]reflect.Value, ft.NumIn())
	for i := range choices {
		in := ft.In(i)
		if ft.IsVariadic() && i == ft.NumIn()-1 {
			in = in.Elem()
		}
		choices[i] = values(in)
		if len(choices[i]) == 0 {
			t.Fatalf("%s: no host-built value of %v", name, in)
		}
	}
	calls := 0
	var panics []string
	for pos := range max(1, len(choices)) {
		n := 1
		if pos < len(choices) {
			n = len(choices[pos])
		}
		for k := range n {
			args := make([]reflect.Value, len(choices))
			for i := range args {
				args[i] = choices[i][0]
				if i == pos {
					args[i] = choices[i][k]
				}
			}
			calls++
			if msg := Call(name, f, args, use); msg != "" {
				panics = append(panics, msg)
			}
		}
	}
	return calls, panics
}

// Call makes one call of f with args and hands what it returns to use; it
// returns what a panic said (naming the call), or "".
func Call(name string, f reflect.Value, args []reflect.Value, use func(any)) (panicked string) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%s%v panicked: %v", name, describe(args), r)
		}
	}()
	var out []reflect.Value
	if f.Type().IsVariadic() {
		last := len(args) - 1
		out = f.CallSlice(append(args[:last:last], reflect.Append(reflect.MakeSlice(f.Type().In(last), 0, 1), args[last])))
	} else {
		out = f.Call(args)
	}
	for _, o := range out {
		use(o.Interface())
	}
	return ""
}

// describe prints the arguments of a call, shortened.
func describe(args []reflect.Value) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, fmt.Sprintf("%#v", a.Interface()))
	}
	s := "(" + strings.Join(parts, ", ") + ")"
	if len(s) > 300 {
		s = s[:300] + "...)"
	}
	return s
}
