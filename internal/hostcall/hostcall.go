package hostcall

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
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

// Methods calls All over each exported method of recv, naming each call
// after recv's type and the method.
func Methods(t testing.TB, recv any, values func(reflect.Type) []reflect.Value, use func(any)) (int, []string) {
	t.Helper()
	v := reflect.ValueOf(recv)
	calls := 0
	var panics []string
	for i := range v.NumMethod() {
		n, p := All(t, fmt.Sprintf("%T.%s", recv, v.Type().Method(i).Name), v.Method(i), values, use)
		calls, panics = calls+n, append(panics, p...)
	}
	return calls, panics
}

// Sweep calls every exported method of each receiver and each function
// of funcs (by name, in the order of their names) with every argument
// values offers (see All), hands what each call returns to use, and fails
// t for each call that panicked. It returns how many calls it made.
func Sweep(t testing.TB, receivers []any, funcs map[string]any, values func(reflect.Type) []reflect.Value, use func(any)) int {
	t.Helper()
	calls := 0
	var panics []string
	for _, recv := range receivers {
		n, p := Methods(t, recv, values, use)
		calls, panics = calls+n, append(panics, p...)
	}
	for _, name := range slices.Sorted(maps.Keys(funcs)) {
		n, p := All(t, name, reflect.ValueOf(funcs[name]), values, use)
		calls, panics = calls+n, append(panics, p...)
	}
	for _, p := range panics {
		t.Error(p)
	}
	return calls
}

// Basic returns values of typ that any host can build, the first the most
// ordinary: contexts (one cancelled), requests (and nil), a response
// recorder, times, errors (and nil), and for any other string, number,
// bool, slice, array, map, pointer, func, interface or struct, its zero
// value with a few others. A package's tests put their own types' values
// first and leave the rest to Basic. It returns nil for a channel.
func Basic(typ reflect.Type) []reflect.Value {
	var vals []any
	switch typ {
	case reflect.TypeFor[context.Context]():
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		vals = []any{context.Background(), cancelled}
	case reflect.TypeFor[*http.Request]():
		vals = []any{httptest.NewRequest("GET", "/", nil), httptest.NewRequest("POST", "/?a=1", strings.NewReader("b=2")), nil}
	case reflect.TypeFor[http.ResponseWriter]():
		vals = []any{httptest.NewRecorder()}
	case reflect.TypeFor[http.Handler]():
		vals = []any{http.NotFoundHandler(), nil}
	case reflect.TypeFor[time.Time]():
		vals = []any{time.Now(), time.Time{}}
	case reflect.TypeFor[error]():
		vals = []any{errors.New("a host's error"), nil}
	}
	if vals != nil {
		return Of(typ, vals...)
	}
	zero := reflect.Zero(typ)
	switch typ.Kind() {
	case reflect.String:
		return []reflect.Value{zero, reflect.ValueOf("x").Convert(typ), reflect.ValueOf(strings.Repeat("\xff", 300)).Convert(typ)}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []reflect.Value{zero, reflect.ValueOf(1).Convert(typ), reflect.ValueOf(-1).Convert(typ)}
	case reflect.Float32, reflect.Float64:
		return []reflect.Value{zero, reflect.ValueOf(-1.0).Convert(typ), reflect.ValueOf(math.NaN()).Convert(typ)}
	case reflect.Bool:
		return []reflect.Value{zero, reflect.ValueOf(true).Convert(typ)}
	case reflect.Slice:
		return []reflect.Value{zero, reflect.MakeSlice(typ, 1, 1)}
	case reflect.Map:
		return []reflect.Value{zero, reflect.MakeMap(typ)}
	case reflect.Pointer:
		return []reflect.Value{reflect.New(typ.Elem()), zero}
	case reflect.Array, reflect.Struct, reflect.Func, reflect.Interface:
		return []reflect.Value{zero}
	}
	return nil
}

// Of returns vals as arguments of type typ, for a package's own value
// lists: nil as typ's zero value, a value of another type converted.
func Of(typ reflect.Type, vals ...any) []reflect.Value {
	out := make([]reflect.Value, len(vals))
	for i, v := range vals {
		if v == nil {
			out[i] = reflect.Zero(typ)
			continue
		}
		rv := reflect.ValueOf(v)
		if rv.Type() != typ && rv.Type().ConvertibleTo(typ) {
			rv = rv.Convert(typ)
		}
		out[i] = rv
	}
	return out
}
