package struere

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// isolateConfigEnv gives the test an empty HOME and working directory and
// unsets every variable ConfigFromEnv reads. It returns both directories.
func isolateConfigEnv(t *testing.T) (home, work string) {
	t.Helper()
	home, work = t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(work)
	for _, k := range []string{EnvConvexURL, EnvSiteURL, EnvToken, EnvOrgID, EnvAPIKey, EnvAPIKeyEnv, EnvDevelopmentAPIKey, EnvProductionAPIKey} {
		t.Setenv(k, "")
	}
	return home, work
}

// writeCredentials writes ~/.struere/credentials.json under home.
func writeCredentials(t *testing.T, home, body string) string {
	t.Helper()
	dir := filepath.Join(home, ".struere")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	path := filepath.Join(dir, "credentials.json")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

// credentialsJSON is a credentials file as `struere login` writes it
// (protocol §2.1).
func credentialsJSON(token string, expiresAt time.Time) string {
	return `{"token":"` + token + `","sessionId":"sess_2abc","user":{"id":"k17abc","email":"ada@example.com","name":"Ada"},"expiresAt":"` +
		expiresAt.UTC().Format("2006-01-02T15:04:05.000Z") + `"}`
}

func writeProjectFile(t *testing.T, dir, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "struere.json"), []byte(body), 0o644))
}

const projectJSON = `{"version":"2.0","organization":{"id":"jd7orgfromfile","slug":"acme","name":"Acme"}}`

func TestConfigFromEnvReadsTheCLIFiles(t *testing.T) {
	home, work := isolateConfigEnv(t)
	writeCredentials(t, home, credentialsJSON("jwt.from.file", time.Now().Add(30*24*time.Hour)))
	writeProjectFile(t, work, projectJSON)

	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.True(t, cfg.Token.IsZero(), "the file's token comes from TokenSource, which can refresh it")
	src, ok := cfg.TokenSource.(*loginFile)
	require.True(t, ok, "TokenSource is a credentials file source, not %T", cfg.TokenSource)
	require.Equal(t, filepath.Join(home, ".struere", "credentials.json"), src.Path())
	tok, err := src.Token(t.Context())
	require.NoError(t, err)
	got := map[string]string{
		"URL": cfg.URL, "SiteURL": cfg.SiteURL, "Token": tok.Reveal(), "OrganizationID": cfg.OrganizationID,
		"refresh": src.refreshURL.String(),
	}
	want := map[string]string{
		"URL": "https://rapid-wildebeest-172.convex.cloud", "SiteURL": "", "Token": "jwt.from.file", "OrganizationID": "jd7orgfromfile",
		"refresh": "https://rapid-wildebeest-172.convex.site/v1/auth/refresh",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigFromEnv mismatch (-want +got):\n%s", diff)
	}
	require.True(t, cfg.APIKey.IsZero())

	c, err := New(cfg)
	require.NoError(t, err, "ConfigFromEnv output is accepted by New")
	require.Equal(t, "https://rapid-wildebeest-172.convex.site", c.SiteURL())
}

func TestConfigFromEnvVariablesWinOverFiles(t *testing.T) {
	home, work := isolateConfigEnv(t)
	writeCredentials(t, home, credentialsJSON("jwt.from.file", time.Now().Add(time.Hour)))
	writeProjectFile(t, work, projectJSON)
	t.Setenv(EnvConvexURL, " https://happy-otter-123.convex.cloud ")
	t.Setenv(EnvSiteURL, "https://chat.example.com")
	t.Setenv(EnvToken, "jwt.from.env\n")
	t.Setenv(EnvOrgID, "jd7orgfromenv")

	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	got := map[string]string{
		"URL": cfg.URL, "SiteURL": cfg.SiteURL, "Token": cfg.Token.Reveal(), "OrganizationID": cfg.OrganizationID,
	}
	want := map[string]string{
		"URL": "https://happy-otter-123.convex.cloud", "SiteURL": "https://chat.example.com", "Token": "jwt.from.env", "OrganizationID": "jd7orgfromenv",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigFromEnv mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigFromEnvUsesEnvironmentWithoutAnyFile(t *testing.T) {
	isolateConfigEnv(t)
	t.Setenv(EnvToken, "jwt.from.env")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, "jwt.from.env", cfg.Token.Reveal())
	require.Empty(t, cfg.OrganizationID, "no struere.json means the backend's default organization")
	require.Equal(t, DefaultURL, cfg.URL)
}

func TestConfigFromEnvCredentialFailuresNameThePathAndTheFix(t *testing.T) {
	tests := []struct {
		name  string
		body  string // "" means no file
		wants []string
	}{
		{"missing file", "", []string{"does not exist", "struere login", EnvToken}},
		{"malformed JSON", `{"token": "abc", `, []string{"not valid JSON", "struere login"}},
		{"not an object", `["abc"]`, []string{"struere login"}},
		{"empty file", ``, nil}, // handled below: an empty file exists
		{"empty token", `{"token":"","expiresAt":"2099-12-01T10:00:00.000Z"}`, []string{`no "token"`, "struere login"}},
		{"blank token", `{"token":"   ","expiresAt":"2099-12-01T10:00:00.000Z"}`, []string{`no "token"`, "struere login"}},
		{"no token field", `{"user":{"id":"k17"},"expiresAt":"2099-12-01T10:00:00.000Z"}`, []string{`no "token"`, "struere login"}},
		{"unparsable expiresAt", `{"token":"abc","expiresAt":"next tuesday"}`, []string{"expiresAt", "struere login"}},
		{"expired", credentialsJSON("abc", time.Now().Add(-time.Hour)), []string{"expired", "run `struere login` again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, _ := isolateConfigEnv(t)
			path := filepath.Join(home, ".struere", "credentials.json")
			if tt.body != "" || tt.name == "empty file" {
				path = writeCredentials(t, home, tt.body)
			}
			cfg, err := ConfigFromEnv()
			require.Error(t, err)
			require.Empty(t, cfg.Token.Reveal())
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "struere: config: "), msg)
			require.Contains(t, msg, path, "the error names the file")
			for _, w := range tt.wants {
				require.Contains(t, msg, w)
			}
			if tt.name == "empty file" {
				require.Contains(t, msg, "struere login")
			}
			if tt.body != "" || tt.name == "empty file" {
				_, statErr := os.Stat(path)
				require.NoError(t, statErr, "the credentials file is left in place")
			}
		})
	}
}

func TestConfigFromEnvLeavesAnExpiredCredentialsFileInPlace(t *testing.T) {
	home, _ := isolateConfigEnv(t)
	body := credentialsJSON("expired.jwt.value", time.Now().Add(-24*time.Hour))
	path := writeCredentials(t, home, body)

	_, err := ConfigFromEnv()
	require.Error(t, err)
	require.Contains(t, err.Error(), "struere login")
	require.Contains(t, err.Error(), "again")
	require.NotContains(t, err.Error(), "expired.jwt.value")

	data, readErr := os.ReadFile(path)
	require.NoError(t, readErr, "the expired file still exists")
	require.Equal(t, body, string(data), "and is unchanged")
}

func TestLoadCredentialsEnforcesExpiresAtAgainstNow(t *testing.T) {
	expiry := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	body := `{"token":"tok.en.value","user":{"id":"k17","email":"a@b.c","name":"A"},"expiresAt":"2026-12-01T10:00:00.000Z"}`
	tests := []struct {
		name    string
		body    string
		now     time.Time
		want    string
		wantErr string
	}{
		{"a month before expiry is valid", body, expiry.AddDate(0, -1, 0), "tok.en.value", ""},
		{"one millisecond before expiry is valid", body, expiry.Add(-time.Millisecond), "tok.en.value", ""},
		{"at the expiry instant it has expired", body, expiry, "", "expired at 2026-12-01T10:00:00Z"},
		{"a day after expiry it has expired", body, expiry.AddDate(0, 0, 1), "", "expired"},
		{"a local-time now is compared as an instant", body, expiry.Add(time.Minute).In(time.FixedZone("UTC-5", -5*3600)), "", "expired"},
		{"an offset expiresAt is honoured", `{"token":"t","expiresAt":"2026-12-01T12:00:00+02:00"}`, expiry.Add(-time.Second), "t", ""},
		{"no expiresAt never expires", `{"token":"t"}`, expiry.AddDate(50, 0, 0), "t", ""},
		{"token whitespace is trimmed", `{"token":" t\n","expiresAt":"2026-12-01T10:00:00.000Z"}`, expiry.Add(-time.Hour), "t", ""},
		{"unknown fields are ignored", `{"token":"t","apiKey":"x","future":true}`, expiry, "t", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credentials.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.body), 0o600))
			got, err := loadCredentials(path, tt.now)
			if tt.wantErr != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.wantErr)
				require.Contains(t, err.Error(), path)
				require.Contains(t, err.Error(), "struere login")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Reveal())
		})
	}
}

func TestConfigFromEnvReadsOrganizationFromStruereJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string
		wantErr []string
	}{
		{"organization.id is used", projectJSON, "jd7orgfromfile", nil},
		{"surrounding spaces in the id are dropped", `{"organization":{"id":"  jd7x  "}}`, "jd7x", nil},
		{"unknown fields are ignored", `{"version":"2.0","organization":{"id":"jd7x","extra":1},"agents":[]}`, "jd7x", nil},
		{"malformed JSON names the file", `{"organization":{"id":"jd7x"`, "", []string{"struere.json", "struere init"}},
		{"empty file names the file", ``, "", []string{"struere.json", "struere init"}},
		{"wrongly typed organization names the file", `{"organization":"acme"}`, "", []string{"struere.json", "organization"}},
		{"missing organization names the file", `{"version":"2.0"}`, "", []string{"struere.json", "organization.id", EnvOrgID}},
		{"null organization names the file", `{"organization":null}`, "", []string{"struere.json", "organization.id"}},
		{"empty organization.id names the file", `{"organization":{"id":"","slug":"acme"}}`, "", []string{"struere.json", "organization.id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, work := isolateConfigEnv(t)
			t.Setenv(EnvToken, "jwt.from.env")
			writeProjectFile(t, work, tt.body)
			cfg, err := ConfigFromEnv()
			if tt.wantErr != nil {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), "struere: config: "), err.Error())
				for _, w := range tt.wantErr {
					require.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.OrganizationID)
		})
	}
}

func TestConfigFromEnvOrgVariableSkipsAMalformedStruereJSON(t *testing.T) {
	_, work := isolateConfigEnv(t)
	t.Setenv(EnvToken, "jwt.from.env")
	t.Setenv(EnvOrgID, "jd7orgfromenv")
	writeProjectFile(t, work, `not json`)
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, "jd7orgfromenv", cfg.OrganizationID)
}

func TestConfigFromEnvReadsAnAPIKeyWithItsEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		env     string
		want    Environment
		wantErr []string
	}{
		{"key with production", exampleKey, "production", Production, nil},
		{"key with eval and spaces", " " + exampleKey + "\n", " eval ", Eval, nil},
		{"key without its environment", exampleKey, "", "", []string{EnvAPIKey, EnvAPIKeyEnv, "development, production or eval"}},
		{"key with an invalid environment", exampleKey, "staging", "", []string{EnvAPIKeyEnv, "staging", "development, production, eval"}},
		{"malformed key", "sk_dev_abc", "development", "", []string{EnvAPIKey, "af_live_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateConfigEnv(t)
			t.Setenv(EnvToken, "jwt.from.env")
			t.Setenv(EnvAPIKey, tt.key)
			t.Setenv(EnvAPIKeyEnv, tt.env)
			cfg, err := ConfigFromEnv()
			if tt.wantErr != nil {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), "struere: config: "), err.Error())
				for _, w := range tt.wantErr {
					require.Contains(t, err.Error(), w)
				}
				require.NotContains(t, err.Error(), exampleKey[16:])
				return
			}
			require.NoError(t, err)
			require.Equal(t, exampleKey, cfg.APIKey.Reveal())
			require.Equal(t, tt.want, cfg.APIKey.Environment())
		})
	}
}

func TestConfigFromEnvIgnoresAnEnvironmentWithoutAKey(t *testing.T) {
	isolateConfigEnv(t)
	t.Setenv(EnvToken, "jwt.from.env")
	t.Setenv(EnvAPIKeyEnv, "production")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.True(t, cfg.APIKey.IsZero())
}

func TestConfigFromEnvReportsMissingCredentialsAsErrNoCredentials(t *testing.T) {
	isolateConfigEnv(t)
	_, err := ConfigFromEnv()
	require.ErrorIs(t, err, ErrNoCredentials)
	require.Contains(t, err.Error(), "struere login")

	dir := filepath.Join(os.Getenv("HOME"), ".struere")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials.json"), []byte(`{"token":"a.b.c","expiresAt":"2000-01-01T00:00:00.000Z"}`), 0o600))
	_, err = ConfigFromEnv()
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNoCredentials, "an expired login is not the same as no login")
}

const (
	devKey  = "af_live_devkey01_0123456789abcdefghijklmnopqrstuv"
	prodKey = "af_live_prodkey1_0123456789abcdefghijklmnopqrstuv"
)

func TestConfigFromEnvReadsTheDevelopmentAndProductionKeys(t *testing.T) {
	isolateConfigEnv(t)
	t.Setenv(EnvDevelopmentAPIKey, devKey)
	t.Setenv(EnvProductionAPIKey, " "+prodKey+"\n")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err, "keys alone are credentials: no token or login file needed")
	require.True(t, cfg.Token.IsZero())
	require.Nil(t, cfg.TokenSource)
	require.True(t, cfg.APIKey.IsZero())
	require.Len(t, cfg.APIKeys, 2)
	got := map[Environment]string{}
	for _, k := range cfg.APIKeys {
		got[k.Environment()] = k.Reveal()
	}
	require.Equal(t, map[Environment]string{Development: devKey, Production: prodKey}, got)
	c, err := New(cfg)
	require.NoError(t, err, "New accepts a client of keys alone")
	require.NotNil(t, c)
}

func TestConfigFromEnvRefusesOneKeyForTwoEnvironments(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		wants []string
	}{
		{"the same key in both variables", map[string]string{EnvDevelopmentAPIKey: devKey, EnvProductionAPIKey: devKey},
			[]string{EnvDevelopmentAPIKey, EnvProductionAPIKey, "same key", devKey[:16]}},
		{"STRUERE_API_KEY declared production is the development key", map[string]string{EnvAPIKey: devKey, EnvAPIKeyEnv: "production", EnvDevelopmentAPIKey: devKey},
			[]string{EnvAPIKey, EnvAPIKeyEnv}},
		{"two different development keys", map[string]string{EnvAPIKey: prodKey, EnvAPIKeyEnv: "development", EnvDevelopmentAPIKey: devKey},
			[]string{EnvAPIKey, EnvDevelopmentAPIKey, "unset one"}},
		{"a malformed production key", map[string]string{EnvProductionAPIKey: "sk_prod_123"},
			[]string{EnvProductionAPIKey, "af_live_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateConfigEnv(t)
			for k, v := range tt.vars {
				t.Setenv(k, v)
			}
			_, err := ConfigFromEnv()
			require.Error(t, err)
			for _, w := range tt.wants {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), devKey[16:], "the secret part never shows")
			require.NotContains(t, err.Error(), prodKey[16:])
		})
	}
}

func TestConfigFromEnvAcceptsTheSameKeyTwiceForOneEnvironment(t *testing.T) {
	isolateConfigEnv(t)
	t.Setenv(EnvAPIKey, prodKey)
	t.Setenv(EnvAPIKeyEnv, "production")
	t.Setenv(EnvProductionAPIKey, prodKey)
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, prodKey, cfg.APIKey.Reveal())
	_, err = New(cfg)
	require.NoError(t, err)
}

func TestConfigFromEnvKeepsTheTokenAndTheKeysApart(t *testing.T) {
	home, _ := isolateConfigEnv(t)
	writeCredentials(t, home, credentialsJSON("jwt.from.file", time.Now().Add(time.Hour)))
	t.Setenv(EnvDevelopmentAPIKey, devKey)
	t.Setenv(EnvProductionAPIKey, prodKey)
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	require.NotNil(t, cfg.TokenSource, "the login is used")
	require.Len(t, cfg.APIKeys, 2, "and the keys are kept too")
}

func TestConfigFromEnvReadsACredentialsFileHoldingOnlyAnAPIKey(t *testing.T) {
	home, _ := isolateConfigEnv(t)
	path := writeCredentials(t, home, `{"apiKey":"`+prodKey+`"}`)

	_, err := ConfigFromEnv()
	require.Error(t, err, "the key's environment must be declared")
	require.Contains(t, err.Error(), EnvAPIKeyEnv)
	require.Contains(t, err.Error(), "apiKey")
	require.NotContains(t, err.Error(), "has no \"token\"")
	require.NotContains(t, err.Error(), prodKey[16:])

	t.Setenv(EnvAPIKeyEnv, "production")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err, "no \"has no token\" failure")
	require.Nil(t, cfg.TokenSource)
	require.Equal(t, prodKey, cfg.APIKey.Reveal())
	require.Equal(t, Production, cfg.APIKey.Environment())

	t.Setenv(EnvAPIKey, devKey)
	t.Setenv(EnvAPIKeyEnv, "development")
	cfg, err = ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, devKey, cfg.APIKey.Reveal(), "STRUERE_API_KEY wins over the file, as STRUERE_TOKEN does")
	_, statErr := os.Stat(path)
	require.NoError(t, statErr)
}

func TestConfigFromEnvRunsOnKeysWhenTheLoginHasExpired(t *testing.T) {
	home, _ := isolateConfigEnv(t)
	writeCredentials(t, home, credentialsJSON("old.jwt.value", time.Now().Add(-time.Hour)))
	t.Setenv(EnvDevelopmentAPIKey, devKey)
	t.Setenv(EnvProductionAPIKey, prodKey)
	cfg, err := ConfigFromEnv()
	require.NoError(t, err, "an expired login counts as none, as for the CLI, when keys are set")
	require.Nil(t, cfg.TokenSource)
	require.True(t, cfg.Token.IsZero())
	require.Len(t, cfg.APIKeys, 2)
}
