package totp_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

// Every exported function and method of the package, called with the
// values a host can build itself (a zero or nil TOTP, configs filled in by
// hand), returns (an error, if it must), and never panics; so do the
// methods of what New returns.
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	made, err := totp.New(totp.Config{Store: store.NewMemory(store.MemoryConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	receivers := []any{made, &totp.TOTP{}, (*totp.TOTP)(nil)}
	funcs := map[string]any{"New": totp.New, "ParseRecoveryCode": totp.ParseRecoveryCode}
	calls := hostcall.Sweep(t, receivers, funcs, totpValues, func(v any) {
		if tp, ok := v.(*totp.TOTP); ok { // what New made: its methods too
			hostcall.Sweep(t, []any{tp}, nil, totpValues, func(any) {})
		}
	})
	t.Logf("%d calls", calls)
}

// A TOTP that New did not make answers an error, as the enabled state of
// an account it cannot read.
func TestZeroTOTPAnswersError(t *testing.T) {
	t.Parallel()
	ref := store.AccountRef{Scope: scopes.User, ID: 1}
	for _, tp := range []*totp.TOTP{{}, nil} {
		if on, err := tp.Enabled(context.Background(), ref); err == nil || on {
			t.Errorf("%#v.Enabled: %v, %v; want an error", tp, on, err)
		}
		if _, err := tp.Setup(context.Background(), store.Account{Scope: scopes.User, ID: 1}); err == nil {
			t.Errorf("%#v.Setup: no error", tp)
		}
		if err := tp.Verify(context.Background(), ref, "123456"); err == nil || errors.Is(err, totp.ErrInvalidCode) {
			t.Errorf("%#v.Verify: %v; want an error that is not the client's", tp, err)
		}
	}
}

// totpValues returns values of typ that a host can build, the first the
// most ordinary.
func totpValues(typ reflect.Type) []reflect.Value {
	var vals []any
	switch typ {
	case reflect.TypeFor[totp.Config]():
		mem := store.NewMemory(store.MemoryConfig{})
		vals = []any{
			totp.Config{Store: mem}, totp.Config{}, totp.Config{Store: &store.Memory{}},
			totp.Config{Store: mem, Issuer: "a:b"}, totp.Config{Store: mem, Keys: [][]byte{nil, make([]byte, 16)}},
		}
	case reflect.TypeFor[store.Account]():
		vals = []any{store.Account{Scope: scopes.User, ID: 1, Username: "someone"}, store.Account{}}
	case reflect.TypeFor[store.AccountRef]():
		vals = []any{store.AccountRef{Scope: scopes.User, ID: 1}, store.AccountRef{}}
	default:
		return hostcall.Basic(typ)
	}
	return hostcall.Of(typ, vals...)
}
