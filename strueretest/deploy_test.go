package strueretest_test

import (
	"encoding/json"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

var deployGenerations = []struere.Generation{struere.GenerationE1, struere.GenerationE2Deploy}

func deploy(t *testing.T, s *strueretest.Server) deployResult {
	t.Helper()
	return value[deployResult](t, mutation(t, s, "sync:deployAllAgents", map[string]any{"organizationId": s.OrganizationID()}))
}

func prodConfigs(s *strueretest.Server, slug string) []strueretest.ConfigRecord {
	var out []strueretest.ConfigRecord
	for _, c := range s.Configs(slug) {
		if c.Environment == strueretest.Production {
			out = append(out, c)
		}
	}
	return out
}

func TestCase13_DeployAllAgentsWithNoActiveAgents(t *testing.T) {
	for _, g := range deployGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			paused := must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "sleepy", Status: strueretest.StatusPaused}))
			must[strueretest.ConfigRecord](t)(s.SeedConfig(paused.ID, "development", cfg("1.0.0")))
			r := mutation(t, s, "sync:deployAllAgents", map[string]any{})
			diff(t, "value", `{"deployed":[],"skipped":[],"success":true}`, string(r.Value))
		})
	}
}

func TestCase14_DeployAllAgentsSkipsAgentsWithoutDevConfig(t *testing.T) {
	for _, g := range deployGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
			must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.0.0")))
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "draft-bot"}))
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "prod-only"}))
			must[strueretest.ConfigRecord](t)(s.SeedConfig("prod-only", "production", cfg("0.9.0")))
			want := []string{"draft-bot", "prod-only"}
			if g == struere.GenerationE1 {
				must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "dangling"}))
				dev := must[strueretest.ConfigRecord](t)(s.SeedConfig("dangling", "development", cfg("1.0.0")))
				if err := s.DeleteConfig(dev.ID); err != nil {
					t.Fatal(err)
				}
				want = append(want, "dangling")
			}
			got := deploy(t, s)
			diff(t, "deploy", deployResult{Success: true, Deployed: []string{"support"}, Skipped: want}, got)
			for _, slug := range want {
				if slug == "prod-only" {
					continue
				}
				if pc := prodConfigs(s, slug); len(pc) != 0 {
					t.Errorf("%s got a production config: %+v", slug, pc)
				}
			}
			if pc := prodConfigs(s, "prod-only"); len(pc) != 1 || pc[0].Version != "0.9.0" {
				t.Errorf("prod-only production configs changed: %+v", pc)
			}
		})
	}
}

func TestCase15_DeployAllAgentsIgnoresPausedAndDeletedAgents(t *testing.T) {
	for _, g := range deployGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			for _, a := range []strueretest.Agent{{Slug: "live"}, {Slug: "paused", Status: strueretest.StatusPaused}, {Slug: "gone", Status: strueretest.StatusDeleted}} {
				a = must[strueretest.Agent](t)(s.SeedAgent(a))
				must[strueretest.ConfigRecord](t)(s.SeedConfig(a.ID, "development", cfg("1.0.0")))
			}
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "paused-no-config", Status: strueretest.StatusPaused}))
			diff(t, "deploy", deployResult{Success: true, Deployed: []string{"live"}, Skipped: []string{}}, deploy(t, s))
			for _, slug := range []string{"paused"} {
				if pc := prodConfigs(s, slug); len(pc) != 0 {
					t.Errorf("%s was deployed: %+v", slug, pc)
				}
			}
		})
	}
}

func TestCase16_DeployAllAgentsInsertsANewProductionRowEveryCall(t *testing.T) {
	for _, g := range deployGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
			temp := 0.3
			dev := strueretest.AgentConfig{Version: "1.2.0", Name: "Support v1.2", SystemPrompt: "Be kind",
				Model: struere.Model{Provider: "anthropic", Name: "claude-sonnet-4", Temperature: &temp},
				Tools: []struere.Tool{{Name: "lookup", Description: "find", Parameters: json.RawMessage(`{"type":"object"}`), HandlerCode: "return 1", IsBuiltin: new(false)}}}
			must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", dev))
			must[strueretest.EntityType](t)(s.SeedEntityType("production", strueretest.EntityType{Name: "Customer", Slug: "customer"}))
			must[strueretest.Role](t)(s.SeedRole("production", strueretest.Role{Name: "teacher", Policies: []strueretest.Policy{{Resource: "session", Actions: []string{"read"}, Effect: "allow"}}}))
			etBefore, rolesBefore := s.EntityTypes("production"), s.Roles("production")

			first := deploy(t, s)
			s.Advance(time.Second)
			second := deploy(t, s)
			want := deployResult{Success: true, Deployed: []string{"support"}, Skipped: []string{}}
			diff(t, "first deploy", want, first)
			diff(t, "second deploy", want, second)

			pc := prodConfigs(s, "support")
			if len(pc) != 2 {
				t.Fatalf("want 2 production rows, got %+v", pc)
			}
			if pc[0].ID == pc[1].ID || pc[0].Current || !pc[1].Current {
				t.Errorf("the newest row must be current and the older kept: %+v", pc)
			}
			for _, c := range pc {
				diff(t, "copied config", dev, c.AgentConfig)
				if c.DeployedBy != s.UserID() {
					t.Errorf("deployedBy = %q, want %q", c.DeployedBy, s.UserID())
				}
			}
			if !pc[1].CreatedAt.After(pc[0].CreatedAt) {
				t.Errorf("createdAt not taken from the clock: %v, %v", pc[0].CreatedAt, pc[1].CreatedAt)
			}
			diff(t, "entity types untouched", etBefore, s.EntityTypes("production"))
			diff(t, "roles untouched", rolesBefore, s.Roles("production"))
		})
	}
}

func TestCase17_E1SyncStateAfterDeploy(t *testing.T) {
	s := newServer(t, struere.GenerationE1)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.4.0")))
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "bare", Name: "Bare"}))
	deploy(t, s)
	type agent struct {
		Slug, Name, Version         string
		HasDevConfig, HasProdConfig bool
	}
	got := value[struct{ Agents []agent }](t, query(t, s, "sync:getSyncState", map[string]any{}))
	diff(t, "agents", []agent{
		{Slug: "support", Name: "Support", Version: "1.4.0", HasDevConfig: true, HasProdConfig: true},
		{Slug: "bare", Name: "Bare", Version: "0.0.0"},
	}, got.Agents)
}

func e1Result(t *testing.T, r result) map[string]map[string][]string {
	t.Helper()
	v := value[map[string]json.RawMessage](t, r)
	out := map[string]map[string][]string{}
	for _, k := range []string{"agents", "entityTypes", "roles"} {
		var m map[string][]string
		if err := json.Unmarshal(v[k], &m); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = m
	}
	return out
}

func TestCase18_E1SyncPreservesOrSoftDeletesUnmanagedAgents(t *testing.T) {
	s := newServer(t, struere.GenerationE1)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "old-bot"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("old-bot", "development", cfg("0.1.0")))

	got := e1Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(struere.GenerationE1, "", agentPayload("support", "1.0.0"))))
	diff(t, "agents", map[string][]string{"created": {"support"}, "updated": {}, "deleted": {}, "preserved": {"old-bot"}}, got["agents"])
	st := value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{}))
	if len(st.Agents) != 2 || st.Agents[0].Slug != "old-bot" || !*st.Agents[0].HasDevConfig || st.Agents[0].Version != "0.1.0" {
		t.Errorf("preserved agent changed: %+v", st.Agents)
	}

	p := syncPayload(struere.GenerationE1, "", agentPayload("support", "1.0.1"))
	p["preserveUnmanagedAgents"] = false
	got = e1Result(t, mutation(t, s, "sync:syncOrganization", p))
	diff(t, "agents", map[string][]string{"created": {}, "updated": {"support"}, "deleted": {"old-bot"}, "preserved": {}}, got["agents"])
	for _, a := range s.Agents() {
		if a.Slug == "old-bot" && a.Status != strueretest.StatusDeleted {
			t.Errorf("old-bot status = %q, want deleted", a.Status)
		}
	}
	if cs := s.Configs("support"); len(cs) != 1 || cs[0].Version != "1.0.1" || cs[0].DeployedBy != s.UserID() {
		t.Errorf("dev config not patched in place: %+v", cs)
	}
	// A soft-deleted slug synced again creates a new agent row.
	got = e1Result(t, mutation(t, s, "sync:syncOrganization", syncPayload(struere.GenerationE1, "", agentPayload("support", "1.0.1"), agentPayload("old-bot", "2.0.0"))))
	diff(t, "agents", []string{"old-bot"}, got["agents"]["created"])
}

func TestCase19_E1EntityTypesAndRolesDeletedUnlessPackManaged(t *testing.T) {
	for _, withPack := range []bool{false, true} {
		name := "no packs"
		if withPack {
			name = "with pack"
		}
		t.Run(name, func(t *testing.T) {
			s := newServer(t, struere.GenerationE1)
			must[strueretest.EntityType](t)(s.SeedEntityType("", strueretest.EntityType{Name: "Legacy", Slug: "legacy"}))
			must[strueretest.Role](t)(s.SeedRole("", strueretest.Role{Name: "legacy-role", Policies: []strueretest.Policy{{Resource: "x", Actions: []string{"read"}}}}))
			must[strueretest.Role](t)(s.SeedRole("", strueretest.Role{Name: "admin", IsSystem: true}))
			if withPack {
				must[strueretest.Pack](t)(s.SeedPack(strueretest.Pack{PackID: "tutoring", Version: "1.0.0",
					EntityTypes: []strueretest.EntityType{{Name: "Session", Slug: "session"}},
					Roles:       []strueretest.Role{{Name: "tutor"}}}))
			}
			st := value[map[string]json.RawMessage](t, query(t, s, "sync:getSyncState", map[string]any{}))
			var roles []map[string]any
			_ = json.Unmarshal(st["roles"], &roles)
			for _, r := range roles {
				if r["name"] == "admin" {
					t.Errorf("system role listed: %v", roles)
				}
			}
			p := syncPayload(struere.GenerationE1, "")
			p["entityTypes"] = []any{map[string]any{"name": "Customer", "slug": "customer", "schema": map[string]any{}}}
			r := mutation(t, s, "sync:syncOrganization", p)
			got := e1Result(t, r)
			v := value[map[string]any](t, r)
			if v["packResourcesPreserved"] != withPack {
				t.Errorf("packResourcesPreserved = %v, want %v", v["packResourcesPreserved"], withPack)
			}
			wantET := map[string][]string{"created": {"customer"}, "updated": {}, "deleted": {"legacy"}, "preserved": {}}
			wantRoles := map[string][]string{"created": {}, "updated": {}, "deleted": {"legacy-role"}, "preserved": {}}
			if withPack {
				wantET["preserved"] = []string{"session"}
				wantRoles["preserved"] = []string{"tutor"}
			}
			diff(t, "entity types", wantET, got["entityTypes"])
			diff(t, "roles", wantRoles, got["roles"])
			var system int
			for _, r := range s.Roles("") {
				if r.IsSystem {
					system++
				}
			}
			if system != 1 {
				t.Errorf("system role deleted: %+v", s.Roles(""))
			}
			if withPack {
				p["preservePackResources"] = false
				got = e1Result(t, mutation(t, s, "sync:syncOrganization", p))
				diff(t, "entity types without preservation", []string{"session"}, got["entityTypes"]["deleted"])
			}
		})
	}
}

func TestE1PolicyPriorityDefaultsTo50AndExpandsPerAction(t *testing.T) {
	s := newServer(t, struere.GenerationE1)
	p := syncPayload(struere.GenerationE1, "")
	p["roles"] = []any{map[string]any{"name": "teacher", "policies": []any{
		map[string]any{"resource": "session", "actions": []any{"read", "update"}, "effect": "allow"},
		map[string]any{"resource": "invoice", "actions": []any{"read"}, "effect": "deny", "priority": 90},
	}}}
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", p))
	roles := s.Roles("")
	if len(roles) != 1 {
		t.Fatalf("roles: %+v", roles)
	}
	diff(t, "policies", []strueretest.Policy{
		{Resource: "session", Actions: []string{"read"}, Effect: "allow", Priority: 50},
		{Resource: "session", Actions: []string{"update"}, Effect: "allow", Priority: 50},
		{Resource: "invoice", Actions: []string{"read"}, Effect: "deny", Priority: 90},
	}, roles[0].Policies)
}
