package captcha_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/internal/hostcall"
	"github.com/keyward/keyward/store"
)

// Every exported function and method of the package, called with the
// values a host can build itself (a zero or nil Digits, configs filled in
// by hand), returns (an error, if it must), and never panics; nor does
// the handler Handler returns, asked for an image or a sound.
func TestHostBuiltValues(t *testing.T) {
	t.Parallel()
	made, err := captcha.New(captcha.Config{Store: store.NewMemory(store.MemoryConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	receivers := []any{made, &captcha.Digits{}, (*captcha.Digits)(nil)}
	funcs := map[string]any{"New": captcha.New}
	calls := hostcall.Sweep(t, receivers, funcs, captchaValues, func(v any) {
		serveCaptcha(v)
		if d, ok := v.(*captcha.Digits); ok && d != nil { // what New made: its methods, and its pictures and sounds
			hostcall.Sweep(t, []any{d}, nil, captchaValues, serveCaptcha)
			id, err := d.New(context.Background())
			if err != nil {
				t.Error(err)
			}
			if msg := hostcall.Call("Handler of "+id, reflect.ValueOf(d.Handler), nil, func(h any) {
				for _, ext := range []string{".png", ".wav"} {
					h.(http.Handler).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/captcha/"+id+ext, nil))
				}
			}); msg != "" {
				t.Error(msg)
			}
		}
	})
	t.Logf("%d calls", calls)
}

// A Digits that New did not make answers errors, and its handler 503.
func TestZeroDigitsAnswersErrors(t *testing.T) {
	t.Parallel()
	for _, d := range []*captcha.Digits{{}, nil} {
		if id, err := d.New(context.Background()); err == nil {
			t.Errorf("%#v.New: %q and no error", d, id)
		}
		if ok, err := d.Check(context.Background(), captcha.Response{ID: strings.Repeat("A", 20), Answer: "123456"}); ok || err == nil {
			t.Errorf("%#v.Check: %v, %v; want an error", d, ok, err)
		}
		w := httptest.NewRecorder()
		d.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/captcha/"+strings.Repeat("A", 20)+".png", nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%#v.Handler: %d; want 503", d, w.Code)
		}
	}
}

// serveCaptcha asks a handler a method returned for an image and a sound.
func serveCaptcha(v any) {
	h, ok := v.(http.Handler)
	if !ok {
		return
	}
	for _, p := range []string{"/captcha/" + strings.Repeat("A", 20) + ".png", "/captcha/" + strings.Repeat("A", 20) + ".wav", "/", ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = p
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// captchaValues returns values of typ that a host can build, the first
// the most ordinary.
func captchaValues(typ reflect.Type) []reflect.Value {
	var vals []any
	switch typ {
	case reflect.TypeFor[captcha.Config]():
		mem := store.NewMemory(store.MemoryConfig{})
		vals = []any{
			captcha.Config{Store: mem}, captcha.Config{}, captcha.Config{Store: &store.Memory{}},
			captcha.Config{Store: mem, Length: -1, TTL: -1, Width: -1, Height: -1, Language: "xx"},
			captcha.Config{Store: mem, Length: 10, Width: 2000, Height: 1000, Language: "\xff"},
		}
	case reflect.TypeFor[captcha.Response]():
		vals = []any{captcha.Response{ID: strings.Repeat("A", 20), Answer: "123456"}, captcha.Response{}, captcha.Response{ID: strings.Repeat("\xff", 20), Answer: strings.Repeat(" ", 300)}}
	default:
		return hostcall.Basic(typ)
	}
	return hostcall.Of(typ, vals...)
}
