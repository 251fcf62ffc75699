package struere_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

var generations = []struct {
	name string
	gen  struere.Generation
}{
	{"default", struere.GenerationE2Deploy},
	{"E1", struere.GenerationE1},
	{"E2", struere.GenerationE2},
	{"HEAD", struere.GenerationHead},
}

func forEachGeneration(t *testing.T, f func(t *testing.T, gen struere.Generation)) {
	t.Helper()
	for _, g := range generations {
		t.Run(g.name, func(t *testing.T) { f(t, g.gen) })
	}
}

func newClient(t *testing.T, srv *strueretest.Server) *struere.Client {
	t.Helper()
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// callFunction calls the backend function path of kind ("query" or
// "mutation") on srv directly with the seeded user's token, as another
// tool would, requires it to succeed, and returns its value.
func callFunction(t *testing.T, srv *strueretest.Server, kind, path string, args any) json.RawMessage {
	t.Helper()
	body, err := json.Marshal(map[string]any{"path": path, "args": args})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, srv.URL()+"/api/"+kind, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+srv.Token().Reveal())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out struct {
		Status string          `json:"status"`
		Value  json.RawMessage `json:"value"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	require.Equal(t, "success", out.Status, "%s", raw)
	return out.Value
}

// sampleDefs is a small project: two agents, an entity type and a role.
func sampleDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"You help customers.",
	     "model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.1.0","systemPrompt":"You book sessions.",
	     "model":{"provider":"anthropic","name":"claude-haiku-4-5"},
	     "tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}},"isBuiltin":true}]}
	  ],
	  "entityTypes": [{"name":"Customer","slug":"customer","schema":{"type":"object"},"searchFields":["name"]}],
	  "roles": [{"name":"agent-operator","description":"Operators","policies":[{"resource":"customer","actions":["read","update"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}]
	}`))
	require.NoError(t, err)
	return defs
}

func TestGenerationIsProbedOnEveryBackend(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
		c := newClient(t, srv)
		got, err := c.DetectGeneration(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, gen, got)
		n := len(srv.Requests())
		_, err = c.DetectGeneration(ctxT(t))
		require.NoError(t, err)
		require.Len(t, srv.Requests(), n, "the generation is probed once per client")
		for _, r := range srv.Requests() {
			require.Equal(t, "query", r.Kind, "%s: the probe sends queries only", r.FunctionPath)
		}
		for _, cfg := range srv.Configs("support") {
			require.Fail(t, "the probe created a config", "%+v", cfg)
		}
	})
}

func TestWorkflowSyncStatusDeployStatus(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
		c := newClient(t, srv)
		ctx := ctxT(t)
		defs := sampleDefs(t)

		res, err := c.Sync(ctx, defs)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"support", "scheduler"}, res.Agents.Created)
		require.Equal(t, struere.Development, res.Environment)

		st, err := c.Status(ctx, struere.WithLocal(defs))
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"support", "scheduler"}, st.AgentsIn(struere.ProductionNotDeployed))
		require.False(t, st.ProductionMatchesDevelopment())

		dry, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)
		require.True(t, dry.DryRun)
		require.Empty(t, dry.Deployed)
		var planned []string
		for _, a := range dry.Plan.Deploy {
			planned = append(planned, a.Slug)
			require.False(t, a.Before.Present)
		}
		require.ElementsMatch(t, []string{"support", "scheduler"}, planned)
		for _, cfg := range srv.Configs("support") {
			require.NotEqual(t, "production", cfg.Environment, "a dry run writes nothing")
		}

		out, err := c.Deploy(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"support", "scheduler"}, out.Deployed)
		require.True(t, out.Verified)
		require.Equal(t, struere.Production, out.Environment)

		prod := currentConfig(t, srv, "scheduler", "production")
		require.Equal(t, "2.1.0", prod.Version)
		require.Equal(t, "You book sessions.", prod.SystemPrompt)
		require.Len(t, prod.Tools, 1)

		st, err = c.Status(ctx, struere.WithLocal(defs))
		require.NoError(t, err)
		require.True(t, st.ProductionMatchesDevelopment(), st.String())
		want := struere.ProductionSynced
		if gen == struere.GenerationE1 {
			want = struere.ProductionUnverified // E1 serves no production content
		}
		require.ElementsMatch(t, []string{"support", "scheduler"}, st.AgentsIn(want))
		require.Empty(t, st.LocalDiffers(), st.String())
	})
}

// synced starts a backend of generation gen and syncs sampleDefs to
// development with a new client.
func synced(t *testing.T, gen struere.Generation) (*strueretest.Server, *struere.Client, context.Context, *struere.Definitions) {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
	c := newClient(t, srv)
	ctx, defs := ctxT(t), sampleDefs(t)
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err)
	return srv, c, ctx, defs
}

func currentConfig(t *testing.T, srv *strueretest.Server, slug string, env struere.Environment) strueretest.ConfigRecord {
	t.Helper()
	for _, c := range srv.Configs(slug) {
		if c.Current && c.Environment == env {
			return c
		}
	}
	t.Fatalf("no current %s config for %s", env, slug)
	return strueretest.ConfigRecord{}
}

func TestDeployWithNoAgentsDeploysNothing(t *testing.T) { // conformance case 13
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
		res, err := newClient(t, srv).Deploy(ctxT(t))
		require.NoError(t, err)
		require.Empty(t, res.Deployed)
		require.Empty(t, res.Skipped)
	})
}

func TestDeploySkipsAgentsWithoutDevelopmentConfig(t *testing.T) { // cases 14, 15
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv, c, ctx, _ := synced(t, gen)
		// An agent created elsewhere with a production configuration only.
		_, err := srv.SeedAgent(strueretest.Agent{Slug: "legacy", Name: "Legacy"})
		require.NoError(t, err)
		_, err = srv.SeedConfig("legacy", "production", strueretest.AgentConfig{Version: "0.9.0", Name: "Legacy", SystemPrompt: "old", Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
		require.NoError(t, err)
		if gen == struere.GenerationE1 {
			// E1: a production config pointer without a development one.
			require.NotEmpty(t, srv.Configs("legacy"))
		}

		res, err := c.Deploy(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"support", "scheduler"}, res.Deployed)
		require.Equal(t, []struere.SkippedAgent{{Slug: "legacy", Reason: struere.ReasonNoDevelopmentConfig}}, res.Skipped)
		require.Equal(t, "0.9.0", currentConfig(t, srv, "legacy", "production").Version, "a skipped agent's production config is untouched")
	})
}

func TestDeployReportsPausedAgentsAsSkipped(t *testing.T) { // case 15
	for _, gen := range []struere.Generation{struere.GenerationE1, struere.GenerationE2Deploy} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c, ctx, _ := synced(t, gen)
			require.NoError(t, srv.SetAgentStatus("scheduler", strueretest.StatusPaused))

			res, err := c.Deploy(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"support"}, res.Deployed)
			require.Equal(t, []struere.SkippedAgent{{Slug: "scheduler", Reason: struere.ReasonNotActive}}, res.Skipped)
			for _, cfg := range srv.Configs("scheduler") {
				require.NotEqual(t, "production", cfg.Environment)
			}
		})
	}
}

func TestARepeatedDeployWritesNothingAndReportsAgentsUnchanged(t *testing.T) { // case 16; issue 12.5
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv, c, ctx, _ := synced(t, gen)
		first, err := c.Deploy(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"support", "scheduler"}, first.Deployed)
		require.Empty(t, first.Unchanged)
		prodRows := func() int {
			n := 0
			for _, cfg := range srv.Configs("support") {
				if cfg.Environment == "production" {
					n++
					require.Equal(t, srv.UserID(), cfg.DeployedBy)
				}
			}
			return n
		}
		require.Equal(t, 1, prodRows())

		dry, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)
		srv.ResetRequests()
		second, err := c.Deploy(ctx)
		require.NoError(t, err)
		mutations := 0
		for _, r := range srv.Requests() {
			if r.Kind == "mutation" {
				mutations++
			}
		}
		if gen == struere.GenerationE1 {
			// E1 reports no production configurations: a deploy cannot
			// tell that nothing changed, and deployAllAgents adds a row.
			require.ElementsMatch(t, []string{"support", "scheduler"}, second.Deployed)
			require.Equal(t, 1, mutations)
			require.Equal(t, 2, prodRows())
			return
		}
		require.Empty(t, second.Deployed, "nothing changed, so nothing is reported deployed")
		require.Equal(t, []string{"scheduler", "support"}, second.Unchanged)
		require.Zero(t, mutations, "nothing to promote, nothing written")
		require.Equal(t, 1, prodRows())
		require.True(t, second.Verified)
		require.Empty(t, dry.Plan.Deploy, "a dry run shows the same")
		require.Len(t, dry.Plan.Unchanged, 2)
		require.Contains(t, dry.Plan.String(), "nothing to promote")

		// One agent changes: only it is reported deployed.
		_, err = srv.SeedConfig("support", strueretest.Development, strueretest.AgentConfig{Version: "1.0.1", Name: "Support", SystemPrompt: "New prompt.",
			Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
		require.NoError(t, err)
		third, err := c.Deploy(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"support"}, third.Deployed)
		require.Equal(t, []string{"scheduler"}, third.Unchanged)
		require.Equal(t, "1.0.1", currentConfig(t, srv, "support", "production").Version)
	})
}

func TestClientSidePromotionLeavesProductionResourcesUnchanged(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	// Production has its own resources, unlike development's.
	_, err := srv.SeedEntityType("production", strueretest.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object","properties":{"total":{"type":"number"}}}`), SearchFields: []string{"total"}})
	require.NoError(t, err)
	_, err = srv.SeedRole("production", strueretest.Role{Name: "auditor", Description: "Reads invoices",
		Policies:   []strueretest.Policy{{Resource: "invoice", Actions: []string{"read", "list"}, Effect: "allow"}},
		ScopeRules: []strueretest.ScopeRule{{EntityType: "invoice", Field: "data.org", Operator: "eq", Value: "actor.org"}}})
	require.NoError(t, err)
	_, err = srv.SeedTrigger("production", strueretest.Trigger{Name: "Notify", Slug: "notify", EntityType: "invoice", Action: "created",
		Actions: json.RawMessage(`[{"tool":"event.emit","args":{"type":"x"}}]`)})
	require.NoError(t, err)
	ets, roles, trs := srv.EntityTypes("production"), srv.Roles("production"), srv.Triggers("production")

	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.Equal(t, "client", res.Method)
	require.ElementsMatch(t, []string{"support", "scheduler"}, res.Deployed)

	ignoreTimes := cmp.FilterPath(func(p cmp.Path) bool {
		n := p.Last().String()
		return n == ".UpdatedAt" || n == ".ID" || n == ".CreatedAt"
	}, cmp.Ignore())
	require.Empty(t, cmp.Diff(ets, srv.EntityTypes("production"), ignoreTimes))
	require.Empty(t, cmp.Diff(roles, srv.Roles("production"), ignoreTimes))
	require.Empty(t, cmp.Diff(trs, srv.Triggers("production"), ignoreTimes))
	require.Empty(t, srv.EntityTypes("production")[0].BoundToRole)
}

func TestClientSidePromotionRefusesAgentsWithNoConfigurationAnywhere(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c, ctx, _ := synced(t, gen)
			_, err := srv.SeedAgent(strueretest.Agent{Slug: "draft-bot", Name: "Draft"})
			require.NoError(t, err)

			dry, err := c.Deploy(ctx, struere.DryRun())
			require.NoError(t, err)
			require.Len(t, dry.Plan.Refusals, 1)
			require.Equal(t, "draft-bot", dry.Plan.Refusals[0].Slug)

			srv.ResetRequests()
			_, err = c.Deploy(ctx)
			require.ErrorIs(t, err, struere.ErrRefused)
			require.Contains(t, err.Error(), "draft-bot")
			for _, r := range srv.Requests() {
				require.NotEqual(t, "mutation", r.Kind, "a refused deploy sends no mutation: %s", r.FunctionPath)
			}
			for _, cfg := range srv.Configs("support") {
				require.NotEqual(t, "production", cfg.Environment)
			}
		})
	}
}

func TestDeployWithPlanRefusesAStalePlan(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv, c, ctx, defs := synced(t, gen)
		dry, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)

		defs.Agents[0].Version = "1.0.1"
		_, err = c.Sync(ctx, defs)
		require.NoError(t, err)

		_, err = c.Deploy(ctx, struere.WithPlan(dry.Plan))
		require.ErrorIs(t, err, struere.ErrStalePlan)
		for _, cfg := range srv.Configs("support") {
			require.NotEqual(t, "production", cfg.Environment, "a stale plan writes nothing")
		}

		fresh, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)
		res, err := c.Deploy(ctx, struere.WithPlan(fresh.Plan))
		require.NoError(t, err)
		require.Contains(t, res.Deployed, "support")
	})
}

func TestDeployRefusesWhenLocalDefinitionsDifferFromDevelopment(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		_, c, ctx, defs := synced(t, gen)
		defs.Agents[1].Version = "3.0.0"
		_, err := c.Deploy(ctx, struere.WithLocal(defs))
		require.ErrorIs(t, err, struere.ErrLocalDiffers)
		require.ErrorIs(t, err, struere.ErrRefused)
		require.Contains(t, err.Error(), "scheduler")
	})
}

func TestSyncRefusesDeletionsUnlessAllowed(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c, ctx, defs := synced(t, gen)
			defs.Agents = defs.Agents[:1]
			srv.ResetRequests()
			_, err := c.Sync(ctx, defs)
			require.ErrorIs(t, err, struere.ErrWouldDelete)
			require.Contains(t, err.Error(), "scheduler")
			for _, r := range srv.Requests() {
				require.NotEqual(t, "sync:syncOrganization", r.FunctionPath)
			}
			res, err := c.Sync(ctx, defs, struere.AllowDeletions())
			require.NoError(t, err)
			require.Equal(t, []string{"scheduler"}, res.Agents.Deleted)
		})
	}
}

func TestStatusReportsDriftAfterDevelopmentChanges(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			_, c, ctx, defs := synced(t, gen)
			_, err := c.Deploy(ctx)
			require.NoError(t, err)
			defs.Agents[0].Version = "1.1.0"
			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)

			st, err := c.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"support"}, st.ProductionDiffers())
			require.Equal(t, []string{"support"}, st.AgentsIn(struere.ProductionDrifted))
			a := st.Agents[0]
			if a.Slug != "support" {
				a = st.Agents[1]
			}
			require.Equal(t, "1.0.0", a.Production.Version)
			require.Equal(t, "1.1.0", a.Development.Version)
			require.NotEqual(t, a.Development.Digest, a.Production.Digest)
			require.Equal(t, []string{"version"}, a.ProductionDiff)
		})
	}
}

func TestVerificationCatchesAProductionConfigThatDoesNotMatch(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2Deploy)
	_, err := c.DetectGeneration(ctx) // probe first: the fault below is for the deploy itself
	require.NoError(t, err)
	// The backend reports success but production keeps serving the old version:
	// answer deployAllAgents as if it had run, without running it.
	srv.Inject(strueretest.Fault{Path: "sync:deployAllAgents", Times: 1, Status: 200,
		Body: `{"status":"success","value":{"success":true,"deployed":["support","scheduler"],"skipped":[]}}`})
	res, err := c.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	var ve *struere.VerificationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Mismatches, 2)
	require.NotNil(t, res)
	require.False(t, res.Verified)
}

func TestStatusReadsBothEnvironmentsConcurrently(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	c := newClient(t, srv)
	_, err := c.DetectGeneration(ctxT(t))
	require.NoError(t, err)
	// Both reads hang until the call is cancelled: only a client that sends
	// them concurrently gets both to the server.
	held := make(chan struct{}, 2)
	srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Hang: true, Applied: held})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Status(ctx); done <- err }()
	for i := 0; i < 2; i++ {
		select {
		case <-held:
		case err := <-done:
			cancel()
			t.Fatalf("Status returned before both reads reached the server: %v", err)
		case <-time.After(10 * time.Second):
			cancel()
			t.Fatal("only one environment read reached the server: Status reads sequentially")
		}
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestStatusAndDeployWorkWithNoOptionsOnRedactingDeployments(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen), strueretest.WithRedaction(true))
			ctx := ctxT(t)
			c := newClient(t, srv)
			_, err := c.Sync(ctx, sampleDefs(t))
			require.NoError(t, err)
			st, err := c.Status(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"support", "scheduler"}, st.AgentsIn(struere.ProductionNotDeployed))
			for _, r := range srv.Requests() {
				require.NotEqual(t, "sync:deployAllAgents", r.FunctionPath, "Status and Sync never call a deploy function, not even to probe")
			}
			res, err := c.Deploy(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"support", "scheduler"}, res.Deployed)
			require.True(t, res.Verified)
			if gen != struere.GenerationE1 {
				// deployAllAgents cannot be told apart from a missing function
				// when errors are redacted: the exact client-side promotion is used.
				require.Equal(t, "client", res.Method)
			}
		})
	}
}

// queryValue calls a query on srv directly and returns its value.
func queryValue(t *testing.T, srv *strueretest.Server, path string, args any) json.RawMessage {
	t.Helper()
	cfg := srv.Config()
	body, err := json.Marshal(map[string]any{"path": path, "args": args, "format": "json"})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, cfg.URL+"/api/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.Token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Status string          `json:"status"`
		Value  json.RawMessage `json:"value"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "success", out.Status)
	return out.Value
}

func TestClientSidePromotionRefusesAPartialRead(t *testing.T) {
	for _, name := range []string{"pull lists no agents", "pull lacks the entity types and roles lists"} {
		t.Run(name, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
			ctx := ctxT(t)
			c := newClient(t, srv)
			_, err := c.Sync(ctx, sampleDefs(t))
			require.NoError(t, err)
			_, err = srv.SeedEntityType("production", strueretest.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object"}`)})
			require.NoError(t, err)
			pull := `{"agents":[],"entityTypes":[],"roles":[],"triggers":[]}`
			if name == "pull lacks the entity types and roles lists" {
				// The real agents, so that only the missing lists are wrong.
				var full map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(queryValue(t, srv, "sync:getPullState", map[string]string{"environment": "development"}), &full))
				pull = `{"agents":` + string(full["agents"]) + `}`
			}
			srv.Inject(strueretest.Fault{Path: "sync:getPullState", Status: 200, Body: `{"status":"success","value":` + pull + `}`})
			srv.ResetRequests()

			_, err = c.Deploy(ctx)
			if name == "pull lacks the entity types and roles lists" {
				require.ErrorIs(t, err, struere.ErrMalformedResponse, "a read without its lists is not a backend's answer")
			} else {
				require.ErrorIs(t, err, struere.ErrRefused)
			}
			for _, r := range srv.Requests() {
				require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "nothing is written from a partial read")
			}
			require.Len(t, srv.EntityTypes("production"), 1)
		})
	}
}

func TestAFixedGenerationIsHonouredByEveryOperation(t *testing.T) {
	// The default backend serves deployAllAgents; a client fixed to a
	// generation without it must not probe for it and must promote itself.
	for _, gen := range []struere.Generation{struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
			cfg := srv.Config()
			cfg.Generation = gen
			c, err := struere.New(cfg)
			require.NoError(t, err)
			ctx := ctxT(t)
			got, err := c.DetectGeneration(ctx)
			require.NoError(t, err)
			require.Equal(t, gen, got)
			// Sync through an auto-detecting client: Sync is unsupported on HEAD.
			_, err = newClient(t, srv).Sync(ctx, sampleDefs(t))
			require.NoError(t, err)
			srv.ResetRequests()

			dry, err := c.Deploy(ctx, struere.DryRun())
			require.NoError(t, err)
			require.Equal(t, "client", dry.Method)
			res, err := c.Deploy(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"scheduler", "support"}, res.Deployed)
			require.True(t, res.Verified)
			for _, r := range srv.Requests() {
				require.NotEqual(t, "sync:deployAllAgents", r.FunctionPath)
			}
		})
	}
}
