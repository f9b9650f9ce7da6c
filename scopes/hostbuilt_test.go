package scopes_test

import (
	"reflect"
	"testing"

	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/scopes"
)

// Every exported function and method of the package, called with the
// values a host can build itself (the zero Scope, one out of range, a nil
// *Scope, any text), returns (an error, if it must), and never panics. (A
// nil *Scope has only UnmarshalText of its own: Go itself panics when one
// is used for a method of Scope.)
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	zero, big := scopes.Scope(0), scopes.Scope(255)
	receivers := []any{scopes.User, scopes.Admin, zero, big, &zero, &big}
	funcs := map[string]any{"Parse": scopes.Parse, "(*Scope)(nil).UnmarshalText": (*scopes.Scope)(nil).UnmarshalText}
	t.Logf("%d calls", hostcall.Sweep(t, receivers, funcs, scopeValues, func(any) {}))
}

// scopeValues returns values of typ that a host can build, the first the
// most ordinary: for text, the names of scopes among them.
func scopeValues(typ reflect.Type) []reflect.Value {
	vals := hostcall.Basic(typ)
	switch typ {
	case reflect.TypeFor[string]():
		vals = append(vals, reflect.ValueOf("user"), reflect.ValueOf("ADMIN"), reflect.ValueOf("admın"))
	case reflect.TypeFor[[]byte]():
		vals = append(vals, reflect.ValueOf([]byte("user")), reflect.ValueOf([]byte("Admin")))
	}
	return vals
}
