package form

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Error is a request's parameters refused: malformed, ambiguous, or over
// a limit. Its Reason says what, for the client: it names a parameter at
// most, never a value.
type Error struct{ Reason string }

// Error returns the reason, after the package's name (none for a nil
// *Error).
func (e *Error) Error() string {
	if e == nil {
		return "form: <nil>"
	}
	return "form: " + e.Reason
}

// ErrBodyTooLarge is the [*Error] of a form body over [Limits].MaxBody:
// compare with errors.Is.
var ErrBodyTooLarge = &Error{Reason: "body too large"}

// Limits bound what [Read] accepts. A zero field is its default.
type Limits struct {
	// MaxParams bounds the number of parameters. Default 1000.
	MaxParams int
	// MaxName and MaxValue bound one parameter's name and value, in
	// bytes, once decoded. Defaults 256 and 64 KiB.
	MaxName, MaxValue int
	// MaxBody bounds a form body, in bytes. Default 1 MiB.
	MaxBody int64
}

// withDefaults returns l with each zero field its default.
func (l Limits) withDefaults() Limits {
	if l.MaxParams == 0 {
		l.MaxParams = 1000
	}
	if l.MaxName == 0 {
		l.MaxName = 256
	}
	if l.MaxValue == 0 {
		l.MaxValue = 64 << 10
	}
	if l.MaxBody == 0 {
		l.MaxBody = 1 << 20
	}
	return l
}

// Read reads r's parameters: its query string, then its body if it is a
// form (a body of another type is left alone, unread), appending them to
// dst, whose spare room spares an allocation. It returns them with the
// form body it read, for a caller to hand on to the next handler.
//
// A form body over lim.MaxBody is [ErrBodyTooLarge], returned with the
// query string's parameters and the lim.MaxBody+1 bytes read, so that a
// caller may hand the request on whole (the rest is still in r.Body).
// Every other refusal is an [*Error] too, a nil r among them; an r
// without a URL has no query string.
func Read(r *http.Request, dst []Param, lim Limits) (Params, []byte, error) {
	if r == nil {
		return Params{}, nil, errNoRequest
	}
	lim = lim.withDefaults()
	list := dst[:0]
	var err error
	if r.URL != nil && r.URL.RawQuery != "" { // a request built by hand may have no URL
		if list, err = parseURLEncoded(list, r.URL.RawQuery, lim); err != nil {
			return Params{}, nil, err
		}
	}
	if r.Body == nil || r.Body == http.NoBody || !hasBody(r.Method) {
		return Params{list: list}, nil, nil
	}
	kind, boundary, err := bodyForm(r.Header.Get("Content-Type"))
	if err != nil || kind == formNone {
		return Params{list: list}, nil, err
	}
	body, err := readBody(r.Body, lim.MaxBody)
	if err != nil {
		return Params{list: list}, body, err
	}
	switch kind {
	case formURLEncoded:
		list, err = parseURLEncoded(list, string(body), lim)
	case formMultipart:
		list, err = parseMultipart(list, body, boundary, lim)
	}
	if err != nil {
		return Params{}, body, err
	}
	return Params{list: list}, body, nil
}

// hasBody reports whether a request of this method may carry form
// parameters in its body, as [http.Request.ParseForm] decides.
func hasBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

var (
	errTooManyParams   = &Error{Reason: "too many parameters"}
	errParamTooLong    = &Error{Reason: "parameter too long"}
	errBadEncoding     = &Error{Reason: "bad percent-encoding"}
	errSemicolon       = &Error{Reason: "semicolon in query"}
	errInvalidUTF8     = &Error{Reason: "parameter is not valid UTF-8"}
	errBodyUnreadable  = &Error{Reason: "body could not be read"}
	errBadMultipart    = &Error{Reason: "broken multipart body"}
	errBadContentType  = &Error{Reason: "bad Content-Type"}
	errEmptyParamName  = &Error{Reason: "empty parameter name"}
	errNULInParam      = &Error{Reason: "NUL in parameter"}
	errMultipartNoName = &Error{Reason: "multipart part without a name"}
	errNoRequest       = &Error{Reason: "no request"}
)

// parseURLEncoded appends the pairs of an application/x-www-form-urlencoded
// string (a query string or a body) to dst. It accepts what url.ParseQuery
// accepts, and refuses what keyward refuses besides: invalid UTF-8, NUL,
// over-long names and values, too many pairs. It allocates only for values
// that are percent-encoded.
func parseURLEncoded(dst []Param, s string, lim Limits) ([]Param, error) {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		name, value, plain, err := splitPair(pair)
		if err != nil {
			return dst, err
		}
		// Bound the work before unescaping: an escaped byte is three.
		if len(name) > 3*lim.MaxName || len(value) > 3*lim.MaxValue {
			return dst, errParamTooLong
		}
		if plain {
			// Printable ASCII with nothing to decode, the common case
			// (names, credentials): only the limits are left to check.
			if dst, err = appendChecked(dst, name, value, lim); err != nil {
				return dst, err
			}
			continue
		}
		if name, err = unescape(name); err != nil {
			return dst, err
		}
		if value, err = unescape(value); err != nil {
			return dst, err
		}
		if dst, err = appendParam(dst, name, value, lim); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// splitPair splits one name=value pair at its first '=' in a single pass
// over its bytes, refusing a ';' (as net/http does in a query), and
// reports whether the pair is plain: no '%' or '+' to decode, no NUL and
// no byte outside ASCII, so that it needs none of appendParam's checks of
// content.
func splitPair(pair string) (name, value string, plain bool, err error) {
	eq, plain := -1, true
	for i := 0; i < len(pair); i++ {
		switch pairBytes[pair[i]] {
		case bytePlain:
		case byteEquals:
			if eq < 0 {
				eq = i
			}
		case byteSemicolon:
			return "", "", false, errSemicolon
		default:
			plain = false
		}
	}
	if eq < 0 {
		return pair, "", plain, nil
	}
	return pair[:eq], pair[eq+1:], plain, nil
}

// What splitPair makes of a byte.
const (
	bytePlain = iota
	byteEquals
	byteSemicolon
	byteNotPlain // '%', '+', NUL, or outside ASCII
)

// pairBytes sorts the bytes for splitPair: one load per byte instead of a
// chain of comparisons. It is never written after it is made.
var pairBytes = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '=':
			t[c] = byteEquals
		case c == ';':
			t[c] = byteSemicolon
		case c == '%', c == '+', c == 0, c >= utf8.RuneSelf:
			t[c] = byteNotPlain
		}
	}
	return t
}()

// unescape decodes one name or value of a form.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	s, err := url.QueryUnescape(s)
	if err != nil {
		return "", errBadEncoding
	}
	return s, nil
}

// appendParam checks one decoded pair against the limits and appends it.
func appendParam(dst []Param, name, value string, lim Limits) ([]Param, error) {
	switch {
	case !utf8.ValidString(name) || !utf8.ValidString(value):
		return dst, errInvalidUTF8
	case strings.IndexByte(name, 0) >= 0 || strings.IndexByte(value, 0) >= 0:
		return dst, errNULInParam
	}
	return appendChecked(dst, name, value, lim)
}

// appendChecked appends a pair whose content is known to be valid UTF-8
// without NUL, checking it against the limits.
func appendChecked(dst []Param, name, value string, lim Limits) ([]Param, error) {
	switch {
	case len(dst) >= lim.MaxParams:
		return dst, errTooManyParams
	case name == "":
		return dst, errEmptyParamName
	case len(name) > lim.MaxName || len(value) > lim.MaxValue:
		return dst, errParamTooLong
	}
	return append(dst, Param{Name: name, Value: value}), nil
}

// formKind says how a body is encoded, from its Content-Type.
type formKind uint8

const (
	formNone formKind = iota
	formURLEncoded
	formMultipart
)

// bodyForm returns the kind of form body a Content-Type announces, and the
// multipart boundary. A Content-Type that is not a form is formNone: its
// body is the host's business. A form type that does not parse is an
// error.
func bodyForm(contentType string) (formKind, string, error) {
	if contentType == "" {
		return formNone, "", nil
	}
	// Fast path for the common exact value, without mime's map.
	if contentType == "application/x-www-form-urlencoded" {
		return formURLEncoded, "", nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		lower := strings.ToLower(contentType)
		if strings.HasPrefix(lower, "application/x-www-form-urlencoded") || strings.HasPrefix(lower, "multipart/") {
			return formNone, "", errBadContentType
		}
		return formNone, "", nil
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		return formURLEncoded, "", nil
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return formNone, "", errBadContentType
		}
		return formMultipart, boundary, nil
	}
	return formNone, "", nil
}

// readBody reads at most limit bytes of body. More is ErrBodyTooLarge,
// returned with the limit+1 bytes read.
func readBody(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, errBodyUnreadable
	}
	if int64(len(b)) > limit {
		return b, ErrBodyTooLarge
	}
	return b, nil
}

// parseMultipart appends the text fields of a multipart/form-data body to
// dst. File parts are read past and ignored; the body as a whole is already
// bounded by the caller.
func parseMultipart(dst []Param, body []byte, boundary string, lim Limits) ([]Param, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	parts := 0
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, errBadMultipart
		}
		if parts++; parts > lim.MaxParams {
			return dst, errTooManyParams
		}
		if part.FileName() != "" {
			continue // NextRawPart drains it
		}
		name := part.FormName()
		if name == "" {
			return dst, errMultipartNoName
		}
		value, err := io.ReadAll(io.LimitReader(part, int64(lim.MaxValue)+1))
		if err != nil {
			return dst, errBadMultipart
		}
		if len(value) > lim.MaxValue {
			return dst, errParamTooLong
		}
		if dst, err = appendParam(dst, name, string(value), lim); err != nil {
			return dst, err
		}
	}
}
