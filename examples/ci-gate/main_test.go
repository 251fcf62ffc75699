package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

func loadSample(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.LoadDefinitions("sample.defs.json")
	require.NoError(t, err)
	return defs
}

// deployed syncs and deploys the sample, so production matches development.
func deployed(t *testing.T, opts ...strueretest.Option) (*strueretest.Server, *struere.Client) {
	t.Helper()
	srv := strueretest.NewServer(t, append([]strueretest.Option{strueretest.WithGeneration(struere.GenerationE2Deploy)}, opts...)...)
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

// requireReadOnly fails if the gate sent anything but queries (the
// generation probe included).
func requireReadOnly(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	require.NotEmpty(t, srv.Requests(), "the gate read the backend")
	for _, r := range srv.Requests() {
		require.Equal(t, "query", r.Kind, "%s %s", r.FunctionPath, r.Args)
	}
}

func TestPassesWhenProductionMatchesDevelopment(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE1, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, _ := deployed(t, strueretest.WithGeneration(gen))
			summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
			res := exampleenv.Run(t, run)
			require.Equal(t, exitPass, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
			require.Contains(t, res.Stdout, "PASS: production serves every development agent configuration.")
			require.NotContains(t, res.Stdout, "embedded")
			requireReadOnly(t, srv)

			summary, err := os.ReadFile(summaryPath)
			require.NoError(t, err)
			require.Contains(t, string(summary), "**Struere gate: pass**")
			require.Contains(t, string(summary), "### Struere status")
		})
	}
}

func TestFailsNamingTheDriftedAgents(t *testing.T) {
	srv := drifted(t)
	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run)
	require.Equal(t, exitFail, res.Code, "stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "FAIL: production differs from development:\n  support: development 1.1.0, production 1.0.0 (differs: version)\n")
	require.NotContains(t, res.Stdout, "scheduler: development")
	require.Regexp(t, `(?m)^support\s+1\.1\.0\s+1\.0\.0\s+drifted$`, res.Stdout, "the Status table")
	requireReadOnly(t, srv)

	summary, err := os.ReadFile(summaryPath)
	require.NoError(t, err)
	require.Contains(t, string(summary), "**Struere gate: fail**\n\n- production differs: support: development 1.1.0, production 1.0.0 (differs: version)\n")
	require.Contains(t, string(summary), "| `support` | 1.1.0 | 1.0.0 | drifted |")
}

func TestFailsWhenDevelopmentWasNeverDeployed(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	_, err = c.Sync(t.Context(), loadSample(t))
	require.NoError(t, err)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run)
	require.Equal(t, exitFail, res.Code)
	require.Contains(t, res.Stdout, "support: development 1.0.0, production none")
	require.Contains(t, res.Stdout, "scheduler: development 2.1.0, production none")
}

func TestMarkdownReport(t *testing.T) {
	srv, _ := deployed(t)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-markdown")
	require.Equal(t, exitPass, res.Code, "stderr: %s", res.Stderr)
	require.True(t, strings.HasPrefix(res.Stdout, "**Struere gate: pass**\n\n### Struere status\n"), res.Stdout)
	require.Contains(t, res.Stdout, "| `scheduler` | 2.1.0 | 2.1.0 | synced |")
}

func TestJSONReport(t *testing.T) {
	srv := drifted(t)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-json")
	require.Equal(t, exitFail, res.Code, "stderr: %s", res.Stderr)
	var got struct {
		Pass                         bool     `json:"pass"`
		ProductionMatchesDevelopment bool     `json:"productionMatchesDevelopment"`
		ProductionDiffers            []string `json:"productionDiffers"`
		LocalDiffers                 []string `json:"localDiffers"`
		Status                       struct {
			SchemaVersion int `json:"schemaVersion"`
			Agents        []struct {
				Slug  string `json:"slug"`
				State string `json:"state"`
			} `json:"agents"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &got), "stdout is only JSON: %s", res.Stdout)
	require.False(t, got.Pass)
	require.False(t, got.ProductionMatchesDevelopment)
	require.Equal(t, []string{"support"}, got.ProductionDiffers)
	require.NotNil(t, got.LocalDiffers)
	require.Empty(t, got.LocalDiffers)
	require.Equal(t, struere.StatusSchemaVersion, got.Status.SchemaVersion)
	require.Len(t, got.Status.Agents, 2)
	require.Contains(t, res.Stderr, "FAIL: production differs", "the verdict goes to stderr with -json")
}

func TestLocalDefinitionsMustMatchDevelopment(t *testing.T) {
	t.Run("matching", func(t *testing.T) {
		srv, _ := deployed(t)
		exampleenv.LoggedIn(t, srv, "sample.defs.json")
		res := exampleenv.Run(t, run, "-local", "sample.defs.json")
		require.Equal(t, exitPass, res.Code, "stdout: %s", res.Stdout)
		require.Contains(t, res.Stdout, "and development matches the local definitions")
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

		exampleenv.LoggedIn(t, srv, "sample.defs.json")
		res := exampleenv.Run(t, run, "-local", path)
		require.Equal(t, exitFail, res.Code, "stdout: %s", res.Stdout)
		require.Contains(t, res.Stdout, "FAIL: the local definitions differ from development:\n  agent billing (new)\n  agent scheduler (modified: version)\n")
		require.NotContains(t, res.Stdout, "production differs", "production still matches development")
		requireReadOnly(t, srv)
	})
}

func TestWithoutCredentialsDemonstratesAFailingGate(t *testing.T) {
	exampleenv.Isolate(t, "sample.defs.json")
	res := exampleenv.Run(t, run)
	require.Equal(t, exitFail, res.Code, "the embedded demonstration fails on purpose; stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "embedded test backend (strueretest)")
	require.Contains(t, res.Stdout, "exit code 1 is the demonstration")
	require.Contains(t, res.Stdout, "  support: development 1.1.0, production 1.0.0 (differs: systemPrompt, version)\n")
}

func TestExpiredLoginCannotDecideInsteadOfRunningEmbedded(t *testing.T) {
	home := exampleenv.Isolate(t)
	exampleenv.WriteLogin(t, home, "expired-token", time.Now().Add(-time.Hour))

	res := exampleenv.Run(t, run)
	require.Equal(t, exitError, res.Code, "stdout: %s", res.Stdout)
	require.Contains(t, res.Stderr, "expired")
	require.NotContains(t, res.Stderr, "expired-token", "the token never reaches an error")
	require.Empty(t, res.Stdout, "no embedded demonstration")
}

func TestCannotDecideExitsTwo(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
	t.Setenv(struere.EnvToken, "not-a-token")
	res := exampleenv.Run(t, run)
	require.Equal(t, exitError, res.Code)
	require.Contains(t, res.Stderr, "ci-gate:")
	require.NotContains(t, res.Stderr, "not-a-token", "the token never reaches an error")
	require.Empty(t, res.Stdout)
	_, err := os.Stat(summaryPath)
	require.ErrorIs(t, err, os.ErrNotExist, "no summary when the gate could not decide")

	for name, args := range map[string][]string{
		"unknown flag":     {"-nope"},
		"stray argument":   {"check"},
		"markdown or json": {"-markdown", "-json"},
	} {
		t.Run(name, func(t *testing.T) {
			exampleenv.Isolate(t, "sample.defs.json")
			res := exampleenv.Run(t, run, args...)
			require.Equal(t, exitError, res.Code)
			require.Contains(t, res.Stderr, "Usage")
		})
	}
}

// writeDefs writes defs to a temporary file and returns its path.
func writeDefs(t *testing.T, defs *struere.Definitions) string {
	t.Helper()
	b, err := json.Marshal(defs)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "defs.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// A new system prompt synced to development without a version bump is a
// difference: production serves the old prompt.
func TestFailsOnAPromptOnlyChange(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationHead, struere.GenerationE2Deploy, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := deployed(t, strueretest.WithGeneration(gen))
			defs := loadSample(t)
			require.Equal(t, "support", defs.Agents[0].Slug)
			defs.Agents[0].SystemPrompt = "You help Acme's customers. Never offer refunds."
			_, err := c.Sync(t.Context(), defs)
			require.NoError(t, err)
			srv.ResetRequests()

			summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
			res := exampleenv.Run(t, run)
			require.Equal(t, exitFail, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
			require.Contains(t, res.Stdout, "FAIL: production differs from development:\n  support: development 1.0.0, production 1.0.0 (differs: systemPrompt)\n")
			require.Regexp(t, `(?m)^support\s+1\.0\.0\s+1\.0\.0\s+drifted$`, res.Stdout)
			requireReadOnly(t, srv)
			summary, err := os.ReadFile(summaryPath)
			require.NoError(t, err)
			require.Contains(t, string(summary), "- agent support: development vs production: systemPrompt\n")
		})
	}
}

// A changed role policy in the local definitions is a difference from
// development, although the role exists on both sides.
func TestFailsOnARolePolicyChangeWithLocal(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationHead, struere.GenerationE2Deploy, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, _ := deployed(t, strueretest.WithGeneration(gen))
			defs := loadSample(t)
			require.Equal(t, "support-agent", defs.Roles[0].Name)
			defs.Roles[0].Policies[0].Actions = []string{"read", "update", "delete"}
			path := writeDefs(t, defs)

			exampleenv.LoggedIn(t, srv, "sample.defs.json")
			res := exampleenv.Run(t, run, "-local", path)
			require.Equal(t, exitFail, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
			require.Contains(t, res.Stdout, "FAIL: the local definitions differ from development:\n  role support-agent (modified: policies)\n")
			require.NotContains(t, res.Stdout, "production differs")
			requireReadOnly(t, srv)
		})
	}
}

// A prompt changed without a version bump fails the gate, and the report
// (and the job summary) shows the prompt's unified diff.
func TestFailsOnAPromptOnlyChangeShowingItsDiff(t *testing.T) {
	srv, c := deployed(t)
	defs := loadSample(t)
	require.Equal(t, "support", defs.Agents[0].Slug)
	defs.Agents[0].SystemPrompt += "\nOffer a refund when an order is late."
	_, err := c.Sync(t.Context(), defs)
	require.NoError(t, err)
	srv.ResetRequests()

	summaryPath := exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run, "-markdown")
	require.Equal(t, exitFail, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "- production differs: support: development 1.0.0, production 1.0.0 (differs: systemPrompt)\n")
	diff := "```diff\n@@ -1 +1,2 @@\n You help Acme's customers with their orders.\n+Offer a refund when an order is late.\n```"
	require.Contains(t, res.Stdout, diff)
	summary, err := os.ReadFile(summaryPath)
	require.NoError(t, err)
	require.Contains(t, string(summary), diff)
	requireReadOnly(t, srv)

	res = exampleenv.Run(t, run)
	require.Equal(t, exitFail, res.Code)
	require.Contains(t, res.Stdout, "~ agent support\n    ~ systemPrompt:\n")
	require.Contains(t, res.Stdout, "        +Offer a refund when an order is late.\n")
}

// A role whose policies differ between the environments fails the gate,
// and the report shows the policy rows that differ.
func TestFailsOnARolePolicyChange(t *testing.T) {
	srv, c := deployed(t)
	_, err := srv.SeedRole("production", strueretest.Role{Name: "support-agent", Description: "Reads and updates customers",
		Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read", "update"}, Effect: "allow"}}})
	require.NoError(t, err)
	exampleenv.LoggedIn(t, srv, "sample.defs.json")
	res := exampleenv.Run(t, run)
	require.Equal(t, exitPass, res.Code, "same role in both: stdout: %s", res.Stdout)

	defs := loadSample(t)
	defs.Roles[0].Policies = append(defs.Roles[0].Policies, struere.Policy{Resource: "customer", Actions: []string{"delete"}, Effect: "deny"})
	_, err = c.Sync(t.Context(), defs)
	require.NoError(t, err)
	srv.ResetRequests()

	res = exampleenv.Run(t, run)
	require.Equal(t, exitFail, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "FAIL: production enforces other resources than development:\n  role support-agent (differs: policies)\n")
	require.NotContains(t, res.Stdout, "FAIL: production differs from development", "the agents match")
	require.Contains(t, res.Stdout, "~ role support-agent\n    + policies[customer deny]:\n")
	requireReadOnly(t, srv)

	res = exampleenv.Run(t, run, "-markdown")
	require.Equal(t, exitFail, res.Code)
	require.Contains(t, res.Stdout, "- production enforces another resource: role support-agent (differs: policies)\n")
	require.Contains(t, res.Stdout, "+ `policies[customer deny]` added")
}
