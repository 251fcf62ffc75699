package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

func credentialsFor(t *testing.T, srv *strueretest.Server) map[string]string {
	return map[string]string{
		"HOME":                t.TempDir(),
		"STRUERE_CONVEX_URL":  srv.URL(),
		"STRUERE_TOKEN":       srv.Token().Reveal(),
		"STRUERE_ORG_ID":      srv.OrganizationID(),
		"GITHUB_STEP_SUMMARY": filepath.Join(t.TempDir(), "summary.md"),
	}
}

func loadSample(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.LoadDefinitions("sample.defs.json")
	require.NoError(t, err)
	return defs
}

// deployed syncs and deploys the sample, so production matches development.
func deployed(t *testing.T, opts ...strueretest.Option) (*strueretest.Server, *struere.Client) {
	t.Helper()
	srv := strueretest.NewServer(t, opts...)
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	_, err = c.Sync(t.Context(), loadSample(t))
	require.NoError(t, err)
	_, err = c.Deploy(t.Context())
	require.NoError(t, err)
	srv.ResetRequests()
	return srv, c
}

// drifted is deployed, then support 1.1.0 synced to development only.
func drifted(t *testing.T) *strueretest.Server {
	t.Helper()
	srv, c := deployed(t)
	defs := loadSample(t)
	defs.Agents[0].Version = "1.1.0"
	require.Equal(t, "support", defs.Agents[0].Slug)
	_, err := c.Sync(t.Context(), defs)
	require.NoError(t, err)
	srv.ResetRequests()
	return srv
}

// requireReadOnly fails if the gate sent a mutation other than the
// generation probe (deployAllAgents with arguments its validator rejects).
func requireReadOnly(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	require.NotEmpty(t, srv.Requests(), "the gate read the backend")
	for _, r := range srv.Requests() {
		if r.Kind != "mutation" {
			continue
		}
		require.Equal(t, "sync:deployAllAgents", r.FunctionPath)
		require.JSONEq(t, `{"organizationId":null}`, string(r.Args), "only the probe")
	}
}

func TestPassesWhenProductionMatchesDevelopment(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE1, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, _ := deployed(t, strueretest.WithGeneration(gen))
			env := credentialsFor(t, srv)
			res := runWith(t, env)
			require.Equal(t, exitPass, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			require.Contains(t, res.stdout, "PASS: production serves every development agent configuration.")
			require.NotContains(t, res.stdout, "embedded")
			requireReadOnly(t, srv)

			summary, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
			require.NoError(t, err)
			require.Contains(t, string(summary), "**Struere gate: pass**")
			require.Contains(t, string(summary), "### Struere status")
		})
	}
}

func TestFailsNamingTheDriftedAgents(t *testing.T) {
	srv := drifted(t)
	env := credentialsFor(t, srv)
	res := runWith(t, env)
	require.Equal(t, exitFail, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "FAIL: production differs from development:\n  support: development 1.1.0, production 1.0.0\n")
	require.NotContains(t, res.stdout, "scheduler: development")
	require.Regexp(t, `(?m)^support\s+1\.1\.0\s+1\.0\.0\s+drifted$`, res.stdout, "the Status table")
	requireReadOnly(t, srv)

	summary, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	require.NoError(t, err)
	require.Contains(t, string(summary), "**Struere gate: fail**\n\n- production differs: support: development 1.1.0, production 1.0.0\n")
	require.Contains(t, string(summary), "| `support` | 1.1.0 | 1.0.0 | drifted |")
}

func TestFailsWhenDevelopmentWasNeverDeployed(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	_, err = c.Sync(t.Context(), loadSample(t))
	require.NoError(t, err)
	res := runWith(t, credentialsFor(t, srv))
	require.Equal(t, exitFail, res.code)
	require.Contains(t, res.stdout, "support: development 1.0.0, production none")
	require.Contains(t, res.stdout, "scheduler: development 2.1.0, production none")
}

func TestMarkdownReport(t *testing.T) {
	srv, _ := deployed(t)
	res := runWith(t, credentialsFor(t, srv), "-markdown")
	require.Equal(t, exitPass, res.code, "stderr: %s", res.stderr)
	require.True(t, strings.HasPrefix(res.stdout, "**Struere gate: pass**\n\n### Struere status\n"), res.stdout)
	require.Contains(t, res.stdout, "| `scheduler` | 2.1.0 | 2.1.0 | synced |")
}

func TestJSONReport(t *testing.T) {
	srv := drifted(t)
	res := runWith(t, credentialsFor(t, srv), "-json")
	require.Equal(t, exitFail, res.code, "stderr: %s", res.stderr)
	var got struct {
		Pass                         bool     `json:"pass"`
		ProductionMatchesDevelopment bool     `json:"productionMatchesDevelopment"`
		Drifted                      []string `json:"drifted"`
		LocalDiffers                 []string `json:"localDiffers"`
		Status                       struct {
			SchemaVersion int `json:"schemaVersion"`
			Agents        []struct {
				Slug  string `json:"slug"`
				State string `json:"state"`
			} `json:"agents"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), "stdout is only JSON: %s", res.stdout)
	require.False(t, got.Pass)
	require.False(t, got.ProductionMatchesDevelopment)
	require.Equal(t, []string{"support"}, got.Drifted)
	require.NotNil(t, got.LocalDiffers)
	require.Empty(t, got.LocalDiffers)
	require.Equal(t, struere.StatusSchemaVersion, got.Status.SchemaVersion)
	require.Len(t, got.Status.Agents, 2)
	require.Contains(t, res.stderr, "FAIL: production differs", "the verdict goes to stderr with -json")
}

func TestLocalDefinitionsMustMatchDevelopment(t *testing.T) {
	t.Run("matching", func(t *testing.T) {
		srv, _ := deployed(t)
		res := runWith(t, credentialsFor(t, srv), "-local", "sample.defs.json")
		require.Equal(t, exitPass, res.code, "stdout: %s", res.stdout)
		require.Contains(t, res.stdout, "and development matches the local definitions")
	})
	t.Run("differing", func(t *testing.T) {
		srv, _ := deployed(t)
		defs := loadSample(t)
		defs.Agents[1].Version = "2.2.0"
		defs.Agents = append(defs.Agents, struere.Agent{Name: "Billing", Slug: "billing", Version: "0.1.0",
			Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
		b, err := json.Marshal(defs)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "defs.json")
		require.NoError(t, os.WriteFile(path, b, 0o644))

		res := runWith(t, credentialsFor(t, srv), "-local", path)
		require.Equal(t, exitFail, res.code, "stdout: %s", res.stdout)
		require.Contains(t, res.stdout, "FAIL: the local definitions differ from development:\n  agent scheduler (modified)\n  agent billing (new)\n")
		require.NotContains(t, res.stdout, "production differs", "production still matches development")
		requireReadOnly(t, srv)
	})
}

func TestWithoutCredentialsDemonstratesAFailingGate(t *testing.T) {
	res := runWith(t, map[string]string{"HOME": t.TempDir()})
	require.Equal(t, exitFail, res.code, "the embedded demonstration fails on purpose; stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "embedded test backend (strueretest)")
	require.Contains(t, res.stdout, "exit code 1 is the demonstration")
	require.Contains(t, res.stdout, "  support: development 1.1.0, production 1.0.0\n")
}

func TestCannotDecideExitsTwo(t *testing.T) {
	srv := strueretest.NewServer(t)
	env := credentialsFor(t, srv)
	env["STRUERE_TOKEN"] = "not-a-token"
	res := runWith(t, env)
	require.Equal(t, exitError, res.code)
	require.Contains(t, res.stderr, "ci-gate:")
	require.NotContains(t, res.stderr, "not-a-token", "the token never reaches an error")
	require.Empty(t, res.stdout)
	_, err := os.Stat(env["GITHUB_STEP_SUMMARY"])
	require.ErrorIs(t, err, os.ErrNotExist, "no summary when the gate could not decide")

	for name, args := range map[string][]string{
		"unknown flag":     {"-nope"},
		"stray argument":   {"check"},
		"markdown or json": {"-markdown", "-json"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runWith(t, map[string]string{"HOME": t.TempDir()}, args...)
			require.Equal(t, exitError, res.code)
			require.Contains(t, res.stderr, "Usage")
		})
	}
}
