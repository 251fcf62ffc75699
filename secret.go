package struere

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is a secret credential, such as the user's JWT. It prints as
// [REDACTED] under every fmt verb (%v, %+v, %#v, %s, %q, %x), in slog records
// and in JSON, so a Config can be logged or wrapped in an error without
// leaking it. The value is sealed where reflection cannot reach it, so
// printers that skip these methods and follow pointers (fmt on an
// unexported field, go-spew in testify's diffs, go-cmp) print an address,
// not the secret. A copy of a Token equals it (== and reflect.DeepEqual);
// two Tokens built from the same secret are not equal: compare Reveal.
// Build one with NewToken; use Reveal where the raw value is really needed.
type Token struct{ p *sealed }

// sealed holds a secret inside a closure: reflection reaches a func value
// but not what it captured.
type sealed struct{ reveal func() string }

func seal(raw string) *sealed { return &sealed{reveal: func() string { return raw }} }

// open returns the sealed secret, "" for none.
func (s *sealed) open() string {
	if s == nil {
		return ""
	}
	return s.reveal()
}

// NewToken wraps a raw secret.
func NewToken(raw string) Token { return Token{p: seal(raw)} }

// Reveal returns the raw secret, "" for the zero Token.
func (t Token) Reveal() string { return t.p.open() }

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
