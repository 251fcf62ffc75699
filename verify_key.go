package struere

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

const (
	fnListAPIKeys        = "apiKeys:list"
	fnGetStudioKeyStatus = "apiKeys:getStudioKeyStatus"
)

// ErrEnvironmentMismatch: an API key's environment is not the one expected:
// the backend lists the key under another environment than the one it was
// declared for (VerifyKey), or an operation bound to one environment was
// given a key declared for another (RequireEnvironment, WithSmokeTest). The
// error is an *EnvironmentMismatchError.
var ErrEnvironmentMismatch = errors.New("struere: API key environment mismatch")

// EnvironmentMismatchError says which environments disagree. It matches
// ErrEnvironmentMismatch. It names the key by its prefix only, which is
// not secret.
type EnvironmentMismatchError struct {
	// Op is the SDK operation, e.g. "verify key" or "deploy".
	Op string
	// KeyPrefix is the key's first 16 characters.
	KeyPrefix string
	// Declared is the environment the key was declared for (ParseAPIKey,
	// STRUERE_API_KEY_ENV).
	Declared Environment
	// Actual is the environment the backend lists for the key; empty when
	// the backend was not asked (an environment guard).
	Actual Environment
	// Required is the environment the operation is bound to; empty for
	// VerifyKey.
	Required Environment
}

// Error names the key's prefix and both environments.
func (e *EnvironmentMismatchError) Error() string {
	if e.Actual != "" {
		return fmt.Sprintf("struere: %s: API key %s is declared for %s but the backend lists it as a %s key: fix STRUERE_API_KEY_ENV or the environment passed to ParseAPIKey",
			e.Op, e.KeyPrefix, e.Declared, e.Actual)
	}
	return fmt.Sprintf("struere: %s: API key %s is declared for %s but this operation acts in %s only; nothing was sent: use a %s key",
		e.Op, e.KeyPrefix, e.Declared, e.Required, e.Required)
}

// Is matches ErrEnvironmentMismatch.
func (e *EnvironmentMismatchError) Is(target error) bool { return target == ErrEnvironmentMismatch }

// KeyInfo is what the backend lists about an API key (never the key).
type KeyInfo struct {
	ID          string      `json:"id"`          // the key's record id ("" for a studio key)
	Name        string      `json:"name"`        // the name given at creation
	Prefix      string      `json:"keyPrefix"`   // the key's first 16 characters
	Environment Environment `json:"environment"` // the environment the backend records
	Permissions []string    `json:"permissions"` // e.g. ["*"]
	// ExpiresAt is zero for a key that never expires.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// LastUsedAt is zero when the key was never used.
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	CreatedAt  time.Time `json:"createdAt,omitzero"` // when the key was created
}

// wireKey is one element of apiKeys:list (protocol §2.2).
type wireKey struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	KeyPrefix   string   `json:"keyPrefix"`
	Permissions []string `json:"permissions"`
	Environment string   `json:"environment"`
	ExpiresAt   float64  `json:"expiresAt"`
	LastUsedAt  float64  `json:"lastUsedAt"`
	CreatedAt   float64  `json:"createdAt"`
}

// VerifyKey confirms key's declared environment (Config.APIKey when key is
// the zero APIKey) with the backend. It lists the API keys of the token's
// default organization (apiKeys:list, which takes no organization
// argument, so Config.OrganizationID does not apply) and matches the key's
// prefix. The newest backends leave the organization's two "Studio" keys
// (created with the organization, for the dashboard) out of that list;
// VerifyKey then asks for the studio key of each environment
// (apiKeys:getStudioKeyStatus). It needs the user token and sends the key
// nowhere.
//
// It returns the key's listing, or an *EnvironmentMismatchError
// (ErrEnvironmentMismatch) when the backend lists the key under another
// environment, or an error matching ErrNotFound when no key has that prefix
// or the key has expired (expiresAt before the local clock; the backend
// treats an expired key as unknown). A key listed without an environment
// (the oldest backends) counts as production, the only environment those
// backends serve. Call failures are *APIError.
func (c *Client) VerifyKey(ctx context.Context, key APIKey) (*KeyInfo, error) {
	const op = "verify key"
	if ctx == nil {
		return nil, nilContext(op)
	}
	if key.IsZero() {
		key = c.s.apiKey
	}
	if key.IsZero() {
		return nil, fmt.Errorf("struere: %s: no API key: pass one or set Config.APIKey: %w", op, ErrValidation)
	}
	return c.lookupKey(ctx, op, key)
}

// lookupKey is VerifyKey for a non-zero key.
func (c *Client) lookupKey(ctx context.Context, op string, key APIKey) (*KeyInfo, error) {
	var list []wireKey
	if err := c.call(ctx, op, convex.Query, fnListAPIKeys, nil, &list); err != nil {
		return nil, err
	}
	prefix := key.Prefix()
	var found []KeyInfo
	for _, w := range list {
		if w.KeyPrefix == prefix {
			found = append(found, w.info())
		}
	}
	if len(found) == 0 {
		studio, err := c.studioKey(ctx, op, prefix)
		if err != nil {
			return nil, err
		}
		if studio == nil {
			return nil, fmt.Errorf("struere: %s: no API key with prefix %s in the organization (deleted, or of another organization): %w", op, prefix, ErrNotFound)
		}
		found = append(found, *studio)
	}
	now := time.Now()
	var live []KeyInfo
	for _, k := range found {
		if k.ExpiresAt.IsZero() || !k.ExpiresAt.Before(now) {
			live = append(live, k)
		}
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("struere: %s: API key %s expired at %s: create a new key: %w", op, prefix, found[0].ExpiresAt.UTC().Format(time.RFC3339), ErrNotFound)
	}
	// Prefixes are 8 random characters: two live keys sharing one is
	// unlikely, and then the declared environment wins if either has it.
	for _, k := range live {
		if k.Environment == key.Environment() {
			return &k, nil
		}
	}
	return nil, &EnvironmentMismatchError{Op: op, KeyPrefix: prefix, Declared: key.Environment(), Actual: live[0].Environment}
}

// wireStudioKey is apiKeys:getStudioKeyStatus's value (null when the
// environment has no studio key).
type wireStudioKey struct {
	Active     bool    `json:"active"`
	KeyPrefix  string  `json:"keyPrefix"`
	LastUsedAt float64 `json:"lastUsedAt"`
	CreatedAt  float64 `json:"createdAt"`
}

// studioKey finds the studio key with that prefix, asking for each
// environment's; nil when none has it or the backend has no studio keys
// (the function exists on the newest backends only).
func (c *Client) studioKey(ctx context.Context, op, prefix string) (*KeyInfo, error) {
	for _, env := range []Environment{Production, Development, Eval} {
		var w *wireStudioKey
		err := c.call(ctx, op, convex.Query, fnGetStudioKeyStatus, struct {
			Environment Environment `json:"environment"`
		}{env}, &w)
		switch {
		case errors.Is(err, ErrUnsupported) || isRedacted(err):
			// No such function (older backends), or a redacted error
			// that cannot say more.
			return nil, nil
		case err != nil:
			return nil, err
		case w != nil && w.KeyPrefix == prefix:
			return &KeyInfo{Name: "Studio", Prefix: prefix, Environment: env, Permissions: []string{"*"},
				LastUsedAt: msTime(w.LastUsedAt), CreatedAt: msTime(w.CreatedAt)}, nil
		}
	}
	return nil, nil
}

func (w wireKey) info() KeyInfo {
	env := Environment(w.Environment)
	if env == "" {
		env = Production
	}
	return KeyInfo{ID: w.ID, Name: w.Name, Prefix: w.KeyPrefix, Environment: env, Permissions: w.Permissions,
		ExpiresAt: msTime(w.ExpiresAt), LastUsedAt: msTime(w.LastUsedAt), CreatedAt: msTime(w.CreatedAt)}
}

// msTime converts a Convex millisecond timestamp; 0 (absent) is the zero time.
func msTime(ms float64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}
