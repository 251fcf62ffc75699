package acceptance_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// These tests check the suite's own promises: it refuses an organization
// holding foreign items, carries them through only when told to, and
// leaves nothing under its prefix behind.

// foreignDefs is a user's project living in the organization.
func foreignDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents":[{"name":"Customer bot","slug":"customer-bot","version":"4.2.0","systemPrompt":"You are the real product.",
	             "model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]}],
	  "entityTypes":[{"name":"Invoice","slug":"invoice","schema":{"type":"object"},"searchFields":["number"]}],
	  "roles":[{"name":"clerk","policies":[{"resource":"invoice","actions":["read"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}]
	}`))
	require.NoError(t, err)
	return defs
}

// syncRequests counts the requests that could have written.
func syncRequests(srv *strueretest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Kind == "mutation" || r.FunctionPath == "sync:syncOrganization" {
			n++
		}
	}
	return n
}

func TestSuiteRefusesAnOrganizationHoldingForeignItems(t *testing.T) {
	for _, gen := range inProcessGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			ctx := suiteContext(t)
			c, err := struere.New(srv.Config())
			require.NoError(t, err)
			_, err = c.Sync(ctx, foreignDefs(t))
			require.NoError(t, err)
			srv.ResetRequests()

			r := newRun(t, ctx, target{cfg: srv.Config(), srv: srv})
			err = r.checkForeign(ctx)
			require.Error(t, err)
			for _, item := range []string{"agent customer-bot", "entityType invoice", "role clerk"} {
				require.Contains(t, err.Error(), item)
			}
			require.Contains(t, err.Error(), envAllowForeign, "the refusal says how to override it")
			require.Zero(t, syncRequests(srv), "nothing is written before the check")
		})
	}
}

func TestSuiteTreatsEarlierRunsAsLeftoversNotForeign(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	ctx := suiteContext(t)
	earlier := newRun(t, ctx, target{cfg: srv.Config(), srv: srv})
	_, err := earlier.c.Sync(ctx, earlier.defs("1.0.0", "Interrupted run.", "1.0.0"))
	require.NoError(t, err)

	r := newRun(t, ctx, target{cfg: srv.Config(), srv: srv})
	require.NoError(t, r.checkForeign(ctx))
	require.Contains(t, r.leftovers, "agent "+earlier.slug("support"))
	r.stepSync(t, ctx)
	st, err := r.c.Status(ctx)
	require.NoError(t, err)
	for _, a := range st.Agents {
		require.False(t, strings.HasPrefix(a.Slug, earlier.prefix), "the first sync deletes leftovers: %s", a.Slug)
	}
}

func TestSuiteCarriesForeignItemsThroughWhenAllowed(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	ctx := suiteContext(t)
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	_, err = c.Sync(ctx, foreignDefs(t))
	require.NoError(t, err)

	t.Run("suite", func(t *testing.T) {
		runSuite(t, target{cfg: srv.Config(), srv: srv, allowForeign: true})
	})

	p, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	sameJSON := cmp.Comparer(func(a, b json.RawMessage) bool {
		if len(a) == 0 || len(b) == 0 {
			return len(a) == len(b)
		}
		var x, y any
		return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
	})
	require.Empty(t, cmp.Diff(foreignDefs(t), p.Definitions, sameJSON), "the foreign items are exactly as before, and nothing of the suite is left")
}

func TestSuiteRefusesForeignItemsItCannotCarryExactly(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	ctx := suiteContext(t)
	// Configured in production only: a development pull has nothing to
	// re-send for it, and a sync without it would delete it.
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "prod-only", Name: "Prod only"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("prod-only", strueretest.Production, strueretest.AgentConfig{Version: "1.0.0", SystemPrompt: "Live.",
		Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
	srv.ResetRequests()

	r := newRun(t, ctx, target{cfg: srv.Config(), srv: srv, allowForeign: true})
	err = r.checkForeign(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "prod-only")
	require.Contains(t, err.Error(), string(struere.NoteNoConfiguration))
	require.Zero(t, syncRequests(srv))
}

func TestSuiteCleanupLeavesNothingUnderItsPrefix(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			ctx := suiteContext(t)
			r := newRun(t, ctx, target{cfg: srv.Config(), srv: srv})
			require.NoError(t, r.checkForeign(ctx))
			// Stop mid-run: synced, deployed, drifted.
			r.stepSync(t, ctx)
			r.stepDeploy(t, ctx)
			r.stepDrift(t, ctx)
			r.cleanup(t)

			for _, a := range srv.Agents() {
				require.False(t, strings.HasPrefix(a.Slug, r.prefix) && a.Status != strueretest.StatusDeleted, "agent %s left", a.Slug)
			}
			for _, env := range []struere.Environment{strueretest.Development, strueretest.Production} {
				for _, e := range srv.EntityTypes(env) {
					require.False(t, strings.HasPrefix(e.Slug, r.prefix), "%s entity type %s left", env, e.Slug)
				}
				for _, ro := range srv.Roles(env) {
					require.False(t, strings.HasPrefix(ro.Name, r.prefix), "%s role %s left", env, ro.Name)
				}
			}
			for _, slug := range []string{r.slug("support"), r.slug("scheduler")} {
				require.Empty(t, srv.Configs(slug), "no configuration of %s is left in any environment", slug)
			}
		})
	}
}
