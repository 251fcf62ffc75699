package strueretest_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestCase54_SiteSyncTakesOrganizationAndEnvironmentFromTheKey(t *testing.T) {
	s := headServer(t)
	prodKey := key(t, s, strueretest.Production)
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Development, strueretest.EntityType{Name: "Dev", Slug: "dev"}))
	body := `{"organizationId":"jd7a8k2m4n5p6q7r8s9t0v1w2x3y4z5a","environment":"development","typo":1,` +
		`"agents":[{"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"p","model":{"model":"openai/gpt-5-mini"},"tools":[]}],` +
		`"entityTypes":[{"name":"Teacher","slug":"teacher","schema":{}}],"roles":[]}`
	status, _, raw := site(t, s, "POST", "/v1/sync", "Bearer "+prodKey, body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	wantJSON(t, "result", `{"success":true,"agents":{"created":["support"],"updated":[],"deleted":[]},`+
		`"entityTypes":{"created":["teacher"],"updated":[],"deleted":[]},"roles":{"created":[],"updated":[],"deleted":[]}}`, json.RawMessage(raw))
	if c := s.Configs("support"); len(c) != 1 || c[0].Environment != strueretest.Production || c[0].DeployedBy != "" {
		t.Errorf("want one production config without deployedBy, got %+v", c)
	}
	if got := s.EntityTypes(strueretest.Development); len(got) != 1 {
		t.Errorf("development touched: %+v", got)
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].EventType != "deploy.completed" || ev[0].ActorType != "system" || ev[0].ActorID != "" {
		t.Errorf("event: %+v", ev)
	}

	// {} deletes every agent and the key environment's types and roles.
	devKey := key(t, s, strueretest.Development)
	for _, b := range []string{"{}", "[]", `"x"`} {
		status, _, raw = site(t, s, "POST", "/v1/sync", "Bearer "+devKey, b)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", b, status, raw)
		}
	}
	if n := len(s.Agents()) + len(s.EntityTypes(strueretest.Development)); n != 0 {
		t.Errorf("an empty body must delete all agents and development types; %d left", n)
	}
	if n := len(s.EntityTypes(strueretest.Production)); n != 1 {
		t.Errorf("production types must stay: %d", n)
	}
}

func TestCase55_SiteSyncFailures(t *testing.T) {
	s := headServer(t)
	k := "Bearer " + key(t, s, strueretest.Development)
	for _, tc := range []struct{ name, body, want string }{
		{"sync error", `{"agents":[{"name":"a","slug":"a","version":"1","systemPrompt":"","model":{"model":"m"},"tools":[]},` +
			`{"name":"b","slug":"b","version":"1","systemPrompt":"","model":{"model":"m"},"tools":[]},` +
			`{"name":"c","slug":"c","version":"1","systemPrompt":"","model":{"model":"m"},"tools":[]},` +
			`{"name":"d","slug":"d","version":"1","systemPrompt":"","model":{"model":"m"},"tools":[]}]}`,
			"Agent limit reached. Your plan allows up to 3 agents."},
		{"nested validation", `{"agents":[{"name":"a","slug":"a","version":"1","systemPrompt":"","model":{"model":"m"},` +
			`"tools":[{"name":"t","description":"d","parameters":{},"isBuiltin":true}]}]}`, "ArgumentValidationError"},
		{"not JSON", `{"agents":`, "Unexpected end of JSON input"},
		{"evalSuites null", `{"evalSuites":null}`, "ArgumentValidationError"},
		{"null body", `null`, "Cannot read properties of null"},
	} {
		status, h, raw := site(t, s, "POST", "/v1/sync", k, tc.body)
		if status != 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s: want a JSON 500, got %d %s", tc.name, status, raw)
			continue
		}
		msg := siteError(t, raw)
		if tc.name == "sync error" && msg != tc.want {
			t.Errorf("%s: error %q, want exactly %q", tc.name, msg, tc.want)
		}
		wantContains(t, msg, tc.want)
	}
	_, _, raw := site(t, s, "POST", "/v1/sync", k, `{"agents":[{"name":"a","slug":"a","version":"1","systemPrompt":"","model":{"model":"m"},"tools":[{"name":"t","description":"d","parameters":{},"isBuiltin":true}]}]}`)
	wantContains(t, siteError(t, raw), "extra field `isBuiltin`")
	if n := len(s.Agents()) + len(s.Events()); n != 0 {
		t.Errorf("failed syncs wrote %d rows", n)
	}
}

func TestCase56_SiteRouteAuthentication(t *testing.T) {
	s := headServer(t)
	raw, rec, err := s.CreateKey(strueretest.APIKey{Environment: strueretest.Development, Name: "none", Permissions: nil})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := s.CreateKey(strueretest.APIKey{Environment: strueretest.Development, ExpiresAt: s.Now().Add(-time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	atNow, _, err := s.CreateKey(strueretest.APIKey{Environment: strueretest.Development, ExpiresAt: s.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/sync", "/v1/sync/state", "/v1/sync/pull"} {
		for _, tc := range []struct {
			auth   string
			status int
			want   string
		}{
			{"", 401, "Unauthorized"},
			{"Bearer ", 401, "Unauthorized"},
			{"Bearer af_live_unknown0_00000000000000000000000000000000", 401, "Invalid API key"},
			{"Bearer " + expired, 401, "Invalid API key"},
			{"bearer " + raw, 401, "Invalid API key"},
		} {
			status, _, body := site(t, s, "POST", path, tc.auth, "{}")
			if status != tc.status || siteError(t, body) != tc.want {
				t.Errorf("%s with %q: got %d %s, want %d %q", path, tc.auth, status, body, tc.status, tc.want)
			}
		}
		for _, auth := range []string{"Bearer " + raw, raw, "Bearer " + atNow} {
			if status, _, body := site(t, s, "POST", path, auth, `{"agents":[],"entityTypes":[],"roles":[]}`); status != 200 {
				t.Errorf("%s with a valid key (%d chars of header): %d %s", path, len(auth), status, body)
			}
		}
	}
	if rec.Permissions == nil || len(rec.Permissions) != 0 {
		t.Fatalf("the key must have permissions [], got %#v", rec.Permissions)
	}
	// No rate limit on the sync routes.
	for i := 0; i < 100; i++ {
		if status, _, body := site(t, s, "POST", "/v1/sync/state", "Bearer "+raw, ""); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	s.Advance(time.Minute)
	site(t, s, "POST", "/v1/sync/pull", "Bearer "+raw, "")
	for _, k := range s.APIKeys() {
		if k.ID == rec.ID && !k.LastUsedAt.Equal(s.Now()) {
			t.Errorf("lastUsedAt = %v, want %v", k.LastUsedAt, s.Now())
		}
	}
	// Even a request that then fails records the use.
	s.Advance(time.Minute)
	if status, _, _ := site(t, s, "POST", "/v1/sync", "Bearer "+raw, "not json"); status != 500 {
		t.Fatalf("want 500, got %d", status)
	}
	for _, k := range s.APIKeys() {
		if k.ID == rec.ID && !k.LastUsedAt.Equal(s.Now()) {
			t.Errorf("after a failed sync lastUsedAt = %v, want %v", k.LastUsedAt, s.Now())
		}
	}
}

func TestCase57_SiteStateAndPullIgnoreTheBodyAndArePostOnly(t *testing.T) {
	s := headServer(t)
	syncOK(t, s, headSync(strueretest.Production, headAgent("support")))
	must[strueretest.EntityType](t)(s.SeedEntityType(strueretest.Production, strueretest.EntityType{Name: "T", Slug: "t", BoundToRole: "r"}))
	k := "Bearer " + key(t, s, strueretest.Production)
	for path, fn := range map[string]string{"/v1/sync/state": "sync:getSyncState", "/v1/sync/pull": "sync:getPullState"} {
		want := query(t, s, fn, map[string]any{"environment": "production"}).Value
		for _, body := range []string{"", "not json", `{"environment":"development"}`} {
			status, _, raw := site(t, s, "POST", path, k, body)
			if status != 200 {
				t.Fatalf("%s: %d %s", path, status, raw)
			}
			wantJSON(t, path+" with body "+strconv.Quote(body), string(want), json.RawMessage(raw))
		}
		status, h, raw := site(t, s, "GET", path, k, "")
		if status != 404 || raw != "No matching routes found" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: %d %q", path, status, raw)
		}
	}
	// The routes exist on HEAD only.
	e2 := newServer(t, struere.GenerationE2)
	if status, _, _ := site(t, e2, "POST", "/v1/sync", k, "{}"); status != 404 {
		t.Errorf("E2 serves /v1/sync: %d", status)
	}
}

func TestCase58_AuthRefresh(t *testing.T) {
	s := headServer(t)
	other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	sess := s.AddSession(strueretest.SeedUserSubject, "")
	refresh := func(body string) (int, map[string]any, string) {
		status, h, raw := site(t, s, "POST", "/v1/auth/refresh", "", body)
		var v map[string]any
		_ = json.Unmarshal([]byte(raw), &v)
		return status, v, h.Get("Retry-After")
	}
	if status, v, _ := refresh(`{}`); status != 400 || v["error"] != "sessionId is required" {
		t.Errorf("{}: %d %v", status, v)
	}
	status, v, _ := refresh(`{"sessionId":"` + sess + `"}`)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, v)
	}
	// The token works and carries the session's current organization.
	tok := v["token"].(string)
	r := callFn(t, s, "query", tok, "sync:getSyncState", map[string]any{"environment": "development"})
	value[map[string]any](t, r)
	if err := s.SetSessionOrganization(sess, "org_nonexistent"); err != nil {
		t.Fatal(err)
	}
	_, v, _ = refresh(`{"sessionId":"` + sess + `"}`)
	msg := failure(t, callFn(t, s, "query", v["token"].(string), "sync:getSyncState", map[string]any{"environment": "development"}))
	wantContains(t, msg, "Organization not found for the selected Clerk org.")
	_ = other

	bad := s.AddSession(strueretest.SeedUserSubject, "")
	if err := s.RejectSession(bad, `{"errors":[{"code":"session_expired"}]}`); err != nil {
		t.Fatal(err)
	}
	if status, v, _ := refresh(`{"sessionId":"` + bad + `"}`); status != 401 || v["error"] != `Session expired or invalid: {"errors":[{"code":"session_expired"}]}` {
		t.Errorf("rejected session: %d %v", status, v)
	}
	if status, v, _ := refresh(`{"sessionId":"sess_unknown"}`); status != 401 || !strings.HasPrefix(fmt.Sprint(v["error"]), "Session expired or invalid: ") {
		t.Errorf("unknown session: %d %v", status, v)
	}

	// 20 per window per session id; the 21st is refused (3 were spent above).
	limited := s.AddSession(strueretest.SeedUserSubject, "")
	for i := 1; i <= 20; i++ {
		if status, v, _ := refresh(`{"sessionId":"` + limited + `"}`); status != 200 {
			t.Fatalf("request %d: %d %v", i, status, v)
		}
	}
	status, v, retry := refresh(`{"sessionId":"` + limited + `"}`)
	n, _ := strconv.Atoi(retry)
	if status != 429 || v["error"] != "Rate limit exceeded" || n < 1 || v["retryAt"].(float64) <= float64(s.Now().UnixMilli()) {
		t.Errorf("21st request: %d %v Retry-After %q", status, v, retry)
	}
	s.Advance(time.Minute)
	if status, _, _ := refresh(`{"sessionId":"` + limited + `"}`); status != 200 {
		t.Errorf("after the window: %d", status)
	}

	status, h, raw := site(t, s, "POST", "/v1/auth/refresh", "", "not json")
	if status != 500 || !strings.Contains(raw, `"code":"[Request ID: `) || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("non-JSON body: %d %s", status, raw)
	}
	s.SetClerkSecretConfigured(false)
	if status, v, _ := refresh(`{"sessionId":"` + sess + `"}`); status != 500 || v["error"] != "CLERK_SECRET_KEY not configured" {
		t.Errorf("no secret: %d %v", status, v)
	}
}

func TestCase60_StudioKeys(t *testing.T) {
	s := headServer(t)
	studio, rec, err := s.CreateKey(strueretest.APIKey{Environment: strueretest.Development, Name: "Studio", Permissions: []string{"*"}, Studio: true})
	if err != nil {
		t.Fatal(err)
	}
	plain := value[map[string]any](t, mutation(t, s, "apiKeys:create", map[string]any{"name": "ci", "permissions": []any{}, "environment": "development"}))
	list := value[[]map[string]any](t, query(t, s, "apiKeys:list", map[string]any{}))
	if len(list) != 1 || list[0]["id"] != plain["id"] {
		t.Errorf("apiKeys:list must hide the studio key: %v", list)
	}
	wantContains(t, failure(t, mutation(t, s, "apiKeys:update", map[string]any{"id": rec.ID, "name": "x"})), "Studio keys cannot be modified")
	wantContains(t, failure(t, mutation(t, s, "apiKeys:remove", map[string]any{"id": rec.ID})), "Studio keys cannot be deleted")
	value[map[string]any](t, mutation(t, s, "apiKeys:update", map[string]any{"id": plain["id"], "name": "renamed"}))
	value[map[string]any](t, mutation(t, s, "apiKeys:remove", map[string]any{"id": plain["id"]}))
	if status, _, body := site(t, s, "POST", "/v1/sync", "Bearer "+studio, `{"agents":[],"entityTypes":[],"roles":[]}`); status != 200 {
		t.Errorf("a studio key must authenticate on /v1/sync: %d %s", status, body)
	}
	st := value[map[string]any](t, query(t, s, "apiKeys:getStudioKeyStatus", map[string]any{"environment": "development"}))
	if st["active"] != true || st["keyPrefix"] != rec.KeyPrefix || st["lastUsedAt"] != float64(s.Now().UnixMilli()) {
		t.Errorf("studio key status: %v", st)
	}
	if r := query(t, s, "apiKeys:getStudioKeyStatus", map[string]any{"environment": "production"}); string(r.Value) != "null" {
		t.Errorf("no production studio key: %s", r.Value)
	}
}

func TestCase63_APIKeyOnTheFunctionAPIIsInvalidAuthHeader(t *testing.T) {
	s := headServer(t)
	k := key(t, s, strueretest.Development)
	for _, endpoint := range []string{"/api/mutation", "/api/query"} {
		r := rawCall(t, s, endpoint, k, map[string]any{"path": "sync:syncOrganization", "args": headSync(strueretest.Development)})
		if r.HTTPStatus != 401 || r.Code != "InvalidAuthHeader" {
			t.Errorf("%s with an API key: %d %s", endpoint, r.HTTPStatus, r.Raw)
		}
	}
	// The same key on the site route works; the user token there does not.
	if status, _, body := site(t, s, "POST", "/v1/sync/state", "Bearer "+k, ""); status != 200 {
		t.Errorf("key on /v1/sync/state: %d %s", status, body)
	}
	if status, _, body := site(t, s, "POST", "/v1/sync/state", "Bearer "+tok(s), ""); status != 401 || siteError(t, body) != "Invalid API key" {
		t.Errorf("user token on /v1/sync/state: %d %s", status, body)
	}
}
