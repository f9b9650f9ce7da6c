package command

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strings"
	"unicode"
)

// encodeXML writes the fields as an XML document under <response>: each
// field an element; an object's fields nested elements, in name order; a
// list's elements <item> each. A name that cannot be an XML element name
// ("2FA_Enabled") is written <field name="2FA_Enabled">. Values go through
// encoding/json first, so a command's types look the same in both
// formats.
func encodeXML(fields []field) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString("<response>")
	for _, f := range fields {
		raw, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		writeXMLElement(&buf, f.name, v)
	}
	buf.WriteString("</response>\n")
	return buf.Bytes(), nil
}

// writeXMLElement writes one element holding v.
func writeXMLElement(buf *bytes.Buffer, name string, v any) {
	open, end := "<"+name+">", "</"+name+">"
	if !validXMLName(name) {
		var attr bytes.Buffer
		_ = xml.EscapeText(&attr, []byte(name))
		open, end = `<field name="`+attr.String()+`">`, "</field>"
	}
	buf.WriteString(open)
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			writeXMLElement(buf, k, v[k])
		}
	case []any:
		for _, item := range v {
			writeXMLElement(buf, "item", item)
		}
	case nil:
	case string:
		_ = xml.EscapeText(buf, []byte(v))
	case json.Number:
		buf.WriteString(v.String())
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	}
	buf.WriteString(end)
}

// validXMLName reports whether s can be an element name as it is: a
// letter or underscore, then letters, digits, '_', '-' and '.'; not
// starting with "xml".
func validXMLName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}
