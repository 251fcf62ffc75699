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
			check := "the backend lists " + prodKey.Prefix() + " as a production key"
			want := []struere.SmokeResult{
				{Agent: "support", OK: true, KeyVerified: true, KeyCheck: check, Reply: "[support@1.0.0 production] You said: ping"},
				{Agent: "scheduler", OK: true, KeyVerified: true, KeyCheck: check, Reply: "[scheduler@2.1.0 production] You said: ping"},
			}
			require.Empty(t, cmp.Diff(want, res.Smoke, cmpopts.IgnoreFields(struere.SmokeResult{}, "ThreadID"),
				cmpopts.SortSlices(func(a, b struere.SmokeResult) bool { return a.Agent < b.Agent })))
			served := map[string]strueretest.Served{}
			for _, sv := range srv.Served() {
				served[sv.Agent] = sv
			}
			require.Len(t, served, 2)
			for slug, version := range map[string]string{"support": "1.0.0", "scheduler": "2.1.0"} {
				require.Equal(t, strueretest.Production, served[slug].Environment, "the backend answered %s from production", slug)
				require.Equal(t, version, served[slug].Version, "with the promoted version")
				require.Equal(t, prodKey.Prefix(), served[slug].KeyPrefix)
			}
			require.Equal(t, "apiKeys:list", srv.Requests()[0].FunctionPath, "the key is verified before anything else")
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

func TestDeploySmokeTestWithAMislabelledKeyFailsBeforeAnythingIsWrittenOrSent(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv, c := syncedServer(t, gen)
		devKey := chatKey(t, srv, struere.Development, time.Time{})
		mislabelled, err := struere.ParseAPIKey(devKey.Reveal(), struere.Production)
		require.NoError(t, err)
		srv.ResetRequests()

		res, err := c.Deploy(ctxT(t), struere.WithSmokeTest(mislabelled))

		require.Nil(t, res)
		require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
		var mm *struere.EnvironmentMismatchError
		require.ErrorAs(t, err, &mm)
		require.Equal(t, struere.Production, mm.Declared)
		require.Equal(t, struere.Development, mm.Actual, "the backend's own listing named the key's environment")
		require.Contains(t, err.Error(), "deploy: smoke test")
		for _, r := range srv.Requests() {
			require.Equal(t, "apiKeys:list", r.FunctionPath, "only the key was looked up: no deploy, no message")
		}
		require.Empty(t, srv.Served())
		for _, cfg := range srv.Configs("support") {
			require.NotEqual(t, strueretest.Production, cfg.Environment, "nothing was deployed")
		}
	})
}

func TestSmokeTestWithAMislabelledKeyFailsBeforeAnyMessage(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2)
	devKey := chatKey(t, srv, struere.Development, time.Time{})
	mislabelled, err := struere.ParseAPIKey(devKey.Reveal(), struere.Production)
	require.NoError(t, err)
	srv.ResetRequests()

	results, err := c.SmokeTest(ctxT(t), mislabelled, struere.SmokeCheck{Agent: "support"})

	require.Nil(t, results)
	require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
	require.Empty(t, chatRequests(srv), "no message was sent")
	require.Empty(t, srv.Served())
}

func TestSmokeTestAnUnknownKeyFailsBeforeAnyMessage(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2)
	unknown, err := struere.ParseAPIKey("af_live_unknown0_00000000000000000000000000000000", struere.Production)
	require.NoError(t, err)
	srv.ResetRequests()

	_, err = c.SmokeTest(ctxT(t), unknown, struere.SmokeCheck{Agent: "support"})

	require.ErrorIs(t, err, struere.ErrNotFound)
	require.Empty(t, chatRequests(srv))
}

func TestSmokeTestChecksTheNamedAgentsWithoutADeploy(t *testing.T) {
	srv, c := syncedServer(t, struere.GenerationE2)
	prodKey := chatKey(t, srv, struere.Production, time.Time{})
	_, err := c.Deploy(ctxT(t))
	require.NoError(t, err)
	srv.ResetRequests()

	results, err := c.SmokeTest(ctxT(t), prodKey, struere.SmokeCheck{Agent: "support", Message: "up?"}, struere.SmokeCheck{Agent: "ghost"})

	require.ErrorIs(t, err, struere.ErrSmokeTestFailed)
	require.ErrorIs(t, err, struere.ErrNotFound, "ghost is not an agent")
	var st *struere.SmokeTestError
	require.ErrorAs(t, err, &st)
	require.Nil(t, st.Result, "no deploy")
	require.Contains(t, err.Error(), "failed for 1 of 2 agents")
	require.NotContains(t, err.Error(), "deploy was written")
	require.Len(t, results, 2)
	require.True(t, results[0].OK)
	require.True(t, results[0].KeyVerified)
	require.Equal(t, "[support@1.0.0 production] You said: up?", results[0].Reply)
	require.False(t, results[1].OK)
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "a smoke test writes nothing")
		require.NotEqual(t, "sync:deployAllAgents", r.FunctionPath)
	}
	last, ok := srv.LastServed()
	require.True(t, ok)
	require.Equal(t, "support", last.Agent)
	require.Equal(t, strueretest.Production, last.Environment)
	require.Equal(t, "up?", last.Message)

	_, err = c.SmokeTest(ctxT(t), prodKey)
	require.ErrorIs(t, err, struere.ErrValidation, "a smoke test without a deploy names its agents")
}

func TestSmokeTestOfAnotherOrganizationSaysTheKeyWasNotVerified(t *testing.T) {
	srv, _ := syncedServer(t, struere.GenerationE2)
	other, err := srv.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	require.NoError(t, err)
	raw, err := srv.CreateAPIKeyIn(other.ID, strueretest.Production, "theirs", time.Time{})
	require.NoError(t, err)
	key, err := struere.ParseAPIKey(raw, struere.Production)
	require.NoError(t, err)
	cfg := srv.Config()
	cfg.OrganizationID = other.ID
	c, err := struere.New(cfg)
	require.NoError(t, err)

	results, err := c.SmokeTest(ctxT(t), key, struere.SmokeCheck{Agent: "support"})

	require.Error(t, err, "the other organization has no agent support")
	require.Len(t, results, 1, "the listing covers the default organization only, so the message was sent")
	require.False(t, results[0].KeyVerified)
	require.Contains(t, results[0].KeyCheck, "not verified")
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
	}
	for _, sv := range srv.Served()[len(srv.Served())-2:] {
		require.Equal(t, strueretest.Production, sv.Environment)
		require.NotEmpty(t, sv.Version)
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

// headOrg is a HEAD backend with a second organization, beta, that the
// seeded user belongs to but that is not the token's default: its agent
// support has development 1.0.0 and production 0.9.0, so the two
// environments' sync states differ. The client is configured for beta.
func headOrg(t *testing.T) (*strueretest.Server, *struere.Client, strueretest.Organization) {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	beta, err := srv.AddOrganization(strueretest.Organization{Name: "Beta", Slug: "beta"})
	require.NoError(t, err)
	require.NoError(t, srv.AddMembership(strueretest.Membership{UserID: srv.UserID(), OrganizationID: beta.ID, Role: "admin"}))
	a, err := srv.SeedAgent(strueretest.Agent{OrganizationID: beta.ID, Slug: "support", Name: "Support"})
	require.NoError(t, err)
	for env, version := range map[struere.Environment]string{strueretest.Development: "1.0.0", strueretest.Production: "0.9.0"} {
		_, err := srv.SeedConfig(a.ID, env, strueretest.AgentConfig{Version: version, Name: "Support", SystemPrompt: "Help",
			Model: struere.Model{Provider: "openai", Name: "gpt-5-mini"}})
		require.NoError(t, err)
	}
	cfg := srv.Config()
	cfg.OrganizationID = beta.ID
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return srv, c, beta
}

func keyIn(t *testing.T, srv *strueretest.Server, orgID string, env, declared struere.Environment) struere.APIKey {
	t.Helper()
	raw, err := srv.CreateAPIKeyIn(orgID, env, string(env)+" key", time.Time{})
	require.NoError(t, err)
	k, err := struere.ParseAPIKey(raw, declared)
	require.NoError(t, err)
	return k
}

func TestSmokeTestTellsAMislabelledKeyByItsSyncStateWhenTheListingCannot(t *testing.T) {
	srv, c, beta := headOrg(t)
	mislabelled := keyIn(t, srv, beta.ID, strueretest.Development, struere.Production)
	srv.ResetRequests()

	_, err := c.SmokeTest(ctxT(t), mislabelled, struere.SmokeCheck{Agent: "support"})

	var mm *struere.EnvironmentMismatchError
	require.ErrorAs(t, err, &mm)
	require.Equal(t, struere.Development, mm.Actual)
	require.Contains(t, err.Error(), "reads the development sync state")
	require.Empty(t, srv.Served(), "no message was sent")
	var sawState bool
	for _, r := range srv.Requests() {
		require.NotContains(t, r.URLPath, "/chat")
		sawState = sawState || r.URLPath == "/v1/sync/state"
	}
	require.True(t, sawState, "the key's own sync state was read")
}

func TestSmokeTestVerifiesAProductionKeyByItsSyncState(t *testing.T) {
	srv, c, beta := headOrg(t)
	prod := keyIn(t, srv, beta.ID, strueretest.Production, struere.Production)

	results, err := c.SmokeTest(ctxT(t), prod, struere.SmokeCheck{Agent: "support"})

	require.NoError(t, err)
	require.True(t, results[0].KeyVerified)
	require.Contains(t, results[0].KeyCheck, "reads production's sync state")
	last, ok := srv.LastServed()
	require.True(t, ok)
	require.Equal(t, "0.9.0", last.Version, "production answered")
}

func TestSmokeTestLeavesAKeyUnverifiedWhenStatesCannotTellEnvironmentsApart(t *testing.T) {
	srv, c, beta := headOrg(t)
	// Production now serves what development holds: the two states agree.
	agents := srv.Agents()
	var id string
	for _, a := range agents {
		if a.OrganizationID == beta.ID {
			id = a.ID
		}
	}
	_, err := srv.SeedConfig(id, strueretest.Production, strueretest.AgentConfig{Version: "1.0.0", Name: "Support", SystemPrompt: "Help",
		Model: struere.Model{Provider: "openai", Name: "gpt-5-mini"}})
	require.NoError(t, err)
	mislabelled := keyIn(t, srv, beta.ID, strueretest.Development, struere.Production)

	results, err := c.SmokeTest(ctxT(t), mislabelled, struere.SmokeCheck{Agent: "support"})

	require.NoError(t, err, "nothing could tell the key is a development key")
	require.False(t, results[0].KeyVerified)
	require.Contains(t, results[0].KeyCheck, "the same in production and development")
}

func TestSmokeTestCatchesAMislabelledStudioKey(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c := newClient(t, srv)
	raw, _, err := srv.CreateKey(strueretest.APIKey{Environment: strueretest.Development, Name: "Studio", Studio: true})
	require.NoError(t, err)
	mislabelled, err := struere.ParseAPIKey(raw, struere.Production)
	require.NoError(t, err)

	_, err = c.SmokeTest(ctxT(t), mislabelled, struere.SmokeCheck{Agent: "support"})

	var mm *struere.EnvironmentMismatchError
	require.ErrorAs(t, err, &mm, "apiKeys:list hides studio keys; their status query finds it")
	require.Equal(t, struere.Development, mm.Actual)
	require.Empty(t, srv.Served())
}
