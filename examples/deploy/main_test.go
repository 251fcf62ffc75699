package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

type result struct {
	code           int
	stdout, stderr string
}

func runWith(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// credentialsFor points the program at srv, as a user with STRUERE_TOKEN
// set, and a job summary file in a temporary directory.
func credentialsFor(t *testing.T, srv *strueretest.Server) map[string]string {
	return map[string]string{
		"HOME":                t.TempDir(),
		"STRUERE_CONVEX_URL":  srv.URL(),
		"STRUERE_TOKEN":       srv.Token().Reveal(),
		"STRUERE_ORG_ID":      srv.OrganizationID(),
		"GITHUB_STEP_SUMMARY": filepath.Join(t.TempDir(), "summary.md"),
	}
}

func readSummary(t *testing.T, env map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	require.NoError(t, err)
	return string(b)
}

func productionVersion(srv *strueretest.Server, slug string) string {
	for _, c := range srv.Configs(slug) {
		if c.Current && c.Environment == "production" {
			return c.Version
		}
	}
	return ""
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
		Model: strueretest.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
}

func TestDeploysTheSyncedDefinitionsOnEveryGeneration(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE1, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			env := credentialsFor(t, srv)
			res := runWith(t, env, "-defs", "sample.defs.json")
			require.Equal(t, exitOK, res.code, "stderr: %s\nstdout: %s", res.stderr, res.stdout)
			require.Empty(t, res.stderr)
			require.Contains(t, res.stdout, "Synced sample.defs.json to development: agents 2 created")
			require.Contains(t, res.stdout, "Deployed to production: support, scheduler")
			require.Contains(t, res.stdout, "Verified:")
			require.Equal(t, "1.0.0", productionVersion(srv, "support"))
			require.Equal(t, "2.1.0", productionVersion(srv, "scheduler"))

			summary := readSummary(t, env)
			require.Contains(t, summary, "## Struere deploy")
			require.Contains(t, summary, "**Deployed** to production: `support`, `scheduler`. Verified.")
			require.Contains(t, summary, "### Struere status", "Status.Markdown follows")
			require.Contains(t, summary, "| `support` | 1.0.0 |", "the status read after the deploy")
		})
	}
}

func TestJSONPrintsStatusPlanAndResult(t *testing.T) {
	srv := strueretest.NewServer(t)
	res := runWith(t, credentialsFor(t, srv), "-json", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.code, "stderr: %s", res.stderr)

	var got struct {
		Status struct {
			SchemaVersion                int  `json:"schemaVersion"`
			ProductionMatchesDevelopment bool `json:"productionMatchesDevelopment"`
			Agents                       []struct {
				Slug  string `json:"slug"`
				State string `json:"state"`
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
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &raw), "stdout is one JSON object: %s", res.stdout)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	require.ElementsMatch(t, []string{"status", "plan", "result", "refused"}, keys(raw))

	require.Equal(t, struere.StatusSchemaVersion, got.Status.SchemaVersion)
	require.True(t, got.Status.ProductionMatchesDevelopment)
	require.Len(t, got.Status.Agents, 2)
	for _, a := range got.Status.Agents {
		require.Equal(t, string(struere.StateSynced), a.State, a.Slug)
	}
	require.Equal(t, string(struere.PromoteServer), got.Plan.Method)
	require.Len(t, got.Plan.Deploy, 2)
	require.NotEmpty(t, got.Plan.Fingerprint)
	require.ElementsMatch(t, []string{"support", "scheduler"}, got.Result.Deployed)
	require.True(t, got.Result.Verified)
	require.Empty(t, got.Error)
	require.False(t, got.Refused)
	require.Contains(t, res.stderr, "Synced sample.defs.json", "progress goes to stderr with -json")
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
	env := credentialsFor(t, srv)

	res := runWith(t, env, "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.code, "stdout: %s", res.stdout)
	require.Contains(t, res.stderr, "refusing to deploy, nothing was written")
	require.Contains(t, res.stderr, "agent legacy is will-be-deleted")
	require.Contains(t, res.stderr, "-force")
	require.Zero(t, deployCalls(t, srv), "no deploy was sent")
	require.Zero(t, productionRows(srv, "support", "scheduler", "legacy"))

	summary := readSummary(t, env)
	require.Contains(t, summary, "**Refused**: nothing was written to production.")
	require.Contains(t, summary, "- agent legacy is will-be-deleted")
	require.Contains(t, summary, "### Struere status")
}

func TestRefusalIsReportedInJSON(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	seedLegacy(t, srv)
	res := runWith(t, credentialsFor(t, srv), "-json", "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.code)
	var got struct {
		Result  *json.RawMessage `json:"result"`
		Refused bool             `json:"refused"`
		Drift   []string         `json:"drift"`
		Error   string           `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	require.True(t, got.Refused)
	require.Nil(t, got.Result)
	require.Len(t, got.Drift, 1)
	require.Contains(t, got.Error, "legacy")
}

func TestForceDeploysDespiteDrift(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	seedLegacy(t, srv)
	res := runWith(t, credentialsFor(t, srv), "-force", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "-force: deploying despite: agent legacy is will-be-deleted")
	require.Equal(t, 1, deployCalls(t, srv))
	require.Equal(t, "1.0.0", productionVersion(srv, "support"))
}

func TestSyncThatWouldDeleteIsRefusedUnlessAllowed(t *testing.T) {
	// On environment-isolated backends a sync deletes unlisted agents.
	srv := strueretest.NewServer(t)
	seedLegacy(t, srv)
	env := credentialsFor(t, srv)

	res := runWith(t, env, "-defs", "sample.defs.json")
	require.Equal(t, exitRefused, res.code)
	require.Contains(t, res.stderr, "legacy")
	require.Contains(t, res.stderr, "-allow-deletions")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "the refused sync sent nothing")
	}
	require.Zero(t, deployCalls(t, srv))
	require.Contains(t, readSummary(t, env), "**Refused**")

	res = runWith(t, env, "-allow-deletions", "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "agents 2 created, 0 updated, 1 deleted")
	require.Empty(t, srv.Configs("legacy"))
}

func TestWithoutCredentialsDeploysToAnEmbeddedBackend(t *testing.T) {
	res := runWith(t, map[string]string{"HOME": t.TempDir()}, "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "embedded test backend (strueretest)")
	require.Contains(t, res.stdout, "Deployed to production: support, scheduler")
}

func TestSummaryIsAppended(t *testing.T) {
	srv := strueretest.NewServer(t)
	env := credentialsFor(t, srv)
	require.NoError(t, os.WriteFile(env["GITHUB_STEP_SUMMARY"], []byte("earlier step\n"), 0o644))
	res := runWith(t, env, "-defs", "sample.defs.json")
	require.Equal(t, exitOK, res.code, "stderr: %s", res.stderr)
	summary := readSummary(t, env)
	require.Regexp(t, `^earlier step\n## Struere deploy\n`, summary)
}

func TestBadUsageExitsTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"no defs":        nil,
		"unknown flag":   {"-defs", "sample.defs.json", "-nope"},
		"stray argument": {"-defs", "sample.defs.json", "now"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runWith(t, map[string]string{"HOME": t.TempDir()}, args...)
			require.Equal(t, exitRefused, res.code)
			require.Contains(t, res.stderr, "Usage")
			require.Empty(t, res.stdout)
		})
	}
}

func TestInvalidDefinitionsFail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"agents":[{"name":"X","slug":"Bad Slug","version":"1","model":{"provider":"a","name":"b"}}],"entityTypes":[],"roles":[]}`), 0o644))
	res := runWith(t, map[string]string{"HOME": t.TempDir()}, "-defs", path)
	require.Equal(t, exitError, res.code)
	require.Contains(t, res.stderr, "agents[Bad Slug].slug")
}
