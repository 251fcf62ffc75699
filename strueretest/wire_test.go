package strueretest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

var requestIDLine = regexp.MustCompile(`^\[Request ID: [0-9a-f]{16}\] Server Error`)

func TestCase01_ArgsAsObjectOrOneElementArrayAndMissingFormat(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			args := envArgs(g, "development", map[string]any{})
			forms := map[string]result{
				"object":                rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "sync:getSyncState", "args": args}),
				"array":                 rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "sync:getSyncState", "args": []any{args}, "format": "convex_encoded_json"}),
				"run path":              rawCall(t, s, "/api/run/sync/getSyncState", tok(s), map[string]any{"args": args}),
				"function endpoint":     rawCall(t, s, "/api/function", tok(s), map[string]any{"path": "sync:getSyncState", "args": args, "format": "json"}),
				"module with js suffix": rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "sync.js:getSyncState", "args": args}),
			}
			for name, r := range forms {
				st := value[syncState](t, r)
				if st.Agents == nil {
					t.Errorf("%s: agents missing from %s", name, r.Raw)
				}
				if strings.Contains(r.Raw, "logLines") {
					t.Errorf("%s: logLines present although empty: %s", name, r.Raw)
				}
			}
		})
	}
}

func TestCase01_RejectsUnknownFormatAndBadPaths(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	r := rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "users:getCurrent", "args": map[string]any{}, "format": "xml"})
	if r.HTTPStatus != http.StatusBadRequest || r.Code != "BadFormat" {
		t.Errorf("format xml: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	r = rawCall(t, s, "/api/run/sync", tok(s), map[string]any{"args": map[string]any{}})
	if r.HTTPStatus != http.StatusBadRequest || r.Code != "MissingIdentifier" {
		t.Errorf("one-segment run path: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	r = rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "users:getCurrent", "args": []any{map[string]any{}, map[string]any{}}})
	if r.HTTPStatus != http.StatusBadRequest {
		t.Errorf("two-element args: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	r = rawCall(t, s, "/api/nope", tok(s), map[string]any{})
	if r.HTTPStatus != http.StatusNotFound || r.Raw != "No matching routes found" {
		t.Errorf("unknown route: got HTTP %d %q", r.HTTPStatus, r.Raw)
	}
	status, _, body := post(t, s.URL()+"/api/query", "", http.Header{"Convex-Client": {"garbage"}}, []byte(`{"path":"users:getCurrent","args":{}}`))
	if status != http.StatusBadRequest || !strings.Contains(string(body), "InvalidVersion") {
		t.Errorf("bad Convex-Client: got HTTP %d %s", status, body)
	}
	status, _, body = post(t, s.URL()+"/api/query", "", http.Header{"Convex-Client": {"struere-go-0.1.0"}}, []byte(`{"path":"users:getCurrent","args":{}}`))
	if status != http.StatusOK {
		t.Errorf("Convex-Client struere-go-0.1.0: got HTTP %d %s", status, body)
	}
}

func TestCase01_WrongEndpointForFunctionKind(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	msg := failure(t, callFn(t, s, "mutation", tok(s), "sync:getSyncState", map[string]any{"environment": "development"}))
	wantContains(t, msg, "Trying to execute sync:getSyncState as Mutation, but it is defined as Query.")
	msg = failure(t, callFn(t, s, "query", tok(s), "sync:deployAllAgents", map[string]any{}))
	wantContains(t, msg, "as Query, but it is defined as Mutation.")
}

func TestCase02_FunctionErrorsStartWithRequestIDAndRedactToFirstLine(t *testing.T) {
	for _, redact := range []bool{false, true} {
		t.Run(fmt.Sprintf("redact=%v", redact), func(t *testing.T) {
			s := newServer(t, struere.GenerationE2Deploy, strueretest.WithRedaction(redact))
			msg := failure(t, callFn(t, s, "query", "", "organizations:listMyOrganizations", map[string]any{}))
			if !requestIDLine.MatchString(msg) {
				t.Fatalf("first line is not the request id line: %q", msg)
			}
			first, rest, _ := strings.Cut(msg, "\n")
			if redact {
				if rest != "" {
					t.Errorf("redacting mode leaked a second line: %q", msg)
				}
				return
			}
			if !strings.HasPrefix(rest, "Uncaught Error: Not authenticated") {
				t.Errorf("after %q got %q, want Uncaught Error: Not authenticated", first, rest)
			}
		})
	}
}

func TestCase02_RequestIDsDifferPerRequest(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy, strueretest.WithRedaction(true))
	a := failure(t, callFn(t, s, "query", "", "organizations:listMyOrganizations", map[string]any{}))
	b := failure(t, callFn(t, s, "query", "", "organizations:listMyOrganizations", map[string]any{}))
	if a == b {
		t.Errorf("two requests share a request id: %q", a)
	}
}

func TestCase03_ConvexErrorDataPassesEvenWhenRedacting(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy, strueretest.WithRedaction(true))
	s.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, FunctionError: `Multiple entity types bound to role "teacher"`,
		ErrorData: json.RawMessage(`"Multiple entity types bound to role \"teacher\""`)})
	r := mutation(t, s, "sync:syncOrganization", syncPayload(struere.GenerationE2Deploy, "development"))
	msg := failure(t, r)
	if strings.Contains(msg, "\n") {
		t.Errorf("redacted message has more than one line: %q", msg)
	}
	var data string
	if err := json.Unmarshal(r.ErrorData, &data); err != nil || data != `Multiple entity types bound to role "teacher"` {
		t.Errorf("errorData = %s (%v)", r.ErrorData, err)
	}
	// Without errorData the error carries no errorData key at all.
	r = callFn(t, s, "query", "", "organizations:listMyOrganizations", map[string]any{})
	if r.ErrorData != nil {
		t.Errorf("plain Error carries errorData: %s", r.Raw)
	}
}

func TestCase04_PlatformErrorsCarryCodeAndMessage(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	tests := []struct {
		name   string
		auth   string
		body   string
		status int
		code   string
	}{
		{"bad format", "", `{"path":"users:getCurrent","args":{},"format":"xml"}`, 400, "BadFormat"},
		{"body not json", "", `{nope`, 400, "BadJsonBody"},
		{"missing path", "", `{"args":{}}`, 400, "BadJsonBody"},
		{"header without bearer", "Basic abc", `{"path":"users:getCurrent","args":{}}`, 401, "InvalidAuthHeader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, s.URL()+"/api/query", tc.auth, nil, []byte(tc.body))
			var pe struct{ Code, Message string }
			if err := json.Unmarshal(body, &pe); err != nil {
				t.Fatalf("body is not JSON: %s", body)
			}
			if status != tc.status || pe.Code != tc.code || pe.Message == "" {
				t.Errorf("got HTTP %d %s, want %d code %s with a message", status, body, tc.status, tc.code)
			}
		})
	}
}

func TestCase05_APIKeyAsBearerAndExpiredOrForgedJWTGive401(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	key := must[string](t)(s.CreateAPIKey("production", "ci", time.Time{}))
	args := map[string]any{"environment": "development"}
	r := callFn(t, s, "query", key, "sync:getSyncState", args)
	if r.HTTPStatus != 401 || r.Code != "InvalidAuthHeader" {
		t.Errorf("api key as bearer: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	parts := strings.Split(tok(s), ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	r = callFn(t, s, "query", forged, "sync:getSyncState", args)
	if r.HTTPStatus != 401 || r.Code != "Unauthenticated" {
		t.Errorf("forged jwt: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	_, utok, err := s.AddUser(strueretest.User{Subject: "user_expiring"})
	if err != nil {
		t.Fatal(err)
	}
	if r := callFn(t, s, "query", utok.Reveal(), "users:getCurrent", map[string]any{}); r.HTTPStatus != 200 {
		t.Fatalf("fresh token rejected: %s", r.Raw)
	}
	s.ExpireToken(utok)
	r = callFn(t, s, "query", utok.Reveal(), "users:getCurrent", map[string]any{})
	if r.HTTPStatus != 401 || r.Code != "Unauthenticated" {
		t.Errorf("expired token: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
	s.Advance(400 * 24 * time.Hour)
	r = callFn(t, s, "query", tok(s), "users:getCurrent", map[string]any{})
	if r.HTTPStatus != 401 || r.Code != "Unauthenticated" {
		t.Errorf("token past exp: got HTTP %d %s", r.HTTPStatus, r.Raw)
	}
}

func TestCase06_NoAuthorizationHeader(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			for _, c := range []struct{ kind, path string }{
				{"query", "sync:getSyncState"}, {"mutation", "sync:syncOrganization"}, {"query", "organizations:listMyOrganizations"},
			} {
				args := map[string]any{}
				if c.path == "sync:syncOrganization" {
					args = syncPayload(g, "development")
				} else if c.path == "sync:getSyncState" {
					args = envArgs(g, "development", args)
				}
				wantContains(t, failure(t, callFn(t, s, c.kind, "", c.path, args)), "Uncaught Error: Not authenticated")
			}
			r := callFn(t, s, "query", "", "users:getCurrent", map[string]any{})
			if r.Status != "success" || string(r.Value) != "null" {
				t.Errorf("users:getCurrent without auth: %s", r.Raw)
			}
		})
	}
}

func TestCase07_ExtraFieldsAreRejectedAtEveryLevel(t *testing.T) {
	tests := []struct {
		name string
		gen  struere.Generation
		path string
		args map[string]any
		want []string
	}{
		{"environment on E1 getSyncState", struere.GenerationE1, "sync:getSyncState", map[string]any{"environment": "production"},
			[]string{"ArgumentValidationError: Object contains extra field `environment` that is not in the validator.", "Object: {environment: \"production\"}", "Validator: v.object({organizationId: v.optional(v.string())})"}},
		{"priority in E2 policy", struere.GenerationE2, "sync:syncOrganization", map[string]any{"environment": "development", "agents": []any{}, "entityTypes": []any{},
			"roles": []any{map[string]any{"name": "teacher", "policies": []any{map[string]any{"resource": "session", "actions": []any{"read"}, "effect": "allow", "priority": 50}}}}},
			[]string{"Object contains extra field `priority` that is not in the validator.", "Path: .roles[0].policies[0]"}},
		{"preserve flag on E2", struere.GenerationE2Deploy, "sync:syncOrganization", map[string]any{"environment": "development", "agents": []any{}, "entityTypes": []any{}, "roles": []any{}, "preserveUnmanagedAgents": true},
			[]string{"extra field `preserveUnmanagedAgents`"}},
		{"unknown key in a tool", struere.GenerationE1, "sync:syncOrganization", map[string]any{"agents": []any{func() map[string]any {
			a := agentPayload("support", "1.0.0")
			a["tools"] = []any{map[string]any{"name": "x", "description": "d", "parameters": map[string]any{}, "isBuiltin": true, "templateOnly": true}}
			return a
		}()}, "entityTypes": []any{}, "roles": []any{}},
			[]string{"extra field `templateOnly`", "Path: .agents[0].tools[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.gen)
			kind := "query"
			if tc.path == "sync:syncOrganization" {
				kind = "mutation"
			}
			msg := failure(t, callFn(t, s, kind, tok(s), tc.path, tc.args))
			for _, w := range tc.want {
				wantContains(t, msg, w)
			}
		})
	}
}

func TestCase07_AnyFieldsAcceptUnknownKeys(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	p := syncPayload(struere.GenerationE2Deploy, "development")
	p["entityTypes"] = []any{map[string]any{"name": "Customer", "slug": "customer", "schema": map[string]any{"whatever": map[string]any{"deep": true}},
		"displayConfig": map[string]any{"anything": 1}}}
	value[map[string]any](t, mutation(t, s, "sync:syncOrganization", p))
}

func TestCase08_EnvironmentIsRequiredAndLiteral(t *testing.T) {
	for _, g := range isolatedGenerations {
		for _, path := range []string{"sync:getSyncState", "sync:getPullState", "sync:syncOrganization"} {
			t.Run(g.String()+"/"+path, func(t *testing.T) {
				s := newServer(t, g)
				kind, args := "query", map[string]any{}
				if path == "sync:syncOrganization" {
					kind, args = "mutation", map[string]any{"agents": []any{}, "entityTypes": []any{}, "roles": []any{}}
				}
				msg := failure(t, callFn(t, s, kind, tok(s), path, args))
				wantContains(t, msg, "ArgumentValidationError: Object is missing the required field `environment`. Consider wrapping the field validator in `v.optional(...)` if this is expected.")
				for _, bad := range []string{"staging", "eval"} {
					args["environment"] = bad
					msg = failure(t, callFn(t, s, kind, tok(s), path, args))
					wantContains(t, msg, "ArgumentValidationError: Value does not match validator.")
					wantContains(t, msg, "Path: .environment")
					wantContains(t, msg, `Value: "`+bad+`"`)
					wantContains(t, msg, `Validator: v.union(v.literal("development"), v.literal("production"))`)
				}
			})
		}
	}
}

func TestCase09_NullOrganizationIDIsAValidatorMismatch(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			msg := failure(t, query(t, s, "sync:getSyncState", envArgs(g, "development", map[string]any{"organizationId": nil})))
			wantContains(t, msg, "ArgumentValidationError: Value does not match validator.\nPath: .organizationId\nValue: null\nValidator: v.string()")
		})
	}
}

func TestCase37_ValueCodecRoundTrip(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	schema := map[string]any{
		"big":   map[string]any{"$integer": "AQAAAAAAAAA="},
		"neg":   map[string]any{"$integer": "//////////8="},
		"blob":  map[string]any{"$bytes": "aGVsbG8="},
		"nan":   map[string]any{"$float": "AAAAAAAA+H8="},
		"inf":   map[string]any{"$float": "AAAAAAAA8H8="},
		"plain": 1.5,
	}
	p := syncPayload(struere.GenerationE2Deploy, "development")
	p["entityTypes"] = []any{map[string]any{"name": "Doc", "slug": "doc", "schema": schema}}
	value[map[string]any](t, rawCall(t, s, "/api/mutation", tok(s), map[string]any{"path": "sync:syncOrganization", "args": []any{p}, "format": "convex_encoded_json"}))

	type pull struct {
		EntityTypes []struct {
			Schema map[string]any `json:"schema"`
		} `json:"entityTypes"`
	}
	encoded := value[pull](t, rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "sync:getPullState", "args": []any{map[string]any{"environment": "development"}}, "format": "convex_encoded_json"}))
	if len(encoded.EntityTypes) != 1 {
		t.Fatalf("entity types: %+v", encoded)
	}
	diff(t, "encoded schema", schema, encoded.EntityTypes[0].Schema)

	clean := value[pull](t, query(t, s, "sync:getPullState", map[string]any{"environment": "development"}))
	diff(t, "clean schema", map[string]any{"big": "1", "neg": "-1", "blob": "aGVsbG8=", "nan": "NaN", "inf": "Infinity", "plain": 1.5}, clean.EntityTypes[0].Schema)

	// Keys starting with $ are rejected, and so is a finite float in $float.
	for _, bad := range []map[string]any{{"$weird": 1}, {"x": map[string]any{"$float": "AAAAAAAA+D8="}}} {
		p["entityTypes"] = []any{map[string]any{"name": "Doc", "slug": "doc", "schema": bad}}
		r := mutation(t, s, "sync:syncOrganization", p)
		if r.HTTPStatus != http.StatusBadRequest {
			t.Errorf("schema %v: got HTTP %d %s", bad, r.HTTPStatus, r.Raw)
		}
	}
}
