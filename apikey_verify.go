package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

	byState bool // Actual was found by comparing sync states, not listed
}

// Error names the key's prefix and both environments.
func (e *EnvironmentMismatchError) Error() string {
	if e.Actual != "" && e.byState {
		return fmt.Sprintf("struere: %s: API key %s is declared for %s but it reads the %s sync state of the organization, and no other: it is a %s key; nothing was sent: fix STRUERE_API_KEY_ENV or the environment passed to ParseAPIKey",
			e.Op, e.KeyPrefix, e.Declared, e.Actual, e.Actual)
	}
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

// wireKey is one element of apiKeys:list.
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

// routeSyncState is the newest backends' site route that answers, for an
// API key alone, the sync state of the key's organization and environment.
const routeSyncState = "/v1/sync/state"

// keySyncState reads POST /v1/sync/state with key.
func (c *Client) keySyncState(ctx context.Context, op string, key APIKey) (*wireSyncState, error) {
	u, err := c.siteRoute(routeSyncState)
	if err != nil {
		return nil, fmt.Errorf("struere: %s: %w", op, err)
	}
	res, err := c.s.rpc.Post(ctx, convex.PostRequest{URL: u, Route: routeSyncState, Bearer: key.Reveal(), Body: []byte("{}")})
	if err != nil {
		return nil, wrapCallError(op, err)
	}
	if res.Status != http.StatusOK {
		return nil, chatFailure(op, routeSyncState, "", false, res,
			func(s string) string { return c.s.rpc.Clean(s, key.Reveal()) },
			func(id string) string { return c.s.rpc.KeepRequestID(id, key.Reveal()) })
	}
	var st wireSyncState
	if err := json.Unmarshal(res.Body, &st); err != nil {
		return nil, &APIError{Op: op, Path: routeSyncState, HTTPStatus: res.Status, RequestID: res.RequestID, Attempts: res.Attempts,
			Message: "sync state is not JSON", kinds: []error{ErrMalformedResponse}, err: err}
	}
	return &st, nil
}

// environmentByState tells an API key's environment the one way the
// newest backends allow without a key listing: the sync state the key
// reads (POST /v1/sync/state, which answers for the key's organization and
// environment but names neither) is compared with each environment's
// state of the configured organization as the user token reads it. The
// states carry every agent's version and whether it has a configuration,
// and the environment's entity types, roles, triggers and eval suites, so
// the key's environment is known when its state equals exactly one of
// them. matched lists the environments whose state it equals: none when
// the key belongs to another organization (or a write came between the
// reads), several when those environments hold the same.
func (c *Client) environmentByState(ctx context.Context, op string, key APIKey) (matched []Environment, err error) {
	envs := []Environment{Production, Development, Eval}
	states := make([]*wireSyncState, len(envs))
	var keyState *wireSyncState
	fns := []func(context.Context) error{func(ctx context.Context) error {
		var err error
		keyState, err = c.keySyncState(ctx, op, key)
		return err
	}}
	for i, env := range envs {
		states[i] = new(wireSyncState)
		fns = append(fns, func(ctx context.Context) error {
			return c.call(ctx, op, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: env}, states[i])
		})
	}
	if err := parallel(ctx, fns...); err != nil {
		return nil, err
	}
	want, err := json.Marshal(canonicalState(keyState))
	if err != nil {
		return nil, fmt.Errorf("struere: %s: %w", op, err)
	}
	for i, st := range states {
		got, err := json.Marshal(canonicalState(st))
		if err != nil {
			return nil, fmt.Errorf("struere: %s: %w", op, err)
		}
		if string(got) == string(want) {
			matched = append(matched, envs[i])
		}
	}
	return matched, nil
}
