package acceptance_test

import (
	"context"
	"encoding/json"
	"slices"
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
