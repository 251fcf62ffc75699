package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

// credentialsFor points the program at srv, as a user with STRUERE_TOKEN set.
func credentialsFor(t *testing.T, srv *strueretest.Server) {
	exampleenv.Isolate(t, "sample.defs.json")
	exampleenv.LoginTo(t, srv)
}

// writes lists the mutations sent, leaving out the generation probe (a
// deployAllAgents call whose arguments the validator must reject).
func writes(t *testing.T, srv *strueretest.Server) []string {
	t.Helper()
	var out []string
	for _, r := range srv.Requests() {
		if r.Kind != "mutation" {
			continue
		}
		var args map[string]any
		require.NoError(t, json.Unmarshal(r.Args, &args))
		if v, ok := args["organizationId"]; ok && v == nil && r.FunctionPath == "sync:deployAllAgents" {
			continue
		}
		out = append(out, r.FunctionPath)
	}
	return out
}

// tableRow matches one row of a Status table, whatever the column widths.
func tableRow(cells ...string) *regexp.Regexp {
	expr := `(?m)^\s*`
	for i, c := range cells {
		if i > 0 {
			expr += `\s+`
		}
		expr += regexp.QuoteMeta(c)
	}
	return regexp.MustCompile(expr + `\s*$`)
}

func TestWithoutCredentialsRunsTheWholeWorkflowOnAnEmbeddedBackend(t *testing.T) {
	exampleenv.Isolate(t, "sample.defs.json")
	res := exampleenv.Run(t, run)
	require.Equal(t, 0, res.Code, "stderr: %s\nstdout: %s", res.Stderr, res.Stdout)
	require.Empty(t, res.Stderr)
	out := res.Stdout
	require.Contains(t, out, "running against an embedded test backend (strueretest)")
	require.Contains(t, out, "created support, scheduler")
	require.Contains(t, out, "set up in the dashboard")
	require.Contains(t, out, "Deploy plan (client promotion, backend head)", "the embedded backend is the newest generation")
	require.Regexp(t, tableRow("support", "1.0.0", "-", "not-in-production"), out, "status before the deploy")
	require.Regexp(t, tableRow("draft-bot", "-", "0.9.0", "not-in-development"), out)
	require.Regexp(t, tableRow("deploy", "support", "none", "->", "1.0.0"), out, "the dry-run plan")
	require.Regexp(t, tableRow("skip", "draft-bot", struere.ReasonNoDevelopmentConfig), out)
	require.Contains(t, out, "Deployed  scheduler (2.1.0), support (1.0.0)\n")
	require.Contains(t, out, "Skipped   draft-bot: "+struere.ReasonNoDevelopmentConfig)
	require.Contains(t, out, "Verified  yes")
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "synced"), out, "status after the deploy")
	require.Regexp(t, tableRow("scheduler", "2.1.0", "2.1.0", "synced"), out)
	require.Regexp(t, tableRow("draft-bot", "-", "0.9.0", "not-in-development"), out, "the skipped agent keeps production")
}

func TestWithCredentialsAndNoDeployFlagOnlyReads(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("support", "development", strueretest.AgentConfig{Version: "1.2.0", Name: "Support", SystemPrompt: "Help.",
		Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
	configs := len(srv.Configs("support"))

	credentialsFor(t, srv)
	res := exampleenv.Run(t, run, "-defs", "sample.defs.json")
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	require.Contains(t, res.Stdout, "Read-only")
	require.NotContains(t, res.Stdout, "embedded")
	require.Regexp(t, tableRow("support", "1.0.0", "1.2.0", "-", "modified", "not-in-production"), res.Stdout, "-defs is compared, not synced")
	require.Regexp(t, tableRow("scheduler", "2.1.0", "-", "-", "new", "unconfigured"), res.Stdout)
	require.Regexp(t, tableRow("deploy", "support", "none", "->", "1.2.0"), res.Stdout)
	require.Contains(t, res.Stdout, "nothing was written")
	require.Empty(t, writes(t, srv))
	require.Len(t, srv.Configs("support"), configs)
	require.Empty(t, exampleenv.ProductionVersion(srv, "support"))
}

func TestWithCredentialsAndDeployFlagSyncsAndDeploys(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	credentialsFor(t, srv)
	res := exampleenv.Run(t, run, "-deploy", "-defs", "sample.defs.json")
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	require.NotContains(t, res.Stdout, "draft-bot", "nothing is seeded into a real deployment")
	require.Contains(t, res.Stdout, "Deployed  scheduler (2.1.0), support (1.0.0)\n")
	require.Equal(t, "1.0.0", exampleenv.ProductionVersion(srv, "support"))
	require.Equal(t, "2.1.0", exampleenv.ProductionVersion(srv, "scheduler"))
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "1.0.0", "synced", "synced"), res.Stdout)
}

func TestSyncThatWouldDeleteFailsAndWritesNothing(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	_, err := srv.SeedEntityType("development", strueretest.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object"}`)})
	require.NoError(t, err)
	credentialsFor(t, srv)
	res := exampleenv.Run(t, run, "-deploy", "-defs", "sample.defs.json")
	require.Equal(t, 1, res.Code)
	require.Contains(t, res.Stderr, "invoice")
	require.Contains(t, res.Stderr, "never deletes")
	require.Empty(t, writes(t, srv))
}

func TestReadsALoginFromTheCredentialsFile(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	home := exampleenv.Isolate(t)
	exampleenv.WriteLogin(t, home, srv.Token().Reveal(), time.Now().Add(time.Hour))
	t.Setenv(struere.EnvConvexURL, srv.URL())
	t.Setenv(struere.EnvOrgID, srv.OrganizationID())

	var out, errOut bytes.Buffer
	code := run(t.Context(), nil, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	require.Contains(t, out.String(), "Using "+srv.URL())
	require.Contains(t, out.String(), "Read-only")
	require.Empty(t, writes(t, srv))
}

func TestExpiredLoginFailsInsteadOfRunningEmbedded(t *testing.T) {
	home := exampleenv.Isolate(t)
	exampleenv.WriteLogin(t, home, "expired-token", time.Now().Add(-time.Hour))

	res := exampleenv.Run(t, run)
	require.Equal(t, 1, res.Code, "stdout: %s", res.Stdout)
	require.Contains(t, res.Stderr, "expired")
	require.NotContains(t, res.Stderr, "expired-token", "the token never reaches an error")
	require.NotContains(t, res.Stdout, "embedded")
}

func TestBadUsageExitsTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":     {"-nope"},
		"stray argument":   {"deploy"},
		"missing defs arg": {"-defs"},
	} {
		t.Run(name, func(t *testing.T) {
			exampleenv.Isolate(t, "sample.defs.json")
			res := exampleenv.Run(t, run, args...)
			require.Equal(t, 2, res.Code)
			require.Contains(t, res.Stderr, "Usage")
			require.Empty(t, res.Stdout)
		})
	}
}

func TestMissingDefinitionsFileFails(t *testing.T) {
	exampleenv.Isolate(t, "sample.defs.json")
	res := exampleenv.Run(t, run, "-defs", filepath.Join(t.TempDir(), "missing.json"))
	require.Equal(t, 1, res.Code)
	require.Contains(t, res.Stderr, "missing.json")
}

func TestWithOnlyTheKeyPairSyncsDeploysVerifiesAndPrintsStatus(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, err := srv.CreateAPIKey(strueretest.Development, "ci development", time.Time{})
	require.NoError(t, err)
	prod, err := srv.CreateAPIKey(strueretest.Production, "ci production", time.Time{})
	require.NoError(t, err)
	exampleenv.Isolate(t, "sample.defs.json") // no token, no credentials file, no struere.json
	t.Setenv(struere.EnvConvexURL, srv.URL())
	t.Setenv(struere.EnvDevelopmentAPIKey, dev)
	t.Setenv(struere.EnvProductionAPIKey, prod)
	summary := exampleenv.JobSummary(t)
	srv.ResetRequests()

	res := exampleenv.Run(t, run, "-deploy", "-smoke", "-defs", "sample.defs.json")
	require.Equal(t, 0, res.Code, "stderr: %s\nstdout: %s", res.Stderr, res.Stdout)
	out := res.Stdout
	require.NotContains(t, out, "embedded")
	require.Contains(t, out, "with API keys alone (development "+dev[:16]+", production "+prod[:16]+")")
	require.Contains(t, out, "created support, scheduler", "synced to development")
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "-", "synced", "not-in-production"), out, "status before the deploy")
	require.Contains(t, out, "Deployed  scheduler (2.1.0), support (1.0.0)\n")
	require.Contains(t, out, "Verified  yes")
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "1.0.0", "synced", "synced"), out, "status after the deploy")
	require.Contains(t, out, "support: ok")
	require.Contains(t, out, "scheduler: ok")
	require.Contains(t, out, "it is the key Deploy read and wrote production with")
	require.Equal(t, "1.0.0", exampleenv.ProductionVersion(srv, "support"))
	require.Equal(t, "2.1.0", exampleenv.ProductionVersion(srv, "scheduler"))
	require.NotContains(t, out+res.Stderr, dev[16:], "no key is printed")
	require.NotContains(t, out+res.Stderr, prod[16:])
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.URLPath, "/v1/agents/") {
			continue // the smoke test's chat messages
		}
		require.True(t, strings.HasPrefix(r.URLPath, "/v1/sync"), "%s: keys alone use the site routes", r.URLPath)
	}
	md, err := os.ReadFile(summary)
	require.NoError(t, err)
	for _, want := range []string{"## Struere deploy", "- Deployed: `scheduler`, `support`", "- Verified: true", "- Smoke test `support`: ok", "### Struere status"} {
		require.Contains(t, string(md), want)
	}
	require.NotContains(t, string(md), prod[16:])
}
