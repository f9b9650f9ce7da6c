package authn

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Param is one name=value pair of a request.
type Param struct {
	// Name is as the client wrote it; Value is decoded.
	Name, Value string
}

// Params are a request's parameters: the query string's, then the form
// body's (application/x-www-form-urlencoded or multipart/form-data; files
// in a multipart body are skipped). Names match ignoring ASCII case, since
// Octeth's documents write both APIKey and apikey. Params are read once by
// the middleware and shared by everything after it; they are not safe for
// concurrent mutation, and nothing here mutates them after parsing.
type Params struct {
	list []Param
}

// Get returns the value of the parameter name, or "" if it is absent. A
// name given more than once is an error wrapping [ErrBadRequest]: which
// copy counts is exactly the ambiguity that parameter pollution exploits.
func (p *Params) Get(name string) (string, error) {
	v, n := "", 0
	for i := range p.list {
		if equalFoldASCII(p.list[i].Name, name) {
			v = p.list[i].Value
			n++
		}
	}
	if n > 1 {
		return "", because(ErrBadRequest, "parameter "+safeName(name)+" given more than once")
	}
	return v, nil
}

// Has reports whether the parameter name is present, even if empty.
func (p *Params) Has(name string) bool {
	for i := range p.list {
		if equalFoldASCII(p.list[i].Name, name) {
			return true
		}
	}
	return false
}

// Values returns every value of the parameter name, in request order, for
// the parameters that are lists.
func (p *Params) Values(name string) []string {
	var vs []string
	for i := range p.list {
		if equalFoldASCII(p.list[i].Name, name) {
			vs = append(vs, p.list[i].Value)
		}
	}
	return vs
}

// All returns a copy of every parameter in request order.
func (p *Params) All() []Param { return append([]Param(nil), p.list...) }

// Len returns the number of parameters.
func (p *Params) Len() int { return len(p.list) }

// equalFoldASCII reports whether a and b are equal ignoring ASCII case, as
// PHP's strtolower compares them. Unlike strings.EqualFold it does not
// fold Unicode, so the Kelvin sign is not a "K" and no exotic spelling of
// a parameter name aliases ours.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// safeName returns name for an error message: names are ours, but never
// echo more than a short, printable name.
func safeName(name string) string {
	if len(name) > 32 {
		name = name[:32]
	}
	return strings.ToValidUTF8(name, "?")
}

// paramLimits bound what a parser accepts.
type paramLimits struct {
	maxParams     int // parameters in all
	maxNameBytes  int
	maxValueBytes int
}

// The limits of a [Config] that sets none, and of a [Request] a host made
// without an Authenticator.
var defaultLimits = paramLimits{maxParams: 1000, maxNameBytes: 256, maxValueBytes: 64 << 10}

// defaultMaxBodyBytes is [Config].MaxBodyBytes when it is not set.
const defaultMaxBodyBytes = 1 << 20

var (
	errTooManyParams   = because(ErrBadRequest, "too many parameters")
	errParamTooLong    = because(ErrBadRequest, "parameter too long")
	errBadEncoding     = because(ErrBadRequest, "bad percent-encoding")
	errSemicolon       = because(ErrBadRequest, "semicolon in query")
	errInvalidUTF8     = because(ErrBadRequest, "parameter is not valid UTF-8")
	errBodyTooLarge    = because(ErrBadRequest, "body too large")
	errBodyUnreadable  = because(ErrBadRequest, "body could not be read")
	errBadMultipart    = because(ErrBadRequest, "broken multipart body")
	errBadContentType  = because(ErrBadRequest, "bad Content-Type")
	errEmptyParamName  = because(ErrBadRequest, "empty parameter name")
	errNULInParam      = because(ErrBadRequest, "NUL in parameter")
	errMultipartNoName = because(ErrBadRequest, "multipart part without a name")
)

// parseURLEncoded appends the pairs of an application/x-www-form-urlencoded
// string (a query string or a body) to dst. It accepts what url.ParseQuery
// accepts, and refuses what keyward refuses besides: invalid UTF-8, NUL,
// over-long names and values, too many pairs. It allocates only for values
// that are percent-encoded.
func parseURLEncoded(dst []Param, s string, lim paramLimits) ([]Param, error) {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return dst, errSemicolon
		}
		name, value, _ := strings.Cut(pair, "=")
		// Bound the work before unescaping: an escaped byte is three.
		if len(name) > 3*lim.maxNameBytes || len(value) > 3*lim.maxValueBytes {
			return dst, errParamTooLong
		}
		var err error
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

// unescape decodes one name or value of a form. Most credentials have
// nothing to decode: those skip url.QueryUnescape's byte-by-byte scan.
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
func appendParam(dst []Param, name, value string, lim paramLimits) ([]Param, error) {
	switch {
	case len(dst) >= lim.maxParams:
		return dst, errTooManyParams
	case name == "":
		return dst, errEmptyParamName
	case len(name) > lim.maxNameBytes || len(value) > lim.maxValueBytes:
		return dst, errParamTooLong
	case !utf8.ValidString(name) || !utf8.ValidString(value):
		return dst, errInvalidUTF8
	case strings.IndexByte(name, 0) >= 0 || strings.IndexByte(value, 0) >= 0:
		return dst, errNULInParam
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

// readBody reads at most limit bytes of body. More is errBodyTooLarge,
// returned with the limit+1 bytes read.
func readBody(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, errBodyUnreadable
	}
	if int64(len(b)) > limit {
		return b, errBodyTooLarge
	}
	return b, nil
}

// parseMultipart appends the text fields of a multipart/form-data body to
// dst. File parts are read past and ignored; the body as a whole is already
// bounded by the caller.
func parseMultipart(dst []Param, body []byte, boundary string, lim paramLimits) ([]Param, error) {
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
		if parts++; parts > lim.maxParams {
			return dst, errTooManyParams
		}
		if part.FileName() != "" {
			continue // NextRawPart drains it
		}
		name := part.FormName()
		if name == "" {
			return dst, errMultipartNoName
		}
		value, err := io.ReadAll(io.LimitReader(part, int64(lim.maxValueBytes)+1))
		if err != nil {
			return dst, errBadMultipart
		}
		if len(value) > lim.maxValueBytes {
			return dst, errParamTooLong
		}
		if dst, err = appendParam(dst, name, string(value), lim); err != nil {
			return dst, err
		}
	}
}
