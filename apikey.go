package struere

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Environment variables for an API key (ConfigFromEnv).
const (
	EnvAPIKey    = "STRUERE_API_KEY"     // a Struere API key, af_live_<8>_<32>
	EnvAPIKeyEnv = "STRUERE_API_KEY_ENV" // its environment: development, production or eval
)

// APIKey is a Struere API key together with the environment it was created
// for. The key string does not reveal its environment (every key starts
// "af_live_"), so the caller declares it; Client.VerifyKey checks the
// declaration against the backend. An APIKey prints as [REDACTED] under
// every fmt verb, in slog and in JSON; Prefix is safe to show.
type APIKey struct {
	// raw sits behind a pointer so that fmt's reflection on an unexported
	// field (which skips the methods below) prints an address.
	raw *string
	env Environment
}

// ParseAPIKey checks that raw has the form af_live_<8>_<32> (lowercase
// letters and digits) and that env is valid, and returns the key. The
// error never contains the key.
func ParseAPIKey(raw string, env Environment) (APIKey, error) {
	if err := env.Validate(); err != nil {
		return APIKey{}, fmt.Errorf("struere: api key: %w", err)
	}
	if !validKeyFormat(raw) {
		hint := ""
		if strings.HasPrefix(raw, "sk_") {
			hint = " (sk_dev_/sk_prod_ keys appear only in old documentation)"
		}
		return APIKey{}, fmt.Errorf("struere: api key: malformed key of length %d: want af_live_ followed by 8 and 32 lowercase letters or digits separated by _%s; copy it again from the dashboard", len(raw), hint)
	}
	return APIKey{raw: &raw, env: env}, nil
}

func validKeyFormat(k string) bool {
	const prefix = "af_live_"
	if len(k) != len(prefix)+8+1+32 || !strings.HasPrefix(k, prefix) || k[len(prefix)+8] != '_' {
		return false
	}
	for i, c := range k[len(prefix):] {
		if i == 8 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// IsZero reports whether k is the zero APIKey (no key).
func (k APIKey) IsZero() bool { return k.raw == nil }

// Environment returns the environment the key was declared for.
func (k APIKey) Environment() Environment { return k.env }

// Prefix returns the key's first 16 characters, which the backend stores
// and lists (apiKeys:list); it is not secret.
func (k APIKey) Prefix() string {
	raw := k.Reveal()
	if len(raw) < 16 {
		return ""
	}
	return raw[:16]
}

// Reveal returns the raw key.
func (k APIKey) Reveal() string {
	if k.raw == nil {
		return ""
	}
	return *k.raw
}

// String returns "[REDACTED]".
func (k APIKey) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (k APIKey) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb.
func (k APIKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the key out of slog output.
func (k APIKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the key as "[REDACTED]".
func (k APIKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// apiKeyFromEnv reads STRUERE_API_KEY and STRUERE_API_KEY_ENV.
func apiKeyFromEnv() (APIKey, error) {
	raw := strings.TrimSpace(os.Getenv(EnvAPIKey))
	if raw == "" {
		return APIKey{}, nil
	}
	envName := strings.TrimSpace(os.Getenv(EnvAPIKeyEnv))
	if envName == "" {
		return APIKey{}, fmt.Errorf("struere: config: %s is set but %s is not: the key does not reveal its environment, so set %s to development, production or eval", EnvAPIKey, EnvAPIKeyEnv, EnvAPIKeyEnv)
	}
	env, err := ParseEnvironment(envName)
	if err != nil {
		return APIKey{}, fmt.Errorf("struere: config: %s: %w", EnvAPIKeyEnv, err)
	}
	k, err := ParseAPIKey(raw, env)
	if err != nil {
		return APIKey{}, fmt.Errorf("struere: config: %s: %w", EnvAPIKey, err)
	}
	return k, nil
}
