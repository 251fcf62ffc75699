package struere_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// syncedServer is a backend with sampleDefs synced to development.
func syncedServer(t *testing.T, gen struere.Generation) (*strueretest.Server, *struere.Client) {
	t.Helper()
	srv, c, _, _ := synced(t, gen)
	return srv, c
}

func TestDeploySmokeTestsEveryDeployedAgentInProduction(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := syncedServer(t, gen)
			prodKey := chatKey(t, srv, struere.Production, time.Time{})
			devKey := chatKey(t, srv, struere.Development, time.Time{})
			_, err := c.Chat(ctxT(t), prodKey, "support", "before")
			require.ErrorIs(t, err, struere.ErrNoConfiguration, "nothing is in production before the deploy")
			srv.ResetRequests()

			res, err := c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey))

			require.NoError(t, err)
			require.True(t, res.Verified)
			want := []struere.SmokeResult{
				{Agent: "support", OK: true, ServedVersion: "1.0.0", ServedEnvironment: struere.Production, Reply: "[support@1.0.0 production] You said: ping"},
				{Agent: "scheduler", OK: true, ServedVersion: "2.1.0", ServedEnvironment: struere.Production, Reply: "[scheduler@2.1.0 production] You said: ping"},
			}
			require.Empty(t, cmp.Diff(want, res.Smoke, cmpopts.IgnoreFields(struere.SmokeResult{}, "ThreadID"),
				cmpopts.SortSlices(func(a, b struere.SmokeResult) bool { return a.Agent < b.Agent })))
			reqs := chatRequests(srv)
			require.Len(t, reqs, 2, "one message per deployed agent")
			for _, r := range reqs {
				require.JSONEq(t, `{"message":"ping"}`, string(r.Args))
			}
			all := srv.Requests()
			require.Equal(t, "site", all[len(all)-1].Kind, "the smoke test runs after the deploy and its verification")

			dev, err := c.Chat(ctxT(t), devKey, "support", "after")
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(dev.Message, "[support@1.0.0 development] "), "the development key still reaches development only: %s", dev.Message)
			for _, th := range srv.Threads() {
				if th.ID == dev.ThreadID {
					require.Equal(t, strueretest.Development, th.Environment)
				} else {
					require.Equal(t, strueretest.Production, th.Environment, "smoke tests create production threads only")
				}
			}
		})
	}
}

func TestDeploySmokeTestRefusesANonProductionKeyBeforeSending(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2Deploy)
	devKey := chatKey(t, srv, struere.Development, time.Time{})
	srv.ResetRequests()

	res, err := c.Deploy(ctxT(t), struere.WithSmokeTest(devKey))

	require.Nil(t, res)
	require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
	var mm *struere.EnvironmentMismatchError
	require.ErrorAs(t, err, &mm)
	require.Equal(t, struere.Development, mm.Declared)
	require.Equal(t, struere.Production, mm.Required)
	require.Empty(t, srv.Requests(), "nothing was sent: no probe, no read, no deploy, no chat")
	for _, cfg := range srv.Configs("support") {
		require.NotEqual(t, strueretest.Production, cfg.Environment)
	}
}

func TestDeploySmokeTestRejectsBadChecksBeforeSending(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2Deploy)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})
	srv.ResetRequests()

	_, err := c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey, struere.SmokeCheck{Agent: ""}))
	require.ErrorIs(t, err, struere.ErrValidation)
	_, err = c.Deploy(ctxT(t), struere.WithSmokeTest(struere.APIKey{}))
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Empty(t, srv.Requests())
}

func TestDeploySmokeTestFailureCarriesTheDeployResult(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2Deploy)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})
	srv.Inject(strueretest.Fault{Path: "/v1/agents/scheduler/chat", Status: 500,
		Body: `{"error":"Insufficient credits. Please add credits to your account to continue using platform API keys."}`})

	res, err := c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey,
		struere.SmokeCheck{Agent: "support", Message: "are you there?"},
		struere.SmokeCheck{Agent: "scheduler"},
		struere.SmokeCheck{Agent: "ghost"}))

	require.ErrorIs(t, err, struere.ErrSmokeTestFailed)
	require.ErrorIs(t, err, struere.ErrInsufficientCredits, "the failed checks' causes are reachable")
	require.ErrorIs(t, err, struere.ErrNotFound)
	var st *struere.SmokeTestError
	require.ErrorAs(t, err, &st)
	require.Same(t, res, st.Result, "the error carries the deploy result")
	require.ElementsMatch(t, []string{"support", "scheduler"}, res.Deployed, "the deploy was written")
	require.True(t, res.Verified)
	require.Len(t, res.Smoke, 3)
	require.True(t, res.Smoke[0].OK)
	require.Equal(t, "[support@1.0.0 production] You said: are you there?", res.Smoke[0].Reply)
	var failed []string
	for _, f := range st.Failures {
		require.False(t, f.OK)
		require.Error(t, f.Err)
		failed = append(failed, f.Agent)
	}
	require.Equal(t, []string{"scheduler", "ghost"}, failed)
	require.Contains(t, err.Error(), "2 of 3")
	require.Contains(t, err.Error(), "Agent not found")

	b, jerr := json.Marshal(res)
	require.NoError(t, jerr)
	var decoded struct {
		Smoke []map[string]any `json:"smoke"`
	}
	require.NoError(t, json.Unmarshal(b, &decoded))
	require.Equal(t, "ghost", decoded.Smoke[2]["agent"])
	require.Contains(t, decoded.Smoke[2]["error"], "Agent not found", "a failure's error is in the JSON report")
	require.NotContains(t, decoded.Smoke[0], "error")
}

func TestDeploySmokeTestDetectsAnAnswerFromTheWrongConfiguration(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2Deploy)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})
	srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Status: 200,
		Body: `{"message":"[support@0.9.0 production] You said: ping","threadId":"t","usage":{}}`})
	srv.Inject(strueretest.Fault{Path: "/v1/agents/scheduler/chat", Status: 200,
		Body: `{"message":"[scheduler@2.1.0 development] You said: ping","threadId":"t","usage":{}}`})

	_, err := c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey))

	var st *struere.SmokeTestError
	require.ErrorAs(t, err, &st)
	require.Len(t, st.Failures, 2)
	require.Contains(t, err.Error(), "version 0.9.0, the deploy promoted 1.0.0")
	require.Contains(t, err.Error(), "answered from development")
}

func TestDeploySmokeTestOnE1NeedsAgentIDs(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE1)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})

	res, err := c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey))
	require.ErrorIs(t, err, struere.ErrSmokeTestFailed)
	require.ErrorIs(t, err, struere.ErrUnsupported, "E1 has no slug chat route")
	require.NotNil(t, res)

	var checks []struere.SmokeCheck
	for _, a := range srv.Agents() {
		checks = append(checks, struere.SmokeCheck{Agent: a.Slug, AgentID: a.ID})
	}
	res, err = c.Deploy(ctxT(t), struere.WithSmokeTest(prodKey, checks...))
	require.NoError(t, err)
	require.Len(t, res.Smoke, 2)
	for _, r := range res.Smoke {
		require.True(t, r.OK, r.Agent)
		require.Equal(t, struere.Production, r.ServedEnvironment)
		require.NotEmpty(t, r.ServedVersion)
	}
}

func TestDeployDryRunSendsNoSmokeTest(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2Deploy)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})

	res, err := c.Deploy(ctxT(t), struere.DryRun(), struere.WithSmokeTest(prodKey))

	require.NoError(t, err)
	require.Nil(t, res.Smoke)
	require.Empty(t, chatRequests(srv))
}
