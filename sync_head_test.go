package struere_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// everyGeneration is every backend generation a user can meet, the
// newest first.
var everyGeneration = []struere.Generation{struere.GenerationHead, struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationE1}

// mutations returns the function paths of the recorded write calls.
func mutations(srv *strueretest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Kind == "mutation" {
			out = append(out, r.FunctionPath)
		}
	}
	return out
}

func TestSyncThenStatusIsSyncedOnEveryGeneration(t *testing.T) {
	for _, gen := range everyGeneration {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c, ctx, defs := newClient(t, srv), ctxT(t), sampleDefs(t)
			res, err := c.Sync(ctx, defs)
			require.NoError(t, err)
			want := gen
			if gen == struere.GenerationE2Deploy {
				want = struere.GenerationE2 // the same payload shape; Sync needs no finer probe
			}
			require.Equal(t, want, res.Generation)
			require.ElementsMatch(t, []string{"support", "scheduler"}, res.Agents.Created)

			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			require.Empty(t, st.LocalDiffers(), st.String())
			for _, a := range st.Agents {
				require.Equal(t, struere.LocalSynced, a.LocalState, "%s: %v", a.Slug, a.LocalDiff)
				require.Equal(t, struere.ProductionNotDeployed, a.ProductionState, a.Slug)
			}
			for _, r := range st.Resources {
				require.Equal(t, struere.LocalSynced, r.LocalState, "%s %s: %v", r.Kind, r.Name, r.LocalDiff)
			}
		})
	}
}

// The sample's models are written as provider and name and its tools carry
// isBuiltin: the newest backend stores them as "provider/id" without
// isBuiltin, and Status still calls them synced.
func TestSyncConvertsModelsForTheNewestBackend(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx, defs := newClient(t, srv), ctxT(t), sampleDefs(t)
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err)
	cfg := currentConfig(t, srv, "scheduler", "development")
	require.JSONEq(t, `{"model":"anthropic/claude-haiku-4-5"}`, string(cfg.StoredModel))
	require.JSONEq(t, `[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}}}]`, string(cfg.StoredTools))

	// And the other way: a "provider/id" model synced to E2 is stored as
	// provider and name.
	srv2 := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	c2 := newClient(t, srv2)
	defs.Agents[0].Model = struere.Model{ID: "openai/gpt-5-mini", Temperature: new(0.3)}
	_, err = c2.Sync(ctx, defs)
	require.NoError(t, err)
	cfg = currentConfig(t, srv2, "support", "development")
	require.JSONEq(t, `{"provider":"openai","name":"gpt-5-mini","temperature":0.3}`, string(cfg.StoredModel))
	st, err := c2.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	require.Empty(t, st.LocalDiffers(), st.String())
}

// A file in exactly the shape the newest struere CLI sends loads, syncs,
// and reads back synced; every field the CLI sends is stored.
func TestTheHeadCLIPayloadSyncsAndReadsBackSynced(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx := newClient(t, srv), ctxT(t)
	defs, err := struere.LoadDefinitions("testdata/definitions/head-cli.json")
	require.NoError(t, err)

	res, err := c.Sync(ctx, defs)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"support", "scheduler"}, res.Agents.Created)
	require.NotNil(t, res.Triggers)
	require.Equal(t, []string{"notify"}, res.Triggers.Created)
	require.NotNil(t, res.EvalSuites)
	require.Equal(t, []string{"support-smoke"}, res.EvalSuites.Created)

	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	require.Empty(t, st.LocalDiffers(), st.String())
	for _, a := range st.Agents {
		require.Equal(t, struere.LocalSynced, a.LocalState, "%s: %v", a.Slug, a.LocalDiff)
	}
	for _, r := range st.Resources {
		require.Equal(t, struere.LocalSynced, r.LocalState, "%s %s: %v", r.Kind, r.Name, r.LocalDiff)
	}

	cfg := currentConfig(t, srv, "support", "development")
	require.Equal(t, []string{"Book a session", "Cancel my booking"}, cfg.FirstMessageSuggestions)
	require.JSONEq(t, `[{"name":"customerId","type":"string","required":true,"description":"The customer's record id"},{"name":"vip","type":"boolean"}]`, mustJSON(t, cfg.ThreadContextParams))
	require.Contains(t, string(cfg.StoredTools), `"templateOnly":true`)
	require.NotContains(t, string(cfg.StoredTools), "isBuiltin")
	var teacher *strueretest.Role
	for _, r := range srv.Roles("development") {
		if r.Name == "teacher" {
			teacher = &r
		}
	}
	require.NotNil(t, teacher)
	require.Equal(t, []string{"support"}, teacher.AgentAccess)

	// A prompt-only change is a local difference naming the field.
	defs.Agents[1].SystemPrompt += " Confirm every booking."
	st, err = c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	require.Equal(t, []string{"scheduler"}, st.LocalDiffers())
	require.Equal(t, []string{"systemPrompt"}, agentStatus(t, st, "scheduler").LocalDiff)
}

func TestSyncRejectsDuplicatesBeforeSending(t *testing.T) { // conformance case 50
	for name, dup := range map[string]func(d *struere.Definitions){
		"agent slug":       func(d *struere.Definitions) { d.Agents = append(d.Agents, d.Agents[0]) },
		"entity type slug": func(d *struere.Definitions) { d.EntityTypes = append(d.EntityTypes, d.EntityTypes[0]) },
		"role name":        func(d *struere.Definitions) { d.Roles = append(d.Roles, d.Roles[0]) },
		"trigger slug":     func(d *struere.Definitions) { d.Triggers = append(d.Triggers, d.Triggers[0]) },
		"eval suite slug":  func(d *struere.Definitions) { d.EvalSuites = append(d.EvalSuites, d.EvalSuites[0]) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead), strueretest.WithPlan(strueretest.PlanPro))
			c, ctx := newClient(t, srv), ctxT(t)
			defs, err := struere.LoadDefinitions("testdata/definitions/head-cli.json")
			require.NoError(t, err)
			dup(defs)
			_, err = c.Sync(ctx, defs)
			require.ErrorIs(t, err, struere.ErrValidation)
			require.Contains(t, err.Error(), "duplicate")
			require.Empty(t, srv.Requests(), "rejected before anything is sent")
		})
	}
}

func TestSyncPlanLimitMatchesErrPlanLimit(t *testing.T) { // conformance case 46
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead)) // the free plan
	c, ctx, defs := newClient(t, srv), ctxT(t), sampleDefs(t)
	defs.Agents = append(defs.Agents, struere.Agent{Name: "Billing", Slug: "billing", Version: "1.0.0", Model: struere.Model{ID: "openai/gpt-5-mini"}})
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err, "three agents are allowed")

	defs.Agents = append(defs.Agents, struere.Agent{Name: "Sales", Slug: "sales", Version: "1.0.0", Model: struere.Model{ID: "openai/gpt-5-mini"}})
	_, err = c.Sync(ctx, defs)
	require.ErrorIs(t, err, struere.ErrPlanLimit)
	var ae *struere.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "Agent limit reached. Your plan allows up to 3 agents.", ae.Message)
	require.Contains(t, err.Error(), "Agent limit reached. Your plan allows up to 3 agents.")
	require.Len(t, srv.Agents(), 3, "nothing was written")
}

func TestSyncToEvalTakesFixturesAndOtherEnvironmentsRefuseThem(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx := newClient(t, srv), ctxT(t)
	defs, err := struere.LoadDefinitions("testdata/definitions/head-cli.json")
	require.NoError(t, err)
	defs.Fixtures = []struere.Fixture{{Name: "Teachers", Slug: "teachers",
		Entities: []struere.FixtureEntity{
			{Ref: "ana", Type: "teacher", Data: json.RawMessage(`{"name":"Ana"}`)},
			{Ref: "s1", Type: "session", Data: json.RawMessage(`{"price":10}`)}},
		Relations: []struere.FixtureRelation{{From: "ana", To: "s1", Type: "teaches"}}}}

	_, err = c.Sync(ctx, defs)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.Contains(t, err.Error(), "SyncTo(Eval)")
	// The same *ValidationError as an older backend's refusal of fixtures.
	var ve *struere.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, struere.GenerationHead, ve.Generation)
	require.Equal(t, "fixtures", ve.Problems[0].Item)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Empty(t, mutations(srv), "refused before writing")

	res, err := c.Sync(ctx, defs, struere.SyncTo(struere.Eval))
	require.NoError(t, err)
	require.Equal(t, struere.Eval, res.Environment)
	require.Equal(t, 2, res.FixtureEntities)
	require.Equal(t, 1, res.FixtureRelations)
	require.Len(t, srv.Entities(struere.Eval), 2)
	require.Empty(t, currentConfigs(srv, "support", "development"), "eval only")
	require.Equal(t, "1.0.0", currentConfig(t, srv, "support", "eval").Version)

	_, err = c.Sync(ctx, defs, struere.SyncTo(struere.Production))
	require.ErrorContains(t, err, "use Deploy for production")
}

func TestSyncToEvalIsRefusedWhereThereIsNoEvalEnvironment(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE1} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c, ctx := newClient(t, srv), ctxT(t)
			_, err := c.Sync(ctx, sampleDefs(t), struere.SyncTo(struere.Eval))
			require.ErrorIs(t, err, struere.ErrUnsupported)
			require.Empty(t, mutations(srv))
		})
	}
}

// Fields only the newest backend stores are refused on older ones, naming
// agent and field, before anything is written.
func TestSyncRefusesNewestBackendFieldsOnE2(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	c, ctx := newClient(t, srv), ctxT(t)
	defs, err := struere.LoadDefinitions("testdata/definitions/head-cli.json")
	require.NoError(t, err)
	_, err = c.Sync(ctx, defs)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	var ue *struere.ValidationError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, struere.GenerationE2, ue.Generation)
	require.Contains(t, err.Error(), "not supported by this backend (e2)")
	require.Contains(t, err.Error(), "agents[support].firstMessageSuggestions")
	require.Contains(t, err.Error(), "roles[teacher].agentAccess")
	require.Empty(t, mutations(srv))
}

// currentConfigs returns the current configurations of slug in env.
func currentConfigs(srv *strueretest.Server, slug, env string) []strueretest.ConfigRecord {
	var out []strueretest.ConfigRecord
	for _, c := range srv.Configs(slug) {
		if c.Current && string(c.Environment) == env {
			out = append(out, c)
		}
	}
	return out
}

// mustJSON encodes v for a JSON comparison.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
