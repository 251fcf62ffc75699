package strueretest_test

import (
	"encoding/json"
	"strings"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestHeadSyncLogLinesOnlyWhenNotRedacting(t *testing.T) {
	s := headServer(t)
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Development, strueretest.EntityType{Name: "T", Slug: "t"}))
	e := must[strueretest.Entity](t)(s.SeedEntity(strueretest.Development, strueretest.Entity{EntityType: "t", Data: json.RawMessage(`{"n":1}`)}))
	r := mutation(t, s, "sync:syncOrganization", headSync(strueretest.Development, headAgent("support")))
	var lines []string
	if err := json.Unmarshal(r.LogLines, &lines); err != nil || len(lines) == 0 {
		t.Fatalf("want log lines, got %s", r.Raw)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"[LOG] '[SYNC] === START sync to development ==='", "[SYNC] entities BEFORE: 1 active",
		"[SYNC]   entity " + e.ID + " type=t data={\"n\":1}'", "[SYNC] userRoles BEFORE: 0", "[SYNC] agents result: created=support updated= deleted=",
		"[SYNC] === END sync to development ==="} {
		wantContains(t, all, want)
	}
	// Queries and the redacting default send none, nor does the HTTP path.
	if q := query(t, s, "sync:getSyncState", map[string]any{"environment": "development"}); len(q.LogLines) != 0 {
		t.Errorf("a query sent log lines: %s", q.Raw)
	}
	red := newServer(t, struere.GenerationHead)
	if r := mutation(t, red, "sync:syncOrganization", headSync(strueretest.Development)); len(r.LogLines) != 0 {
		t.Errorf("a redacting deployment sent log lines: %s", r.Raw)
	}
	if _, _, body := site(t, s, "POST", "/v1/sync", "Bearer "+key(t, s, strueretest.Development), "{}"); strings.Contains(body, "logLines") {
		t.Errorf("the HTTP path sent log lines: %s", body)
	}
}

// The corrections of protocol-head §H6 that apply to E2 as well.
func TestE2PullListsEnabledTriggersOnly(t *testing.T) {
	for _, g := range isolatedGenerations {
		s := newServer(t, g)
		must[strueretest.Trigger](t)(s.SeedTrigger(strueretest.Development, strueretest.Trigger{Name: "On", Slug: "on", EntityType: "x", Action: "created"}))
		must[strueretest.Trigger](t)(s.SeedTrigger(strueretest.Development, strueretest.Trigger{Name: "Off", Slug: "off", EntityType: "x", Action: "created", Disabled: true}))
		pull := value[map[string][]map[string]any](t, query(t, s, "sync:getPullState", map[string]any{"environment": "development"}))
		if len(pull["triggers"]) != 1 || pull["triggers"][0]["slug"] != "on" {
			t.Errorf("%v: triggers %v", g, pull["triggers"])
		}
	}
}

func TestE2ArchivedSuiteSyncedAgainIsANewSuite(t *testing.T) {
	for _, g := range append(isolatedGenerations, struere.GenerationHead) {
		s := newServer(t, g, strueretest.WithPlan(strueretest.PlanPro))
		a := agentPayload("support", "1")
		if g == struere.GenerationHead {
			a = headAgent("support")
		}
		args := map[string]any{"environment": "development", "agents": []any{a}, "entityTypes": []any{}, "roles": []any{}}
		value[map[string]any](t, mutation(t, s, "sync:syncOrganization", with(args, "evalSuites", []any{suite("s", "support")})))
		value[map[string]any](t, mutation(t, s, "sync:syncOrganization", with(args, "evalSuites", []any{suite("other", "support")})))
		res := value[map[string]json.RawMessage](t, mutation(t, s, "sync:syncOrganization", with(args, "evalSuites", []any{suite("s", "support"), suite("other", "support")})))
		wantJSON(t, g.String()+" result", `{"created":["s"],"updated":["other"],"deleted":[],"skipped":[]}`, res["evalSuites"])
		suites := s.EvalSuites(strueretest.Development)
		if len(suites) != 3 || suites[0].Status != "archived" || suites[2].Slug != "s" || suites[2].Status != "active" || suites[0].ID == suites[2].ID {
			t.Errorf("%v: suites %+v", g, suites)
		}
		wantJSON(t, "cases", `[{"name":"greets","turns":[{"userMessage":"hi"}]}]`, suites[2].Cases)
	}
}

func TestE2ProductionSyncCopiesUserRoles(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	args := syncPayload(struere.GenerationE2, "development")
	args["roles"] = []any{map[string]any{"name": "teacher", "policies": []any{}}}
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", args))
	dev := s.Roles(strueretest.Development)[0]
	must[strueretest.UserRole](t)(s.AssignRole(s.UserID(), dev.ID))
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", with(args, "environment", "production")))
	got := s.UserRoles()
	if len(got) != 2 || got[1].RoleEnvironment != strueretest.Production || got[1].UserID != s.UserID() || got[1].RoleName != "teacher" {
		t.Errorf("assignments %+v", got)
	}
	// Deleting a role deletes its assignments.
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", with(with(args, "environment", "production"), "roles", []any{})))
	if got := s.UserRoles(); len(got) != 1 || got[0].RoleEnvironment != strueretest.Development {
		t.Errorf("after deleting the production role: %+v", got)
	}
}

func TestPullCollapsesMasksThatDifferOnlyInMaskConfig(t *testing.T) {
	for _, g := range append(isolatedGenerations, struere.GenerationHead) {
		s := newServer(t, g)
		must[strueretest.Role](t)(s.SeedRole(strueretest.Development, strueretest.Role{Name: "r",
			Policies: []strueretest.Policy{{Resource: "session", Actions: []string{"read"}}},
			FieldMasks: []strueretest.FieldMask{
				{EntityType: "session", FieldPath: "data.p", MaskType: "redact", MaskConfig: json.RawMessage(`{"a":1}`)},
				{EntityType: "session", FieldPath: "data.p", MaskType: "redact", MaskConfig: json.RawMessage(`{"a":2}`)},
			}}))
		pull := value[map[string][]map[string]any](t, query(t, s, "sync:getPullState", map[string]any{"environment": "development"}))
		masks, _ := pull["roles"][0]["fieldMasks"].([]any)
		diff(t, g.String()+" masks", []any{map[string]any{"entityType": "session", "fieldPath": "data.p", "maskType": "redact", "maskConfig": map[string]any{"a": 1.0}}}, masks)
	}
}
