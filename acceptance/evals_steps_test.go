package acceptance_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

// envEvals opts the env-gated mode into the eval gate step: eval runs
// cost credits on a real deployment.
const envEvals = "STRUERE_ACCEPTANCE_EVALS"

// withSuite returns defs with one eval suite for the support agent whose
// only case asks for a word and checks the reply contains want.
func (r *run) withSuite(defs *struere.Definitions, want string) *struere.Definitions {
	d := *defs
	d.EvalSuites = []struere.EvalSuite{{Name: "Acceptance smoke", Slug: r.slug("smoke"), AgentSlug: r.slug("support"),
		Cases: []struere.EvalCase{{Name: "pong", Turns: []struere.EvalTurn{{UserMessage: "Please reply with exactly the word PONG.",
			Assertions: []struere.EvalAssertion{{Type: struere.AssertContains, Value: want}}}}}}}}
	return &d
}

// stepEvalGate gates a deploy on evals: a failing suite stops it before
// production is written, a passing one lets it through.
func (r *run) stepEvalGate(t *testing.T, ctx context.Context) {
	if r.gen != struere.GenerationHead {
		t.Logf("not run on %s: evals exist on the newest backend only", r.gen)
		return
	}
	if r.tg.srv == nil && os.Getenv(envEvals) != "1" {
		t.Logf("not run: eval runs cost credits; set %s=1 to include the eval gate", envEvals)
		return
	}
	if len(r.base.Agents)+len(r.base.EntityTypes)+len(r.base.Roles) > 0 {
		t.Log("not run: the eval environment would be replaced while foreign items are carried through")
		return
	}
	defs := r.defs("1.3.0", "Answer exactly as asked.", "2.0.0")
	_, err := r.c.Sync(ctx, defs, struere.AllowDeletions())
	require.NoError(t, err)
	r.evalTouched = true
	before := r.productionVersions(t, ctx)
	var opts []struere.EvalOption
	if len(r.leftovers) > 0 {
		opts = append(opts, struere.AllowEvalDeletions())
	}

	_, err = r.c.Deploy(ctx, struere.GateOnEvals(r.withSuite(defs, "NOT-IN-ANY-REPLY-7f3a"), append(opts, struere.AllowEvalDeletions())...))
	require.ErrorIs(t, err, struere.ErrEvalsFailed)
	require.Equal(t, before, r.productionVersions(t, ctx), "a failed eval gate writes nothing to production")

	res, err := r.c.Deploy(ctx, struere.GateOnEvals(r.withSuite(defs, "PONG"), append(opts, struere.AllowEvalDeletions())...))
	require.NoError(t, err)
	require.NotNil(t, res.Evals)
	require.True(t, res.Evals.Passed)
	require.Contains(t, res.Deployed, r.slug("support"))
	p, err := r.c.Pull(ctx, struere.Production)
	require.NoError(t, err)
	got, ok := p.Definitions.Agent(r.slug("support"))
	require.True(t, ok)
	require.Equal(t, "1.3.0", got.Version, "production serves what passed the gate")
}
