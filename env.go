package struere

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Environment names one of a Struere organization's isolated environments.
// Agent configurations, entity types, roles, triggers, threads and API keys
// belong to exactly one environment; agents themselves are shared.
type Environment string

// The environments a Struere backend knows. Eval exists only on the newest
// backends.
const (
	Development Environment = "development"
	Production  Environment = "production"
	Eval        Environment = "eval"
)

// Environments lists every valid Environment, in the order they are usually
// shown.
func Environments() []Environment { return []Environment{Development, Production, Eval} }

// ParseEnvironment returns the Environment named by s. Surrounding spaces are
// ignored and case matters, as on the wire. Any other value ("staging", "prod",
// "") gives an error that lists the valid names.
func ParseEnvironment(s string) (Environment, error) {
	e := Environment(strings.TrimSpace(s))
	if err := e.Validate(); err != nil {
		return "", err
	}
	return e, nil
}

// Validate reports whether e is one of Development, Production or Eval.
func (e Environment) Validate() error {
	switch e {
	case Development, Production, Eval:
		return nil
	}
	return fmt.Errorf("struere: invalid environment %q: use one of development, production, eval", string(e))
}

// String returns the wire name of e.
func (e Environment) String() string { return string(e) }

// DefaultURL is the deployment the struere CLI talks to when
// STRUERE_CONVEX_URL is not set.
const DefaultURL = "https://rapid-wildebeest-172.convex.cloud"

// DefaultMaxResponseBytes bounds the size of one response body.
const DefaultMaxResponseBytes int64 = 64 << 20

// Config is everything a Client needs. It is plain data: build it by hand,
// with ConfigFromEnv, or from strueretest.Server.Config. New copies it, so
// changing a Config after New has no effect on the Client.
type Config struct {
	// URL is the Convex deployment, e.g. "https://rapid-wildebeest-172.convex.cloud".
	// Required. It must be https unless the host is a loopback address or
	// AllowInsecureHTTP is set.
	URL string

	// SiteURL is the deployment's HTTP-routes origin, used by the public
	// chat API. Empty means URL with ".convex.cloud" replaced by
	// ".convex.site".
	SiteURL string

	// Token is the user's JWT (what `struere login` stores). It is sent as
	// "Authorization: Bearer" to URL's host, for the function API
	// (/api/*), and nowhere else. It does not refresh; for a token that
	// does, set TokenSource instead (ConfigFromEnv does, for the CLI's
	// credentials file). Set at most one of Token and TokenSource.
	Token Token

	// TokenSource supplies the user's JWT for each call, refreshing it as
	// needed (see TokenSource, CredentialsFile). Set at most one of Token
	// and TokenSource.
	TokenSource TokenSource

	// APIKey is an optional API key with its declared environment. It is
	// the default key of Client.Chat and Client.VerifyKey and, like the
	// keys of APIKeys, serves its environment's reads and writes when the
	// client has no user token. An API key is never sent to the function
	// API (/api/*): it goes only to the site routes (chat, /v1/sync*).
	APIKey APIKey

	// APIKeys are further API keys, at most one per declared environment
	// (APIKey may repeat one of them). With no Token or TokenSource, a
	// Client runs on keys alone: Status, Sync and Deploy then read and
	// write each environment through the site routes /v1/sync,
	// /v1/sync/state and /v1/sync/pull with that environment's key, on
	// backends that have those routes (GenerationHead). Status and Deploy
	// need a development and a production key; Sync needs a development
	// key. A user token, when present, is always used instead of the keys
	// for those calls.
	APIKeys []APIKey

	// OrganizationID selects the organization. Empty means the backend's
	// default organization for the token; the key is then omitted on the
	// wire.
	OrganizationID string

	// Generation fixes the backend generation instead of probing for it.
	// The zero value, GenerationAuto, probes once per Client.
	Generation Generation

	// HTTPClient is the transport to use. Nil means a pooled client with
	// sensible timeouts. Its redirect policy is replaced: the client never
	// follows a redirect, so the token cannot travel to another host.
	HTTPClient *http.Client

	// Retry is the retry policy. The zero value means DefaultRetryPolicy.
	Retry RetryPolicy

	// Logger receives one debug record per HTTP attempt (method, function
	// path, status, attempt, duration, request id) and never a header, body
	// or token. Nil means silent.
	Logger *slog.Logger

	// UserAgent is appended to the User-Agent header, e.g. "my-deployer/1.2".
	UserAgent string

	// AllowInsecureHTTP permits plain http:// to a host that is not a
	// loopback address. Leave it false outside of controlled networks.
	AllowInsecureHTTP bool

	// MaxResponseBytes bounds each response body. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// RetryPolicy says how often and how long the Client retries a call that the
// server could not have run, or a query that failed transiently.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt. Zero
	// means the default (4); a negative value disables retries.
	MaxRetries int
	// MinWait is the first backoff. Zero means 200ms.
	MinWait time.Duration
	// MaxWait caps every wait, Retry-After included: a Retry-After longer
	// than MaxWait (or than the context deadline) is not slept, and the
	// call fails with ErrRateLimited carrying RetryAfter. Zero means 10s.
	MaxWait time.Duration
}

// DefaultRetryPolicy is the policy used when Config.Retry is the zero value.
var DefaultRetryPolicy = RetryPolicy{MaxRetries: 4, MinWait: 200 * time.Millisecond, MaxWait: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultRetryPolicy.MaxRetries
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.MinWait <= 0 {
		p.MinWait = DefaultRetryPolicy.MinWait
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultRetryPolicy.MaxWait
	}
	if p.MaxWait < p.MinWait {
		p.MaxWait = p.MinWait
	}
	return p
}
