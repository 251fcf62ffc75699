package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// result is what one run of the program produced.
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

// noCredentials is an environment with an empty home directory.
func noCredentials(t *testing.T) map[string]string {
	return map[string]string{"HOME": t.TempDir()}
}

// credentialsFor points the program at srv, as a user with STRUERE_TOKEN set.
func credentialsFor(t *testing.T, srv *strueretest.Server) map[string]string {
	return map[string]string{
		"HOME":               t.TempDir(),
		"STRUERE_CONVEX_URL": srv.URL(),
		"STRUERE_TOKEN":      srv.Token().Reveal(),
		"STRUERE_ORG_ID":     srv.OrganizationID(),
	}
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

func productionVersion(srv *strueretest.Server, slug string) string {
	for _, c := range srv.Configs(slug) {
		if c.Current && c.Environment == "production" {
			return c.Version
		}
	}
	return ""
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
	res := runWith(t, noCredentials(t))
	require.Equal(t, 0, res.code, "stderr: %s\nstdout: %s", res.stderr, res.stdout)
	require.Empty(t, res.stderr)
	out := res.stdout
	require.Contains(t, out, "running against an embedded test backend (strueretest)")
	require.Contains(t, out, "created support, scheduler")
	require.Contains(t, out, "created in the dashboard")
	require.Regexp(t, tableRow("support", "1.0.0", "-", "not-in-production"), out, "status before the deploy")
	require.Regexp(t, tableRow("draft-bot", "-", "-", "unconfigured"), out)
	require.Regexp(t, tableRow("deploy", "support", "none", "->", "1.0.0"), out, "the dry-run plan")
	require.Regexp(t, tableRow("skip", "draft-bot", struere.ReasonNoDevelopmentConfig), out)
	require.Contains(t, out, "Deployed  support (1.0.0), scheduler (2.1.0)")
	require.Contains(t, out, "Skipped   draft-bot: "+struere.ReasonNoDevelopmentConfig)
	require.Contains(t, out, "Verified  yes")
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "synced"), out, "status after the deploy")
	require.Regexp(t, tableRow("scheduler", "2.1.0", "2.1.0", "synced"), out)
}

func TestWithCredentialsAndNoDeployFlagOnlyReads(t *testing.T) {
	srv := strueretest.NewServer(t)
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("support", "development", strueretest.AgentConfig{Version: "1.2.0", Name: "Support", SystemPrompt: "Help.",
		Model: strueretest.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
	configs := len(srv.Configs("support"))

	res := runWith(t, credentialsFor(t, srv), "-defs", "sample.defs.json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, "Read-only")
	require.NotContains(t, res.stdout, "embedded")
	require.Regexp(t, tableRow("support", "1.0.0", "1.2.0", "-", "modified"), res.stdout, "-defs is compared, not synced")
	require.Regexp(t, tableRow("scheduler", "2.1.0", "-", "-", "new"), res.stdout)
	require.Regexp(t, tableRow("deploy", "support", "none", "->", "1.2.0"), res.stdout)
	require.Contains(t, res.stdout, "nothing was written")
	require.Empty(t, writes(t, srv))
	require.Len(t, srv.Configs("support"), configs)
	require.Empty(t, productionVersion(srv, "support"))
}

func TestWithCredentialsAndDeployFlagSyncsAndDeploys(t *testing.T) {
	srv := strueretest.NewServer(t)
	res := runWith(t, credentialsFor(t, srv), "-deploy", "-defs", "sample.defs.json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	require.NotContains(t, res.stdout, "draft-bot", "nothing is seeded into a real deployment")
	require.Contains(t, res.stdout, "Deployed  support (1.0.0), scheduler (2.1.0)")
	require.Equal(t, "1.0.0", productionVersion(srv, "support"))
	require.Equal(t, "2.1.0", productionVersion(srv, "scheduler"))
	require.Regexp(t, tableRow("support", "1.0.0", "1.0.0", "1.0.0", "synced"), res.stdout)
}

func TestSyncThatWouldDeleteFailsAndWritesNothing(t *testing.T) {
	srv := strueretest.NewServer(t)
	_, err := srv.SeedEntityType("development", strueretest.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object"}`)})
	require.NoError(t, err)
	res := runWith(t, credentialsFor(t, srv), "-deploy", "-defs", "sample.defs.json")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "invoice")
	require.Contains(t, res.stderr, "never deletes")
	require.Empty(t, writes(t, srv))
}

func TestReadsALoginFromTheCredentialsFile(t *testing.T) {
	srv := strueretest.NewServer(t)
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".struere"), 0o700))
	creds, err := json.Marshal(map[string]any{"token": srv.Token().Reveal(), "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(home, ".struere", "credentials.json"), creds, 0o600))
	// struere.ConfigFromEnv reads the process environment.
	t.Setenv("HOME", home)
	t.Setenv("STRUERE_TOKEN", "")
	t.Setenv("STRUERE_CONVEX_URL", srv.URL())
	t.Setenv("STRUERE_ORG_ID", srv.OrganizationID())

	var out, errOut bytes.Buffer
	code := run(t.Context(), nil, os.Getenv, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	require.Contains(t, out.String(), "Using "+srv.URL())
	require.Contains(t, out.String(), "Read-only")
	require.Empty(t, writes(t, srv))
}

func TestBadUsageExitsTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":     {"-nope"},
		"stray argument":   {"deploy"},
		"missing defs arg": {"-defs"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runWith(t, noCredentials(t), args...)
			require.Equal(t, 2, res.code)
			require.Contains(t, res.stderr, "Usage")
			require.Empty(t, res.stdout)
		})
	}
}

func TestMissingDefinitionsFileFails(t *testing.T) {
	res := runWith(t, noCredentials(t), "-defs", filepath.Join(t.TempDir(), "missing.json"))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "missing.json")
}
