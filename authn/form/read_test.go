package form

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// Read takes the query string, then a form body; leaves any other body
// alone; and keeps what it read of a body over the limit.
func TestRead(t *testing.T) {
	t.Parallel()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("b", "2")
	_ = mw.Close()
	tests := []struct {
		name, method, url, contentType, body string
		want                                 []Param
		wantBody                             bool
		err                                  error
	}{
		{"query only", "GET", "/?a=1", "", "", []Param{{"a", "1"}}, false, nil},
		{"query then form body", "POST", "/?a=1", "application/x-www-form-urlencoded", "b=2", []Param{{"a", "1"}, {"b", "2"}}, true, nil},
		{"multipart", "POST", "/?a=1", mw.FormDataContentType(), mp.String(), []Param{{"a", "1"}, {"b", "2"}}, true, nil},
		{"a JSON body is the host's", "POST", "/?a=1", "application/json", `{"b":2}`, []Param{{"a", "1"}}, false, nil},
		{"a GET body is not read", "GET", "/?a=1", "application/x-www-form-urlencoded", "b=2", []Param{{"a", "1"}}, false, nil},
		{"over the limit", "POST", "/?a=1", "application/x-www-form-urlencoded", "b=" + strings.Repeat("x", 300), []Param{{"a", "1"}}, true, ErrBodyTooLarge},
		{"a broken body", "POST", "/", "application/x-www-form-urlencoded", "b=%zz", nil, true, &Error{}},
		{"a broken type", "POST", "/", "multipart/form-data", "x", nil, false, &Error{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			p, body, err := Read(r, nil, Limits{MaxBody: 256})
			var fe *Error
			switch {
			case tc.err == ErrBodyTooLarge && !errors.Is(err, ErrBodyTooLarge):
				t.Fatalf("err %v, want ErrBodyTooLarge", err)
			case tc.err != nil && !errors.As(err, &fe):
				t.Fatalf("err %v, want an *Error", err)
			case tc.err == nil && err != nil:
				t.Fatal(err)
			}
			if tc.err != nil && tc.err != ErrBodyTooLarge {
				return
			}
			if !slices.Equal(p.All(), tc.want) {
				t.Errorf("params %v, want %v", p.All(), tc.want)
			}
			if (body != nil) != tc.wantBody {
				t.Errorf("body %q read: %v, want %v", body, body != nil, tc.wantBody)
			}
		})
	}
}
