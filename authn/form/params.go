package form

import "strings"

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
// concurrent mutation, and nothing here mutates them after parsing. The
// zero Params, and a nil *Params, have none.
type Params struct {
	list []Param
}

// Of returns Params holding the given parameters, in order, as a test or
// a host's own code makes them.
func Of(params ...Param) Params { return Params{list: append([]Param(nil), params...)} }

// Get returns the value of the parameter name, or "" if it is absent. A
// name given more than once is an [*Error]: which copy counts is exactly
// the ambiguity that parameter pollution exploits.
func (p *Params) Get(name string) (string, error) {
	if p == nil {
		return "", nil
	}
	v, n := "", 0
	for i := range p.list {
		if equalFoldASCII(p.list[i].Name, name) {
			v = p.list[i].Value
			n++
		}
	}
	if n > 1 {
		return "", &Error{Reason: "parameter " + safeName(name) + " given more than once"}
	}
	return v, nil
}

// Has reports whether the parameter name is present, even if empty.
func (p *Params) Has(name string) bool {
	if p == nil {
		return false
	}
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
	if p == nil {
		return nil
	}
	var vs []string
	for i := range p.list {
		if equalFoldASCII(p.list[i].Name, name) {
			vs = append(vs, p.list[i].Value)
		}
	}
	return vs
}

// All returns a copy of every parameter in request order.
func (p *Params) All() []Param {
	if p == nil {
		return nil
	}
	return append([]Param(nil), p.list...)
}

// Len returns the number of parameters.
func (p *Params) Len() int {
	if p == nil {
		return 0
	}
	return len(p.list)
}

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
