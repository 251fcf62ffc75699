package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

func runSmoke(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, args, &out)
	return out.String(), err
}

// isolate clears every credential source the program looks at: no
// STRUERE_* variables, an empty home directory, no struere.json.
func isolate(t *testing.T) {
	exampleenv.Isolate(t)
}

func TestEmbeddedRunDeploysAndSmokeTestsProduction(t *testing.T) {
	isolate(t)

	out, err := runSmoke(t)

	require.NoError(t, err, out)
	for _, want := range []string{
		"running against an embedded test backend",
		"created: support, scheduler",
		"development key -> support: [support@1.0.0 development] You said: hello",
		`production key  -> support: HTTP 500 "No production configuration found"`,
		"refused: struere: deploy: smoke test: API key af_live_",
		"is declared for production but the backend lists it as a development key",
		"as a production key",
		`ok    support    "[support@1.0.0 production] You said: ping"`,
		`ok    scheduler  "[scheduler@2.1.0 production] You said: ping"`,
		"All 2 smoke checks passed",
	} {
		require.Contains(t, out, want)
	}
	require.Contains(t, out, "deployed: scheduler, support (verified)")
	require.Regexp(t, regexp.MustCompile(`af_live_[0-9a-z]{8}…  development`), out)
	require.Regexp(t, regexp.MustCompile(`af_live_[0-9a-z]{8}…  production`), out)
	require.NotRegexp(t, regexp.MustCompile(`af_live_[0-9a-z]{8}_[0-9a-z]{32}`), out, "no full key is printed")
}

func TestEmbeddedRunChecksOnlyTheListedAgents(t *testing.T) {
	isolate(t)

	out, err := runSmoke(t, "-agent", "scheduler", "-message", "status?")

	require.NoError(t, err, out)
	require.Contains(t, out, `ok    scheduler  "[scheduler@2.1.0 production] You said: status?"`)
	require.NotContains(t, out, "ok    support")
}

// useBackend points the program at srv with a key declared for env.
func useBackend(t *testing.T, srv *strueretest.Server, keyEnv struere.Environment) {
	t.Helper()
	isolate(t)
	raw, err := srv.CreateAPIKey(keyEnv, "ci", time.Time{})
	require.NoError(t, err)
	exampleenv.LoginTo(t, srv)
	t.Setenv(struere.EnvSiteURL, srv.SiteURL())
	t.Setenv(struere.EnvAPIKey, raw)
	t.Setenv(struere.EnvAPIKeyEnv, string(keyEnv))
}

func syncedBackend(t *testing.T) *strueretest.Server {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	defs, err := struere.ParseDefinitions(bytes.NewReader(sampleDefs))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	srv.ResetRequests()
	return srv
}

func TestLiveRunIsReadOnlyWithoutDeploy(t *testing.T) {
	srv := syncedBackend(t)
	useBackend(t, srv, struere.Production)

	out, err := runSmoke(t)

	require.NoError(t, err, out)
	require.Contains(t, out, `Key "ci" verified: production`)
	require.Contains(t, out, "deploy  support")
	require.Contains(t, out, "Read-only")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "site", r.Kind, "no chat was sent")
		if r.Kind != "query" && r.Kind != "site" {
			require.Fail(t, "a read-only run wrote", "%s %s %s", r.Kind, r.FunctionPath, r.Args)
		}
	}
}

func TestLiveRunDeploysAndSmokeTestsWithTheConfiguredKey(t *testing.T) {
	srv := syncedBackend(t)
	useBackend(t, srv, struere.Production)

	out, err := runSmoke(t, "-deploy")

	require.NoError(t, err, out)
	require.Contains(t, out, "deployed: scheduler, support (verified)")
	require.Contains(t, out, `ok    support    "[support@1.0.0 production] You said: ping"`)
	require.Contains(t, out, "key:  the backend lists "+os.Getenv(struere.EnvAPIKey)[:16]+" as a production key")
}

func TestLiveRunRefusesADevelopmentKey(t *testing.T) {
	srv := syncedBackend(t)
	useBackend(t, srv, struere.Development)

	out, err := runSmoke(t, "-deploy")

	require.ErrorIs(t, err, struere.ErrEnvironmentMismatch, out)
	for _, r := range srv.Requests() {
		require.Equal(t, "apiKeys:list", r.FunctionPath, "only the key was verified; nothing was deployed or sent")
	}
}

func TestLiveRunReportsAFailedSmokeTest(t *testing.T) {
	srv := syncedBackend(t)
	useBackend(t, srv, struere.Production)
	srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Status: 500, Body: `{"error":"Insufficient credits. Please add credits."}`})

	out, err := runSmoke(t, "-deploy")

	require.ErrorIs(t, err, struere.ErrSmokeTestFailed)
	require.Contains(t, out, "FAIL  support")
	require.Contains(t, out, "Insufficient credits")
	require.Contains(t, out, "ok    scheduler")
}

func TestExpiredLoginFailsInsteadOfRunningEmbedded(t *testing.T) {
	exampleenv.WriteLogin(t, exampleenv.Isolate(t), "expired-token", time.Now().Add(-time.Hour))

	out, err := runSmoke(t)

	require.ErrorContains(t, err, "expired")
	require.NotErrorIs(t, err, struere.ErrNoCredentials)
	require.NotContains(t, err.Error(), "expired-token", "the token never reaches an error")
	require.NotContains(t, out, "embedded")
}

func TestBadUsage(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{{"extra"}, {"-nope"}, {"-message", "hi"}} {
		_, err := runSmoke(t, args...)
		require.ErrorIs(t, err, errUsage, "%v", args)
	}
}
