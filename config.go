package struere

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

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
	// needed (see TokenSource, OpenCredentialsFile). Set at most one of Token
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

	// Retry is the retry policy. A zero field takes its default: 4
	// retries, waits from 200ms to 10s.
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

// defaultRetryPolicy is the policy used for the zero fields of
// Config.Retry (its documented defaults).
var defaultRetryPolicy = RetryPolicy{MaxRetries: 4, MinWait: 200 * time.Millisecond, MaxWait: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = defaultRetryPolicy.MaxRetries
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.MinWait <= 0 {
		p.MinWait = defaultRetryPolicy.MinWait
	}
	if p.MaxWait <= 0 {
		p.MaxWait = defaultRetryPolicy.MaxWait
	}
	if p.MaxWait < p.MinWait {
		p.MaxWait = p.MinWait
	}
	return p
}

// Environment variables ConfigFromEnv reads.
const (
	EnvConvexURL = "STRUERE_CONVEX_URL" // deployment URL; default DefaultURL
	EnvSiteURL   = "STRUERE_SITE_URL"   // site URL override; default derived from the deployment URL
	EnvToken     = "STRUERE_TOKEN"      // user JWT; default from ~/.struere/credentials.json
	EnvOrgID     = "STRUERE_ORG_ID"     // organization id; default from ./struere.json
)

// Environment variables for API keys (ConfigFromEnv).
const (
	EnvAPIKey    = "STRUERE_API_KEY"     // a Struere API key, af_live_<8>_<32>
	EnvAPIKeyEnv = "STRUERE_API_KEY_ENV" // its environment: development, production or eval
	// EnvDevelopmentAPIKey holds a key declared for Development.
	EnvDevelopmentAPIKey = "STRUERE_DEVELOPMENT_API_KEY"
	// EnvProductionAPIKey holds a key declared for Production.
	EnvProductionAPIKey = "STRUERE_PRODUCTION_API_KEY"
)

// ConfigFromEnv builds a Config the way the struere CLI finds its settings,
// except where the CLI is wrong (noted below):
//
//   - URL from STRUERE_CONVEX_URL, else DefaultURL; SiteURL from
//     STRUERE_SITE_URL, else derived;
//   - the user token: Token from STRUERE_TOKEN (it does not refresh);
//     else TokenSource is OpenCredentialsFile's source over
//     ~/.struere/credentials.json when the file holds a "token" (it
//     refreshes the token with the file's "sessionId"); the file's
//     "expiresAt" must not have passed (an expired file is reported, and
//     left in place);
//   - API keys: APIKey from STRUERE_API_KEY with its environment declared
//     in STRUERE_API_KEY_ENV (both or neither), else from the "apiKey" of
//     the credentials file, again declared by STRUERE_API_KEY_ENV (the CLI
//     prefers the file's key; here the variable wins, as for the token);
//     APIKeys from STRUERE_DEVELOPMENT_API_KEY (declared Development) and
//     STRUERE_PRODUCTION_API_KEY (declared Production);
//   - OrganizationID from STRUERE_ORG_ID, else organization.id of
//     ./struere.json, else empty (the backend's default organization).
//
// A token and keys may all be present: the token then serves the function
// API and the keys only chat and the site routes (the CLI sends the key to
// the function API instead, which always answers 401). With keys and no
// token the Client runs on the keys alone (see Config.APIKeys). One key
// given for two environments, or two keys for one, is an error naming the
// variables.
//
// When there is no credential at all the error matches ErrNoCredentials;
// an expired or malformed file is a different error. Every error names
// the variable or file at fault and how to fix it.
// ConfigFromEnv does no network I/O.
func ConfigFromEnv() (Config, error) {
	cfg := Config{URL: DefaultURL}
	if v := strings.TrimSpace(os.Getenv(EnvConvexURL)); v != "" {
		cfg.URL = v
	}
	cfg.SiteURL = strings.TrimSpace(os.Getenv(EnvSiteURL))
	keys, err := keysFromEnv()
	if err != nil {
		return Config{}, err
	}
	var fileKey string
	if v := strings.TrimSpace(os.Getenv(EnvToken)); v != "" {
		cfg.Token = NewToken(v)
	} else {
		home, err := os.UserHomeDir()
		path := filepath.Join(home, ".struere", "credentials.json")
		var cf *credentialsFile
		if err == nil {
			cf, err = readCredentialsFile(path, time.Now())
		}
		switch {
		case errors.Is(err, fs.ErrNotExist) || (err != nil && home == ""):
			if keys.none() {
				detail := fmt.Sprintf("%s is not set and %s does not exist", EnvToken, path)
				if home == "" {
					detail = fmt.Sprintf("%s is not set and the home directory is unknown (%v)", EnvToken, err)
				}
				return Config{}, noCredentials(fmt.Sprintf("%s, and no API key is set: run `struere login`, set %s, or set %s and %s", detail, EnvToken, EnvDevelopmentAPIKey, EnvProductionAPIKey))
			}
		case isLoginExpired(err) && !keys.none():
			// The CLI treats an expired login as absent and runs on the
			// keys; so does this.
		case err != nil:
			return Config{}, err
		default:
			if strings.TrimSpace(cf.Token) != "" {
				site, err := siteURLOf(cfg)
				if err != nil {
					return Config{}, err
				}
				src := &loginFile{path: path, now: time.Now}
				if src.refreshURL, err = url.Parse(site + refreshRoute); err != nil {
					return Config{}, fmt.Errorf("struere: config: site URL: %w", err)
				}
				src.take(cf)
				cfg.TokenSource = src
			}
			fileKey = strings.TrimSpace(cf.APIKey)
			if cfg.TokenSource == nil && fileKey == "" && keys.none() {
				return Config{}, fmt.Errorf("struere: config: %s has no \"token\" and no \"apiKey\": run `struere login` again", path)
			}
		}
	}
	if err := keys.primaryFrom(fileKey); err != nil {
		return Config{}, err
	}
	cfg.APIKey, cfg.APIKeys = keys.primary, keys.pair()
	if _, err := keyring(cfg.APIKey, cfg.APIKeys); err != nil {
		return Config{}, keys.explain(err)
	}
	if v := strings.TrimSpace(os.Getenv(EnvOrgID)); v != "" {
		cfg.OrganizationID = v
	} else {
		org, err := loadProjectOrg("struere.json")
		if err != nil {
			return Config{}, err
		}
		cfg.OrganizationID = org
	}
	return cfg, nil
}
