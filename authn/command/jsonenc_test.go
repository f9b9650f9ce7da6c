package command

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// referenceJSON is what appendJSON must write: each name and value
// through json.Marshal, as the envelope was first written.
func referenceJSON(fields []field) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// appendJSON writes what encoding/json writes, byte for byte, for every
// kind of value an answer carries.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, 0, -1, math.MaxInt64, math.MinInt64, int64(7), int32(-3), uint64(math.MaxUint64),
		"", "plain", "with \"quotes\" and \\", "<script>&amp;</script>", "tab\tnew\nline", "\x00\x1f\x7f",
		"é ü 日本", "\u2028\u2029", "\xff\xfe invalid", 1.5, []int{3}, []string{"a<b"}, map[string]int{"b": 1, "a": 2},
		struct {
			ListID int
			Name   string
		}{1, "Newsletter"}, Fields{"x": 1}, json.RawMessage(`{"a":1}`), []byte("bytes"),
	}
	for _, v := range values {
		for _, name := range []string{"Success", "a<b", "ünï", `q"uote`} {
			fields := []field{{"Success", true}, {name, v}}
			want, err := referenceJSON(fields)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendJSON(nil, fields)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%q = %#v: got %s (%v), want %s", name, v, got, err, want)
			}
		}
	}
	if _, err := appendJSON(nil, []field{{"F", func() {}}}); err == nil {
		t.Error("a func encoded")
	}
}

// FuzzAppendJSON: any string and integer, as name or value, comes out as
// encoding/json writes it.
func FuzzAppendJSON(f *testing.F) {
	f.Add("ErrorText", "Invalid login credentials", int64(3))
	f.Add("a\x00", "<&>\u2028\xff", int64(-1))
	f.Fuzz(func(t *testing.T, name, value string, n int64) {
		fields := []field{{name, value}, {value, n}, {"b", name}}
		want, _ := referenceJSON(fields)
		got, err := appendJSON(nil, fields)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	})
}
