package struere

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/struere/struere-go/internal/convex"
)

// Canary secrets: tests assert that neither ever appears in output.
const (
	canaryToken     = "eyJcanary.T0KEN-s3cret.payload-7f3e"
	canaryKeySecret = "s3cr3tk3yc4n4rys3cr3tk3yc4n4ry00"
	canaryKey       = "af_live_c4n4ry00_" + canaryKeySecret
)

// requireNoCanary fails if out holds either canary secret.
func requireNoCanary(t *testing.T, out string) {
	t.Helper()
	require.NotContains(t, out, canaryToken, "the token leaked")
	require.NotContains(t, out, canaryKeySecret, "the API key leaked")
}

// canaryConfig is a fully populated Config carrying both canary secrets.
func canaryConfig(t *testing.T) Config {
	t.Helper()
	k, err := ParseAPIKey(canaryKey, Production)
	require.NoError(t, err)
	return Config{
		URL:            "https://rapid-wildebeest-172.convex.cloud",
		Token:          NewToken(canaryToken),
		APIKey:         k,
		OrganizationID: "jd7a8k2m4n5p6q7r8s9t0v1w2x3y4z5a",
		UserAgent:      "canary-test/1.0",
	}
}

func TestSecretsPrintAsRedactedUnderEveryVerb(t *testing.T) {
	cfg := canaryConfig(t)
	type holder struct {
		Name   string
		Config Config
	}
	values := []struct {
		name string
		v    any
	}{
		{"Token", cfg.Token},
		{"token pointer", &cfg.Token},
		{"APIKey", cfg.APIKey},
		{"APIKey pointer", &cfg.APIKey},
		{"Config value", cfg},
		{"Config pointer", &cfg},
		{"Config nested in a struct", holder{"x", cfg}},
		{"pointer to struct holding a Config", &holder{"x", cfg}},
		{"Config in a slice", []Config{cfg}},
		{"Config in a map", map[string]Config{"c": cfg}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"}
	for _, val := range values {
		for _, verb := range verbs {
			t.Run(val.name+" under "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, val.v)
				requireNoCanary(t, out)
				require.Contains(t, out, redacted, "the secret is shown as %s", redacted)
			})
		}
	}
	t.Run("fmt.Sprint and Sprintln", func(t *testing.T) {
		out := fmt.Sprint(cfg.Token, cfg.APIKey, cfg) + fmt.Sprintln(cfg.Token, &cfg)
		requireNoCanary(t, out)
		require.Contains(t, out, redacted)
	})
}

// TestSecretsStayRedactedWhereFmtSkipsTheirMethods covers values that fmt
// prints by reflection without calling String or Format: a Config in an
// unexported field (the common `type app struct{ cfg struere.Config }`
// printed with %+v), and a *Config field under a verb that is invalid for
// pointers (fmt then dumps the pointee with methods disabled). Only a secret
// that reflection cannot reach (e.g. sealed in a closure) passes.
func TestSecretsStayRedactedWhereFmtSkipsTheirMethods(t *testing.T) {
	cfg := canaryConfig(t)
	type app struct {
		name string
		cfg  Config
	}
	type ptrHolder struct{ Config *Config }
	cases := []struct {
		name  string
		v     any
		verbs []string
	}{
		{"Config in an unexported field", app{"deployer", cfg}, []string{"%v", "%+v", "%#v"}},
		{"Config pointer field under a bad verb", ptrHolder{&cfg}, []string{"%s", "%q"}},
	}
	for _, c := range cases {
		for _, verb := range c.verbs {
			t.Run(c.name+" keeps the token hidden under "+verb, func(t *testing.T) {
				require.NotContains(t, fmt.Sprintf(verb, c.v), canaryToken)
			})
			t.Run(c.name+" keeps the API key hidden under "+verb, func(t *testing.T) {
				require.NotContains(t, fmt.Sprintf(verb, c.v), canaryKeySecret)
			})
		}
	}
}

// reportT collects what a testify assertion reports.
type reportT struct{ out strings.Builder }

func (r *reportT) Errorf(format string, args ...any) { fmt.Fprintf(&r.out, format, args...) }

// answerFunc is a RoundTripper answering from a function.
type answerFunc func(*http.Request) (*http.Response, error)

func (f answerFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A failed assert.Equal between two Configs prints a diff made by go-spew
// with methods disabled: it dereferences every pointer and prints
// unexported fields, so a secret reachable by reflection is printed in
// clear into the test log (a user's test of their config loader, in CI).
// Neither secret may be reachable that way.
func TestSecretsStayHiddenInTestifyDiffs(t *testing.T) {
	want := canaryConfig(t)
	got := want
	got.Token = NewToken("other-" + canaryToken)
	got.APIKeys = []APIKey{want.APIKey}
	other, err := ParseAPIKey("af_live_0ther000_"+strings.Repeat("0", 32), Production)
	require.NoError(t, err)
	got.APIKey = other
	var r reportT
	require.False(t, assert.Equal(&r, want, got))
	require.Contains(t, r.out.String(), "Diff:", "the report holds spew's diff")
	requireNoCanary(t, r.out.String())
	r = reportT{}
	require.False(t, assert.Equal(&r, want.Token, got.Token))
	requireNoCanary(t, r.out.String())

	// Two Clients, one after a call (its token's client built), the other
	// configured with another token: the diff walks the whole Client. The
	// transport answers in place, so that no connection pool goroutine
	// changes what the diff reads.
	answer := answerFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"status":"success","value":null}`))}, nil
	})
	want.HTTPClient = &http.Client{Transport: answer}
	got.HTTPClient, got.APIKeys = want.HTTPClient, nil
	a, err := New(want)
	require.NoError(t, err)
	b, err := New(got)
	require.NoError(t, err)
	var out json.RawMessage
	require.NoError(t, a.call(context.Background(), "test", convex.Query, "sync:getSyncState", struct{}{}, &out))
	r = reportT{}
	require.False(t, assert.Equal(&r, a, b))
	require.Contains(t, r.out.String(), "Diff:")
	requireNoCanary(t, r.out.String())

	// Tokens built from the same secret are still equal, to == (a copy)
	// and to reflect.DeepEqual (a copy).
	c := want
	require.True(t, c.Token == want.Token && c.APIKey == want.APIKey)
	require.Equal(t, want, c)
	require.Equal(t, canaryToken, c.Token.Reveal())
	require.Equal(t, canaryKey, c.APIKey.Reveal())
}

func TestSecretsAreRedactedInSlogOutput(t *testing.T) {
	cfg := canaryConfig(t)
	handlers := []struct {
		name string
		new  func(io.Writer) slog.Handler
	}{
		{"TextHandler", func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
		{"JSONHandler", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
	}
	attrs := []struct {
		name string
		attr slog.Attr
	}{
		{"token attribute", slog.Any("token", cfg.Token)},
		{"api key attribute", slog.Any("key", cfg.APIKey)},
		{"Config value attribute", slog.Any("cfg", cfg)},
		{"Config pointer attribute", slog.Any("cfg", &cfg)},
		{"Config in a group", slog.Group("client", slog.Any("cfg", cfg), slog.Any("token", cfg.Token))},
	}
	for _, h := range handlers {
		for _, a := range attrs {
			t.Run(h.name+" "+a.name, func(t *testing.T) {
				var buf bytes.Buffer
				slog.New(h.new(&buf)).LogAttrs(context.Background(), slog.LevelInfo, "configured", a.attr)
				out := buf.String()
				require.NotEmpty(t, out)
				requireNoCanary(t, out)
				require.Contains(t, out, redacted)
			})
		}
		t.Run(h.name+" key-value arguments", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(h.new(&buf)).Info("configured", "token", cfg.Token, "key", cfg.APIKey, "cfg", cfg)
			requireNoCanary(t, buf.String())
			require.Contains(t, buf.String(), redacted)
		})
	}
}

func TestSecretsAreRedactedInJSON(t *testing.T) {
	cfg := canaryConfig(t)
	for _, tt := range []struct {
		name string
		v    any
	}{
		{"Config value", cfg},
		{"Config pointer", &cfg},
		{"Token", cfg.Token},
		{"APIKey", cfg.APIKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := json.Marshal(tt.v)
			require.NoError(t, err)
			requireNoCanary(t, string(out))
			require.Contains(t, string(out), redacted)
		})
	}
	t.Run("Config fields are redacted, not dropped", func(t *testing.T) {
		//lint:ignore SA1026 HTTPClient is nil here; a non-nil one cannot be marshalled.
		out, err := json.Marshal(cfg)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m))
		require.Equal(t, redacted, m["Token"])
		require.Equal(t, redacted, m["APIKey"])
		require.Equal(t, cfg.URL, m["URL"])
	})
}

func TestRevealReturnsTheRawSecret(t *testing.T) {
	cfg := canaryConfig(t)
	require.Equal(t, canaryToken, cfg.Token.Reveal())
	require.Equal(t, canaryKey, cfg.APIKey.Reveal())
}

func TestBadInputErrorsNeverCarryTheSecrets(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		base := canaryConfig(t)
		for _, tt := range []struct {
			name   string
			mutate func(*Config)
		}{
			{"empty URL", func(c *Config) { c.URL = "" }},
			{"plain http remote URL", func(c *Config) { c.URL = "http://example.com" }},
			{"URL with user info", func(c *Config) { c.URL = "https://user:" + canaryToken + "@example.convex.cloud" }},
			{"URL with a query holding the token", func(c *Config) { c.URL = "https://example.convex.cloud/?token=" + canaryToken }},
			{"bad scheme", func(c *Config) { c.URL = "ftp://example.com" }},
			{"token with a trailing newline", func(c *Config) { c.Token = NewToken(c.Token.Reveal() + "\n") }},
			{"token with inner space", func(c *Config) { c.Token = NewToken("Bearer " + c.Token.Reveal()) }},
			{"bad organization id", func(c *Config) { c.OrganizationID = "a b" }},
			{"unknown generation", func(c *Config) { c.Generation = 42 }},
			{"negative MaxResponseBytes", func(c *Config) { c.MaxResponseBytes = -1 }},
			{"bad SiteURL", func(c *Config) { c.SiteURL = "http://example.com" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				cfg := base
				tt.mutate(&cfg)
				c, err := New(cfg)
				require.Error(t, err)
				require.Nil(t, c)
				requireNoCanary(t, err.Error())
				requireNoCanary(t, fmt.Sprintf("%+v", err))
			})
		}
	})
	t.Run("ConfigFromEnv", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			env  map[string]string
		}{
			{"key without its environment", map[string]string{EnvAPIKey: canaryKey}},
			{"key with an invalid environment", map[string]string{EnvAPIKey: canaryKey, EnvAPIKeyEnv: "staging"}},
			{"malformed key", map[string]string{EnvAPIKey: strings.ToUpper(canaryKey), EnvAPIKeyEnv: "production"}},
			{"sk_ style key", map[string]string{EnvAPIKey: "sk_prod_" + canaryKeySecret, EnvAPIKeyEnv: "production"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				isolateConfigEnv(t)
				t.Setenv(EnvToken, canaryToken)
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				_, err := ConfigFromEnv()
				require.Error(t, err)
				requireNoCanary(t, err.Error())
				require.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(canaryKeySecret))
			})
		}
		for _, tt := range []struct {
			name, body string
		}{
			{"credentials cut short after the token", `{"token":"` + canaryToken + `","expiresAt":`},
			{"credentials with a wrongly typed field", `{"token":"` + canaryToken + `","expiresAt":12}`},
			{"credentials with a bad date", `{"token":"` + canaryToken + `","expiresAt":"soon"}`},
			{"credentials expired", `{"token":"` + canaryToken + `","expiresAt":"2001-01-01T00:00:00.000Z"}`},
			{"credentials token of the wrong type", `{"token":["` + canaryToken + `"]}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				home, _ := isolateConfigEnv(t)
				writeCredentials(t, home, tt.body)
				_, err := ConfigFromEnv()
				require.Error(t, err)
				requireNoCanary(t, err.Error())
			})
		}
	})
}

// TestCanaryTokenNeverReachesErrorsOrLogsOfACall drives a real call against
// a server that echoes the Authorization header back in every error shape.
func TestCanaryTokenNeverReachesErrorsOrLogsOfACall(t *testing.T) {
	shapes := []struct {
		name   string
		status int
		body   func(auth string) string
	}{
		{"platform error echoing the header", 401, func(a string) string {
			return `{"code":"InvalidAuthHeader","message":"Could not parse JWT payload: ` + a + `"}`
		}},
		{"function error echoing the header", 200, func(a string) string {
			return `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: bad token ` + a + `"}`
		}},
		{"ConvexError data echoing the header", 200, func(a string) string {
			return `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error","errorData":{"message":"bad ` + a + `"}}`
		}},
		{"HTML page echoing the header", 502, func(a string) string {
			return "<html><title>Bad gateway " + a + "</title></html>"
		}},
		{"non-JSON success body echoing the header", 200, func(a string) string { return "oops " + a }},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				if auth != "Bearer "+canaryToken {
					t.Errorf("Authorization = %q, want the bearer token", auth)
				}
				w.WriteHeader(sh.status)
				_, _ = io.WriteString(w, sh.body(auth))
			}))
			defer srv.Close()
			var logs bytes.Buffer
			cfg := canaryConfig(t)
			cfg.URL = srv.URL
			cfg.Retry = RetryPolicy{MaxRetries: -1}
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, err := New(cfg)
			require.NoError(t, err)
			requireNoCanary(t, fmt.Sprintf("%v %+v %#v %s", c, c, c, c))

			err = c.call(context.Background(), "status", convex.Query, fnGetSyncState, nil, nil)
			require.Error(t, err)
			requireNoCanary(t, err.Error())
			requireNoCanary(t, fmt.Sprintf("%+v %#v", err, err))
			requireNoCanary(t, logs.String())
		})
	}
}
