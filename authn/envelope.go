package authn

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

// CommandError is a command's own failure: Octeth answers it with HTTP 200,
// Success false, and the code and text in the envelope. Codes are the
// command's to define (login uses 1 to 6 and 101); they should not collide
// with the general codes (400, 401, 403, 404, 429, 503).
type CommandError struct {
	// Code is the envelope's ErrorCode (the WMD dialect has none).
	Code int
	// Text is the envelope's ErrorText (WMD's error): a client reads it.
	Text string
	// Fields, if any, are sent beside the failure.
	Fields Fields
}

// Error returns the text with its code.
func (e *CommandError) Error() string { return "command error " + strconv.Itoa(e.Code) + ": " + e.Text }

// Fail returns a [CommandError], for a command's return statement.
func Fail(code int, text string) error { return &CommandError{Code: code, Text: text} }

// reservedField reports whether a command may not set the field: the
// envelope's own, in either dialect.
func reservedField(k string) bool {
	return k == "Success" || k == "ErrorCode" || k == "ErrorText" || k == "status" || k == "error"
}

// answer is one envelope about to be written.
type answer struct {
	status int
	ok     bool
	code   int
	text   string
	fields Fields
}

// generalAnswer returns the envelope for a general failure: the HTTP status
// is also the ErrorCode, as Octeth's seeds send them.
func generalAnswer(err error) answer {
	status := HTTPStatus(err)
	return answer{status: status, code: status, text: PublicText(err)}
}

// writeEnvelope writes a as JSON in the API's dialect, Octeth's
//
//	{"Success":false,"ErrorCode":3,"ErrorText":"Invalid login credentials"}
//
// or WMD's
//
//	{"status":"notok","error":"Invalid name or password (1/6)"}
//
// with the command's fields after those of the envelope.
func (api *API) writeEnvelope(ctx context.Context, w http.ResponseWriter, a answer) {
	var buf bytes.Buffer
	text, _ := json.Marshal(a.text)
	if api.cfg.Dialect == WMD {
		if a.ok {
			buf.WriteString(`{"status":"ok","error":""`)
		} else {
			buf.WriteString(`{"status":"notok","error":`)
			buf.Write(text)
		}
	} else {
		buf.WriteString(`{"Success":`)
		buf.WriteString(strconv.FormatBool(a.ok))
		buf.WriteString(`,"ErrorCode":`)
		if api.cfg.ErrorCodeAsList {
			buf.WriteString("[" + strconv.Itoa(a.code) + "]")
		} else {
			buf.WriteString(strconv.Itoa(a.code))
		}
		buf.WriteString(`,"ErrorText":`)
		buf.Write(text)
	}
	keys := make([]string, 0, len(a.fields))
	for k := range a.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := json.Marshal(a.fields[k])
		if err != nil {
			// A value encoding/json cannot encode is the command's bug.
			api.a.emit(ctx, Event{Kind: EventCommandFailed, Reason: "field " + k + " does not encode", Err: err})
			api.writeEnvelope(ctx, w, generalAnswer(ErrInternal))
			return
		}
		name, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteString("}\n")

	status := a.status
	if api.cfg.AlwaysHTTP200 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
