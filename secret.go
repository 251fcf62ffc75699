package struere

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is a secret credential, such as the user's JWT. It prints as
// [REDACTED] under every fmt verb (%v, %+v, %#v, %s, %q, %x), in slog records
// and in JSON, so a Config can be logged or wrapped in an error without
// leaking it. The value sits behind a pointer, so even fmt's reflection on
// an unexported field (which skips these methods) prints an address, not
// the secret. Build one with NewToken; use Reveal where the raw value is
// really needed.
type Token struct{ p *string }

// NewToken wraps a raw secret.
func NewToken(raw string) Token { return Token{p: &raw} }

// Reveal returns the raw secret, "" for the zero Token.
func (t Token) Reveal() string {
	if t.p == nil {
		return ""
	}
	return *t.p
}

// IsZero reports whether t holds no secret.
func (t Token) IsZero() bool { return t.Reveal() == "" }

// String returns "[REDACTED]".
func (t Token) String() string { return redacted }

// Format prints "[REDACTED]" for every verb, %#v included.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the secret out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText encodes the token as "[REDACTED]", which is also its JSON
// string: a Config marshalled for a log or a report never carries the
// secret.
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
