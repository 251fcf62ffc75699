package struere_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// TestClientSidePromotionProperty generates random backend states on a
// generation without sync:deployAllAgents (the SDK promotes itself) and
// deploys. Whatever the state:
//   - if some agent has a configuration in neither environment, or one
//     whose name differs from the agent's (the sync payload carries one
//     name for both, so promoting it would rename the shared agent), Deploy
//     refuses with ErrRefused and nothing changes at all;
//   - otherwise only production agent configurations change: every agent
//     with a development configuration serves it in production, every other
//     agent keeps its production configuration, and production's entity
//     types, roles, triggers and the agents themselves are exactly as before.
//
// The seed is fixed, so a failure names a reproducible case.
// STRUERE_RELIABILITY=1 runs ten times as many cases.
func TestClientSidePromotionProperty(t *testing.T) {
	cases := 50 * loadScale()
	for i := range cases {
		seed := uint64(i)
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			checkPromotion(t, rand.New(rand.NewPCG(seed, 0x5eed)))
		})
	}
}

// snapshot is everything a promotion must not change, plus the agent
// configurations it may.
type snapshot struct {
	agents      []strueretest.Agent
	entityTypes []strueretest.EntityType
	roles       []strueretest.Role
	triggers    []strueretest.Trigger
	devETs      []strueretest.EntityType
	devRoles    []strueretest.Role
	configs     map[string][]strueretest.ConfigRecord
}

func takeSnapshot(srv *strueretest.Server, slugs []string) snapshot {
	s := snapshot{agents: srv.Agents(), entityTypes: srv.EntityTypes(strueretest.Production), roles: srv.Roles(strueretest.Production),
		triggers: srv.Triggers(strueretest.Production), devETs: srv.EntityTypes(strueretest.Development), devRoles: srv.Roles(strueretest.Development),
		configs: map[string][]strueretest.ConfigRecord{}}
	for _, slug := range slugs {
		s.configs[slug] = srv.Configs(slug)
	}
	return s
}

// ignoreVolatile ignores ids and timestamps, which a rewrite may renew.
var ignoreVolatile = cmp.FilterPath(func(p cmp.Path) bool {
	n := p.Last().String()
	return n == ".ID" || n == ".UpdatedAt" || n == ".CreatedAt" || n == ".AgentID"
}, cmp.Ignore())

func current(recs []strueretest.ConfigRecord, env struere.Environment) (strueretest.ConfigRecord, bool) {
	for _, c := range recs {
		if c.Current && c.Environment == env {
			return c, true
		}
	}
	return strueretest.ConfigRecord{}, false
}

func checkPromotion(t *testing.T, rnd *rand.Rand) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	var slugs []string
	unconfigured, renamed := false, false
	model := struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}
	for i := range 1 + rnd.IntN(5) {
		slug := fmt.Sprintf("agent-%d", i)
		slugs = append(slugs, slug)
		_, err := srv.SeedAgent(strueretest.Agent{Slug: slug, Name: "Agent " + slug, Description: fmt.Sprintf("d%d", rnd.IntN(3))})
		require.NoError(t, err)
		dev, prod := rnd.IntN(3) > 0, rnd.IntN(2) == 0
		if !dev && !prod && rnd.IntN(3) > 0 {
			dev = true // keep refusals to about one case in four
		}
		// A configuration's name normally equals its agent's (Sync sets
		// both); one in eight differs, as after a rename in the dashboard.
		devName, prodName := "Agent "+slug, "Agent "+slug
		if rnd.IntN(8) == 0 {
			devName = "Renamed " + slug
		}
		if dev && devName != "Agent "+slug || !dev && prod && prodName != "Agent "+slug {
			renamed = true
		}
		if dev {
			_, err = srv.SeedConfig(slug, strueretest.Development, strueretest.AgentConfig{Version: fmt.Sprintf("2.%d.0", rnd.IntN(9)), Name: devName,
				SystemPrompt: fmt.Sprintf("dev prompt %d", rnd.IntN(1000)), Model: model,
				Tools: []struere.Tool{{Name: "entity.query", Description: "q", Parameters: json.RawMessage(`{"type":"object"}`), IsBuiltin: new(true)}}})
			require.NoError(t, err)
		}
		if prod {
			_, err = srv.SeedConfig(slug, strueretest.Production, strueretest.AgentConfig{Version: fmt.Sprintf("1.%d.0", rnd.IntN(9)), Name: prodName,
				SystemPrompt: fmt.Sprintf("prod prompt %d", rnd.IntN(1000)), Model: model})
			require.NoError(t, err)
		}
		unconfigured = unconfigured || (!dev && !prod)
	}
	for _, env := range []struere.Environment{strueretest.Development, strueretest.Production} {
		for i := range rnd.IntN(3) {
			slug := fmt.Sprintf("%s-type-%d", env[:3], i)
			_, err := srv.SeedEntityType(env, strueretest.EntityType{Name: slug, Slug: slug,
				Schema:       json.RawMessage(fmt.Sprintf(`{"type":"object","properties":{"f%d":{"type":"string"}}}`, rnd.IntN(5))),
				SearchFields: []string{fmt.Sprintf("f%d", rnd.IntN(5))}, DisplayConfig: json.RawMessage(`{"titleField":"f0"}`)})
			require.NoError(t, err)
			if rnd.IntN(2) == 0 {
				role := fmt.Sprintf("%s-role-%d", env[:3], i)
				_, err = srv.SeedRole(env, strueretest.Role{Name: role, Description: "r",
					Policies:   []strueretest.Policy{{Resource: slug, Actions: []string{"read", "list"}, Effect: []string{"allow", "deny"}[rnd.IntN(2)]}},
					ScopeRules: []strueretest.ScopeRule{{EntityType: slug, Field: "data.owner", Operator: "eq", Value: "actor.userId"}},
					FieldMasks: []strueretest.FieldMask{{EntityType: slug, FieldPath: "data.f0", MaskType: "redact"}}})
				require.NoError(t, err)
			}
			if env == strueretest.Production && rnd.IntN(2) == 0 {
				_, err = srv.SeedTrigger(env, strueretest.Trigger{Name: "t" + slug, Slug: "t-" + slug, EntityType: slug, Action: "created",
					Actions: json.RawMessage(`[{"tool":"event.emit","args":{"type":"x"}}]`), Disabled: rnd.IntN(2) == 0})
				require.NoError(t, err)
			}
		}
	}
	before := takeSnapshot(srv, slugs)

	c := newClient(t, srv)
	res, err := c.Deploy(ctxT(t))
	after := takeSnapshot(srv, slugs)

	// Nothing but production agent configurations may change.
	require.Empty(t, cmp.Diff(before.agents, after.agents, ignoreVolatile), "agents changed")
	require.Empty(t, cmp.Diff(before.entityTypes, after.entityTypes, ignoreVolatile), "production entity types changed")
	require.Empty(t, cmp.Diff(before.roles, after.roles, ignoreVolatile), "production roles changed")
	require.Empty(t, cmp.Diff(before.triggers, after.triggers, ignoreVolatile), "production triggers changed")
	require.Empty(t, cmp.Diff(before.devETs, after.devETs, ignoreVolatile), "development entity types changed")
	require.Empty(t, cmp.Diff(before.devRoles, after.devRoles, ignoreVolatile), "development roles changed")

	if unconfigured || renamed {
		require.ErrorIs(t, err, struere.ErrRefused, "an agent with no configuration anywhere (%v), or whose promotion would rename it (%v), must be refused", unconfigured, renamed)
		require.Empty(t, cmp.Diff(before.configs, after.configs), "a refused deploy changed configurations")
		return
	}
	require.NoError(t, err)
	require.True(t, res.Verified)
	for _, slug := range slugs {
		dev, hasDev := current(before.configs[slug], strueretest.Development)
		wasProd, hadProd := current(before.configs[slug], strueretest.Production)
		nowProd, hasProd := current(after.configs[slug], strueretest.Production)
		nowDev, _ := current(after.configs[slug], strueretest.Development)
		require.Empty(t, cmp.Diff(dev, nowDev, ignoreVolatile), "%s: development configuration changed", slug)
		switch {
		case hasDev:
			require.True(t, hasProd, "%s: not promoted", slug)
			require.Empty(t, cmp.Diff(dev.AgentConfig, nowProd.AgentConfig), "%s: production is not development's configuration", slug)
			require.Contains(t, res.Deployed, slug)
		case hadProd:
			require.True(t, hasProd, "%s: production configuration lost", slug)
			require.Empty(t, cmp.Diff(wasProd.AgentConfig, nowProd.AgentConfig), "%s: skipped agent's production configuration changed", slug)
			require.Contains(t, res.Skipped, struere.SkippedAgent{Slug: slug, Reason: struere.ReasonNoDevelopmentConfig})
		}
	}
}
