package command

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
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
func (api *API) appendHead(h []field, a answer) []field {
	if api.cfg.Dialect == WMD {
		if a.ok {
			return append(h, field{"status", "ok"}, field{"error", ""})
		}
		return append(h, field{"status", "notok"}, field{"error", a.text})
	}
	var code, text any = a.code, a.text
	if api.profile.lists || api.cfg.ErrorCodeAsList {
		code = []int{a.code}
	}
	if api.profile.lists {
		text = []string{a.text}
	}
	h = append(h, field{"Success", a.ok}, field{"ErrorCode", code}, field{"ErrorText", text})
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
	var room [16]field
	fields := api.appendHead(room[:0], a)
	var names [16]string
	keys := names[:0]
	for k := range a.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fields = append(fields, field{k, a.fields[k]})
	}
	buf := api.buffers.get()
	defer api.buffers.put(buf)
	var err error
	contentType := contentTypeJSON
	if asXML {
		*buf, err = encodeXML(fields)
		contentType = contentTypeXML
	} else {
		*buf, err = appendJSON(*buf, fields)
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
	// The three headers on one backing array: one allocation, not three.
	// Each gets a slice of its own length and capacity, so that appending
	// to one cannot write into the next.
	h := w.Header()
	values := make([]string, 3)
	values[0], values[1], values[2] = contentType, "no-store", "nosniff"
	h["Content-Type"], h["Cache-Control"], h["X-Content-Type-Options"] = values[0:1:1], values[1:2:2], values[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(*buf)
}

// The envelope's content types.
const (
	contentTypeJSON = "application/json; charset=utf-8"
	contentTypeXML  = "application/xml; charset=utf-8"
)

// bufferPool keeps the buffers an API encodes its answers in: an answer
// is written and its buffer reused, instead of one allocation and its
// growth per answer.
type bufferPool struct{ p sync.Pool }

// get returns an empty buffer.
func (bp *bufferPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

// put returns a buffer, unless an answer made it too big to keep.
func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bp.p.Put(b)
	}
}
