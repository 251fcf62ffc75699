package acceptance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// stepNothingToPromote deploys again right after a deploy: nothing is
// promoted, the agents are reported unchanged, and production is as it was.
func (r *run) stepNothingToPromote(t *testing.T, ctx context.Context) {
	before := r.productionVersions(t, ctx)
	res, err := r.c.Deploy(ctx)
	require.NoError(t, err)
	if !r.isolated() {
		// E1 does not report production versions, so every configured
		// agent is promoted again; production serves the same.
		require.Subset(t, res.Deployed, []string{r.slug("support"), r.slug("scheduler")})
		require.Equal(t, before, r.productionVersions(t, ctx))
		return
	}
	for _, slug := range []string{r.slug("support"), r.slug("scheduler")} {
		require.NotContains(t, res.Deployed, slug)
		require.Contains(t, res.Unchanged, slug)
	}
	require.Equal(t, before, r.productionVersions(t, ctx), "nothing was written")
}

// stepLossRefused: on the newest backend a development configuration can
// hold a value its sync rejects (model.reasoning, written by no public
// function). A client-side promotion then refuses unless the loss is
// accepted. Such a row can only be seeded, so this runs in-process only.
func (r *run) stepLossRefused(t *testing.T, ctx context.Context) {
	if r.gen != struere.GenerationHead {
		t.Logf("not run on %s: only the newest backend stores values its own sync rejects", r.gen)
		return
	}
	if r.tg.srv == nil {
		t.Log("not run against a deployment: a configuration holding model.reasoning cannot be written through the SDK")
		return
	}
	scheduler := r.slug("scheduler")
	current := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
	want, _ := current.Agent(scheduler)
	tools, err := json.Marshal(want.Tools)
	require.NoError(t, err)
	_, err = r.tg.srv.SeedConfig(scheduler, strueretest.Development, strueretest.AgentConfig{Version: "2.0.1", Name: want.Name,
		SystemPrompt: want.SystemPrompt, RawModel: json.RawMessage(`{"model":"anthropic/claude-haiku-4-5","reasoning":{"enabled":true}}`),
		RawTools: tools})
	require.NoError(t, err)
	before := r.productionVersions(t, ctx)

	_, err = r.c.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrRefused)
	var re *struere.RefusedError
	require.ErrorAs(t, err, &re)
	require.True(t, slices.ContainsFunc(re.Refusals, func(rf struere.Refusal) bool { return rf.Slug == scheduler }), "%+v", re.Refusals)
	require.Equal(t, before, r.productionVersions(t, ctx), "a refused deploy writes nothing")

	res, err := r.c.Deploy(ctx, struere.AcceptLoss(struere.LossModelReasoning))
	require.NoError(t, err)
	require.Contains(t, res.Deployed, scheduler)
	p, err := r.c.Pull(ctx, struere.Production)
	require.NoError(t, err)
	got, ok := p.Definitions.Agent(scheduler)
	require.True(t, ok)
	require.Equal(t, "2.0.1", got.Version, "production serves the promoted configuration")
	pa, _ := p.Agent(scheduler)
	require.Empty(t, pa.Notes, "without the reasoning block the backend could not store")

	// Development back to the suite's definitions.
	_, err = r.c.Sync(ctx, current)
	require.NoError(t, err)
}

// stepKeyPairDeploy runs sync and deploy on a client holding only the
// development and production API keys (the backend's /v1/sync* routes),
// and checks the outcome with the token client.
func (r *run) stepKeyPairDeploy(t *testing.T, ctx context.Context) {
	if r.gen != struere.GenerationHead {
		t.Logf("not run on %s: only the newest backend serves /v1/sync*", r.gen)
		return
	}
	if r.tg.devKey.IsZero() || r.tg.prodKey.IsZero() {
		t.Log("not run: it needs both STRUERE_DEVELOPMENT_API_KEY and STRUERE_PRODUCTION_API_KEY")
		return
	}
	kc, err := struere.New(struere.Config{URL: r.tg.cfg.URL, SiteURL: r.tg.cfg.SiteURL, APIKeys: []struere.APIKey{r.tg.devKey, r.tg.prodKey}})
	require.NoError(t, err)
	// The keys name their organization themselves: make sure it is the
	// one the suite checked before writing anything with them.
	st, err := kc.Status(ctx)
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(st.Agents, func(a struere.AgentStatus) bool { return a.Slug == r.slug("support") }),
		"the API keys belong to another organization than %s: refusing to write with them", r.c.OrganizationID())

	defs := r.defs("1.2.0", "Deployed with keys.", "2.0.0")
	_, err = kc.Sync(ctx, defs)
	require.NoError(t, err)
	before := r.productionVersions(t, ctx)

	// Without a user token the fields the pull state omits cannot be
	// read, so a promotion cannot show it keeps them: refused.
	_, err = kc.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Equal(t, before, r.productionVersions(t, ctx), "a refused deploy writes nothing")

	res, err := kc.Deploy(ctx, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams))
	require.NoError(t, err)
	require.Contains(t, res.Deployed, r.slug("support"))
	require.True(t, res.Verified)
	p, err := r.c.Pull(ctx, struere.Production)
	require.NoError(t, err)
	got, ok := p.Definitions.Agent(r.slug("support"))
	require.True(t, ok)
	require.Equal(t, "1.2.0", got.Version, "production serves what the key pair deployed")
	require.Equal(t, "Deployed with keys.", got.SystemPrompt)
}

// stepRollback deploys a new support, keeps the deploy's release as JSON
// (as a CI artifact), loads it back and rolls production back from it:
// production then serves the redeployed definitions again. On E1, which
// serves no production content, the rollback is ErrUnsupported and the
// previous configuration is deployed again instead.
func (r *run) stepRollback(t *testing.T, ctx context.Context) {
	was := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
	_, err := r.c.Sync(ctx, r.defs("1.2.0", "You help customers, then get rolled back.", "2.0.0"))
	require.NoError(t, err)
	res, err := r.c.Deploy(ctx)
	require.NoError(t, err)
	require.Contains(t, res.Deployed, r.slug("support"))
	require.NotNil(t, res.Release, "a written deploy returns its release")
	artifact, err := json.Marshal(res.Release)
	require.NoError(t, err)
	rel, err := struere.LoadRelease(bytes.NewReader(artifact))
	require.NoError(t, err)
	require.Equal(t, res.Release, rel)

	restore := func() {
		// Development back to the definitions the later steps expect.
		_, err := r.c.Sync(ctx, was)
		require.NoError(t, err)
	}
	if !r.isolated() {
		_, err = r.c.Rollback(ctx, rel)
		require.ErrorIs(t, err, struere.ErrUnsupported)
		restore()
		_, err = r.c.Deploy(ctx)
		require.NoError(t, err)
		return
	}
	deployed := r.productionVersions(t, ctx)
	dry, err := r.c.Rollback(ctx, rel, struere.DryRun())
	require.NoError(t, err)
	require.Equal(t, deployed, r.productionVersions(t, ctx), "a dry run writes nothing")
	if len(dry.Plan.Refusals) > 0 {
		// On a shared deployment other agents of the organization may
		// lack a production configuration, which a rollback cannot
		// send; the suite's own agents must not be the reason.
		for _, rf := range dry.Plan.Refusals {
			require.NotContains(t, []string{r.slug("support"), r.slug("scheduler")}, rf.Slug, "%+v", dry.Plan.Refusals)
		}
		t.Logf("rollback refused for agents outside the suite: %+v", dry.Plan.Refusals)
		restore()
		_, err = r.c.Deploy(ctx)
		require.NoError(t, err)
		return
	}
	out, err := r.c.Rollback(ctx, rel)
	require.NoError(t, err)
	require.True(t, out.Verified)
	require.Equal(t, "rollback", out.Plan.Op)
	require.Equal(t, []string{r.slug("support")}, out.Deployed)
	require.Len(t, out.Plan.Deploy, 1)
	restored := out.Plan.Deploy[0]
	require.Equal(t, r.slug("support"), restored.Slug)
	require.Equal(t, "1.1.0", restored.Version, "production serves the recorded version again")
	require.True(t, restored.Before.Present)
	require.Equal(t, "1.2.0", restored.Before.Version, "the version the rolled-back deploy left")
	require.Empty(t, out.Plan.Resources)
	require.NotNil(t, out.Release, "the rollback records what it changed")
	restore()
	r.requireProduction(t, ctx, was)

	// Applied once, the release no longer matches production.
	_, err = r.c.Rollback(ctx, rel)
	require.ErrorIs(t, err, struere.ErrStalePlan)
}

// promotedKinds are the kinds the suite promotes: it defines no triggers.
var promotedKinds = []struere.ResourceKind{struere.KindEntityType, struere.KindRole}

// stepPromoteResources promotes the suite's entity type and role to
// production with the agents (PromoteResources): the plan creates them, the
// deploy verifies, and Status then reports them synced. On E1, where they
// are organization-wide, the option is ErrUnsupported. Against a deployment
// whose production holds entity types or roles the promotion would change
// or delete (anything outside the suite's prefix), the step does not run.
func (r *run) stepPromoteResources(t *testing.T, ctx context.Context) {
	if !r.isolated() {
		_, err := r.c.Deploy(ctx, struere.PromoteResources(promotedKinds...))
		require.ErrorIs(t, err, struere.ErrUnsupported)
		return
	}
	dry, err := r.c.Deploy(ctx, struere.DryRun(), struere.PromoteResources(promotedKinds...))
	require.NoError(t, err)
	planned := map[string]struere.ResourceAction{}
	for _, pr := range dry.Plan.Resources {
		if pr.Action != struere.ResourceUnchanged && !strings.HasPrefix(pr.Name, r.prefix) {
			t.Logf("not run: the promotion would %s production %s %q, which is not the suite's", pr.Action, pr.Kind, pr.Name)
			return
		}
		planned[string(pr.Kind)+" "+pr.Name] = pr.Action
	}
	require.Equal(t, struere.ResourceCreate, planned["entityType "+r.slug("customer")], "%v", planned)
	require.Equal(t, struere.ResourceCreate, planned["role "+r.slug("operator")], "%v", planned)
	require.Empty(t, dry.Plan.Refusals)

	r.resourcesPromoted = true
	res, err := r.c.Deploy(ctx, struere.WithPlan(dry.Plan), struere.PromoteResources(promotedKinds...))
	require.NoError(t, err)
	require.True(t, res.Verified)
	st, err := r.c.Status(ctx)
	require.NoError(t, err)
	ours := 0
	for _, rs := range st.Resources {
		if strings.HasPrefix(rs.Name, r.prefix) {
			ours++
			require.Equal(t, struere.ProductionSynced, rs.ProductionState, "%s %s: %v", rs.Kind, rs.Name, rs.ProductionDiff)
		}
	}
	require.Equal(t, 2, ours, "the suite's entity type and role")
	sup, sch := r.ours(t, st)
	require.Equal(t, struere.ProductionSynced, sup.ProductionState)
	require.Equal(t, struere.ProductionSynced, sch.ProductionState)
}

// cleanupProductionResources deletes the suite's promoted entity types and
// roles from production, after development lost them: a promotion that
// deletes only the suite's resources and promotes no agent.
func (r *run) cleanupProductionResources(t *testing.T, ctx context.Context) {
	opts := []struere.DeployOption{struere.PromoteResources(promotedKinds...), struere.AllowResourceDeletions(),
		struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams)}
	dry, err := r.c.Deploy(ctx, append([]struere.DeployOption{struere.DryRun()}, opts...)...)
	if err != nil {
		t.Errorf("cleanup: planning the production resources' deletion: %v", err)
		return
	}
	if len(dry.Plan.Deploy) > 0 {
		t.Errorf("cleanup: production resources left: removing them would also promote agents %v", dry.Plan.Deploy)
		return
	}
	for _, pr := range dry.Plan.Resources {
		if pr.Action != struere.ResourceUnchanged && !strings.HasPrefix(pr.Name, r.prefix) {
			t.Errorf("cleanup: production resources left: removing them would %s %s %q too", pr.Action, pr.Kind, pr.Name)
			return
		}
	}
	if _, err := r.c.Deploy(ctx, append([]struere.DeployOption{struere.WithPlan(dry.Plan)}, opts...)...); err != nil {
		t.Errorf("cleanup: deleting the production resources: %v", err)
	}
}
