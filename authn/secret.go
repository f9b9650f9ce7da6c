package authn

import "log/slog"

// Secret holds a credential that is shown to its owner once: a new session
// ID, a new API key. It prints, formats and logs as "REDACTED", so it does
// not leak through a log line or an error by accident; [Secret.Reveal]
// returns the value for the one place that must send it.
type Secret struct{ value string }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.value }

// String returns "REDACTED".
func (Secret) String() string { return "REDACTED" }

// GoString returns "REDACTED", for %#v.
func (Secret) GoString() string { return "REDACTED" }

// LogValue implements [slog.LogValuer] with "REDACTED".
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalText returns "REDACTED", so encoding a struct that holds a Secret
// by accident (JSON, XML) does not leak it either.
func (Secret) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }
