package struere

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvConvexURL = "STRUERE_CONVEX_URL" // deployment URL; default DefaultURL
	EnvSiteURL   = "STRUERE_SITE_URL"   // site URL override; default derived from the deployment URL
	EnvToken     = "STRUERE_TOKEN"      // user JWT; default from ~/.struere/credentials.json
	EnvOrgID     = "STRUERE_ORG_ID"     // organization id; default from ./struere.json
)

// ErrNoCredentials reports that ConfigFromEnv found no credentials at
// all: no STRUERE_TOKEN, no ~/.struere/credentials.json (or no home
// directory to look in), and no API key in STRUERE_API_KEY,
// STRUERE_DEVELOPMENT_API_KEY or STRUERE_PRODUCTION_API_KEY.
// Programs can fall back to another mode (the examples start an embedded
// strueretest backend). An expired or malformed credentials file is a
// different error.
var ErrNoCredentials = errors.New("struere: no credentials")

// noCredentialsError is ErrNoCredentials with the details.
type noCredentialsError struct{ detail string }

func (e *noCredentialsError) Error() string        { return "struere: config: no credentials: " + e.detail }
func (e *noCredentialsError) Is(target error) bool { return target == ErrNoCredentials }

func noCredentials(detail string) error { return &noCredentialsError{detail: detail} }

// credentialsFile is ~/.struere/credentials.json as `struere login` writes
// it (protocol §2.1, HEAD §H4.1).
type credentialsFile struct {
	Token     string `json:"token"`
	APIKey    string `json:"apiKey,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	ExpiresAt string `json:"expiresAt"`
	User      struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`

	expiresAt time.Time // ExpiresAt parsed; zero means never
}

// projectFile is ./struere.json (protocol §3.3).
type projectFile struct {
	Version      string `json:"version"`
	Organization *struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"organization"`
}

// ConfigFromEnv builds a Config the way the struere CLI finds its settings,
// except where the CLI is wrong (noted below):
//
//   - URL from STRUERE_CONVEX_URL, else DefaultURL; SiteURL from
//     STRUERE_SITE_URL, else derived;
//   - the user token: Token from STRUERE_TOKEN (it does not refresh);
//     else TokenSource is a CredentialsFile over
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
				src := &CredentialsFile{path: path, now: time.Now}
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

// siteURLOf returns the site URL a Config will use, validated as New does.
func siteURLOf(cfg Config) (string, error) {
	if cfg.SiteURL != "" {
		u, err := parseDeploymentURL("SiteURL", cfg.SiteURL, cfg.AllowInsecureHTTP)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(u.String(), "/"), nil
	}
	u, err := parseDeploymentURL("URL", cfg.URL, cfg.AllowInsecureHTTP)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(deriveSiteURL(u).String(), "/"), nil
}

// loadCredentials reads the CLI's credentials file and returns its token;
// a file without one is an error.
func loadCredentials(path string, now time.Time) (Token, error) {
	f, err := readCredentialsFile(path, now)
	if errors.Is(err, fs.ErrNotExist) {
		return Token{}, noCredentials(fmt.Sprintf("%s is not set and %s does not exist: run `struere login` or set %s", EnvToken, path, EnvToken))
	}
	if err != nil {
		return Token{}, err
	}
	if strings.TrimSpace(f.Token) == "" {
		return Token{}, fmt.Errorf("struere: config: %s has no \"token\": run `struere login` again", path)
	}
	return NewToken(strings.TrimSpace(f.Token)), nil
}

// readCredentialsFile reads and checks the CLI's credentials file: valid
// JSON, and an "expiresAt" (when present) that has not passed. A missing
// file is an error matching fs.ErrNotExist.
func readCredentialsFile(path string, now time.Time) (*credentialsFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("struere: config: reading %s: %w", path, err)
	}
	var f credentialsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("struere: config: %s is not valid JSON (%s): run `struere login` again", path, jsonProblem(err))
	}
	if f.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339Nano, f.ExpiresAt)
		if err != nil {
			return nil, fmt.Errorf("struere: config: %s: \"expiresAt\" %q is not an ISO-8601 time: run `struere login` again", path, f.ExpiresAt)
		}
		if !now.Before(exp) {
			return nil, &loginExpiredError{fmt.Sprintf("struere: config: the login in %s expired at %s: run `struere login` again", path, exp.UTC().Format(time.RFC3339))}
		}
		f.expiresAt = exp
	}
	return &f, nil
}

// loadProjectOrg returns organization.id from a struere.json, or "" when
// the file does not exist.
func loadProjectOrg(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("struere: config: reading %s: %w", path, err)
	}
	var f projectFile
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("struere: config: %s is not valid JSON (%s): fix it or run `struere init`", path, jsonProblem(err))
	}
	if f.Organization == nil || strings.TrimSpace(f.Organization.ID) == "" {
		return "", fmt.Errorf("struere: config: %s has no organization.id: run `struere init`, or set %s", path, EnvOrgID)
	}
	return strings.TrimSpace(f.Organization.ID), nil
}

// jsonProblem describes a JSON error without quoting the input, which may
// hold a secret.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has the wrong type (%s)", typ.Field, typ.Value)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the file is empty or cut short"
	}
	return "cannot decode"
}

// loginExpiredError is a credentials file whose expiresAt has passed.
type loginExpiredError struct{ msg string }

func (e *loginExpiredError) Error() string { return e.msg }

func isLoginExpired(err error) bool {
	var le *loginExpiredError
	return errors.As(err, &le)
}
