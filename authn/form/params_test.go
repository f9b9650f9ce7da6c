package form

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var testLimits = Limits{}.withDefaults()

func TestParseURLEncoded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []Param
		bad  bool
	}{
		{"", nil, false},
		{"a=1", []Param{{"a", "1"}}, false},
		{"a=1&b=2&a=3", []Param{{"a", "1"}, {"b", "2"}, {"a", "3"}}, false},
		{"a", []Param{{"a", ""}}, false},
		{"a=", []Param{{"a", ""}}, false},
		{"a=b=c", []Param{{"a", "b=c"}}, false},
		{"My+Name=My+Test+List", []Param{{"My Name", "My Test List"}}, false},
		{"%41PIKey=x%2By", []Param{{"APIKey", "x+y"}}, false},
		{"&&&a=1&&", []Param{{"a", "1"}}, false},
		{"a=%e2%82%ac", []Param{{"a", "€"}}, false},
		{"a=%", nil, true},
		{"a=%4", nil, true},
		{"a=%zz", nil, true},
		{"a=1;b=2", nil, true},
		{"a=%ff", nil, true},
		{"a=%00", nil, true},
		{"a=\xff", nil, true},   // raw, not escaped
		{"\xc3=1", nil, true},   // in a name
		{"a=x\x00y", nil, true}, // raw NUL
		{"a=\xe2\x82\xac", []Param{{"a", "€"}}, false},
		{"a=b;c", nil, true},
		{"=x", nil, true},
	}
	for _, tc := range tests {
		got, err := parseURLEncoded(nil, tc.in, testLimits)
		if tc.bad {
			if !isFormError(err) {
				t.Errorf("%q: err = %v, want a bad request", tc.in, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// isFormError reports whether err is this package's refusal.
func isFormError(err error) bool {
	var fe *Error
	return errors.As(err, &fe)
}

func TestParamsGet(t *testing.T) {
	t.Parallel()
	p := Params{list: []Param{{"Command", "User.Login"}, {"username", "alice"}, {"List", "1"}, {"list", "2"}}}
	if v, err := p.Get("COMMAND"); v != "User.Login" || err != nil {
		t.Errorf("Get(COMMAND) = %q, %v", v, err)
	}
	if v, err := p.Get("Username"); v != "alice" || err != nil {
		t.Errorf("Get(Username) = %q, %v", v, err)
	}
	if v, err := p.Get("absent"); v != "" || err != nil {
		t.Errorf("Get(absent) = %q, %v", v, err)
	}
	// A repeated name is ambiguous: an error, not the first or the last.
	if _, err := p.Get("List"); !isFormError(err) {
		t.Errorf("Get(List) err = %v", err)
	}
	if vs := p.Values("LIST"); !slices.Equal(vs, []string{"1", "2"}) {
		t.Errorf("Values = %v", vs)
	}
	if !p.Has("uSeRnAmE") || p.Has("password") || p.Len() != 4 {
		t.Error("Has/Len")
	}
	all := p.All()
	all[0].Value = "changed"
	if v, _ := p.Get("Command"); v != "User.Login" {
		t.Error("All shares its slice")
	}
}

func TestParamLimits(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxParams: 2, MaxName: 4, MaxValue: 4}
	tests := []struct {
		in  string
		err error
	}{
		{"a=1&b=2", nil},
		{"a=1&b=2&c=3", errTooManyParams},
		{"abcde=1", errParamTooLong},
		{"a=12345", errParamTooLong},
		{"a=%31%32%33%34", nil}, // four bytes once decoded
		{"a=" + strings.Repeat("%31", 5), errParamTooLong},
	}
	for _, tc := range tests {
		_, err := parseURLEncoded(nil, tc.in, lim)
		if !errors.Is(err, tc.err) && err != tc.err {
			t.Errorf("%q: err = %v, want %v", tc.in, err, tc.err)
		}
	}
}

// FuzzParseURLEncoded checks the parser against url.ParseQuery: whatever it
// accepts, the standard library accepts and reads the same way.
func FuzzParseURLEncoded(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "Command=User.Login&Username=a%40b.c", "a=%zz", "a;b", "=", "a=%e2%82", "%41=%42&&", "x=+%2B+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseURLEncoded(nil, s, testLimits)
		if err != nil {
			if !isFormError(err) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		want, werr := url.ParseQuery(s)
		if werr != nil {
			t.Fatalf("accepted %q, which url.ParseQuery refuses: %v", s, werr)
		}
		n := 0
		for _, p := range got {
			if p.Name == "" || strings.ContainsRune(p.Name+p.Value, 0) || !utf8.ValidString(p.Name+p.Value) {
				t.Fatalf("accepted a bad pair %q", p)
			}
			n++
		}
		total := 0
		for _, vs := range want {
			total += len(vs)
		}
		if n != total {
			t.Fatalf("%q: %d pairs, url.ParseQuery has %d", s, n, total)
		}
		for name, vs := range want {
			var ours []string
			for _, p := range got {
				if p.Name == name {
					ours = append(ours, p.Value)
				}
			}
			if !slices.Equal(ours, vs) {
				t.Fatalf("%q: %s = %q, url.ParseQuery has %q", s, name, ours, vs)
			}
		}
	})
}

// FuzzParseMultipart: any body is parsed or refused as a bad request,
// never a panic, and what is accepted is within the limits.
func FuzzParseMultipart(f *testing.F) {
	f.Add("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX--\r\n")
	f.Add("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nzz\r\n--XX--\r\n")
	f.Add("--XX\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XX--\r\n")
	f.Add("--XX\r\n\r\n\r\n--XX")
	lim := Limits{MaxParams: 10, MaxName: 32, MaxValue: 64}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseMultipart(nil, []byte(body), "XX", lim)
		if err != nil {
			if !isFormError(err) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if len(got) > lim.MaxParams {
			t.Fatalf("%d params", len(got))
		}
		for _, p := range got {
			if p.Name == "" || len(p.Name) > lim.MaxName || len(p.Value) > lim.MaxValue {
				t.Fatalf("accepted %q", p)
			}
		}
	})
}

func TestEqualFoldASCII(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"APIKey", "apikey", true},
		{"SessionID", "SESSIONID", true},
		{"APIKey", "APIKeys", false},
		{"a", "b", false},
		{"", "", true},
		{"@", "`", false}, // neighbours of the letter ranges do not fold
		{"[", "{", false},
		// The Kelvin sign folds to k in Unicode, but is not an ASCII K.
		{"APIKey", "API\u212Aey", false},
	}
	for _, tc := range tests {
		if got := equalFoldASCII(tc.a, tc.b); got != tc.want {
			t.Errorf("equalFoldASCII(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// BenchmarkParseURLEncoded is the query string of a command sent with an
// API key, the shape the middleware reads on every request.
func BenchmarkParseURLEncoded(b *testing.B) {
	q := "Command=Lists.Get&APIKey=kw_u_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG&ResponseFormat=JSON"
	dst := make([]Param, 0, 8)
	lim := Limits{MaxParams: 100, MaxName: 64, MaxValue: 4096}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseURLEncoded(dst[:0], q, lim); err != nil {
			b.Fatal(err)
		}
	}
}
