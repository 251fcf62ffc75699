package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

func readSummary(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func productionRows(srv *strueretest.Server, slugs ...string) int {
	n := 0
	for _, slug := range slugs {
		for _, c := range srv.Configs(slug) {
			if c.Environment == "production" {
				n++
			}
		}
	}
	return n
}

// deployCalls counts the deployAllAgents calls that could have run (the
// generation probe sends arguments the validator rejects).
func deployCalls(t *testing.T, srv *strueretest.Server) int {
	t.Helper()
	n := 0
	for _, r := range srv.Requests() {
		if r.FunctionPath != "sync:deployAllAgents" {
			continue
		}
		var args map[string]any
		require.NoError(t, json.Unmarshal(r.Args, &args))
		if args["organizationId"] != nil {
			n++
		}
	}
	return n
}

// seedLegacy adds an agent with a development configuration that the
// sample definitions do not list, as one made in the dashboard.
func seedLegacy(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "legacy", Name: "Legacy"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("legacy", "development", strueretest.AgentConfig{Version: "0.3.0", Name: "Legacy", SystemPrompt: "Old.",
		Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
}

func TestDeploysTheSyncedDefinitionsOnEveryGeneration(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE1, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
			res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
			require.Equal(t, exitOK, res.Code, "stderr: %s\nstdout: %s", res.Stderr, res.Stdout)
			require.Empty(t, res.Stderr)
			require.Contains(t, res.Stdout, "Synced sample.defs.json to development: agents 2 created")
			require.Contains(t, res.Stdout, "Deployed to production: scheduler, support\n")
			require.Contains(t, res.Stdout, "Verified:")
			require.Equal(t, "1.0.0", exampleenv.ProductionVersion(srv, "support"))
			require.Equal(t, "2.1.0", exampleenv.ProductionVersion(srv, "scheduler"))

			summary := readSummary(t, summaryPath)
			require.Contains(t, summary, "## Struere deploy")
			require.Contains(t, summary, "**Deployed** to production: `scheduler`, `support`. Verified.")
			require.Contains(t, summary, "### Struere status", "Status.Markdown follows")
			require.Contains(t, summary, "| `support` | 1.0.0 |", "the status read after the deploy")
		})
	}
}

func TestJSONPrintsStatusPlanAndResult(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-json", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.Code, "stderr: %s", res.Stderr)

	var got struct {
		Status struct {
			SchemaVersion                int  `json:"schemaVersion"`
			ProductionMatchesDevelopment bool `json:"productionMatchesDevelopment"`
			Agents                       []struct {
				Slug            string `json:"slug"`
				LocalState      string `json:"localState"`
				ProductionState string `json:"productionState"`
			} `json:"agents"`
		} `json:"status"`
		Plan struct {
			Method string `json:"method"`
			Deploy []struct {
				Slug    string `json:"slug"`
				Version string `json:"version"`
			} `json:"deploy"`
			Fingerprint string `json:"fingerprint"`
		} `json:"plan"`
		Result struct {
			Deployed []string `json:"deployed"`
			Verified bool     `json:"verified"`
		} `json:"result"`
		Error   string `json:"error"`
		Refused bool   `json:"refused"`
	}
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &raw), "stdout is one JSON object: %s", res.Stdout)
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &got))
	require.ElementsMatch(t, []string{"status", "plan", "result", "refused"}, keys(raw))

	require.Equal(t, struere.StatusSchemaVersion, got.Status.SchemaVersion)
	require.True(t, got.Status.ProductionMatchesDevelopment)
	require.Len(t, got.Status.Agents, 2)
	for _, a := range got.Status.Agents {
		require.Equal(t, string(struere.ProductionSynced), a.ProductionState, a.Slug)
		require.Equal(t, string(struere.LocalSynced), a.LocalState, a.Slug)
	}
	require.Equal(t, "server", got.Plan.Method)
	require.Len(t, got.Plan.Deploy, 2)
	require.NotEmpty(t, got.Plan.Fingerprint)
	require.ElementsMatch(t, []string{"support", "scheduler"}, got.Result.Deployed)
	require.True(t, got.Result.Verified)
	require.Empty(t, got.Error)
	require.False(t, got.Refused)
	require.Contains(t, res.Stderr, "Synced sample.defs.json", "progress goes to stderr with -json")
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRefusesOnDriftAndWritesNothingToProduction(t *testing.T) {
	// E1 keeps agents the definitions do not list (preserveUnmanagedAgents),
	// so after the sync development still differs from the file.
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	seedLegacy(t, srv)
	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")

	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.Code, "stdout: %s", res.Stdout)
	require.Contains(t, res.Stderr, "refusing to deploy, nothing was written")
	require.Contains(t, res.Stderr, "agent legacy is unmanaged")
	require.Contains(t, res.Stderr, "-force")
	require.Zero(t, deployCalls(t, srv), "no deploy was sent")
	require.Zero(t, productionRows(srv, "support", "scheduler", "legacy"))

	summary := readSummary(t, summaryPath)
	require.Contains(t, summary, "**Refused**: nothing was written to production.")
	require.Contains(t, summary, "- agent legacy is unmanaged")
	require.Contains(t, summary, "### Struere status")
}

func TestRefusalIsReportedInJSON(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	seedLegacy(t, srv)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-json", "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.Code)
	var got struct {
		Result  *json.RawMessage `json:"result"`
		Refused bool             `json:"refused"`
		Drift   []string         `json:"drift"`
		Error   string           `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &got), res.Stdout)
	require.True(t, got.Refused)
	require.Nil(t, got.Result)
	require.Len(t, got.Drift, 1)
	require.Contains(t, got.Error, "legacy")
}

func TestForceDeploysDespiteDrift(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	seedLegacy(t, srv)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-force", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.Code, "stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "-force: deploying despite: agent legacy is unmanaged")
	require.Equal(t, 1, deployCalls(t, srv))
	require.Equal(t, "1.0.0", exampleenv.ProductionVersion(srv, "support"))
}

func TestSyncThatWouldDeleteIsRefusedUnlessAllowed(t *testing.T) {
	// On environment-isolated backends a sync deletes unlisted agents.
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	seedLegacy(t, srv)
	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")

	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.Code)
	require.Contains(t, res.Stderr, "legacy")
	require.Contains(t, res.Stderr, "-allow-deletions")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "the refused sync sent nothing")
	}
	require.Zero(t, deployCalls(t, srv))
	require.Contains(t, readSummary(t, summaryPath), "**Refused**")

	res = exampleenv.Run(t, run, "-allow-deletions", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.Code, "stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "agents 2 created, 0 updated, 1 deleted")
	require.Empty(t, srv.Configs("legacy"))
}

func TestWithoutCredentialsDeploysToAnEmbeddedBackend(t *testing.T) {
	exampleenv.Isolate(t, "sample.defs.json")
	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.Code, "stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "embedded test backend (strueretest)")
	require.Contains(t, res.Stdout, "Deployed to production: scheduler, support\n")
}

func TestExpiredLoginFailsInsteadOfRunningEmbedded(t *testing.T) {
	home := exampleenv.Isolate(t, "sample.defs.json")
	exampleenv.WriteLogin(t, home, "expired-token", time.Now().Add(-time.Hour))

	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, exitError, res.Code, "stdout: %s", res.Stdout)
	require.Contains(t, res.Stderr, "expired")
	require.NotContains(t, res.Stderr, "expired-token", "the token never reaches an error")
	require.NotContains(t, res.Stdout, "embedded")
}

func TestSummaryIsAppended(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
	require.NoError(t, os.WriteFile(summaryPath, []byte("earlier step\n"), 0o644))
	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.Code, "stderr: %s", res.Stderr)
	summary := readSummary(t, summaryPath)
	require.Regexp(t, `^earlier step\n## Struere deploy\n`, summary)
}

func TestBadUsageExitsTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"no defs":        nil,
		"unknown flag":   {"-defs", "sample.defs.json", "-nope"},
		"stray argument": {"-defs", "sample.defs.json", "now"},
	} {
		t.Run(name, func(t *testing.T) {
			exampleenv.Isolate(t, "sample.defs.json")
			res := exampleenv.Run(t, run, args...)
			require.Equal(t, exitRefused, res.Code)
			require.Contains(t, res.Stderr, "Usage")
			require.Empty(t, res.Stdout)
		})
	}
}

func TestInvalidDefinitionsFail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"agents":[{"name":"X","slug":"Bad Slug","version":"1","model":{"provider":"a","name":"b"}}],"entityTypes":[],"roles":[]}`), 0o644))
	exampleenv.Isolate(t, "sample.defs.json")
	res := exampleenv.Run(t, run, "-defs", path)
	require.Equal(t, exitError, res.Code)
	require.Contains(t, res.Stderr, "agents[Bad Slug].slug")
}
