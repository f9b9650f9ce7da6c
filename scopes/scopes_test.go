package scopes

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Scope
		wantErr bool
	}{
		{"user", User, false},
		{"USER", User, false},
		{"Admin", Admin, false},
		{"admin", Admin, false},
		{"", 0, true},
		{"root", 0, true},
		{" admin", 0, true}, // no trimming: a scope name is exact
		{"invalid", 0, true},
		{"u\u017fer", 0, true},  // long s folds to s in Unicode, not in ASCII
		{"\u212admin", 0, true}, // not an "a" either: Kelvin sign is not ASCII
		{"ADMİN", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrUnknown) {
				t.Fatalf("error %v is not ErrUnknown", err)
			}
		})
	}
}

func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []Scope{User, Admin} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Scope
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("round trip of %v gave %v, %v", s, back, err)
		}
	}
	var zero Scope
	if zero.Valid() || zero.String() != "invalid" {
		t.Fatalf("zero scope: Valid %v, String %q", zero.Valid(), zero.String())
	}
	if _, err := zero.MarshalText(); err == nil {
		t.Fatal("zero scope marshalled without error")
	}
	if Scope(9).Valid() {
		t.Fatal("Scope(9) is valid")
	}
}
