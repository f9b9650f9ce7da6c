package command

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// Fields are what a command answers, merged into the Octeth envelope beside
// Success, ErrorCode and ErrorText. Values are encoded with encoding/json;
// keys come out in sorted order.
type Fields map[string]any

// Error is a command's own failure: Octeth answers it with HTTP 200,
// Success false, and the code and text in the envelope; WMD with
// status "notok" and the text. Codes are the command's to define (login
// uses 1 to 6 and 101); they should not collide with the general codes
// (400, 401, 403, 404, 429, 503).
type Error struct {
	// Code is the envelope's ErrorCode (the WMD dialect has none).
	Code int
	// Text is the envelope's ErrorText (WMD's error): a client reads it.
	Text string
	// Fields, if any, are sent beside the failure.
	Fields Fields
}

// Error returns the text with its code.
func (e *Error) Error() string { return "command error " + strconv.Itoa(e.Code) + ": " + e.Text }

// Fail returns an [*Error], for a command's return statement.
func Fail(code int, text string) error { return &Error{Code: code, Text: text} }

// reserved returns a field of f a command may not set, the envelope's own
// in either dialect, if there is one.
func reserved(f Fields) (string, bool) {
	for k := range f {
		switch k {
		case "Success", "ErrorCode", "ErrorText", "Errors", "status", "error":
			return k, true
		}
	}
	return "", false
}

// answer is one envelope about to be written.
type answer struct {
	status int
	ok     bool
	code   int
	text   string
	fields Fields
	// hard failures carry an Errors list in profiles that send one.
	hard bool
	// retryAfter is a throttled client's Retry-After.
	retryAfter string
}

// head returns the envelope's own fields, in order, for the dialect and
// profile.
func (api *API) head(a answer) []field {
	if api.cfg.Dialect == WMD {
		if a.ok {
			return []field{{"status", "ok"}, {"error", ""}}
		}
		return []field{{"status", "notok"}, {"error", a.text}}
	}
	var code, text any = a.code, a.text
	if api.profile.lists || api.cfg.ErrorCodeAsList {
		code = []int{a.code}
	}
	if api.profile.lists {
		text = []string{a.text}
	}
	h := []field{{"Success", a.ok}, {"ErrorCode", code}, {"ErrorText", text}}
	if a.hard && api.profile.lists {
		h = append(h, field{"Errors", []struct {
			Code    int
			Message string
		}{{a.code, a.text}}})
	}
	return h
}

// field is one name and value of an envelope.
type field struct {
	name  string
	value any
}

// write writes a, for the request r.
func (api *API) write(w http.ResponseWriter, r *http.Request, a answer, asXML bool) {
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	api.writeEnvelope(r.Context(), w, a, asXML)
}

// writeEnvelope writes a in the API's dialect and profile: JSON, Octeth's
//
//	{"Success":false,"ErrorCode":3,"ErrorText":"Invalid login credentials"}
//
// or WMD's
//
//	{"status":"notok","error":"Invalid name or password (1/6)"}
//
// with the command's fields, in name order, after the envelope's own; or,
// when asXML (ResponseFormat=XML), the same as XML under <response>.
func (api *API) writeEnvelope(ctx context.Context, w http.ResponseWriter, a answer, asXML bool) {
	fields := api.head(a)
	keys := make([]string, 0, len(a.fields))
	for k := range a.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fields = append(fields, field{k, a.fields[k]})
	}
	var body []byte
	var err error
	contentType := "application/json; charset=utf-8"
	if asXML {
		body, err = encodeXML(fields)
		contentType = "application/xml; charset=utf-8"
	} else {
		body, err = encodeJSON(fields)
	}
	if err != nil {
		// A value that cannot be encoded is the command's bug.
		api.commandFailed(ctx, w, "answer does not encode", err, asXML)
		return
	}
	status := a.status
	if api.cfg.AlwaysHTTP200 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodeJSON writes the fields as one JSON object, in order.
func encodeJSON(fields []field) ([]byte, error) {
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
