package struere

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// APIKey is a Struere API key together with the environment it was created
// for. The key string does not reveal its environment (every key starts
// "af_live_"), so the caller declares it; Client.VerifyKey checks the
// declaration against the backend. An APIKey prints as [REDACTED] under
// every fmt verb, in slog and in JSON; Prefix is safe to show.
type APIKey struct {
	// raw is sealed (see Token) so that reflection on an unexported field
	// (fmt, go-spew, go-cmp), which skips the methods below, prints an
	// address.
	raw *sealed
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
	return APIKey{raw: seal(raw), env: env}, nil
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
func (k APIKey) Reveal() string { return k.raw.open() }

// String returns "[REDACTED]".
func (k APIKey) String() string { return redacted }

// Format prints "[REDACTED]" for every verb, %#v included.
func (k APIKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the key out of slog output.
func (k APIKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText encodes the key as "[REDACTED]", which is also its JSON
// string.
func (k APIKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// envKeys are the API keys ConfigFromEnv found.
type envKeys struct {
	primary   APIKey // STRUERE_API_KEY (or the credentials file's apiKey)
	dev, prod APIKey // STRUERE_DEVELOPMENT_API_KEY, STRUERE_PRODUCTION_API_KEY
}

// keysFromEnv reads STRUERE_API_KEY with STRUERE_API_KEY_ENV, and the
// development and production key variables.
func keysFromEnv() (*envKeys, error) {
	k := &envKeys{}
	if raw := strings.TrimSpace(os.Getenv(EnvAPIKey)); raw != "" {
		key, err := declaredKey(raw, EnvAPIKey)
		if err != nil {
			return nil, err
		}
		k.primary = key
	}
	for _, v := range []struct {
		name string
		env  Environment
		dst  *APIKey
	}{{EnvDevelopmentAPIKey, Development, &k.dev}, {EnvProductionAPIKey, Production, &k.prod}} {
		raw := strings.TrimSpace(os.Getenv(v.name))
		if raw == "" {
			continue
		}
		key, err := ParseAPIKey(raw, v.env)
		if err != nil {
			return nil, fmt.Errorf("struere: config: %s: %w", v.name, err)
		}
		*v.dst = key
	}
	return k, nil
}

// declaredKey parses raw (from source) with the environment declared in
// STRUERE_API_KEY_ENV.
func declaredKey(raw, source string) (APIKey, error) {
	envName := strings.TrimSpace(os.Getenv(EnvAPIKeyEnv))
	if envName == "" {
		return APIKey{}, fmt.Errorf("struere: config: %s is set but %s is not: the key does not reveal its environment, so set %s to development, production or eval (or use %s / %s)", source, EnvAPIKeyEnv, EnvAPIKeyEnv, EnvDevelopmentAPIKey, EnvProductionAPIKey)
	}
	env, err := ParseEnvironment(envName)
	if err != nil {
		return APIKey{}, fmt.Errorf("struere: config: %s: %w", EnvAPIKeyEnv, err)
	}
	k, err := ParseAPIKey(raw, env)
	if err != nil {
		return APIKey{}, fmt.Errorf("struere: config: %s: %w", source, err)
	}
	return k, nil
}

func (k *envKeys) none() bool { return k.primary.IsZero() && k.dev.IsZero() && k.prod.IsZero() }

// primaryFrom takes the credentials file's apiKey as the primary key when
// STRUERE_API_KEY is not set.
func (k *envKeys) primaryFrom(fileKey string) error {
	if !k.primary.IsZero() || fileKey == "" {
		return nil
	}
	key, err := declaredKey(fileKey, "the \"apiKey\" of ~/.struere/credentials.json")
	if err != nil {
		return err
	}
	k.primary = key
	return nil
}

// pair returns the development and production keys that are set.
func (k *envKeys) pair() []APIKey {
	var out []APIKey
	for _, key := range []APIKey{k.dev, k.prod} {
		if !key.IsZero() {
			out = append(out, key)
		}
	}
	return out
}

// explain restates a keyring error in terms of the variables.
func (k *envKeys) explain(err error) error {
	switch {
	case !k.dev.IsZero() && k.dev.Reveal() == k.prod.Reveal():
		return fmt.Errorf("struere: config: %s and %s hold the same key (%s): a key belongs to one environment; copy each environment's own key from the dashboard", EnvDevelopmentAPIKey, EnvProductionAPIKey, k.dev.Prefix())
	case !k.primary.IsZero() && k.primary.Environment() == Development && !k.dev.IsZero():
		return fmt.Errorf("struere: config: %s (declared %s by %s) and %s are different development keys: unset one", EnvAPIKey, Development, EnvAPIKeyEnv, EnvDevelopmentAPIKey)
	case !k.primary.IsZero() && k.primary.Environment() == Production && !k.prod.IsZero():
		return fmt.Errorf("struere: config: %s (declared %s by %s) and %s are different production keys: unset one", EnvAPIKey, Production, EnvAPIKeyEnv, EnvProductionAPIKey)
	case !k.primary.IsZero():
		return fmt.Errorf("struere: config: %s is declared %s by %s but is also set as the key of another environment: fix %s", EnvAPIKey, k.primary.Environment(), EnvAPIKeyEnv, EnvAPIKeyEnv)
	}
	return err
}

// keyring indexes the configured keys by declared environment. A key
// belongs to exactly one environment, so the same key declared for two,
// or two different keys for one, is refused: either would let a write go
// out with a key whose environment is not the one written.
func keyring(primary APIKey, more []APIKey) (map[Environment]APIKey, error) {
	ring := map[Environment]APIKey{}
	add := func(field string, k APIKey) error {
		if k.IsZero() {
			return fmt.Errorf("struere: config: %s is the zero APIKey: build keys with ParseAPIKey", field)
		}
		if err := k.env.Validate(); err != nil {
			return fmt.Errorf("struere: config: %s: %w", field, err)
		}
		for env, other := range ring {
			if other.Reveal() == k.Reveal() && env != k.env {
				return fmt.Errorf("struere: config: %s: key %s is declared for both %s and %s: a key belongs to one environment; fix the declaration (%s, %s)",
					field, k.Prefix(), env, k.env, EnvDevelopmentAPIKey, EnvProductionAPIKey)
			}
		}
		if other, ok := ring[k.env]; ok && other.Reveal() != k.Reveal() {
			return fmt.Errorf("struere: config: %s: two different keys are declared for %s (%s and %s): keep one", field, k.env, other.Prefix(), k.Prefix())
		}
		ring[k.env] = k
		return nil
	}
	if !primary.IsZero() {
		if err := add("APIKey", primary); err != nil {
			return nil, err
		}
	}
	for i, k := range more {
		if err := add(fmt.Sprintf("APIKeys[%d]", i), k); err != nil {
			return nil, err
		}
	}
	return ring, nil
}
