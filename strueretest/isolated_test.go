package strueretest_test

import (
	"encoding/json"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func e2Result(t *testing.T, r result) map[string]json.RawMessage {
	t.Helper()
	return value[map[string]json.RawMessage](t, r)
}

func changesOf(t *testing.T, raw json.RawMessage) map[string][]string {
	t.Helper()
	var m map[string][]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func TestCase20_E2SyncHardDeletesMissingAgentsInAllEnvironments(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "old-bot"}))
			must[strueretest.ConfigRecord](t)(s.SeedConfig("old-bot", "development", cfg("1.0.0")))
			must[strueretest.ConfigRecord](t)(s.SeedConfig("old-bot", "production", cfg("1.0.0")))
			res := e2Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development", agentPayload("support", "1.0.0"))))
			diff(t, "agents", map[string][]string{"created": {"support"}, "updated": {}, "deleted": {"old-bot"}}, changesOf(t, res["agents"]))
			for _, a := range s.Agents() {
				if a.Slug == "old-bot" {
					t.Errorf("old-bot still exists: %+v", a)
				}
			}
			if cs := s.Configs("old-bot"); len(cs) != 0 {
				t.Errorf("old-bot configs survive: %+v", cs)
			}
		})
	}
}

func TestCase21_E2FirstSyncIntoNewEnvironmentReportsUpdated(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			res := e2Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development", agentPayload("support", "1.0.0"))))
			diff(t, "dev sync", []string{"support"}, changesOf(t, res["agents"])["created"])
			res = e2Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "production", agentPayload("support", "1.0.0"))))
			diff(t, "prod sync", map[string][]string{"created": {}, "updated": {"support"}, "deleted": {}}, changesOf(t, res["agents"]))
			var envs []string
			for _, c := range s.Configs("support") {
				envs = append(envs, string(c.Environment))
			}
			diff(t, "config environments", []string{"development", "production"}, envs)
		})
	}
}

func TestCase22_E2OmittedOrEmptyTriggersAndEvalSuitesDeleteNothing(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
			must[strueretest.Trigger](t)(s.SeedTrigger("development", strueretest.Trigger{Name: "Notify", Slug: "notify", EntityType: "session", Action: "created"}))
			must[strueretest.EvalSuite](t)(s.SeedEvalSuite("development", strueretest.EvalSuite{Name: "Smoke", Slug: "smoke", AgentSlug: "support"}))

			for _, p := range []map[string]any{
				syncPayload(g, "development", agentPayload("support", "1.0.0")),
				func() map[string]any {
					p := syncPayload(g, "development", agentPayload("support", "1.0.0"))
					p["triggers"], p["evalSuites"] = []any{}, []any{}
					return p
				}(),
			} {
				res := e2Result(t, mutation(t, s, "sync:syncOrganization", p))
				if _, ok := res["triggers"]; ok {
					t.Errorf("result has triggers: %v", res)
				}
				if _, ok := res["evalSuites"]; ok {
					t.Errorf("result has evalSuites: %v", res)
				}
				if len(s.Triggers("development")) != 1 || len(s.EvalSuites("development")) != 1 || s.EvalSuites("development")[0].Status != "active" {
					t.Errorf("triggers or eval suites touched: %+v %+v", s.Triggers("development"), s.EvalSuites("development"))
				}
			}
			// Entity types and roles sent as [] delete every non-system item; agents too.
			must[strueretest.EntityType](t)(s.SeedEntityType("development", strueretest.EntityType{Name: "Teacher", Slug: "teacher"}))
			must[strueretest.Role](t)(s.SeedRole("development", strueretest.Role{Name: "teacher"}))
			must[strueretest.Role](t)(s.SeedRole("development", strueretest.Role{Name: "system-admin", IsSystem: true}))
			res := e2Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development")))
			diff(t, "entity types", []string{"teacher"}, changesOf(t, res["entityTypes"])["deleted"])
			diff(t, "roles", []string{"teacher"}, changesOf(t, res["roles"])["deleted"])
			diff(t, "agents", []string{"support"}, changesOf(t, res["agents"])["deleted"])
			if rs := s.Roles("development"); len(rs) != 1 || !rs[0].IsSystem {
				t.Errorf("system role not kept: %+v", rs)
			}
		})
	}
}

func TestCase23_E2SharedBoundToRoleFailsTheWholeMutation(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.EntityType](t)(s.SeedEntityType("development", strueretest.EntityType{Name: "Old", Slug: "old"}))
			before, agentsBefore := s.EntityTypes("development"), s.Agents()
			p := syncPayload(g, "development", agentPayload("support", "1.0.0"))
			p["entityTypes"] = []any{
				map[string]any{"name": "Teacher", "slug": "teacher", "schema": map[string]any{}, "boundToRole": "teacher"},
				map[string]any{"name": "Tutor", "slug": "tutor", "schema": map[string]any{}, "boundToRole": "teacher"},
			}
			msg := failure(t, mutation(t, s, "sync:syncOrganization", p))
			wantContains(t, msg, `Uncaught Error: Multiple entity types bound to role "teacher": "teacher" and "tutor"`)
			diff(t, "entity types", before, s.EntityTypes("development"))
			diff(t, "agents", agentsBefore, s.Agents())
		})
	}
}

func TestCase24_E2StateReflectsOnlyTheRequestedEnvironment(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support", Description: "Helps"}))
			must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.3.0")))
			type agent struct {
				Slug, Name, Version string
				HasConfig           bool
			}
			dev := value[struct{ Agents []agent }](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "development"}))
			prod := value[struct{ Agents []agent }](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "production"}))
			diff(t, "dev", []agent{{Slug: "support", Name: "Support", Version: "1.3.0", HasConfig: true}}, dev.Agents)
			diff(t, "prod", []agent{{Slug: "support", Name: "Support", Version: "0.0.0"}}, prod.Agents)

			pull := value[map[string]json.RawMessage](t, query(t, s, "sync:getPullState", map[string]any{"environment": "production"}))
			var agents []map[string]any
			_ = json.Unmarshal(pull["agents"], &agents)
			diff(t, "pull defaults", []map[string]any{{"name": "Support", "slug": "support", "description": "Helps", "version": "0.1.0", "systemPrompt": "",
				"model": map[string]any{"provider": "anthropic", "name": "claude-haiku-4-5"}, "tools": []any{}}}, agents)
		})
	}
}

func TestCase25_PoliciesExpandPerActionAndRegroupOnPull(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			p := syncPayload(g, "development")
			p["roles"] = []any{map[string]any{"name": "teacher", "description": "Teaches",
				"policies":   []any{map[string]any{"resource": "session", "actions": []any{"read", "update"}, "effect": "allow"}},
				"scopeRules": []any{map[string]any{"entityType": "session", "field": "data.teacherId", "operator": "eq", "value": "actor.userId"}},
				"fieldMasks": []any{map[string]any{"entityType": "session", "fieldPath": "data.price", "maskType": "hide", "maskConfig": map[string]any{}}},
			}}
			value[map[string]any](t, mutation(t, s, "sync:syncOrganization", p))
			st := value[map[string]json.RawMessage](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "development"}))
			diff(t, "roles", `[{"name":"teacher","policyCount":2}]`, string(st["roles"]))
			pull := value[map[string]json.RawMessage](t, query(t, s, "sync:getPullState", map[string]any{"environment": "development"}))
			var roles []map[string]any
			_ = json.Unmarshal(pull["roles"], &roles)
			diff(t, "pulled roles", []map[string]any{{"name": "teacher", "description": "Teaches",
				"policies":   []any{map[string]any{"resource": "session", "actions": []any{"read", "update"}, "effect": "allow"}},
				"scopeRules": []any{map[string]any{"entityType": "session", "field": "data.teacherId", "operator": "eq", "value": "actor.userId"}},
				"fieldMasks": []any{map[string]any{"entityType": "session", "fieldPath": "data.price", "maskType": "hide", "maskConfig": map[string]any{}}},
			}}, roles)
		})
	}
}

func TestCase26_E2DeployIsSyncToProductionAndNeverCopiesDevelopment(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			value[map[string]any](t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development", agentPayload("support", "2.0.0"))))
			res := e2Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "production", agentPayload("support", "1.0.0"))))
			var keys []string
			for k := range res {
				keys = append(keys, k)
			}
			for _, k := range []string{"deployed", "skipped"} {
				if _, ok := res[k]; ok {
					t.Errorf("result has %q: %v", k, keys)
				}
			}
			for _, k := range []string{"success", "entityTypes", "roles", "agents"} {
				if _, ok := res[k]; !ok {
					t.Errorf("result lacks %q: %v", k, keys)
				}
			}
			var versions []string
			for _, c := range s.Configs("support") {
				versions = append(versions, string(c.Environment)+"="+c.Version)
			}
			diff(t, "configs", []string{"development=2.0.0", "production=1.0.0"}, versions)
		})
	}
}

func TestCase38_DeployAllAgentsIsMissingOnE2(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	r := mutation(t, s, "sync:deployAllAgents", map[string]any{"organizationId": s.OrganizationID()})
	msg := failure(t, r)
	wantContains(t, msg, "] Server Error\nCould not find public function for 'sync:deployAllAgents'. Did you forget to run `npx convex dev`?")
	for _, internal := range []string{"sync:internalHelper", "nope:nothing"} {
		wantContains(t, failure(t, mutation(t, s, internal, map[string]any{})), "Could not find public function for '"+internal+"'")
	}
}

func TestE2DeployPromotesDevelopmentConfigsWithIsolatedShapes(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	g := struere.GenerationE2Deploy
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development", agentPayload("support", "2.0.0"), agentPayload("draft", "0.1.0"))))
	if err := s.SetAgentStatus("draft", strueretest.StatusPaused); err != nil {
		t.Fatal(err)
	}
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "empty"}))
	must[strueretest.EntityType](t)(s.SeedEntityType("production", strueretest.EntityType{Name: "Keep", Slug: "keep"}))
	diff(t, "deploy", deployResult{Success: true, Deployed: []string{"support"}, Skipped: []string{"empty"}}, deploy(t, s))
	type agent struct {
		Slug, Name, Version string
		HasConfig           bool
	}
	prod := value[struct{ Agents []agent }](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "production"}))
	diff(t, "production state", []agent{{"support", "Support", "2.0.0", true}, {"draft", "Draft", "0.0.0", false}, {"empty", "empty", "0.0.0", false}}, prod.Agents)
	if len(s.EntityTypes("production")) != 1 {
		t.Errorf("production entity types touched: %+v", s.EntityTypes("production"))
	}
	// Sync into development afterwards patches the development row only.
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", syncPayload(g, "development", agentPayload("support", "2.1.0"), agentPayload("draft", "0.1.0"), agentPayload("empty", "0.0.1"))))
	var versions []string
	for _, c := range s.Configs("support") {
		versions = append(versions, string(c.Environment)+"="+c.Version)
	}
	diff(t, "support configs", []string{"development=2.1.0", "production=2.0.0"}, versions)
}

func TestE2EvalSuitesAndTriggersSync(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	g := struere.GenerationE2
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
	must[strueretest.EvalSuite](t)(s.SeedEvalSuite("development", strueretest.EvalSuite{Name: "Old", Slug: "old", AgentSlug: "support"}))
	must[strueretest.Trigger](t)(s.SeedTrigger("development", strueretest.Trigger{Name: "Gone", Slug: "gone", EntityType: "x", Action: "created"}))
	p := syncPayload(g, "development", agentPayload("support", "1.0.0"))
	p["evalSuites"] = []any{
		map[string]any{"name": "Smoke", "slug": "smoke", "agentSlug": "support", "cases": []any{map[string]any{"name": "hi", "turns": []any{map[string]any{"userMessage": "hi",
			"assertions": []any{map[string]any{"type": "contains", "value": "hello"}}}}}}},
		map[string]any{"name": "Orphan", "slug": "orphan", "agentSlug": "ghost", "cases": []any{}},
	}
	p["triggers"] = []any{map[string]any{"name": "Notify", "slug": "notify", "entityType": "session", "action": "created",
		"actions": []any{map[string]any{"tool": "event.emit", "args": map[string]any{"k": 1}}}, "retry": map[string]any{"maxAttempts": 3}}}
	res := e2Result(t, mutation(t, s, "sync:syncOrganization", p))
	diff(t, "eval suites", map[string][]string{"created": {"smoke"}, "updated": {}, "deleted": {"old"}, "skipped": {`orphan (agent "ghost" not found)`}}, changesOf(t, res["evalSuites"]))
	diff(t, "triggers", map[string][]string{"created": {"notify"}, "updated": {}, "deleted": {"gone"}}, changesOf(t, res["triggers"]))
	st := value[map[string]json.RawMessage](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "development"}))
	diff(t, "state triggers", `[{"action":"created","entityType":"session","hasRetry":true,"hasSchedule":false,"name":"Notify","slug":"notify"}]`, string(st["triggers"]))
	var suites []map[string]any
	_ = json.Unmarshal(st["evalSuites"], &suites)
	if len(suites) != 1 || suites[0]["slug"] != "smoke" {
		t.Errorf("state eval suites: %s", st["evalSuites"])
	}
	if es := s.EvalSuites("development"); len(es) != 2 || es[0].Status != "archived" {
		t.Errorf("old suite not archived: %+v", es)
	}
}
