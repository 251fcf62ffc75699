package struere_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

var contentGenerations = []struere.Generation{struere.GenerationHead, struere.GenerationE2, struere.GenerationE2Deploy}

// agentStatus returns the status of one agent.
func agentStatus(t *testing.T, st *struere.Status, slug string) struere.AgentStatus {
	t.Helper()
	for _, a := range st.Agents {
		if a.Slug == slug {
			return a
		}
	}
	t.Fatalf("no agent %s in status:\n%s", slug, st)
	return struere.AgentStatus{}
}

func resourceStatus(t *testing.T, st *struere.Status, kind struere.ResourceKind, name string) struere.ResourceStatus {
	t.Helper()
	for _, r := range st.Resources {
		if r.Kind == kind && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s %s in status:\n%s", kind, name, st)
	return struere.ResourceStatus{}
}

func TestStatusRightAfterSyncIsSynced(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		_, c, ctx, defs := synced(t, gen)
		st, err := c.Status(ctx, struere.WithLocal(defs))
		require.NoError(t, err)
		require.Empty(t, st.LocalDiffers(), st.String())
		for _, a := range st.Agents {
			require.Equal(t, struere.LocalSynced, a.LocalState, a.Slug)
			if gen != struere.GenerationE1 { // environment-isolated
				require.Equal(t, a.Local.Digest, a.Development.Digest, a.Slug)
				require.NotEmpty(t, a.Local.Digest)
			}
		}
		for _, r := range st.Resources {
			require.Equal(t, struere.LocalSynced, r.LocalState, "%s %s", r.Kind, r.Name)
		}
	})
}

// A prompt changed without a version bump is a difference on both
// comparisons, and the field is named.
func TestStatusComparesContentNotVersions(t *testing.T) {
	for _, gen := range contentGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			_, c, ctx, defs := synced(t, gen)
			_, err := c.Deploy(ctx)
			require.NoError(t, err)

			defs.Agents[0].SystemPrompt = "You help customers, briefly."
			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			a := agentStatus(t, st, "support")
			require.Equal(t, struere.LocalModified, a.LocalState)
			require.Equal(t, []string{"systemPrompt"}, a.LocalDiff)
			require.Equal(t, struere.ProductionSynced, a.ProductionState)
			require.Equal(t, []string{"support"}, st.LocalDiffers())

			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)
			st, err = c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			a = agentStatus(t, st, "support")
			require.Equal(t, struere.LocalSynced, a.LocalState)
			require.Equal(t, struere.ProductionDrifted, a.ProductionState, st.String())
			require.Equal(t, []string{"systemPrompt"}, a.ProductionDiff)
			require.Equal(t, a.Development.Version, a.Production.Version, "same version, other content")
			require.False(t, st.ProductionMatchesDevelopment())
			require.Equal(t, []string{"support"}, st.ProductionDiffers())
			require.Contains(t, st.String(), "agent support: development vs production: systemPrompt")
		})
	}
}

func TestStatusNamesModelAndToolFields(t *testing.T) {
	_, c, ctx, defs := synced(t, struere.GenerationE2)
	defs.Agents[1].Model.Temperature = new(0.1)
	defs.Agents[1].Tools[0].Parameters = json.RawMessage(`{"type":"object","properties":{"limit":{"type":"number"}}}`)
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	a := agentStatus(t, st, "scheduler")
	require.Equal(t, struere.LocalModified, a.LocalState)
	require.Equal(t, []string{"model.temperature", "tools[entity.query].parameters"}, a.LocalDiff)
}

// Resources are compared by content: a changed policy is a local
// difference naming "policies", and once synced a difference between the
// environments.
func TestStatusComparesResourcesByContent(t *testing.T) {
	for _, gen := range contentGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c, ctx, defs := synced(t, gen)
			// Production gets the same entity type and role.
			_, err := srv.SeedEntityType("production", strueretest.EntityType{Name: "Customer", Slug: "customer",
				Schema: json.RawMessage(`{"type":"object"}`), SearchFields: []string{"name"}})
			require.NoError(t, err)
			_, err = srv.SeedRole("production", strueretest.Role{Name: "agent-operator", Description: "Operators",
				Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read", "update"}, Effect: "allow"}}})
			require.NoError(t, err)

			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			role := resourceStatus(t, st, struere.KindRole, "agent-operator")
			require.Equal(t, struere.LocalSynced, role.LocalState)
			require.Equal(t, struere.ProductionSynced, role.ProductionState, st.String())

			defs.Roles[0].Policies[0].Actions = []string{"read"}
			st, err = c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			role = resourceStatus(t, st, struere.KindRole, "agent-operator")
			require.Equal(t, struere.LocalModified, role.LocalState)
			require.Equal(t, []string{"policies"}, role.LocalDiff)
			require.Equal(t, []string{"role agent-operator"}, st.LocalDiffers())

			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)
			st, err = c.Status(ctx)
			require.NoError(t, err)
			role = resourceStatus(t, st, struere.KindRole, "agent-operator")
			require.Equal(t, struere.ProductionDrifted, role.ProductionState)
			require.Equal(t, []string{"policies"}, role.ProductionDiff)
			require.Equal(t, []string{"role agent-operator"}, st.ResourcesDiffer())
			et := resourceStatus(t, st, struere.KindEntityType, "customer")
			require.Equal(t, struere.ProductionSynced, et.ProductionState)
		})
	}
}

// Policies the backend regroups (one row per action) still compare equal.
func TestStatusIgnoresHowTheBackendRegroupsPolicies(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	c, ctx := newClient(t, srv), ctxT(t)
	defs := sampleDefs(t)
	defs.Roles[0].Policies = []struere.Policy{
		{Resource: "customer", Actions: []string{"update"}, Effect: "allow"},
		{Resource: "customer", Actions: []string{"delete"}, Effect: "deny"},
		{Resource: "customer", Actions: []string{"read"}, Effect: "allow"},
	}
	defs.Roles[0].ScopeRules = []struere.ScopeRule{{EntityType: "customer", Field: "data.ownerId", Operator: "eq", Value: "actor.userId"}}
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err)
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	require.Empty(t, st.LocalDiffers(), st.String())
}

// Deploy(WithLocal) refuses when a resource differs, not only an agent.
func TestDeployWithLocalRefusesResourceDifferences(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv, c, ctx, defs := synced(t, gen)
		defs.EntityTypes = append(defs.EntityTypes, struere.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object"}`)})
		srv.ResetRequests()
		_, err := c.Deploy(ctx, struere.WithLocal(defs))
		require.ErrorIs(t, err, struere.ErrLocalDiffers)
		require.Contains(t, err.Error(), "invoice")
		for _, r := range srv.Requests() {
			require.Equal(t, "query", r.Kind, "nothing is written: %s", r.FunctionPath)
		}
	})
	for _, gen := range contentGenerations {
		t.Run("policy/"+gen.String(), func(t *testing.T) {
			_, c, ctx, defs := synced(t, gen)
			defs.Roles[0].Policies[0].Effect = "deny"
			_, err := c.Deploy(ctx, struere.WithLocal(defs))
			require.ErrorIs(t, err, struere.ErrLocalDiffers)
			require.Contains(t, err.Error(), "agent-operator")
			require.Contains(t, err.Error(), "policies")
		})
	}
}

func TestStatusOnE1SaysProductionContentCannotBeRead(t *testing.T) {
	_, c, ctx, _ := synced(t, struere.GenerationE1)
	_, err := c.Deploy(ctx)
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	for _, a := range st.Agents {
		require.Equal(t, struere.ProductionUnverified, a.ProductionState, a.Slug)
	}
	require.True(t, st.ProductionMatchesDevelopment())
	require.NotEmpty(t, st.Notes)
	require.Contains(t, strings.Join(st.Notes, " "), "production's content cannot be read")
	require.Contains(t, st.String(), "Note: this backend (E1)")
	require.Contains(t, st.Markdown(), "> this backend (E1)")
}

func TestStatusJSONCarriesBothComparisons(t *testing.T) {
	_, c, ctx, defs := synced(t, struere.GenerationE2)
	defs.Agents[0].SystemPrompt = "Changed."
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var got struct {
		SchemaVersion     int      `json:"schemaVersion"`
		LocalDiffers      []string `json:"localDiffers"`
		ProductionDiffers []string `json:"productionDiffers"`
		Agents            []struct {
			Slug            string   `json:"slug"`
			LocalState      string   `json:"localState"`
			LocalDiff       []string `json:"localDiff"`
			ProductionState string   `json:"productionState"`
			Development     struct {
				Digest string `json:"digest"`
			} `json:"development"`
		} `json:"agents"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, 2, got.SchemaVersion)
	require.Equal(t, []string{"support"}, got.LocalDiffers)
	require.ElementsMatch(t, []string{"scheduler", "support"}, got.ProductionDiffers)
	for _, a := range got.Agents {
		require.Equal(t, "not-in-production", a.ProductionState)
		require.NotEmpty(t, a.Development.Digest)
		if a.Slug == "support" {
			require.Equal(t, "modified", a.LocalState)
			require.Equal(t, []string{"systemPrompt"}, a.LocalDiff)
		}
	}
	md := st.Markdown()
	require.Contains(t, md, "| Agent | Local | Development | Production | Local vs dev | Dev vs prod |")
	require.Contains(t, md, "| `support` | 1.0.0 | 1.0.0 | - | modified | not-in-production |")
	require.Contains(t, md, "- agent support: local vs development: systemPrompt")
}
