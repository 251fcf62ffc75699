package strueretest_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestCase35_HeadChatRateLimitAfterKeyValidation(t *testing.T) {
	s := headServer(t)
	chatSetup(t, s, map[struere.Environment]string{strueretest.Production: "1.0.0"})
	k := key(t, s, strueretest.Production)
	for i := 0; i < 10; i++ {
		// Even a request that then fails with 400 spends a token.
		body := map[string]any{"message": "hi"}
		if i == 0 {
			body = map[string]any{}
		}
		r := chat(t, s, "/v1/agents/support/chat", k, body)
		if (i == 0 && r.HTTPStatus != 400) || (i > 0 && r.HTTPStatus != 200) {
			t.Fatalf("request %d: %d %s", i, r.HTTPStatus, r.Raw)
		}
	}
	status, h, raw := site(t, s, "POST", "/v1/chat", "Bearer "+k, "not json even")
	var v struct {
		Error   string  `json:"error"`
		RetryAt float64 `json:"retryAt"`
	}
	_ = json.Unmarshal([]byte(raw), &v)
	secs, _ := strconv.Atoi(h.Get("Retry-After"))
	if status != 429 || v.Error != "Rate limit exceeded" || secs < 1 || int64(v.RetryAt) <= s.Now().UnixMilli() {
		t.Fatalf("11th request: %d %s Retry-After %q", status, raw, h.Get("Retry-After"))
	}
	// The bucket refills at 30 a minute: one token every two seconds.
	s.Advance(2 * time.Second)
	if r := chat(t, s, "/v1/agents/support/chat", k, map[string]any{"message": "again"}); r.HTTPStatus != 200 {
		t.Errorf("after the refill: %d %s", r.HTTPStatus, r.Raw)
	}
	// Another key of the same organization has its own bucket.
	if r := chat(t, s, "/v1/agents/support/chat", key(t, s, strueretest.Production), map[string]any{"message": "x"}); r.HTTPStatus != 200 {
		t.Errorf("a second key: %d %s", r.HTTPStatus, r.Raw)
	}
	// E2 has no rate limit.
	e2 := newServer(t, struere.GenerationE2)
	chatSetup(t, e2, map[struere.Environment]string{strueretest.Production: "1.0.0"})
	ek := must[string](t)(e2.CreateAPIKey(strueretest.Production, "k", time.Time{}))
	for i := 0; i < 12; i++ {
		if r := chat(t, e2, "/v1/agents/support/chat", ek, map[string]any{"message": "hi"}); r.HTTPStatus != 200 {
			t.Fatalf("E2 request %d: %d", i, r.HTTPStatus)
		}
	}
}

func TestCase28_HeadAnswers401InvalidAPIKeyBeforeTheBody(t *testing.T) {
	s := headServer(t)
	chatSetup(t, s, map[struere.Environment]string{strueretest.Production: "1.0.0"})
	expired, _, err := s.CreateKey(strueretest.APIKey{Environment: strueretest.Production, ExpiresAt: s.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"af_live_00000000_00000000000000000000000000000000", expired} {
		for _, path := range []string{"/v1/chat", "/v1/agents/support/chat"} {
			status, _, raw := site(t, s, "POST", path, "Bearer "+k, "not json")
			if status != 401 || siteError(t, raw) != "Invalid API key" {
				t.Errorf("%s: %d %s", path, status, raw)
			}
		}
	}
	// HEAD records the key's use on every authenticated request, even one
	// that then fails.
	k := key(t, s, strueretest.Production)
	s.Advance(time.Minute)
	if r := chat(t, s, "/v1/agents/ghost/chat", k, map[string]any{"message": "hi"}); r.HTTPStatus != 500 || r.Error != "Agent not found" {
		t.Fatalf("unknown agent: %d %s", r.HTTPStatus, r.Raw)
	}
	var used time.Time
	for _, rec := range s.APIKeys() {
		if rec.KeyPrefix == k[:16] {
			used = rec.LastUsedAt
		}
	}
	if !used.Equal(s.Now()) {
		t.Errorf("lastUsedAt = %v, want %v", used, s.Now())
	}
}

func TestHeadChatValidatesThreadContextParams(t *testing.T) {
	s := headServer(t)
	yes := true
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("support", strueretest.Production, strueretest.AgentConfig{Version: "1.0.0",
		ThreadContextParams: []struere.ThreadContextParam{{Name: "customerId", Type: "string", Required: &yes}, {Name: "vip", Type: "boolean"}}}))
	k := key(t, s, strueretest.Production)
	for _, tc := range []struct {
		params map[string]any
		status int
		want   string
	}{
		{map[string]any{"vip": true}, 500, "Missing required thread context param: customerId"},
		{map[string]any{"customerId": 7}, 500, `Thread context param "customerId" must be a string`},
		{map[string]any{"customerId": "c1", "vip": "yes"}, 500, `Thread context param "vip" must be a boolean`},
		{map[string]any{"customerId": "c1"}, 200, ""},
	} {
		r := chat(t, s, "/v1/agents/support/chat", k, map[string]any{"message": "hi", "threadContext": map[string]any{"params": tc.params}})
		if r.HTTPStatus != tc.status || r.Error != tc.want {
			t.Errorf("params %v: %d %s", tc.params, r.HTTPStatus, r.Raw)
		}
	}
	// Without threadContext nothing is validated.
	if r := chat(t, s, "/v1/agents/support/chat", k, map[string]any{"message": "hi"}); r.HTTPStatus != 200 {
		t.Errorf("no thread context: %d %s", r.HTTPStatus, r.Raw)
	}
}

func TestCase59_HeadDefaultOrganizationHasNoFallbackWithAnOrgClaim(t *testing.T) {
	s := headServer(t)
	other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	args := map[string]any{"environment": "development"}
	ghost := s.MintToken(strueretest.SeedUserSubject, "org_ghost").Reveal()
	wantContains(t, failure(t, callFn(t, s, "query", ghost, "sync:getSyncState", args)), "Uncaught Error: Organization not found for the selected Clerk org.")
	foreign := s.MintToken(strueretest.SeedUserSubject, other.ClerkOrgID).Reveal()
	wantContains(t, failure(t, callFn(t, s, "query", foreign, "sync:getSyncState", args)), "Uncaught Error: Access denied: you are not a member of this organization.")
	// An explicit organizationId still works with such a token; "" is
	// the same as omitting it.
	value[map[string]any](t, callFn(t, s, "query", foreign, "sync:getSyncState", with(args, "organizationId", s.OrganizationID())))
	wantContains(t, failure(t, callFn(t, s, "query", ghost, "sync:getSyncState", with(args, "organizationId", ""))), "Organization not found for the selected Clerk org.")
	value[map[string]any](t, query(t, s, "sync:getSyncState", with(args, "organizationId", "")))
	// No claim: the first membership.
	noClaim := s.MintToken(strueretest.SeedUserSubject, "").Reveal()
	value[map[string]any](t, callFn(t, s, "query", noClaim, "sync:getSyncState", args))

	// Before HEAD a claim the user cannot use falls back to the first
	// membership, and "" is omitted too.
	for _, g := range isolatedGenerations {
		e := newServer(t, g)
		ghost := e.MintToken(strueretest.SeedUserSubject, "org_ghost").Reveal()
		value[map[string]any](t, callFn(t, e, "query", ghost, "sync:getSyncState", args))
		value[map[string]any](t, callFn(t, e, "query", ghost, "sync:getSyncState", with(args, "organizationId", "")))
	}
}

// statusLine computes the HEAD CLI's `status --json` line from local keys
// and the development state, as a client reproducing it must.
func statusLine(local map[string][]string, dev syncState) string {
	remote := map[string][]string{}
	for _, a := range dev.Agents {
		remote["agents"] = append(remote["agents"], a.Slug)
	}
	for _, e := range dev.EntityTypes {
		remote["entityTypes"] = append(remote["entityTypes"], e["slug"].(string))
	}
	for _, r := range dev.Roles {
		remote["roles"] = append(remote["roles"], r["name"].(string))
	}
	out := map[string]map[string][]string{}
	for _, kind := range []string{"agents", "entityTypes", "roles"} {
		in := map[string]bool{}
		for _, k := range remote[kind] {
			in[k] = true
		}
		mine := map[string]bool{}
		c := map[string][]string{"synced": {}, "new": {}, "deleted": {}}
		for _, k := range local[kind] {
			mine[k] = true
			if in[k] {
				c["synced"] = append(c["synced"], k)
			} else {
				c["new"] = append(c["new"], k)
			}
		}
		for _, k := range remote[kind] {
			if !mine[k] {
				c["deleted"] = append(c["deleted"], k)
			}
		}
		out[kind] = c
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func TestCase61_StatusJSONNeedsOnlyTheDevelopmentState(t *testing.T) {
	s := headServer(t)
	args := headSync(strueretest.Development, headAgent("support"), headAgent("old-bot"))
	args["entityTypes"] = []any{map[string]any{"name": "Teacher", "slug": "teacher", "schema": map[string]any{}}}
	args["roles"] = []any{map[string]any{"name": "teacher", "policies": []any{}}, map[string]any{"name": "legacy", "policies": []any{}}}
	syncOK(t, s, args)
	// Production differs; the line must not depend on it.
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Production, strueretest.EntityType{Name: "Prod", Slug: "prod-only"}))
	dev := value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "development", "organizationId": s.OrganizationID()}))
	value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "production", "organizationId": s.OrganizationID()}))
	got := statusLine(map[string][]string{"agents": {"support", "sales"}, "entityTypes": {"teacher"}, "roles": {"teacher"}}, dev)
	want := `{"agents":{"deleted":["old-bot"],"new":["sales"],"synced":["support"]},"entityTypes":{"deleted":[],"new":[],"synced":["teacher"]},"roles":{"deleted":["legacy"],"new":[],"synced":["teacher"]}}`
	if got != want || strings.Contains(got, "\n") {
		t.Errorf("status line\n got %s\nwant %s", got, want)
	}
}

func TestCase62_DeployJSONShapesComeFromTheProductionSync(t *testing.T) {
	s := headServer(t)
	syncOK(t, s, with(headSync(strueretest.Production, headAgent("old")), "entityTypes", []any{map[string]any{"name": "Old Type", "slug": "old-type", "schema": map[string]any{}}}))
	// --dry-run: deletions are the remote names of the production state.
	st := value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "production", "organizationId": s.OrganizationID()}))
	if len(st.Agents) != 1 || st.Agents[0].Name != "Old" || st.EntityTypes[0]["name"] != "Old Type" {
		t.Fatalf("production state: %+v", st)
	}
	// The write: the result has agents/entityTypes/roles {created,updated,deleted}.
	res := syncOK(t, s, with(headSync(strueretest.Production, headAgent("support")), "organizationId", s.OrganizationID()))
	line, _ := json.Marshal(map[string]any{"success": true, "environment": "production", "agents": res["agents"], "entityTypes": res["entityTypes"], "roles": res["roles"]})
	want := `{"agents":{"created":["support"],"deleted":["old"],"updated":[]},"entityTypes":{"created":[],"deleted":["old-type"],"updated":[]},"environment":"production","roles":{"created":[],"deleted":[],"updated":[]},"success":true}`
	wantJSON(t, "deploy --json line", want, line)
	// A failure's text for {"success":false,"error":…} is the errorData string.
	_, data := syncFail(t, s, headSync(strueretest.Production, headAgent("a"), headAgent("b"), headAgent("c"), headAgent("d")))
	if data != "Agent limit reached. Your plan allows up to 3 agents." {
		t.Errorf("failure text %q", data)
	}
}

func TestCase64_ProductionPullPlusDevelopmentAgentsRoundTrip(t *testing.T) {
	s := headServer(t)
	agent := headAgent("support")
	agent["firstMessageSuggestions"] = []any{"Hi"}
	agent["threadContextParams"] = []any{map[string]any{"name": "c", "type": "string"}}
	agent["tools"] = []any{map[string]any{"name": "lookup", "description": "d", "parameters": map[string]any{}, "handlerCode": "return 1", "templateOnly": true}}
	cli := headSync(strueretest.Development, agent, headAgent("sales"))
	cli["entityTypes"] = []any{map[string]any{"name": "Session", "slug": "session", "schema": map[string]any{}, "searchFields": []any{"day"}}}
	cli["roles"] = []any{map[string]any{"name": "teacher", "agentAccess": []any{"support"},
		"policies":   []any{map[string]any{"resource": "session", "actions": []any{"read", "update"}, "effect": "allow"}},
		"scopeRules": []any{map[string]any{"entityType": "session", "field": "data.t", "operator": "eq", "value": "actor.userId"}},
		"fieldMasks": []any{map[string]any{"entityType": "session", "fieldPath": "data.price", "maskType": "hide"}}}}
	cli["triggers"] = []any{trigger("notify")}
	syncOK(t, s, cli)
	syncOK(t, s, with(cli, "environment", strueretest.Production))
	prodSuite := with(headSync(strueretest.Production, agent, headAgent("sales")), "evalSuites", []any{suite("smoke", "support")})
	prodSuite["entityTypes"], prodSuite["roles"], prodSuite["triggers"] = cli["entityTypes"], cli["roles"], cli["triggers"]
	syncOK(t, s, prodSuite)

	prodPull := value[map[string][]any](t, query(t, s, "sync:getPullState", map[string]any{"environment": "production"}))
	devPull := value[map[string][]any](t, query(t, s, "sync:getPullState", map[string]any{"environment": "development"}))
	res := syncOK(t, s, map[string]any{"organizationId": s.OrganizationID(), "environment": "production", "agents": devPull["agents"],
		"entityTypes": prodPull["entityTypes"], "roles": prodPull["roles"], "triggers": prodPull["triggers"]})
	diff(t, "agents", map[string][]string{"created": {}, "updated": {"support", "sales"}, "deleted": {}}, changesOf(t, res["agents"]))
	if _, ok := res["evalSuites"]; ok {
		t.Errorf("omitted evalSuites must not run: %v", res)
	}
	if got := s.EvalSuites(strueretest.Production); len(got) != 1 || got[0].Status != "active" {
		t.Errorf("production suites touched: %+v", got)
	}
	var prod strueretest.ConfigRecord
	for _, c := range s.Configs("support") {
		if c.Environment == strueretest.Production {
			prod = c
		}
	}
	if prod.FirstMessageSuggestions != nil || prod.ThreadContextParams != nil {
		t.Errorf("the round trip keeps fields getPullState omits: %+v", prod)
	}
	wantJSON(t, "tools survive", `[{"name":"lookup","description":"d","parameters":{},"handlerCode":"return 1","templateOnly":true}]`, prod.StoredTools)
	for _, r := range s.Roles(strueretest.Production) {
		if r.AgentAccess != nil {
			t.Errorf("agentAccess survives the round trip: %+v", r)
		}
		if len(r.ScopeRules) != 1 || len(r.FieldMasks) != 1 || r.PolicyCount != 2 {
			t.Errorf("regrouped policies are not equivalent: %+v", r)
		}
	}
	// A client that re-supplies them keeps them.
	agents := devPull["agents"]
	a0 := agents[0].(map[string]any)
	a0["firstMessageSuggestions"], a0["threadContextParams"] = agent["firstMessageSuggestions"], agent["threadContextParams"]
	roles := prodPull["roles"]
	roles[0].(map[string]any)["agentAccess"] = []any{"support"}
	syncOK(t, s, map[string]any{"environment": "production", "agents": agents, "entityTypes": prodPull["entityTypes"], "roles": roles})
	if r := s.Roles(strueretest.Production)[0]; len(r.AgentAccess) != 1 {
		t.Errorf("re-supplied agentAccess lost: %+v", r)
	}
}
