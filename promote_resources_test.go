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

// Opt-in promotion of entity types, roles and triggers (PromoteResources).

var resourceGenerations = []struere.Generation{struere.GenerationHead, struere.GenerationE2, struere.GenerationE2Deploy}

var allKinds = []struere.ResourceKind{struere.KindEntityType, struere.KindRole, struere.KindTrigger}

// resourceProject is a development project with two entity types, two
// roles (teacher with a scope rule and, on the newest backend,
// agentAccess) and one trigger.
func resourceProject(t *testing.T, gen struere.Generation) *struere.Definitions {
	t.Helper()
	access := ""
	if gen == struere.GenerationHead {
		access = `"agentAccess":["support"],`
	}
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"You help customers.",
	     "model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.0.0","systemPrompt":"You book sessions.",
	     "model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]}
	  ],
	  "entityTypes": [
	    {"name":"Customer","slug":"customer","schema":{"type":"object","properties":{"name":{"type":"string"}}},"searchFields":["name"]},
	    {"name":"Invoice","slug":"invoice","schema":{"type":"object"}}
	  ],
	  "roles": [
	    {"name":"teacher",` + access + `"policies":[{"resource":"customer","actions":["read","update"],"effect":"allow"}],
	     "scopeRules":[{"entityType":"customer","field":"data.teacherId","operator":"eq","value":"actor.userId"}]},
	    {"name":"viewer","policies":[{"resource":"customer","actions":["read"],"effect":"allow"}]}
	  ],
	  "triggers": [
	    {"name":"Notify","slug":"notify","entityType":"customer","action":"created","actions":[{"tool":"event.emit","args":{"kind":"new"}}]}
	  ]
	}`))
	require.NoError(t, err)
	return defs
}

// resourceServer syncs resourceProject to development and seeds production
// with: customer (another schema: update), legacy (production only:
// delete), teacher (other policies: update), viewer (the same: unchanged)
// and trigger old (production only: delete).
func resourceServer(t *testing.T, gen struere.Generation) (*strueretest.Server, *struere.Client) {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
	c := pinnedClient(t, srv, gen)
	_, err := c.Sync(ctxT(t), resourceProject(t, gen))
	require.NoError(t, err)
	_, err = srv.SeedEntityType(struere.Production, strueretest.EntityType{Name: "Customer", Slug: "customer", Schema: json.RawMessage(`{"type":"object"}`)})
	require.NoError(t, err)
	_, err = srv.SeedEntityType(struere.Production, strueretest.EntityType{Name: "Legacy", Slug: "legacy", Schema: json.RawMessage(`{"type":"object"}`)})
	require.NoError(t, err)
	_, err = srv.SeedRole(struere.Production, strueretest.Role{Name: "teacher", Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}}})
	require.NoError(t, err)
	_, err = srv.SeedRole(struere.Production, strueretest.Role{Name: "viewer", Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}}})
	require.NoError(t, err)
	_, err = srv.SeedTrigger(struere.Production, strueretest.Trigger{Name: "Old", Slug: "old", EntityType: "customer", Action: "deleted",
		Actions: json.RawMessage(`[{"tool":"event.emit","args":{}}]`)})
	require.NoError(t, err)
	return srv, c
}

func pinnedClient(t *testing.T, srv *strueretest.Server, gen struere.Generation) *struere.Client {
	t.Helper()
	cfg := srv.Config()
	cfg.Generation = gen
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return c
}

// actions indexes a plan's resources as "kind name" → action.
func actions(p *struere.Plan) map[string]struere.ResourceAction {
	out := map[string]struere.ResourceAction{}
	for _, r := range p.Resources {
		out[string(r.Kind)+" "+r.Name] = r.Action
	}
	return out
}

func requireNoMutations(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind, "nothing may be written: %s", r.FunctionPath)
		require.NotEqual(t, "/v1/sync", r.URLPath, "nothing may be written")
	}
}

func TestDeployPromotesResourcesAndLeavesBothEnvironmentsSynced(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			ctx := ctxT(t)

			dry, err := c.Deploy(ctx, struere.DryRun(), struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.Equal(t, "client", dry.Method, "one syncOrganization carries agents and resources")
			require.Equal(t, allKinds, dry.Plan.PromotedKinds)
			require.Equal(t, map[string]struere.ResourceAction{
				"entityType customer": struere.ResourceUpdate,
				"entityType invoice":  struere.ResourceCreate,
				"entityType legacy":   struere.ResourceDelete,
				"role teacher":        struere.ResourceUpdate,
				"role viewer":         struere.ResourceUnchanged,
				"trigger notify":      struere.ResourceCreate,
				"trigger old":         struere.ResourceDelete,
			}, actions(dry.Plan))
			require.Empty(t, dry.Plan.Refusals)
			for _, r := range dry.Plan.Resources {
				if r.Kind == struere.KindEntityType && r.Name == "customer" {
					require.Equal(t, []string{"schema", "searchFields"}, r.Fields)
				}
			}
			var diffed []string
			for _, d := range dry.Plan.Diffs {
				diffed = append(diffed, string(d.Kind)+" "+d.Name+" "+string(d.Change))
			}
			require.Subset(t, diffed, []string{"entityType customer modified", "entityType invoice added", "entityType legacy removed",
				"role teacher modified", "trigger notify added", "trigger old removed"})
			require.NotContains(t, diffed, "role viewer modified")
			// Nothing was written by the dry run.
			require.Len(t, srv.EntityTypes(struere.Production), 2)

			res, err := c.Deploy(ctx, struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.True(t, res.Verified)
			require.Equal(t, []string{"scheduler", "support"}, res.Deployed)

			st, err := c.Status(ctx)
			require.NoError(t, err)
			require.True(t, st.InSync(), "agents and resources synced: %+v", st)
			require.Empty(t, st.ResourcesDiffer())
			require.Len(t, st.Resources, 5) // customer, invoice, teacher, viewer, notify: legacy and old are gone
			for _, a := range st.Agents {
				require.Equal(t, struere.ProductionSynced, a.ProductionState, a.Slug)
			}
			if gen == struere.GenerationHead {
				require.Equal(t, []string{"support"}, roleByName(t, srv.Roles(struere.Production), "teacher").AgentAccess,
					"the newest backend's agentAccess is promoted too")
			}
			teacher := roleByName(t, srv.Roles(struere.Production), "teacher")
			require.Equal(t, []strueretest.ScopeRule{{EntityType: "customer", Field: "data.teacherId", Operator: "eq", Value: "actor.userId"}}, teacher.ScopeRules)

			// Nothing differs any more: nothing is written.
			srv.ResetRequests()
			again, err := c.Deploy(ctx, struere.PromoteResources(allKinds...))
			require.NoError(t, err)
			require.Empty(t, again.Deployed)
			for _, r := range again.Plan.Resources {
				require.Equal(t, struere.ResourceUnchanged, r.Action, r.Name)
			}
			requireNoMutations(t, srv)
		})
	}
}

func TestDeployWithoutPromoteResourcesLeavesResourcesAsTheyAre(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			before := map[string]any{"et": srv.EntityTypes(struere.Production), "roles": srv.Roles(struere.Production), "triggers": srv.Triggers(struere.Production)}
			res, err := c.Deploy(ctxT(t))
			require.NoError(t, err)
			require.Empty(t, res.Plan.Resources)
			require.Empty(t, res.Plan.PromotedKinds)
			if gen == struere.GenerationE2Deploy {
				require.Equal(t, "server", res.Method, "the default is unchanged")
			}
			after := map[string]any{"et": srv.EntityTypes(struere.Production), "roles": srv.Roles(struere.Production), "triggers": srv.Triggers(struere.Production)}
			require.Equal(t, jsonText(t, before["et"]), jsonText(t, after["et"]))
			require.Equal(t, jsonText(t, before["triggers"]), jsonText(t, after["triggers"]))
		})
	}
}

func TestDeployLeavesTriggersAloneWhenNotSelected(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			res, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindEntityType, struere.KindRole), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.True(t, res.Verified)
			for _, r := range res.Plan.Resources {
				require.NotEqual(t, struere.KindTrigger, r.Kind)
			}
			trig := srv.Triggers(struere.Production)
			require.Len(t, trig, 1)
			require.Equal(t, "old", trig[0].Slug, "production's triggers are untouched, development's not created")
			st, err := c.Status(ctxT(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"trigger notify", "trigger old"}, st.ResourcesDiffer())
		})
	}
}

func TestDeployRefusesResourceDeletionsUnlessAllowed(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			srv.ResetRequests()
			_, err := c.Deploy(ctxT(t), struere.PromoteResources(allKinds...))
			require.ErrorIs(t, err, struere.ErrRefused)
			var re *struere.RefusedError
			require.True(t, errors.As(err, &re))
			named := map[string]string{}
			for _, r := range re.Refusals {
				named[r.Kind+" "+r.Slug] = r.Reason
			}
			require.Contains(t, named, "entity type legacy")
			require.Contains(t, named["entity type legacy"], "keeps its production entities")
			require.Contains(t, named["entity type legacy"], "AllowResourceDeletions()")
			require.Contains(t, named, "trigger old")
			requireNoMutations(t, srv)
			require.Len(t, srv.EntityTypes(struere.Production), 2)

			res, err := c.Deploy(ctxT(t), struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.Contains(t, strings.Join(res.Plan.SideEffects, "\n"), `production entity type "legacy" is not in development`)
			for _, et := range srv.EntityTypes(struere.Production) {
				require.NotEqual(t, "legacy", et.Slug)
			}
		})
	}
}

func TestDeployPlanRendersResourceActions(t *testing.T) {
	_, c := resourceServer(t, struere.GenerationHead)
	dry, err := c.Deploy(ctxT(t), struere.DryRun(), struere.PromoteResources(allKinds...))
	require.NoError(t, err)
	text := dry.Plan.String()
	for _, want := range []string{"Resources promoted (entity types, roles, triggers):", "update    entity type  customer (schema, searchFields)",
		"create    entity type  invoice", "delete    entity type  legacy", "unchanged role         viewer", "create    trigger      notify",
		"REFUSE", "~ entityType customer", "+ trigger notify"} {
		require.Contains(t, text, want)
	}
	md := dry.Plan.Markdown()
	require.Contains(t, md, "| Resource | Kind | Action | Fields that differ |")
	require.Contains(t, md, "| `customer` | entity type | update | schema, searchFields |")
	require.Contains(t, md, "| `viewer` | role | unchanged |  |")
	b, err := json.Marshal(dry.Plan)
	require.NoError(t, err)
	var decoded struct {
		PromotedKinds []string `json:"promotedKinds"`
		Resources     []struct {
			Kind, Name, Action string
			Fields             []string
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(b, &decoded))
	require.Equal(t, []string{"entityType", "role", "trigger"}, decoded.PromotedKinds)
	require.Len(t, decoded.Resources, 7)
	require.Equal(t, "entityType", decoded.Resources[0].Kind)
	require.Equal(t, "customer", decoded.Resources[0].Name)
	require.Equal(t, "update", decoded.Resources[0].Action)
}

func TestPromoteResourcesRejectsBadKindsAndTheOldestBackend(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c := newClient(t, srv)
	_, err := c.Deploy(ctxT(t), struere.PromoteResources())
	require.ErrorContains(t, err, "PromoteResources names no kind")
	_, err = c.Deploy(ctxT(t), struere.PromoteResources(struere.KindAgent))
	require.ErrorContains(t, err, "agents are always promoted")
	_, err = c.Deploy(ctxT(t), struere.PromoteResources("widget"))
	require.ErrorContains(t, err, `unknown kind "widget"`)

	e1 := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE1))
	_, err = newClient(t, e1).Deploy(ctxT(t), struere.PromoteResources(struere.KindEntityType))
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.ErrorContains(t, err, "organization-wide")
}

// The backend ignores an empty triggers list: production's last triggers
// cannot be deleted by any deploy, even with deletions allowed.
func TestDeployRefusesToDeleteTheLastProductionTriggers(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c := pinnedClient(t, srv, gen)
			defs := resourceProject(t, gen)
			defs.Triggers = nil
			_, err := c.Sync(ctxT(t), defs)
			require.NoError(t, err)
			_, err = srv.SeedTrigger(struere.Production, strueretest.Trigger{Name: "Old", Slug: "old", EntityType: "customer", Action: "deleted",
				Actions: json.RawMessage(`[{"tool":"event.emit","args":{}}]`)})
			require.NoError(t, err)
			srv.ResetRequests()
			_, err = c.Deploy(ctxT(t), struere.PromoteResources(struere.KindTrigger), struere.AllowResourceDeletions())
			require.ErrorIs(t, err, struere.ErrRefused)
			var re *struere.RefusedError
			require.True(t, errors.As(err, &re))
			require.Len(t, re.Refusals, 1)
			require.Equal(t, "old", re.Refusals[0].Slug)
			require.Contains(t, re.Refusals[0].Reason, "ignores an empty trigger list")
			requireNoMutations(t, srv)
		})
	}
}

// Through /v1/sync (API keys alone) the backend removes deployedBy from the
// configurations it writes; through the function API it records the
// caller. The plan's side effects say which, and the backend agrees.
func TestDeployPlanSaysWhatHappensToDeployedByOnEachPath(t *testing.T) {
	for _, path := range []string{"user token", "API keys"} {
		t.Run(path, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
			dev, prod := keyPair(t, srv)
			cfg := struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{dev, prod}}
			if path == "user token" {
				cfg.Token, cfg.OrganizationID = srv.Token(), srv.OrganizationID()
			}
			c, err := struere.New(cfg)
			require.NoError(t, err)
			_, err = c.Sync(ctxT(t), headSimpleDefs(t))
			require.NoError(t, err)
			res, err := c.Deploy(ctxT(t), keysOnlyLosses)
			require.NoError(t, err)
			effects := strings.Join(res.Plan.SideEffects, "\n")
			stored := currentConfig(t, srv, "support", struere.Production).DeployedBy
			if path == "user token" {
				require.Contains(t, effects, "deployedBy becomes the caller")
				require.NotEmpty(t, stored)
			} else {
				require.NotContains(t, effects, "deployedBy becomes the caller")
				require.Contains(t, effects, "deployedBy is removed from every production agent configuration")
				require.Contains(t, effects, "with a system actor")
				require.Empty(t, stored, "the backend removed it, as the plan said")
			}
		})
	}
}

// The state queries list enabled triggers only. A disabled production
// trigger cannot be seen before writing; the plan says so, and when sending
// triggers hard-deletes it (or updates it in place, leaving it disabled),
// the deploy's result check names it.
func TestDeployNamesHiddenDisabledProductionTriggersItTouched(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			_, err := srv.SeedTrigger(struere.Production, strueretest.Trigger{Name: "Quiet", Slug: "quiet", EntityType: "customer", Action: "updated",
				Actions: json.RawMessage(`[{"tool":"event.emit","args":{}}]`), Disabled: true})
			require.NoError(t, err)
			_, err = srv.SeedTrigger(struere.Production, strueretest.Trigger{Name: "Notify", Slug: "notify", EntityType: "customer", Action: "created",
				Actions: json.RawMessage(`[{"tool":"event.emit","args":{}}]`), Disabled: true})
			require.NoError(t, err)

			dry, err := c.Deploy(ctxT(t), struere.DryRun(), struere.PromoteResources(struere.KindTrigger), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.Equal(t, struere.ResourceCreate, actions(dry.Plan)["trigger notify"], "the disabled one is invisible")
			require.NotContains(t, actions(dry.Plan), "trigger quiet")
			require.Contains(t, strings.Join(dry.Plan.Notes, "\n"), "a disabled production trigger cannot be seen")

			res, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindTrigger), struere.AllowResourceDeletions())
			require.ErrorIs(t, err, struere.ErrVerificationFailed)
			require.NotNil(t, res)
			var ve *struere.VerificationError
			require.True(t, errors.As(err, &ve))
			why := map[string]string{}
			for _, m := range ve.Mismatches {
				why[m.Slug] = m.Reason
			}
			require.Contains(t, why["quiet"], "disabled production trigger")
			require.Contains(t, why["quiet"], "hard-deleted")
			require.Contains(t, why["notify"], "where the deploy meant to create it")
			require.Contains(t, why["notify"], "stays disabled")
		})
	}
}

// The automation limit counts every environment's triggers: on the free
// plan, three development triggers cannot be promoted to production. The
// plan gives the counts; the backend refuses, and nothing is written.
func TestDeployTriggerPromotionOverThePlanLimitWritesNothing(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c := pinnedClient(t, srv, gen)
			defs := resourceProject(t, gen)
			for _, s := range []string{"second", "third"} {
				tr := defs.Triggers[0]
				tr.Slug, tr.Name = s, s
				defs.Triggers = append(defs.Triggers, tr)
			}
			_, err := c.Sync(ctxT(t), defs)
			require.NoError(t, err)
			dry, err := c.Deploy(ctxT(t), struere.DryRun(), struere.PromoteResources(allKinds...))
			require.NoError(t, err)
			require.Contains(t, strings.Join(dry.Plan.Notes, "\n"), "development 3 and production 3 after the deploy")
			srv.ResetRequests()
			_, err = c.Deploy(ctxT(t), struere.PromoteResources(allKinds...))
			require.ErrorIs(t, err, struere.ErrPlanLimit)
			require.ErrorContains(t, err, "Automation limit reached")
			require.Empty(t, srv.Triggers(struere.Production))
			require.Empty(t, srv.EntityTypes(struere.Production), "one transaction: the entity types were not written either")
			for _, a := range []string{"support", "scheduler"} {
				for _, cfg := range srv.Configs(a) {
					require.NotEqual(t, struere.Production, cfg.Environment, "no agent was promoted")
				}
			}
		})
	}
}

// agentAccess of a development role is not in the pull state; when the
// role queries cannot be used, promoting the role is refused unless that
// loss is accepted.
func TestDeployRefusesARoleWhoseAgentAccessCannotBeRead(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	srv.Inject(strueretest.Fault{Path: "roles:list", FunctionError: "Could not find public function for 'roles:list'. Did you forget to run `npx convex dev`?"})
	srv.ResetRequests()
	_, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindRole), struere.AllowResourceDeletions())
	require.ErrorIs(t, err, struere.ErrRefused)
	var re *struere.RefusedError
	require.True(t, errors.As(err, &re))
	var teacher *struere.Refusal
	for i, r := range re.Refusals {
		if r.Slug == "teacher" && slicesContains(r.Losses, struere.LossAgentAccess) && strings.Contains(r.Reason, "development role") {
			teacher = &re.Refusals[i]
		}
	}
	require.NotNil(t, teacher, "the refusal names the role and the loss: %+v", re.Refusals)
	requireNoMutations(t, srv)

	res, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindRole), struere.AllowResourceDeletions(),
		struere.AcceptLoss(struere.LossAgentAccess, struere.LossScopeRules, struere.LossFieldMasks))
	require.NoError(t, err)
	require.NotEmpty(t, res.Plan.Accepted)
	require.Nil(t, roleByName(t, srv.Roles(struere.Production), "teacher").AgentAccess, "accepted: production's role has none")
}

// Masks that differ only in maskConfig are collapsed by the pull state:
// promoting such a development role would give production one mask.
func TestDeployRefusesADevelopmentRoleThePullStateCannotExpress(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationHead, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			_, err := srv.SeedRole(struere.Development, strueretest.Role{Name: "masked",
				Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read"}}},
				FieldMasks: []strueretest.FieldMask{
					{EntityType: "customer", FieldPath: "data.price", MaskType: "redact", MaskConfig: json.RawMessage(`{"with":"*"}`)},
					{EntityType: "customer", FieldPath: "data.price", MaskType: "redact", MaskConfig: json.RawMessage(`{"with":"#"}`)}}})
			require.NoError(t, err)
			srv.ResetRequests()
			_, err = c.Deploy(ctxT(t), struere.PromoteResources(struere.KindRole), struere.AllowResourceDeletions())
			require.ErrorIs(t, err, struere.ErrRefused)
			var re *struere.RefusedError
			require.True(t, errors.As(err, &re))
			require.Len(t, re.Refusals, 1)
			require.Equal(t, "masked", re.Refusals[0].Slug)
			require.Equal(t, []struere.Loss{struere.LossFieldMasks}, re.Refusals[0].Losses)
			require.Contains(t, re.Refusals[0].Reason, "not carried over from the development role")
			requireNoMutations(t, srv)
		})
	}
}

// Verification reads production back: a read-back that does not hold what
// was sent is a VerificationError naming the resource.
func TestDeployVerificationCatchesATamperedResourceReadBack(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	// Production's pull state after the deploy should equal development's;
	// serve it with one entity type's schema changed.
	dev := pullValue(t, srv, "development")
	var ets []map[string]any
	require.NoError(t, json.Unmarshal(dev["entityTypes"], &ets))
	for _, et := range ets {
		if et["slug"] == "customer" {
			et["schema"] = map[string]any{"type": "object", "title": "tampered"}
		}
	}
	dev["entityTypes"] = []byte(jsonText(t, ets))
	body := jsonText(t, map[string]any{"status": "success", "value": dev})
	done := holdThen(t, srv, "sync:syncOrganization", func() {
		// Every production read after the write (the release record's and
		// the verification's) gets the tampered state.
		srv.Inject(strueretest.Fault{Path: "sync:getPullState", Status: 200, Body: body})
	})
	res, err := c.Deploy(ctxT(t), struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
	<-done
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	require.NotNil(t, res)
	require.False(t, res.Verified)
	var ve *struere.VerificationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Mismatches, 1, "%+v", ve.Mismatches)
	require.Equal(t, "customer", ve.Mismatches[0].Slug)
	require.Equal(t, []string{"schema"}, ve.Mismatches[0].Fields)
}

// The re-check before writing compares contents when resources are
// promoted: a development entity type edited after the deploy read it
// (same slug and name, another schema) makes the deploy stale.
func TestDeployWithResourcesIsStaleWhenAResourceContentChangesBeforeTheWrite(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationE2)
	done := holdThen(t, srv, "roles:list", func() {
		defs := resourceProject(t, struere.GenerationE2)
		defs.EntityTypes[1].Schema = json.RawMessage(`{"type":"object","title":"edited"}`)
		_, err := pinnedClient(t, srv, struere.GenerationE2).Sync(ctxT(t), defs)
		require.NoError(t, err)
	})
	srv.ResetRequests()
	_, err := c.Deploy(ctxT(t), struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
	<-done
	require.ErrorIs(t, err, struere.ErrStalePlan)
	var se *struere.StalePlanError
	require.True(t, errors.As(err, &se))
	require.Contains(t, se.Changed, "development entity type changed: invoice")
	for _, r := range srv.Requests() {
		if r.Kind == "mutation" {
			require.Equal(t, "development", jsonArgEnv(t, r.Args), "only the colleague's sync wrote")
		}
	}
	require.Len(t, srv.EntityTypes(struere.Production), 2, "production untouched")
}

// On a backend with sync:deployAllAgents, promoting resources writes one
// syncOrganization and never calls sync:deployAllAgents.
func TestDeployWithResourcesOnE2DeployIsOneTransaction(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationE2Deploy)
	srv.ResetRequests()
	res, err := c.Deploy(ctxT(t), struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
	require.NoError(t, err)
	require.Equal(t, "client", res.Method)
	var writes []string
	for _, r := range srv.Requests() {
		if r.Kind == "mutation" {
			writes = append(writes, r.FunctionPath)
		}
	}
	require.Equal(t, []string{"sync:syncOrganization"}, writes)
	require.Contains(t, strings.Join(res.Plan.Notes, "\n"), "instead of sync:deployAllAgents")
}

func slicesContains(ls []struere.Loss, l struere.Loss) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func jsonArgEnv(t *testing.T, args json.RawMessage) string {
	t.Helper()
	var a struct {
		Environment string `json:"environment"`
	}
	require.NoError(t, json.Unmarshal(args, &a))
	return a.Environment
}

// With API keys alone the promotion goes through /v1/sync, triggers
// included.
func TestDeployPromotesResourcesWithAPIKeysAlone(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, prod := keyPair(t, srv)
	c, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{dev, prod}})
	require.NoError(t, err)
	defs := resourceProject(t, struere.GenerationHead)
	defs.Roles = nil // role agentAccess cannot be read without a user token
	_, err = c.Sync(ctxT(t), defs)
	require.NoError(t, err)
	srv.ResetRequests()
	res, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindEntityType, struere.KindTrigger), keysOnlyLosses)
	require.NoError(t, err)
	require.True(t, res.Verified)
	var writes []string
	for _, r := range srv.Requests() {
		if r.URLPath == "/v1/sync" {
			writes = append(writes, string(r.Args))
		}
	}
	require.Len(t, writes, 1)
	require.Contains(t, writes[0], `"triggers":[`)
	st, err := c.Status(ctxT(t))
	require.NoError(t, err)
	require.True(t, st.InSync(), "%v %v", st.ProductionDiffers(), st.ResourcesDiffer())
	require.Len(t, srv.Triggers(struere.Production), 1)
}

// A disabled development trigger is invisible too: production's enabled
// trigger of that slug looks like one development lacks, so promoting
// triggers plans to delete it, which is refused unless deletions are
// allowed; the plan says why it cannot tell.
func TestDeployCannotSeeADisabledDevelopmentTrigger(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	act := json.RawMessage(`[{"tool":"event.emit","args":{}}]`)
	_, err := srv.SeedTrigger(struere.Development, strueretest.Trigger{Name: "Paused", Slug: "paused", EntityType: "customer", Action: "updated", Actions: act, Disabled: true})
	require.NoError(t, err)
	_, err = srv.SeedTrigger(struere.Production, strueretest.Trigger{Name: "Paused", Slug: "paused", EntityType: "customer", Action: "updated", Actions: act})
	require.NoError(t, err)
	dry, err := c.Deploy(ctxT(t), struere.DryRun(), struere.PromoteResources(struere.KindTrigger))
	require.NoError(t, err)
	require.Equal(t, struere.ResourceDelete, actions(dry.Plan)["trigger paused"])
	require.Contains(t, strings.Join(dry.Plan.Notes, "\n"), "a disabled development trigger cannot be seen either")
	var refused bool
	for _, r := range dry.Plan.Refusals {
		refused = refused || (r.Slug == "paused" && r.Kind == "trigger")
	}
	require.True(t, refused, "%+v", dry.Plan.Refusals)
}

// Production holds two entity types of one slug (the backend does not
// reject duplicates; here made by another tool's production sync). A
// client must reject duplicate entity-type slugs before sending, and an
// agents-only deploy re-sends production's entity types: it refuses,
// naming the slug, and writes nothing.
func TestDeployRefusesDuplicateProductionEntityTypeSlugs(t *testing.T) {
	for _, gen := range []struct {
		gen  struere.Generation
		defs func(*testing.T) *struere.Definitions
	}{{struere.GenerationE2, sampleDefs}, {struere.GenerationHead, headProject}} {
		t.Run(gen.gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen.gen))
			require.NoError(t, srv.SetPlan(srv.OrganizationID(), strueretest.PlanPro))
			c := pinnedClient(t, srv, gen.gen)
			ctx := ctxT(t)
			defs := gen.defs(t)
			_, err := c.Sync(ctx, defs)
			require.NoError(t, err)
			_, err = c.Deploy(ctx)
			require.NoError(t, err)
			prod := pullValue(t, srv, "production")
			rawMutation(t, srv, "sync:syncOrganization", map[string]any{"organizationId": srv.OrganizationID(), "environment": "production",
				"agents": prod["agents"], "roles": []any{},
				"entityTypes": []any{map[string]any{"name": "A", "slug": "dup", "schema": map[string]any{"v": 1}}, map[string]any{"name": "B", "slug": "dup", "schema": map[string]any{"v": 2}}}})
			require.Len(t, srv.EntityTypes(struere.Production), 2)
			before := jsonText(t, srv.EntityTypes(struere.Production))
			defs.Agents[0].Version = "7.0.0"
			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)
			srv.ResetRequests()

			_, err = c.Deploy(ctx)

			require.ErrorIs(t, err, struere.ErrRefused)
			require.Contains(t, err.Error(), "dup")
			require.Contains(t, err.Error(), "several entity types")
			requireNoMutations(t, srv)
			require.Equal(t, before, jsonText(t, srv.EntityTypes(struere.Production)))
		})
	}
}
