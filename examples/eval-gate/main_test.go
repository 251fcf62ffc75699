package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

func TestEmbeddedPassingDeploys(t *testing.T) {
	exampleenv.Isolate(t)
	junit := filepath.Join(t.TempDir(), "evals.xml")
	res := exampleenv.Run(t, run, "-junit", junit)
	require.Equal(t, exitPass, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "embedded test backend")
	require.Contains(t, res.Stdout, "PASS    refund policy  score 5.0/5")
	require.Contains(t, res.Stdout, "Deployed to production: support")
	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	require.NoError(t, xml.Unmarshal(data, &suites))
	require.Equal(t, 2, suites.Tests)
	require.Zero(t, suites.Failures)
}

func TestEmbeddedFailingDeploysNothing(t *testing.T) {
	exampleenv.Isolate(t)
	summary := exampleenv.JobSummary(t)
	res := exampleenv.Run(t, run, "-fail")
	require.Equal(t, exitFail, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "FAIL    refund policy")
	require.Contains(t, res.Stdout, `turn 1 contains failed: Response does not contain "30 days"`)
	require.Contains(t, res.Stdout, "Not deployed: the evals did not pass; production was not written.")
	require.NotContains(t, res.Stdout, "Deployed to production")
	md, err := os.ReadFile(summary)
	require.NoError(t, err)
	require.Contains(t, string(md), "# Evals: ❌ not passed")
}

// TestAgainstABackend runs the program against a backend the test can
// inspect, with the model scripted wrong, then right.
func TestAgainstABackend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies map[string][]strueretest.EvalReply
		code    int
		prod    []string
	}{
		{"failing evals write nothing to production", map[string][]strueretest.EvalReply{"refund policy": {{Text: "No."}}}, exitFail, nil},
		{"passing evals deploy", map[string][]strueretest.EvalReply{
			"refund policy": {{Text: "Refunds within 30 days."}},
			"order lookup":  {{Text: "Found it.", ToolCalls: []strueretest.EvalToolCall{{Name: "entity.query"}}}},
		}, exitPass, []string{"1.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
			exampleenv.Isolate(t)
			exampleenv.LoginTo(t, srv)
			srv.SetEvalModel(&strueretest.ScriptedModel{Replies: tc.replies})
			res := exampleenv.Run(t, run)
			require.Equal(t, tc.code, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
			require.NotContains(t, res.Stdout, "embedded")
			var prod []string
			for _, c := range srv.Configs("support") {
				if c.Environment == strueretest.Production {
					prod = append(prod, c.Version)
				}
			}
			require.Equal(t, tc.prod, prod)
		})
	}
}

func TestUsage(t *testing.T) {
	exampleenv.Isolate(t)
	require.Equal(t, exitError, exampleenv.Run(t, run, "extra").Code)
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	exampleenv.LoginTo(t, srv)
	res := exampleenv.Run(t, run, "-fail")
	require.Equal(t, exitError, res.Code)
	require.Contains(t, res.Stderr, "-fail only applies to the embedded backend")
}
