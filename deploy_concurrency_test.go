package struere_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Concurrent changes during a client-side deploy (issue 12: "close the
// read-to-write window as far as a client can"). The write or a read is
// held by a fault; the test acts while it is held.

// holdThen injects a fault that holds the next request to path, waits
// until it is held, runs act, and returns. The request then runs for real.
func holdThen(t *testing.T, srv *strueretest.Server, path string, act func()) <-chan struct{} {
	t.Helper()
	held := make(chan struct{}, 1)
	srv.Inject(strueretest.Fault{Path: path, Times: 1, Delay: 2 * time.Second, Applied: held})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-held:
			act()
		case <-time.After(15 * time.Second):
		}
	}()
	return done
}

// syncedE2 is an E2 server holding the sample definitions synced to
// development, a client pinned to E2 (it never probes the generation), a
// test context, and the definitions.
func syncedE2(t *testing.T) (*strueretest.Server, *struere.Client, context.Context, *struere.Definitions) {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	cfg := srv.Config()
	cfg.Generation = struere.GenerationE2
	c, err := struere.New(cfg)
	require.NoError(t, err)
	ctx, defs := ctxT(t), sampleDefs(t)
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	return srv, c, ctx, defs
}

func TestDeployRefusesAsStaleWhenTheBackendChangesBeforeTheWrite(t *testing.T) {
	srv, c, ctx, _ := syncedE2(t)
	_, err := srv.SeedRole(strueretest.Production, strueretest.Role{Name: "auditor", Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}}})
	require.NoError(t, err)
	// A colleague creates an agent after the deploy read the backend,
	// while it prepares the write (reading the production roles as stored).
	done := holdThen(t, srv, "roles:list", func() {
		_, err := srv.SeedAgent(strueretest.Agent{Slug: "intruder", Name: "Intruder"})
		require.NoError(t, err)
		_, err = srv.SeedConfig("intruder", strueretest.Development, strueretest.AgentConfig{Version: "1.0.0", Name: "Intruder", SystemPrompt: "x",
			Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
		require.NoError(t, err)
	})
	srv.ResetRequests()
	_, err = c.Deploy(ctx)
	<-done
	require.ErrorIs(t, err, struere.ErrStalePlan)
	var se *struere.StalePlanError
	require.True(t, errors.As(err, &se))
	require.Contains(t, se.Changed, "agent created: intruder")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind, "a stale deploy writes nothing: %s", r.FunctionPath)
	}
	require.NotEmpty(t, srv.Configs("intruder"), "the concurrently created agent is still there")
}

func TestDeployReportsAnAgentCreatedDuringTheWriteAsDeletedAndWhatToDo(t *testing.T) {
	srv, c, ctx, _ := syncedE2(t)
	done := holdThen(t, srv, "sync:syncOrganization", func() {
		_, err := srv.SeedAgent(strueretest.Agent{Slug: "intruder", Name: "Intruder"})
		require.NoError(t, err)
	})
	res, err := c.Deploy(ctx)
	<-done
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	var ve *struere.VerificationError
	require.True(t, errors.As(err, &ve))
	require.NotNil(t, res)
	var found bool
	for _, m := range ve.Mismatches {
		if m.Slug == "intruder" {
			found = true
			require.Contains(t, m.Reason, "created after the deploy read the backend")
			require.Contains(t, m.Reason, "re-create it (Sync)")
		}
	}
	require.True(t, found, "the mismatches name the deleted agent: %v", ve.Mismatches)
}

func TestDeployReportsAnAgentDeletedDuringTheWriteAsRecreated(t *testing.T) {
	srv, c, ctx, _ := syncedE2(t)
	done := holdThen(t, srv, "sync:syncOrganization", func() {
		require.NoError(t, srv.SetAgentStatus("scheduler", strueretest.StatusDeleted))
	})
	_, err := c.Deploy(ctx)
	<-done
	require.ErrorIs(t, err, struere.ErrVerificationFailed, "the promotion re-created an agent deleted in between; that is not what was meant")
	var ve *struere.VerificationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "scheduler", ve.Mismatches[0].Slug)
	require.Contains(t, ve.Mismatches[0].Reason, "re-created it")
}

func TestDeploysAndSyncsOfOneClientNeverOverlap(t *testing.T) {
	srv, c, ctx, defs := syncedE2(t)
	syncDone := make(chan error, 1)
	done := holdThen(t, srv, "sync:syncOrganization", func() {
		// While the deploy's write is held, a Sync of the same client
		// starts; it must wait for the deploy.
		go func() { _, err := c.Sync(ctx, defs); syncDone <- err }()
	})
	srv.ResetRequests()
	_, err := c.Deploy(ctx)
	require.NoError(t, err)
	<-done
	require.NoError(t, <-syncDone)
	var envs []string
	for _, r := range srv.Requests() {
		if r.FunctionPath == "sync:syncOrganization" {
			var a struct{ Environment string }
			require.NoError(t, json.Unmarshal(r.Args, &a))
			envs = append(envs, a.Environment)
		}
	}
	require.Equal(t, []string{"production", "development"}, envs, "the Sync's write came after the Deploy's")
}

func TestDeployWaitingForAnotherReturnsWhenItsContextEnds(t *testing.T) {
	srv, c, ctx, _ := syncedE2(t)
	held := make(chan struct{}, 1)
	srv.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, Hang: true, Applied: held})
	first, cancelFirst := context.WithCancel(ctx)
	firstDone := make(chan error, 1)
	go func() { _, err := c.Deploy(first); firstDone <- err }()
	<-held
	second, cancelSecond := context.WithCancel(ctx)
	cancelSecond()
	_, err := c.Deploy(second)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), "waiting for another Deploy or Sync")
	cancelFirst()
	require.ErrorIs(t, <-firstDone, context.Canceled)
}

// The role round trip (protocol-head.md §H2.4 "Reshaped or partial"):
// production values the pull state cannot express are detected and the
// deploy refused before writing, or kept exactly.

func TestDeployRefusesWhenProductionRolesWouldLoseRulesOrMasks(t *testing.T) {
	cases := []struct {
		name string
		role strueretest.Role
		loss struere.Loss
	}{
		{"scope rule without a value", strueretest.Role{Name: "auditor", Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}},
			ScopeRules: []strueretest.ScopeRule{{EntityType: "customer", Field: "data.org", Operator: "eq", Value: "actor.org"}, {EntityType: "customer", Field: "data.region", Operator: "exists"}}},
			struere.LossScopeRules},
		{"masks differing only in maskConfig", strueretest.Role{Name: "auditor", Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}},
			FieldMasks: []strueretest.FieldMask{{EntityType: "customer", FieldPath: "data.phone", MaskType: "redact", MaskConfig: json.RawMessage(`{"keep":4}`)},
				{EntityType: "customer", FieldPath: "data.phone", MaskType: "redact", MaskConfig: json.RawMessage(`{"keep":0}`)}}},
			struere.LossFieldMasks},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c, ctx, _ := synced(t, struere.GenerationE2)
			_, err := srv.SeedRole(strueretest.Production, tc.role)
			require.NoError(t, err)
			before := srv.Roles(strueretest.Production)

			dry, err := c.Deploy(ctx, struere.DryRun())
			require.NoError(t, err)
			require.Len(t, dry.Plan.Refusals, 1, "a dry run shows the refusal")
			srv.ResetRequests()
			_, err = c.Deploy(ctx)
			require.ErrorIs(t, err, struere.ErrRefused)
			var re *struere.RefusedError
			require.True(t, errors.As(err, &re))
			require.Equal(t, "auditor", re.Refusals[0].Slug)
			require.Equal(t, "role", re.Refusals[0].Kind)
			require.Equal(t, []struere.Loss{tc.loss}, re.Refusals[0].Losses)
			require.Contains(t, err.Error(), string(tc.loss))
			for _, r := range srv.Requests() {
				require.NotEqual(t, "mutation", r.Kind, "refused before writing")
			}
			require.Equal(t, before, srv.Roles(strueretest.Production))

			// Accepting the named loss deploys, and says what was accepted.
			res, err := c.Deploy(ctx, struere.AcceptLoss(tc.loss))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"support", "scheduler"}, res.Deployed)
			require.Len(t, res.Plan.Accepted, 1)
			require.Equal(t, "auditor", res.Plan.Accepted[0].Slug)
		})
	}
}

func TestDeployRefusesDuplicateProductionRoleNames(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	for _, desc := range []string{"first", "second"} {
		_, err := srv.SeedRole(strueretest.Production, strueretest.Role{Name: "auditor", Description: desc,
			Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}}})
		require.NoError(t, err)
	}
	_, err := c.DetectGeneration(ctx) // the probe is not part of what is asserted
	require.NoError(t, err)
	srv.ResetRequests()
	_, err = c.Deploy(ctx, struere.AcceptLoss(struere.LossScopeRules, struere.LossFieldMasks))
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "auditor: production has several roles of this name")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind, "refused before writing")
	}
	require.Len(t, srv.Roles(strueretest.Production), 2)
}

func TestDeployKeepsProductionRolesExactlyAndVerifiesThemAsStored(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	_, err := srv.SeedRole(strueretest.Production, strueretest.Role{Name: "auditor", Description: "Reads",
		Policies:   []strueretest.Policy{{Resource: "customer", Actions: []string{"read", "list"}}, {Resource: "customer", Actions: []string{"delete"}, Effect: "deny"}},
		ScopeRules: []strueretest.ScopeRule{{EntityType: "customer", Field: "data.org", Operator: "eq", Value: "actor.org"}},
		FieldMasks: []strueretest.FieldMask{{EntityType: "customer", FieldPath: "data.phone", MaskType: "redact", MaskConfig: json.RawMessage(`{"keep":4}`)}}})
	require.NoError(t, err)
	before := srv.Roles(strueretest.Production)
	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.True(t, res.Verified)
	after := srv.Roles(strueretest.Production)
	require.Len(t, after, 1)
	require.Equal(t, before[0].ScopeRules, after[0].ScopeRules)
	require.Equal(t, before[0].FieldMasks, after[0].FieldMasks)
	require.Equal(t, before[0].PolicyCount, after[0].PolicyCount)
	require.Empty(t, res.Plan.Accepted)
	require.NotEmpty(t, res.Plan.SideEffects)
}

// Sync: the same window, closed the same way.

func TestSyncRefusesAsStaleWhenDevelopmentChangesBeforeTheWrite(t *testing.T) {
	srv, c, ctx, defs := syncedE2(t)
	// Hold the Sync's reads; act while the second one (the re-read just
	// before writing) is held.
	held := make(chan struct{}, 2)
	srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 2, Delay: time.Second, Applied: held})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2; i++ {
			select {
			case <-held:
			case <-time.After(15 * time.Second):
				return
			}
		}
		_, err := srv.SeedAgent(strueretest.Agent{Slug: "intruder", Name: "Intruder"})
		require.NoError(t, err)
	}()
	srv.ResetRequests()
	_, err := c.Sync(ctx, defs, struere.AllowDeletions())
	<-done
	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), "agent created: intruder")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "a stale sync writes nothing")
	}
	var alive bool
	for _, a := range srv.Agents() {
		alive = alive || a.Slug == "intruder" && a.Status != strueretest.StatusDeleted
	}
	require.True(t, alive, "the concurrently created agent is still there")
}

func TestSyncReportsAnAgentCreatedDuringItsWrite(t *testing.T) {
	srv, c, ctx, defs := syncedE2(t)
	done := holdThen(t, srv, "sync:syncOrganization", func() {
		_, err := srv.SeedAgent(strueretest.Agent{Slug: "intruder", Name: "Intruder"})
		require.NoError(t, err)
	})
	res, err := c.Sync(ctx, defs) // no AllowDeletions: it must not delete anything unnoticed
	<-done
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	var ve *struere.VerificationError
	require.True(t, errors.As(err, &ve))
	require.Same(t, res, ve.Sync, "the error carries what the sync wrote")
	require.Nil(t, ve.Result)
	require.Equal(t, "intruder", ve.Mismatches[0].Slug)
	require.Contains(t, ve.Mismatches[0].Reason, "created after the sync read the backend")
	require.Equal(t, []string{"intruder"}, res.Agents.Deleted)
}

// rawMutation calls a backend mutation directly, as another tool would.
func rawMutation(t *testing.T, srv *strueretest.Server, path string, args any) {
	t.Helper()
	callFunction(t, srv, "mutation", path, args)
}

// resyncProduction re-sends production's pull state with edit applied to
// its roles and entity types, as another tool's production sync would.
func resyncProduction(t *testing.T, srv *strueretest.Server, edit func(prod map[string]json.RawMessage)) {
	t.Helper()
	prod := pullValue(t, srv, "production")
	edit(prod)
	rawMutation(t, srv, "sync:syncOrganization", map[string]any{"organizationId": srv.OrganizationID(), "environment": "production",
		"agents": prod["agents"], "entityTypes": prod["entityTypes"], "roles": prod["roles"]})
}

// An agents-only client-side deploy re-sends production's entity types as
// it read them: a content-only change to one (same slug and name, here
// another tool's production sync) between the read and the write must
// make it stale, not be reverted.
func TestDeployIsStaleWhenAResourceItResendsChangesBeforeTheWrite(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	_, err := c.Deploy(ctx, struere.PromoteResources(struere.KindEntityType, struere.KindRole))
	require.NoError(t, err)
	_, err = c.Sync(ctx, sampleDefsV2(t))
	require.NoError(t, err)
	done := holdThen(t, srv, "roles:list", func() {
		resyncProduction(t, srv, func(prod map[string]json.RawMessage) {
			prod["entityTypes"] = json.RawMessage(strings.Replace(string(prod["entityTypes"]), `"schema":{`, `"schema":{"title":"colleague",`, 1))
		})
		require.Contains(t, jsonText(t, srv.EntityTypes(struere.Production)[0].Schema), "colleague")
	})
	_, err = c.Deploy(ctx)
	<-done

	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), "production entity type changed")
	require.Contains(t, jsonText(t, srv.EntityTypes(struere.Production)[0].Schema), "colleague", "the other tool's change is kept")
}

// On the newest backend a production role's agentAccess is read through
// the role queries (the pull state omits it): another tool's change to it
// after the deploy read it must make the deploy stale, not be overwritten.
func TestDeployIsStaleWhenARoleAgentAccessChangesBeforeTheWrite(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	ctx := ctxT(t)
	_, err := c.Deploy(ctx, struere.PromoteResources(struere.KindRole))
	require.NoError(t, err)
	defs := resourceProject(t, struere.GenerationHead)
	defs.EntityTypes[1].Schema = json.RawMessage(`{"type":"object","title":"v2"}`)
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	done := holdThen(t, srv, "roles:getWithPolicies", func() {
		resyncProduction(t, srv, func(prod map[string]json.RawMessage) {
			var roles []map[string]any
			require.NoError(t, json.Unmarshal(prod["roles"], &roles))
			for _, r := range roles {
				r["agentAccess"] = []string{"scheduler"}
			}
			b, err := json.Marshal(roles)
			require.NoError(t, err)
			prod["roles"] = b
		})
	})
	_, err = c.Deploy(ctx, struere.PromoteResources(struere.KindEntityType), struere.AllowResourceDeletions())
	<-done

	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), "agentAccess")
	require.Equal(t, []string{"scheduler"}, roleByName(t, srv.Roles(struere.Production), "viewer").AgentAccess, "the other tool's agentAccess is kept")
}
