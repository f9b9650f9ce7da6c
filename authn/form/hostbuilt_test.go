package form_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/internal/hostcall"
)

// Every exported function and method of the package, called with the
// values a host can build itself (a nil or bare request, nil Params,
// limits filled in by hand), returns (an error, if it must), and never
// panics.
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	params := form.Of(form.Param{Name: "a", Value: "1"}, form.Param{Name: "A", Value: "2"})
	receivers := []any{&params, &form.Params{}, (*form.Params)(nil), &form.Error{}, (*form.Error)(nil), form.ErrBodyTooLarge}
	funcs := map[string]any{"Of": form.Of, "Read": form.Read}
	t.Logf("%d calls", hostcall.Sweep(t, receivers, funcs, formValues, func(any) {}))
}

// Read refuses a nil request, and reads a request built by hand without
// a URL as one without a query.
func TestReadHostBuiltRequests(t *testing.T) {
	t.Parallel()
	if _, _, err := form.Read(nil, nil, form.Limits{}); err == nil {
		t.Error("Read(nil): no error")
	}
	r := &http.Request{Method: "POST", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: io.NopCloser(strings.NewReader("a=1"))}
	p, _, err := form.Read(r, nil, form.Limits{})
	if v, _ := p.Get("a"); err != nil || v != "1" {
		t.Errorf("Read of a request without a URL: a=%q, %v", v, err)
	}
}

// formValues returns values of typ that a host can build, the first the
// most ordinary.
func formValues(typ reflect.Type) []reflect.Value {
	var vals []any
	switch typ {
	case reflect.TypeFor[*http.Request]():
		post := httptest.NewRequest("POST", "/?a=1&b=%ff", strings.NewReader("c=3&c=4"))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		multi := httptest.NewRequest("POST", "/", strings.NewReader("--x\r\n\r\n--x--"))
		multi.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		vals = []any{post, (*http.Request)(nil), &http.Request{}, &http.Request{Method: "POST"}, multi,
			&http.Request{Method: "POST", Header: http.Header{"Content-Type": {"multipart/form-data"}}, Body: http.NoBody}}
	case reflect.TypeFor[form.Limits]():
		vals = []any{form.Limits{}, form.Limits{MaxParams: -1, MaxName: -1, MaxValue: -1, MaxBody: -1}, form.Limits{MaxParams: 1, MaxName: 1, MaxValue: 1, MaxBody: 1}}
	case reflect.TypeFor[form.Param]():
		vals = []any{form.Param{Name: "a", Value: "1"}, form.Param{}, form.Param{Name: strings.Repeat("\xff", 300)}}
	default:
		return hostcall.Basic(typ)
	}
	return hostcall.Of(typ, vals...)
}
