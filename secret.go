package struere

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is a secret credential, such as the user's JWT. It prints as
// [REDACTED] under every fmt verb (%v, %+v, %#v, %s, %q, %x), in slog records
// and in JSON, so a Config can be logged or wrapped in an error without
// leaking it. Use Reveal where the raw value is really needed.
type Token string

// Reveal returns the raw secret.
func (t Token) Reveal() string { return string(t) }

// String returns "[REDACTED]".
func (t Token) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (t Token) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the secret out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the token as "[REDACTED]": a Config marshalled for a
// log or a report never carries the secret.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText encodes the token as "[REDACTED]".
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
