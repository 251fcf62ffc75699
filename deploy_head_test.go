package struere_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// The client-side promotion on the newest backend (protocol-head.md §H2.4):
// the fields getPullState omits survive a Deploy, or the Deploy refuses,
// writes nothing and names them.

// headProject is a project in the newest backend's shape with every field the
// pull state does not return: firstMessageSuggestions, threadContextParams,
// a templateOnly tool, and a role with agentAccess.
func headProject(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.0.0","description":"Front desk",
	     "firstMessageSuggestions":["Book a session","Cancel"],
	     "threadContextParams":[{"name":"customerId","type":"string","required":true}],
	     "systemPrompt":"You help customers.",
	     "model":{"model":"openai/gpt-5-mini","temperature":0.7,"maxTokens":4096},
	     "tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}}},
	              {"name":"lookup","description":"Find a price","parameters":{"type":"object","properties":{}},"handlerCode":"return 1","templateOnly":true}]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.1.0","systemPrompt":"You book sessions.",
	     "model":{"model":"anthropic/claude-haiku-4-5"},"tools":[]}
	  ],
	  "entityTypes": [{"name":"Customer","slug":"customer","schema":{"type":"object"},"searchFields":["name"]}],
	  "roles": [{"name":"teacher","agentAccess":["support"],"policies":[{"resource":"customer","actions":["read"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}]
	}`))
	require.NoError(t, err)
	return defs
}

// headProjectSynced starts a HEAD backend on a plan that admits the agents,
// syncs headProject to development, and seeds production with its own role
// (with agentAccess) and a production-only agent with threadContextParams.
func headProjectSynced(t *testing.T) (*strueretest.Server, *struere.Definitions) {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	require.NoError(t, srv.SetPlan(srv.OrganizationID(), strueretest.PlanPro))
	defs := headProject(t)
	_, err := newClient(t, srv).Sync(ctxT(t), defs)
	require.NoError(t, err)
	_, err = srv.SeedRole(strueretest.Production, strueretest.Role{Name: "teacher", AgentAccess: []string{"support", "legacy"},
		Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read", "update"}}}})
	require.NoError(t, err)
	_, err = srv.SeedRole(strueretest.Production, strueretest.Role{Name: "viewer", AgentAccess: []string{},
		Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}}})
	require.NoError(t, err)
	_, err = srv.SeedAgent(strueretest.Agent{Slug: "legacy", Name: "Legacy"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("legacy", strueretest.Production, strueretest.AgentConfig{Version: "0.9.0", Name: "Legacy", SystemPrompt: "old",
		Model: struere.Model{Provider: "openai", Name: "gpt-5-mini"}, FirstMessageSuggestions: []string{},
		ThreadContextParams: []struere.ThreadContextParam{{Name: "orderId", Type: struere.ParamNumber}}})
	require.NoError(t, err)
	return srv, defs
}

func roleByName(t *testing.T, roles []strueretest.Role, name string) strueretest.Role {
	t.Helper()
	for _, r := range roles {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no role %q", name)
	return strueretest.Role{}
}

func TestHeadDeployKeepsEveryFieldThePullStateOmits(t *testing.T) {
	srv, _ := headProjectSynced(t)
	c := newClient(t, srv)
	ctx := ctxT(t)

	dry, err := c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	require.Empty(t, dry.Plan.Refusals)
	joined := strings.Join(dry.Plan.SideEffects, "\n")
	require.Contains(t, joined, "teacher (roles present in both environments)", "the user-role rewrite is named")
	require.Contains(t, joined, "deploy.completed")
	require.Contains(t, joined, "Agent limit reached")
	require.Contains(t, dry.Plan.String(), "side effect:")

	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.Equal(t, "client", res.Method)
	require.Equal(t, []string{"scheduler", "support"}, res.Deployed)
	require.Equal(t, []struere.SkippedAgent{{Slug: "legacy", Reason: struere.ReasonNoDevelopmentConfig}}, res.Skipped)
	require.True(t, res.Verified)

	prod := currentConfig(t, srv, "support", strueretest.Production)
	require.Equal(t, []string{"Book a session", "Cancel"}, prod.FirstMessageSuggestions)
	require.JSONEq(t, `[{"name":"customerId","type":"string","required":true}]`, jsonText(t, prod.ThreadContextParams))
	require.JSONEq(t, `[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}}},
	  {"name":"lookup","description":"Find a price","parameters":{"type":"object","properties":{}},"handlerCode":"return 1","templateOnly":true}]`, string(prod.StoredTools))
	require.JSONEq(t, `{"model":"openai/gpt-5-mini","temperature":0.7,"maxTokens":4096}`, string(prod.StoredModel))

	legacy := currentConfig(t, srv, "legacy", strueretest.Production)
	require.Equal(t, []string{}, legacy.FirstMessageSuggestions, "an empty list stays an empty list")
	require.JSONEq(t, `[{"name":"orderId","type":"number"}]`, jsonText(t, legacy.ThreadContextParams), "a skipped agent keeps its production fields")

	roles := srv.Roles(strueretest.Production)
	require.Equal(t, []string{"support", "legacy"}, roleByName(t, roles, "teacher").AgentAccess)
	require.Equal(t, []string{}, roleByName(t, roles, "viewer").AgentAccess)

	var deploys int
	for _, e := range srv.Events() {
		if e.EventType == "deploy.completed" {
			deploys++
		}
	}
	require.Equal(t, 1, deploys, "one deploy event, as the plan said")

	// Nothing changed since: nothing is written, and no event either.
	again, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.Empty(t, again.Deployed)
	require.Equal(t, []string{"scheduler", "support"}, again.Unchanged)
	deploys = 0
	for _, e := range srv.Events() {
		if e.EventType == "deploy.completed" {
			deploys++
		}
	}
	require.Equal(t, 1, deploys, "an unchanged deploy writes no event")
}

// A member who is not an organization admin cannot read agent
// configurations by id, so firstMessageSuggestions and threadContextParams
// cannot be recovered: the deploy is refused, names them, and writes
// nothing, unless the caller accepts the loss.
func TestHeadDeployRefusesWhenTheOmittedFieldsCannotBeRecovered(t *testing.T) {
	srv, _ := headProjectSynced(t)
	member, tok, err := srv.AddUser(strueretest.User{Subject: "user_member", Name: "Member"})
	require.NoError(t, err)
	require.NoError(t, srv.AddMembership(strueretest.Membership{UserID: member.ID, OrganizationID: srv.OrganizationID(), Role: "member"}))
	cfg := srv.Config()
	cfg.Token = tok
	c, err := struere.New(cfg)
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = c.DetectGeneration(ctx)
	require.NoError(t, err)
	before := currentConfig(t, srv, "legacy", strueretest.Production)

	srv.ResetRequests()
	_, err = c.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrRefused)
	var re *struere.RefusedError
	require.True(t, errors.As(err, &re))
	named := map[string][]string{}
	for _, r := range re.Refusals {
		named[r.Slug] = r.Fields
		require.Equal(t, "agent", r.Kind)
		require.Equal(t, []struere.Loss{struere.LossFirstMessageSuggestions, struere.LossThreadContextParams}, r.Losses)
	}
	require.Equal(t, map[string][]string{
		"legacy":    {"firstMessageSuggestions", "threadContextParams"},
		"scheduler": {"firstMessageSuggestions", "threadContextParams"},
		"support":   {"firstMessageSuggestions", "threadContextParams"},
	}, named)
	require.Contains(t, err.Error(), "AcceptLoss(")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind, "refused before writing: %s", r.FunctionPath)
	}
	require.Equal(t, before, currentConfig(t, srv, "legacy", strueretest.Production))

	// Accepting the named loss deploys; the result says what was accepted.
	res, err := c.Deploy(ctx, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams))
	require.NoError(t, err)
	require.Len(t, res.Plan.Accepted, 3)
	require.Nil(t, currentConfig(t, srv, "support", strueretest.Production).FirstMessageSuggestions, "the accepted loss happened")
	// Roles are readable by members: agentAccess was still recovered.
	require.Equal(t, []string{"support", "legacy"}, roleByName(t, srv.Roles(strueretest.Production), "teacher").AgentAccess)
}

// Stored shapes the backend returns but its sync rejects: tools' isBuiltin
// and the legacy {provider, name} model convert exactly; model.reasoning
// can only be dropped, so it is refused unless that loss is accepted.
func TestHeadDeployConvertsLegacyShapesAndRefusesReasoning(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "old", Name: "Old"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("old", strueretest.Development, strueretest.AgentConfig{Version: "1.0.0", Name: "Old", SystemPrompt: "p",
		RawModel: json.RawMessage(`{"provider":"anthropic","name":"claude-haiku-4-5","temperature":0.3}`),
		RawTools: json.RawMessage(`[{"name":"entity.query","description":"q","parameters":{},"isBuiltin":true}]`)})
	require.NoError(t, err)
	c := newClient(t, srv)
	ctx := ctxT(t)
	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, res.Deployed)
	require.True(t, res.Verified)
	prod := currentConfig(t, srv, "old", strueretest.Production)
	require.JSONEq(t, `{"model":"anthropic/claude-haiku-4-5","temperature":0.3}`, string(prod.StoredModel))
	require.JSONEq(t, `[{"name":"entity.query","description":"q","parameters":{}}]`, string(prod.StoredTools))
	var fieldsTouched []string
	for _, a := range res.Plan.Adjustments {
		require.Equal(t, "old", a.Slug)
		fieldsTouched = append(fieldsTouched, a.Field)
	}
	require.ElementsMatch(t, []string{"model", "tools[entity.query].isBuiltin"}, fieldsTouched, "the plan reports which agents and fields it touched")

	_, err = srv.SeedConfig("old", strueretest.Development, strueretest.AgentConfig{Version: "1.1.0", Name: "Old", SystemPrompt: "p",
		RawModel: json.RawMessage(`{"model":"openai/gpt-5","reasoning":{"effort":"high"}}`), RawTools: json.RawMessage(`[]`)})
	require.NoError(t, err)
	srv.ResetRequests()
	_, err = c.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "old: model.reasoning")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind)
	}
	res, err = c.Deploy(ctx, struere.AcceptLoss(struere.LossModelReasoning))
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, res.Deployed)
	require.JSONEq(t, `{"model":"openai/gpt-5"}`, string(currentConfig(t, srv, "old", strueretest.Production).StoredModel))
}

// jsonText is v encoded as JSON.
func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// A plan's Before is production as Status shows it, digest included, so a
// script can tell from the plan alone which content a deploy replaces.
func TestDeployPlanGivesProductionsDigestAsStatusDoes(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
		c, ctx := newClient(t, srv), ctxT(t)
		_, err := c.Sync(ctx, sampleDefs(t))
		require.NoError(t, err)
		_, err = c.Deploy(ctx)
		require.NoError(t, err)
		_, err = c.Sync(ctx, sampleDefsV2(t))
		require.NoError(t, err)

		dry, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)
		st, err := c.Status(ctx)
		require.NoError(t, err)
		prod := map[string]struere.Presence{}
		for _, a := range st.Agents {
			prod[a.Slug] = a.Production
		}
		require.NotEmpty(t, dry.Plan.Deploy)
		for _, pa := range append(dry.Plan.Deploy, dry.Plan.Unchanged...) {
			require.Equal(t, prod[pa.Slug], pa.Before, pa.Slug)
			if gen != struere.GenerationE1 {
				require.NotEmpty(t, pa.Before.Digest, pa.Slug)
			}
		}
	})
}
