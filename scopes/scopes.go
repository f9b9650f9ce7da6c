package scopes

import (
	"errors"
	"strings"
)

// Scope is a permission scope. The zero value is invalid.
type Scope uint8

// The scopes. Their numeric values are stable and may be stored.
const (
	// User is the scope of a customer account (Octeth's User.* commands).
	User Scope = 1
	// Admin is the scope of an administrator account (Octeth's Admin.* commands).
	Admin Scope = 2
)

// ErrUnknown is returned by [Parse] for a name that is not a scope.
var ErrUnknown = errors.New("scopes: unknown scope")

// String returns "user", "admin", or "invalid" for any other value.
func (s Scope) String() string {
	switch s {
	case User:
		return "user"
	case Admin:
		return "admin"
	}
	return "invalid"
}

// Valid reports whether s is [User] or [Admin].
func (s Scope) Valid() bool { return s == User || s == Admin }

// Parse returns the scope named by s ("user" or "admin", in any ASCII
// case; no Unicode folding, so "uſer" is not "user").
func Parse(s string) (Scope, error) {
	switch strings.ToLower(s) {
	case "user":
		if isASCII(s) {
			return User, nil
		}
	case "admin":
		if isASCII(s) {
			return Admin, nil
		}
	}
	return 0, ErrUnknown
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// MarshalText implements [encoding.TextMarshaler]. An invalid scope is an error.
func (s Scope) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, ErrUnknown
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with [Parse]. A nil
// s is an error.
func (s *Scope) UnmarshalText(b []byte) error {
	if s == nil {
		return errors.New("scopes: UnmarshalText into a nil *Scope")
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
