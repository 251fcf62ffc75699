package strueretest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestCase39_HeadAcceptsEvalAndItsStrictValidatorsRejectOldShapes(t *testing.T) {
	s := headServer(t)
	res := syncOK(t, s, headSync(strueretest.Eval, headAgent("support")))
	diff(t, "eval sync agents", map[string][]string{"created": {"support"}, "updated": {}, "deleted": {}}, changesOf(t, res["agents"]))
	if got := s.Configs("support"); len(got) != 1 || got[0].Environment != strueretest.Eval {
		t.Fatalf("want one eval config, got %+v", got)
	}
	before := s.Configs("support")

	legacyModel := headAgent("support")
	legacyModel["model"] = map[string]any{"provider": "openai", "name": "gpt-5-mini"}
	builtin := headAgent("support")
	builtin["tools"] = []any{map[string]any{"name": "entity.query", "description": "q", "parameters": map[string]any{}, "isBuiltin": true}}
	reasoning := headAgent("support")
	reasoning["model"] = map[string]any{"model": "openai/gpt-5-mini", "reasoning": map[string]any{"enabled": true}}
	dateParam := headAgent("support")
	dateParam["threadContextParams"] = []any{map[string]any{"name": "day", "type": "date"}}
	for _, tc := range []struct {
		name  string
		agent map[string]any
		want  string
	}{
		{"legacy model", legacyModel, "Object contains extra field `name` that is not in the validator."},
		{"isBuiltin", builtin, "Object contains extra field `isBuiltin` that is not in the validator."},
		{"reasoning", reasoning, "Object contains extra field `reasoning` that is not in the validator."},
		{"date param", dateParam, "Value does not match validator."},
	} {
		msg, data := syncFail(t, s, headSync(strueretest.Development, tc.agent, headAgent("other")))
		wantContains(t, msg, "ArgumentValidationError: "+tc.want)
		if data != "" {
			t.Errorf("%s: a validation error carries no errorData, got %q", tc.name, data)
		}
	}
	wantContains(t, func() string {
		msg, _ := syncFail(t, s, headSync(strueretest.Development, dateParam))
		return msg
	}(), "Path: .agents[0].threadContextParams[0].type")
	diff(t, "configs after rejected syncs", before, s.Configs("support"))
	if a := s.Agents(); len(a) != 1 {
		t.Errorf("a rejected sync wrote agents: %+v", a)
	}
}

func TestCase40_HeadOnlyFieldsAreStoredAndAnOmissionRemovesThem(t *testing.T) {
	s := headServer(t)
	agent := headAgent("support")
	agent["firstMessageSuggestions"] = []any{"Book a session"}
	agent["threadContextParams"] = []any{map[string]any{"name": "customerId", "type": "string", "required": true}}
	agent["tools"] = []any{
		map[string]any{"name": "entity.query", "description": "Query", "parameters": map[string]any{"type": "object"}},
		map[string]any{"name": "lookup", "description": "Find", "parameters": map[string]any{}, "handlerCode": "return 1", "templateOnly": true},
	}
	role := map[string]any{"name": "teacher", "agentAccess": []any{"support"},
		"policies": []any{map[string]any{"resource": "session", "actions": []any{"read"}, "effect": "allow"}}}
	args := headSync(strueretest.Development, agent)
	args["roles"] = []any{role}
	syncOK(t, s, args)

	c := s.Configs("support")[0]
	diff(t, "suggestions", []string{"Book a session"}, c.FirstMessageSuggestions)
	yes := true
	diff(t, "threadContextParams", []struere.ThreadContextParam{{Name: "customerId", Type: "string", Required: &yes}}, c.ThreadContextParams)
	wantJSON(t, "stored tools", `[{"description":"Query","name":"entity.query","parameters":{"type":"object"}},`+
		`{"description":"Find","handlerCode":"return 1","name":"lookup","parameters":{},"templateOnly":true}]`, c.StoredTools)
	wantJSON(t, "stored model", `{"model":"openai/gpt-5-mini"}`, c.StoredModel)
	diff(t, "agentAccess", []string{"support"}, s.Roles(strueretest.Development)[0].AgentAccess)

	// The same items again without those keys: replace, not merge.
	plain := headAgent("support")
	args = headSync(strueretest.Development, plain)
	delete(role, "agentAccess")
	args["roles"] = []any{role}
	syncOK(t, s, args)
	c = s.Configs("support")[0]
	if c.FirstMessageSuggestions != nil || c.ThreadContextParams != nil {
		t.Errorf("omitted keys must be removed, got %q and %v", c.FirstMessageSuggestions, c.ThreadContextParams)
	}
	if got := s.Roles(strueretest.Development)[0].AgentAccess; got != nil {
		t.Errorf("omitted agentAccess must be removed, got %q", got)
	}
	// [] is a value, not an omission.
	role["agentAccess"] = []any{}
	args["roles"] = []any{role}
	syncOK(t, s, args)
	if got := s.Roles(strueretest.Development)[0].AgentAccess; got == nil || len(got) != 0 {
		t.Errorf("agentAccess:[] must be stored as an empty list, got %#v", got)
	}
}

func wantJSON(t *testing.T, what, want string, got json.RawMessage) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got is not JSON: %s", what, got)
	}
	diff(t, what, w, g)
}

func fixturePayload() []any {
	return []any{map[string]any{"name": "Basics", "slug": "basics",
		"entities": []any{
			map[string]any{"ref": "t1", "type": "teacher", "data": map[string]any{"name": "Ana"}},
			map[string]any{"ref": "s1", "type": "session", "data": map[string]any{"day": "mon"}, "status": "draft"},
		},
		"relations": []any{map[string]any{"from": "s1", "to": "t1", "type": "taught_by"}}}}
}

func fixtureTypes() []any {
	return []any{map[string]any{"name": "Teacher", "slug": "teacher", "schema": map[string]any{}},
		map[string]any{"name": "Session", "slug": "session", "schema": map[string]any{}}}
}

func TestCase41_FixturesOutsideEvalAreIgnored(t *testing.T) {
	for _, env := range []struere.Environment{strueretest.Development, strueretest.Production} {
		s := headServer(t)
		must[strueretest.EntityType](t)(s.SeedEntityType(env, strueretest.EntityType{Name: "Teacher", Slug: "teacher"}))
		kept := must[strueretest.Entity](t)(s.SeedEntity(env, strueretest.Entity{EntityType: "teacher", Data: json.RawMessage(`{"name":"Old"}`)}))
		args := headSync(env)
		args["entityTypes"] = fixtureTypes()
		args["fixtures"] = fixturePayload()
		res := syncOK(t, s, args)
		if _, ok := res["fixtures"]; ok {
			t.Errorf("%s: result has a fixtures key: %v", env, res)
		}
		if got := s.Entities(env); len(got) != 1 || got[0].ID != kept.ID {
			t.Errorf("%s: entities touched: %+v", env, got)
		}
		if f := s.Fixtures(env); len(f) != 0 {
			t.Errorf("%s: fixtures recorded: %+v", env, f)
		}
	}
}

func TestCase42_EvalFixturesReplaceEveryActiveEvalEntity(t *testing.T) {
	s := headServer(t)
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Eval, strueretest.EntityType{Name: "Teacher", Slug: "teacher"}))
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Eval, strueretest.EntityType{Name: "Room", Slug: "room"}))
	oldA := must[strueretest.Entity](t)(s.SeedEntity(strueretest.Eval, strueretest.Entity{EntityType: "teacher"}))
	oldB := must[strueretest.Entity](t)(s.SeedEntity(strueretest.Eval, strueretest.Entity{EntityType: "room"}))
	soft := must[strueretest.Entity](t)(s.SeedEntity(strueretest.Eval, strueretest.Entity{EntityType: "room", Deleted: true}))
	must[strueretest.Relation](t)(s.SeedRelation(strueretest.Relation{FromEntityID: oldA.ID, ToEntityID: oldB.ID, RelationType: "in"}))
	devType := must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Development, strueretest.EntityType{Name: "Teacher", Slug: "teacher"}))
	dev := must[strueretest.Entity](t)(s.SeedEntity(strueretest.Development, strueretest.Entity{EntityType: devType.Slug}))

	// fixtures:[] and an omitted key leave eval entities alone.
	for _, args := range []map[string]any{headSync(strueretest.Eval), with(headSync(strueretest.Eval), "fixtures", []any{})} {
		args["entityTypes"] = append(fixtureTypes(), map[string]any{"name": "Room", "slug": "room", "schema": map[string]any{}})
		res := syncOK(t, s, args)
		if _, ok := res["fixtures"]; ok {
			t.Errorf("no fixtures step, but the result has the key: %v", res)
		}
		if got := len(s.Entities(strueretest.Eval)); got != 3 {
			t.Fatalf("eval entities touched without fixtures: %d left", got)
		}
	}

	args := headSync(strueretest.Eval)
	args["entityTypes"] = append(fixtureTypes(), map[string]any{"name": "Room", "slug": "room", "schema": map[string]any{}})
	args["fixtures"] = fixturePayload()
	res := syncOK(t, s, args)
	wantJSON(t, "fixtures result", `{"entitiesCreated":2,"relationsCreated":1}`, res["fixtures"])
	ents := s.Entities(strueretest.Eval)
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.ID)
	}
	if len(ents) != 3 || ents[0].ID != soft.ID || strings.Contains(strings.Join(ids, ","), oldA.ID) || strings.Contains(strings.Join(ids, ","), oldB.ID) {
		t.Fatalf("want the soft-deleted entity kept and the active ones replaced, got %+v", ents)
	}
	if ents[1].EntityType != "teacher" || ents[1].Status != "active" || ents[2].Status != "draft" {
		t.Errorf("fixture entities: %+v", ents[1:])
	}
	rels := s.Relations()
	if len(rels) != 1 || rels[0].FromEntityID != ents[2].ID || rels[0].ToEntityID != ents[1].ID || string(rels[0].Metadata) != "{}" {
		t.Errorf("want only the fixture relation (metadata {}), got %+v", rels)
	}
	if got := s.Entities(strueretest.Development); len(got) != 1 || got[0].ID != dev.ID {
		t.Errorf("development entities touched: %+v", got)
	}
	f := s.Fixtures(strueretest.Eval)
	if len(f) != 1 || f[0].Slug != "basics" || f[0].EntityCount != 2 || f[0].RelationCount != 1 || f[0].EntityTypeCounts["teacher"] != 1 {
		t.Errorf("fixtures table: %+v", f)
	}
}

func TestCase43_FixtureErrorsAreConvexErrorsAndWriteNothing(t *testing.T) {
	s := headServer(t)
	for _, tc := range []struct {
		name     string
		fixtures []any
		want     string
	}{
		{"unknown type", []any{map[string]any{"name": "F", "slug": "f", "entities": []any{map[string]any{"ref": "x", "type": "ghost", "data": map[string]any{}}}}},
			`Fixture "f": entity type "ghost" not found in eval environment`},
		{"unknown ref", []any{map[string]any{"name": "F", "slug": "f", "entities": []any{map[string]any{"ref": "t1", "type": "teacher", "data": map[string]any{}}},
			"relations": []any{map[string]any{"from": "t1", "to": "nobody", "type": "knows"}}}},
			`Fixture "f": relation references unknown ref "nobody"`},
	} {
		args := headSync(strueretest.Eval, headAgent("support"))
		args["entityTypes"] = fixtureTypes()
		args["roles"] = []any{map[string]any{"name": "teacher", "policies": []any{}}}
		args["fixtures"] = tc.fixtures
		_, data := syncFail(t, s, args)
		if data != tc.want {
			t.Errorf("%s: errorData = %q, want %q", tc.name, data, tc.want)
		}
		if n := len(s.EntityTypes(strueretest.Eval)) + len(s.Roles(strueretest.Eval)) + len(s.Agents()) + len(s.Entities(strueretest.Eval)) + len(s.Events()); n != 0 {
			t.Errorf("%s: a failed sync wrote %d rows", tc.name, n)
		}
	}
}

func TestCase44_ConvexErrorOnlyAfterAuthentication(t *testing.T) {
	bound := headSync(strueretest.Development)
	bound["entityTypes"] = []any{
		map[string]any{"name": "Teacher", "slug": "teacher", "schema": map[string]any{}, "boundToRole": "teacher"},
		map[string]any{"name": "Tutor", "slug": "tutor", "schema": map[string]any{}, "boundToRole": "teacher"},
	}
	// The hosted (default) HEAD server redacts.
	s := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	r := mutation(t, s, "sync:syncOrganization", bound)
	msg := failure(t, r)
	if strings.Contains(msg, "\n") {
		t.Errorf("redacted errorMessage has more than its first line: %q", msg)
	}
	diff(t, "errorData", `"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""`, string(r.ErrorData))

	// Errors before the wrapper carry no errorData.
	other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	for name, r := range map[string]result{
		"not authenticated": callFn(t, s, "mutation", "", "sync:syncOrganization", bound),
		"access denied":     mutation(t, s, "sync:syncOrganization", with(bound, "organizationId", other.ID)),
		"validation":        mutation(t, s, "sync:syncOrganization", with(bound, "extra", true)),
	} {
		msg := failure(t, r)
		if len(r.ErrorData) != 0 || strings.Contains(msg, "\n") {
			t.Errorf("%s: want a redacted plain error, got %s", name, r.Raw)
		}
	}
	// Unredacted, the texts show what each one was.
	u := headServer(t)
	other = must[strueretest.Organization](t)(u.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	msg, data := syncFail(t, u, with(bound, "organizationId", other.ID))
	wantContains(t, msg, "Uncaught Error: Access denied: you are not a member of this organization")
	if data != "" {
		t.Errorf("access denied carries errorData %q", data)
	}
	msg, _ = syncFail(t, u, bound)
	wantContains(t, msg, "Uncaught ConvexError: Multiple entity types bound to role")
}

func TestCase45_EachSuccessfulSyncWritesOneEvent(t *testing.T) {
	s := headServer(t)
	syncOK(t, s, headSync(strueretest.Development, headAgent("support")))
	s.Advance(1000)
	syncOK(t, s, headSync(strueretest.Eval, headAgent("support")))
	s.Advance(1000)
	prod := headSync(strueretest.Production, headAgent("support"))
	prod["triggers"] = []any{map[string]any{"name": "N", "slug": "n", "entityType": "x", "action": "created", "actions": []any{}}}
	prod["fixtures"] = fixturePayload()
	syncOK(t, s, prod)
	// A failure leaves no event.
	syncFail(t, s, with(headSync(strueretest.Production, headAgent("a"), headAgent("b"), headAgent("c"), headAgent("d")), "organizationId", s.OrganizationID()))

	ev := s.Events()
	if len(ev) != 3 {
		t.Fatalf("want 3 events, got %+v", ev)
	}
	for i, want := range []struct{ env, typ string }{{"development", "sync.completed"}, {"eval", "sync.completed"}, {"production", "deploy.completed"}} {
		e := ev[i]
		if string(e.Environment) != want.env || e.EventType != want.typ || e.ActorType != "user" || e.ActorID != s.UserID() || e.SchemaVersion != 1 {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	p := decode[map[string]json.RawMessage](t, ev[2].Payload)
	var keys []string
	for k := range p {
		keys = append(keys, k)
	}
	wantKeys := []string{"agents", "entityTypes", "operation", "roles", "triggers"}
	if fmt.Sprint(sorted(keys)) != fmt.Sprint(wantKeys) || string(p["operation"]) != `"deploy"` {
		t.Errorf("deploy payload keys %v, want %v (never fixtures): %s", sorted(keys), wantKeys, ev[2].Payload)
	}
	if _, ok := decode[map[string]json.RawMessage](t, ev[0].Payload)["triggers"]; ok {
		t.Errorf("a sync without triggers has a triggers payload: %s", ev[0].Payload)
	}

	type doc struct {
		EventType   string `json:"eventType"`
		Environment string `json:"environment"`
		ActorID     string `json:"actorId"`
	}
	got := value[[]doc](t, query(t, s, "events:listSyncEvents", map[string]any{"environment": "production"}))
	diff(t, "production events", []doc{{"deploy.completed", "production", s.UserID()}}, got)
	got = value[[]doc](t, query(t, s, "events:listSyncEvents", map[string]any{}))
	diff(t, "default environment is development", []doc{{"sync.completed", "development", s.UserID()}}, got)
	// Newest first, at most limit.
	syncOK(t, s, headSync(strueretest.Development, headAgent("support"), headAgent("sales")))
	two := value[[]map[string]any](t, query(t, s, "events:listSyncEvents", map[string]any{"limit": 1}))
	if len(two) != 1 || !strings.Contains(fmt.Sprint(two[0]["payload"]), "sales") {
		t.Errorf("limit 1 must give the newest event, got %v", two)
	}
}

func sorted(l []string) []string {
	out := append([]string(nil), l...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCase46_AgentLimit(t *testing.T) {
	s := headServer(t)
	syncOK(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("b"), headAgent("c")))
	_, data := syncFail(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("b"), headAgent("c"), headAgent("d")))
	diff(t, "limit message", "Agent limit reached. Your plan allows up to 3 agents.", data)
	res := syncOK(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("b"), headAgent("d")))
	diff(t, "replace c by d", map[string][]string{"created": {"d"}, "updated": {"a", "b"}, "deleted": {"c"}}, changesOf(t, res["agents"]))

	// An organization already over its limit fails even when adding nothing.
	for _, slug := range []string{"e", "f"} {
		must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: slug}))
	}
	_, data = syncFail(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("b"), headAgent("d"), headAgent("e"), headAgent("f")))
	diff(t, "over the limit", "Agent limit reached. Your plan allows up to 3 agents.", data)

	// A plan that admits them, per organization or for the whole server.
	if err := s.SetPlan(s.OrganizationID(), strueretest.PlanStarter); err != nil {
		t.Fatal(err)
	}
	syncOK(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("b"), headAgent("d"), headAgent("e"), headAgent("f")))
	pro := headServer(t, strueretest.WithPlan(strueretest.PlanPro))
	var many []map[string]any
	for i := 0; i < 50; i++ {
		many = append(many, headAgent(fmt.Sprintf("agent-%02d", i)))
	}
	syncOK(t, pro, headSync(strueretest.Development, many...))
	// Limits are HEAD's: E2 has none.
	e2 := newServer(t, struere.GenerationE2)
	value[map[string]any](t, mutation(t, e2, "sync:syncOrganization", syncPayload(struere.GenerationE2, "development",
		agentPayload("a", "1"), agentPayload("b", "1"), agentPayload("c", "1"), agentPayload("d", "1"))))
}

func trigger(slug string) map[string]any {
	return map[string]any{"name": strings.ToUpper(slug), "slug": slug, "entityType": "session", "action": "created",
		"actions": []any{map[string]any{"tool": "event.emit", "args": map[string]any{}}}}
}

func TestCase47_AutomationLimitCountsEveryEnvironment(t *testing.T) {
	s := headServer(t)
	three := with(headSync(strueretest.Development), "triggers", []any{trigger("a"), trigger("b"), trigger("c")})
	syncOK(t, s, three)
	_, data := syncFail(t, s, with(three, "environment", strueretest.Production))
	diff(t, "limit message", "Automation limit reached. Your plan allows up to 5 automations.", data)
	if n := len(s.Triggers(strueretest.Production)); n != 0 {
		t.Fatalf("a failed sync wrote %d triggers", n)
	}
	res := syncOK(t, s, with(headSync(strueretest.Production), "triggers", []any{trigger("a"), trigger("b")}))
	diff(t, "3 + 2 = 5", map[string][]string{"created": {"a", "b"}, "updated": {}, "deleted": {}}, changesOf(t, res["triggers"]))
}

func suite(slug, agent string) map[string]any {
	return map[string]any{"name": strings.ToUpper(slug), "slug": slug, "agentSlug": agent,
		"cases": []any{map[string]any{"name": "greets", "turns": []any{map[string]any{"userMessage": "hi"}}}}}
}

func TestCase48_EvalSuiteLimitAndSkippedSuites(t *testing.T) {
	s := headServer(t)
	args := with(headSync(strueretest.Eval, headAgent("support")), "evalSuites", []any{suite("one", "support"), suite("two", "support")})
	_, data := syncFail(t, s, args)
	diff(t, "limit message", "Eval suite limit reached. Your plan allows up to 1 eval suites.", data)
	// A skipped suite still counts towards the limit.
	_, data = syncFail(t, s, with(args, "evalSuites", []any{suite("one", "support"), suite("x", "ghost")}))
	diff(t, "skipped suites count", "Eval suite limit reached. Your plan allows up to 1 eval suites.", data)

	res := syncOK(t, s, with(args, "evalSuites", []any{suite("x", "ghost")}))
	wantJSON(t, "skipped", `{"created":[],"updated":[],"deleted":[],"skipped":["x (agent \"ghost\" not found)"]}`, res["evalSuites"])
	if got := s.EvalSuites(strueretest.Eval); len(got) != 0 {
		t.Errorf("a skipped suite was written: %+v", got)
	}
	// The limit is per environment.
	syncOK(t, s, with(args, "evalSuites", []any{suite("one", "support")}))
	syncOK(t, s, with(with(args, "environment", strueretest.Development), "evalSuites", []any{suite("one", "support")}))
}

func TestCase49_EvalSyncHardDeletesAgentsEverywhere(t *testing.T) {
	s := headServer(t)
	for _, env := range []struere.Environment{strueretest.Development, strueretest.Production, strueretest.Eval} {
		syncOK(t, s, headSync(env, headAgent("a"), headAgent("b")))
	}
	if n := len(s.Configs("a")); n != 3 {
		t.Fatalf("want 3 configs of a, got %d", n)
	}
	res := syncOK(t, s, headSync(strueretest.Eval, headAgent("b")))
	diff(t, "eval sync", map[string][]string{"created": {}, "updated": {"b"}, "deleted": {"a"}}, changesOf(t, res["agents"]))
	if c := s.Configs("a"); c != nil {
		t.Errorf("a's configs survive: %+v", c)
	}
	for _, a := range s.Agents() {
		if a.Slug == "a" {
			t.Errorf("agent a survives: %+v", a)
		}
	}
}

func TestCase50_DuplicateSlugsCreateDuplicateRows(t *testing.T) {
	s := headServer(t)
	res := syncOK(t, s, headSync(strueretest.Development, headAgent("a"), headAgent("a")))
	diff(t, "duplicates", map[string][]string{"created": {"a", "a"}, "updated": {}, "deleted": {}}, changesOf(t, res["agents"]))
	if n := len(s.Agents()); n != 2 {
		t.Errorf("want two agent rows, got %d", n)
	}
	args := headSync(strueretest.Development, headAgent("b"))
	args["entityTypes"] = []any{map[string]any{"name": "T", "slug": "t", "schema": map[string]any{}}, map[string]any{"name": "T", "slug": "t", "schema": map[string]any{}}}
	args["roles"] = []any{map[string]any{"name": "r", "policies": []any{}}, map[string]any{"name": "r", "policies": []any{}}}
	res = syncOK(t, s, args)
	diff(t, "entity types", map[string][]string{"created": {"t", "t"}, "updated": {}, "deleted": {}}, changesOf(t, res["entityTypes"]))
	diff(t, "roles", map[string][]string{"created": {"r", "r"}, "updated": {}, "deleted": {}}, changesOf(t, res["roles"]))
	// The next sync collapses duplicate roles.
	args["roles"] = []any{map[string]any{"name": "r", "policies": []any{}}}
	res = syncOK(t, s, args)
	diff(t, "collapsed", map[string][]string{"created": {}, "updated": {"r"}, "deleted": {}}, changesOf(t, res["roles"]))
	if n := len(s.Roles(strueretest.Development)); n != 1 {
		t.Errorf("want the duplicate role collapsed, got %d", n)
	}
}

func TestCase51_PullDefaultsForAnAgentWithoutConfig(t *testing.T) {
	s := headServer(t)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "draft", Name: "Draft", Description: "d"}))
	pull := value[map[string][]map[string]any](t, query(t, s, "sync:getPullState", map[string]any{"environment": "production"}))
	diff(t, "invented defaults", []map[string]any{{"name": "Draft", "slug": "draft", "description": "d", "version": "0.1.0", "systemPrompt": "",
		"model": map[string]any{"model": "anthropic/claude-haiku-4-5"}, "tools": []any{}}}, pull["agents"])
	st := value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "production"}))
	if len(st.Agents) != 1 || st.Agents[0].Version != "0.0.0" || st.Agents[0].HasConfig == nil || *st.Agents[0].HasConfig {
		t.Errorf("getSyncState: %+v", st.Agents)
	}
}

func TestCase52_PullOmitsHeadFieldsAndReturnsLegacyRowsVerbatim(t *testing.T) {
	s := headServer(t)
	agent := headAgent("support")
	agent["firstMessageSuggestions"] = []any{"Hi"}
	agent["threadContextParams"] = []any{map[string]any{"name": "c", "type": "number"}}
	args := headSync(strueretest.Development, agent)
	args["roles"] = []any{map[string]any{"name": "teacher", "agentAccess": []any{"support"}, "policies": []any{}}}
	args["evalSuites"] = []any{suite("smoke", "support")}
	args["triggers"] = []any{trigger("on"), trigger("off")}
	syncOK(t, s, args)
	must[strueretest.Trigger](t)(s.SeedTrigger(strueretest.Development, strueretest.Trigger{Name: "Old", Slug: "old", EntityType: "x", Action: "created", Disabled: true}))
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "legacy"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("legacy", strueretest.Development, strueretest.AgentConfig{Version: "0.9.0", Name: "Legacy",
		Model:    struere.Model{Provider: "openai", Name: "gpt-4o"},
		RawTools: json.RawMessage(`[{"name":"lookup","description":"d","parameters":{},"handlerCode":"return 1","isBuiltin":false}]`)}))
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "old-model"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("old-model", strueretest.Development, strueretest.AgentConfig{Version: "0.9.0", Name: "Old",
		RawModel: json.RawMessage(`{"provider":"openai","name":"gpt-4o","temperature":0.2}`)}))

	r := query(t, s, "sync:getPullState", map[string]any{"environment": "development"})
	for _, banned := range []string{"agentAccess", "firstMessageSuggestions", "threadContextParams", "evalSuites", `"old"`} {
		if strings.Contains(string(r.Value), banned) {
			t.Errorf("getPullState contains %s: %s", banned, r.Value)
		}
	}
	pull := value[map[string][]map[string]any](t, r)
	var trig []string
	for _, tr := range pull["triggers"] {
		trig = append(trig, tr["slug"].(string))
	}
	diff(t, "enabled triggers only", []string{"on", "off"}, trig)
	legacy := pull["agents"][1]
	diff(t, "HEAD-shaped model", map[string]any{"model": "openai/gpt-4o"}, legacy["model"])
	diff(t, "verbatim tools", []any{map[string]any{"name": "lookup", "description": "d", "parameters": map[string]any{}, "handlerCode": "return 1", "isBuiltin": false}}, legacy["tools"])
	diff(t, "verbatim legacy model", map[string]any{"provider": "openai", "name": "gpt-4o", "temperature": 0.2}, pull["agents"][2]["model"])

	// Re-sending the pulled agents verbatim fails on the legacy rows.
	agents := []any{pull["agents"][0], pull["agents"][1]}
	msg, _ := syncFail(t, s, map[string]any{"environment": "production", "agents": agents, "entityTypes": []any{}, "roles": []any{}})
	wantContains(t, msg, "Object contains extra field `isBuiltin` that is not in the validator.")
	msg, _ = syncFail(t, s, map[string]any{"environment": "production", "agents": []any{pull["agents"][0], pull["agents"][2]}, "entityTypes": []any{}, "roles": []any{}})
	wantContains(t, msg, "Object contains extra field `name` that is not in the validator.\nPath: .agents[1].model")
	if n := len(s.Configs("support")); n != 1 {
		t.Errorf("a rejected re-send wrote configs: %d", n)
	}
}

func TestCase53_ProductionSyncCopiesUserRolesFromDevelopment(t *testing.T) {
	s := headServer(t)
	roles := []any{map[string]any{"name": "teacher", "policies": []any{}}, map[string]any{"name": "tutor", "policies": []any{}}}
	dev := with(headSync(strueretest.Development), "roles", roles)
	syncOK(t, s, dev)
	syncOK(t, s, with(dev, "environment", strueretest.Production))
	devRoles, prodRoles := s.Roles(strueretest.Development), s.Roles(strueretest.Production)

	ana, _, err := s.AddUser(strueretest.User{Subject: "user_ana"})
	if err != nil {
		t.Fatal(err)
	}
	bo, _, err := s.AddUser(strueretest.User{Subject: "user_bo"})
	if err != nil {
		t.Fatal(err)
	}
	must[strueretest.UserRole](t)(s.AssignRole(ana.ID, devRoles[0].ID)) // teacher
	must[strueretest.UserRole](t)(s.AssignRole(ana.ID, devRoles[1].ID)) // tutor
	must[strueretest.UserRole](t)(s.AssignRole(bo.ID, devRoles[0].ID))
	// Ana's production assignment in another organization.
	other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	otherRole := must[strueretest.Role](t)(s.SeedRole(strueretest.Production, strueretest.Role{OrganizationID: other.ID, Name: "viewer"}))
	must[strueretest.UserRole](t)(s.AssignRole(ana.ID, otherRole.ID))
	otherDev := must[strueretest.Role](t)(s.SeedRole(strueretest.Development, strueretest.Role{OrganizationID: other.ID, Name: "viewer"}))
	must[strueretest.UserRole](t)(s.AssignRole(bo.ID, otherDev.ID))

	// Development and eval syncs never touch assignments.
	before := s.UserRoles()
	syncOK(t, s, dev)
	syncOK(t, s, with(dev, "environment", strueretest.Eval))
	diff(t, "assignments after dev and eval syncs", before, s.UserRoles())

	syncOK(t, s, with(dev, "environment", strueretest.Production))
	type assignment struct{ User, Role, Env, Org string }
	var got []assignment
	for _, ur := range s.UserRoles() {
		got = append(got, assignment{ur.UserID, ur.RoleName, string(ur.RoleEnvironment), ur.OrganizationID})
	}
	org := s.OrganizationID()
	want := []assignment{
		{ana.ID, "teacher", "development", org}, {ana.ID, "tutor", "development", org}, {bo.ID, "teacher", "development", org},
		{bo.ID, "viewer", "development", other.ID},
		{bo.ID, "teacher", "production", org}, {ana.ID, "tutor", "production", org},
	}
	diff(t, "assignments after the production sync", want, got)
	if prodRoles[0].ID != s.Roles(strueretest.Production)[0].ID {
		t.Errorf("production roles were recreated")
	}
}
