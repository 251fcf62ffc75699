package struere

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
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
// it.
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

// projectFile is ./struere.json.
type projectFile struct {
	Version      string `json:"version"`
	Organization *struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"organization"`
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
