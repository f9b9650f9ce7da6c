package command

import (
	"encoding/json"
	"strconv"
)

// appendJSON appends the fields to b as one JSON object, in order, and a
// newline: exactly what encoding/json makes of each name and value, but
// without its allocations for the common values (names, booleans,
// integers, and strings of plain ASCII), which are most of every answer.
// Anything else goes through json.Marshal.
func appendJSON(b []byte, fields []field) ([]byte, error) {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, f.value); err != nil {
			return b, err
		}
	}
	return append(b, '}', '\n'), nil
}

// appendJSONValue appends v as encoding/json would write it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case string:
		return appendJSONString(b, v), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// appendJSONString appends s quoted as encoding/json quotes it: as it is
// when every byte is printable ASCII that needs no escape (encoding/json
// also escapes <, > and &, for HTML), through json.Marshal otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
