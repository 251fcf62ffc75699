package struere

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// ErrNoCredentials reports that ConfigFromEnv found no token at all:
// STRUERE_TOKEN is unset and ~/.struere/credentials.json does not exist (or
// the home directory is unknown).
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
// it (protocol §2.1).
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

// ConfigFromEnv builds a Config the way the struere CLI finds its settings:
//
//   - URL from STRUERE_CONVEX_URL, else DefaultURL; SiteURL from
//     STRUERE_SITE_URL, else derived;
//   - Token from STRUERE_TOKEN, else the "token" of
//     ~/.struere/credentials.json, which must not have passed its
//     "expiresAt" (an expired file is reported, and left in place);
//   - OrganizationID from STRUERE_ORG_ID, else organization.id of
//     ./struere.json, else empty (the backend's default organization);
//   - APIKey from STRUERE_API_KEY with its environment declared in
//     STRUERE_API_KEY_ENV (both or neither).
//
// When there is no token at all (no STRUERE_TOKEN, no credentials file,
// or no home directory to look in) the error matches ErrNoCredentials;
// an expired or malformed file is a different error. Every error names
// the variable or file at fault and how to fix it.
// ConfigFromEnv does no network I/O.
func ConfigFromEnv() (Config, error) {
	cfg := Config{URL: DefaultURL}
	if v := strings.TrimSpace(os.Getenv(EnvConvexURL)); v != "" {
		cfg.URL = v
	}
	cfg.SiteURL = strings.TrimSpace(os.Getenv(EnvSiteURL))
	if v := strings.TrimSpace(os.Getenv(EnvToken)); v != "" {
		cfg.Token = NewToken(v)
	} else {
		home, err := os.UserHomeDir()
		if err != nil {
			return Config{}, noCredentials(fmt.Sprintf("%s is not set and the home directory is unknown (%v): set %s", EnvToken, err, EnvToken))
		}
		tok, err := loadCredentials(filepath.Join(home, ".struere", "credentials.json"), time.Now())
		if err != nil {
			return Config{}, err
		}
		cfg.Token = tok
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
	apiKey, err := apiKeyFromEnv()
	if err != nil {
		return Config{}, err
	}
	cfg.APIKey = apiKey
	return cfg, nil
}

// loadCredentials reads the CLI's credentials file and returns its token.
func loadCredentials(path string, now time.Time) (Token, error) {
	var none Token
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return none, noCredentials(fmt.Sprintf("%s is not set and %s does not exist: run `struere login` or set %s", EnvToken, path, EnvToken))
	}
	if err != nil {
		return none, fmt.Errorf("struere: config: reading %s: %w", path, err)
	}
	var f credentialsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return none, fmt.Errorf("struere: config: %s is not valid JSON (%s): run `struere login` again", path, jsonProblem(err))
	}
	if strings.TrimSpace(f.Token) == "" {
		return none, fmt.Errorf("struere: config: %s has no \"token\": run `struere login` again", path)
	}
	if f.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339Nano, f.ExpiresAt)
		if err != nil {
			return none, fmt.Errorf("struere: config: %s: \"expiresAt\" %q is not an ISO-8601 time: run `struere login` again", path, f.ExpiresAt)
		}
		if !now.Before(exp) {
			return none, fmt.Errorf("struere: config: the login in %s expired at %s: run `struere login` again", path, exp.UTC().Format(time.RFC3339))
		}
	}
	return NewToken(strings.TrimSpace(f.Token)), nil
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
