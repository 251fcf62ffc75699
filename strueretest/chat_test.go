package strueretest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

type chatReply struct {
	HTTPStatus int
	Error      string `json:"error"`
	Message    string `json:"message"`
	ThreadID   string `json:"threadId"`
	Usage      struct {
		InputTokens, OutputTokens, TotalTokens int
	} `json:"usage"`
	Raw string
}

func chat(t *testing.T, s *strueretest.Server, path, key string, body any) chatReply {
	t.Helper()
	var b []byte
	if str, ok := body.(string); ok {
		b = []byte(str)
	} else {
		b, _ = json.Marshal(body)
	}
	auth := ""
	if key != "" {
		auth = "Bearer " + key
	}
	status, _, raw := post(t, s.SiteURL()+path, auth, nil, b)
	r := chatReply{HTTPStatus: status, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r)
	return r
}

// chatSetup seeds agent "support" with the given configurations and
// returns its id.
func chatSetup(t *testing.T, s *strueretest.Server, envs map[struere.Environment]string) string {
	t.Helper()
	a := must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"}))
	for env, version := range envs {
		must[strueretest.ConfigRecord](t)(s.SeedConfig("support", env, cfg(version)))
	}
	return a.ID
}

func TestCase27_DevelopmentKeyNeverReachesProduction(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			id := chatSetup(t, s, map[struere.Environment]string{"production": "1.0.0"})
			dev := must[string](t)(s.CreateAPIKey("development", "dev", time.Time{}))
			prod := must[string](t)(s.CreateAPIKey("production", "prod", time.Time{}))
			r := chat(t, s, "/v1/chat", dev, map[string]any{"agentId": id, "message": "hi"})
			if r.HTTPStatus != 500 || r.Error != "No development configuration found" {
				t.Errorf("dev key: %d %s", r.HTTPStatus, r.Raw)
			}
			r = chat(t, s, "/v1/chat", prod, map[string]any{"agentId": id, "message": "hi"})
			if r.HTTPStatus != 200 || r.Message != "[support@1.0.0 production] You said: hi" {
				t.Errorf("prod key: %d %s", r.HTTPStatus, r.Raw)
			}
			must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("2.0.0-dev")))
			r = chat(t, s, "/v1/chat", dev, map[string]any{"agentId": id, "message": "hi", "environment": "production"})
			if r.HTTPStatus != 200 || r.Message != "[support@2.0.0-dev development] You said: hi" {
				t.Errorf("dev key with a body environment: %d %s", r.HTTPStatus, r.Raw)
			}
			var envs []string
			for _, th := range s.Threads() {
				envs = append(envs, string(th.Environment))
			}
			diff(t, "thread environments", []string{"production", "development"}, envs)
		})
	}
}

func TestCase27_ProductionKeyWithoutProductionConfig(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	id := chatSetup(t, s, map[struere.Environment]string{"development": "1.0.0"})
	prod := must[string](t)(s.CreateAPIKey("production", "prod", time.Time{}))
	r := chat(t, s, "/v1/chat", prod, map[string]any{"agentId": id, "message": "hi"})
	if r.HTTPStatus != 500 || r.Error != "No production configuration found" {
		t.Errorf("got %d %s", r.HTTPStatus, r.Raw)
	}
	deploy(t, s)
	r = chat(t, s, "/v1/chat", prod, map[string]any{"agentId": id, "message": "hi"})
	if r.HTTPStatus != 200 || r.Message != "[support@1.0.0 production] You said: hi" {
		t.Errorf("after deploy: %d %s", r.HTTPStatus, r.Raw)
	}
}

func TestCase28_UnknownAndExpiredKeysAreInvalid(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			id := chatSetup(t, s, map[struere.Environment]string{"production": "1.0.0"})
			expiring := must[string](t)(s.CreateAPIKey("production", "exp", s.Now().Add(time.Hour)))
			forever := must[string](t)(s.CreateAPIKey("production", "forever", time.Time{}))
			body := map[string]any{"agentId": id, "message": "hi"}
			if r := chat(t, s, "/v1/chat", expiring, body); r.HTTPStatus != 200 {
				t.Fatalf("fresh key: %s", r.Raw)
			}
			s.Advance(time.Hour)
			if r := chat(t, s, "/v1/chat", expiring, body); r.HTTPStatus != 200 {
				t.Errorf("key at exactly expiresAt must still be valid: %s", r.Raw)
			}
			s.Advance(time.Millisecond)
			for name, key := range map[string]string{"expired": expiring, "unknown": "af_live_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"} {
				r := chat(t, s, "/v1/chat", key, body)
				if r.HTTPStatus != 500 || r.Raw != `{"error":"Invalid API key"}` {
					t.Errorf("%s key: %d %s", name, r.HTTPStatus, r.Raw)
				}
			}
			s.Advance(10 * 365 * 24 * time.Hour)
			if r := chat(t, s, "/v1/chat", forever, body); r.HTTPStatus != 200 {
				t.Errorf("key without expiresAt expired: %s", r.Raw)
			}
		})
	}
}

func TestCase29_MissingAuthorizationIs401BeforeTheBodyIsRead(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	for _, path := range []string{"/v1/chat", "/v1/agents/support/chat"} {
		for _, body := range []string{`{"message":"hi"}`, `not json`} {
			r := chat(t, s, path, "", body)
			if r.HTTPStatus != 401 || r.Raw != `{"error":"Unauthorized"}` {
				t.Errorf("%s %s: %d %s", path, body, r.HTTPStatus, r.Raw)
			}
		}
	}
}

func TestCase30_MissingFieldsGive400(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	key := must[string](t)(s.CreateAPIKey("production", "k", time.Time{}))
	tests := []struct {
		path string
		body any
		want string
	}{
		{"/v1/chat", map[string]any{"message": "hi"}, `{"error":"agentId and message are required"}`},
		{"/v1/chat", map[string]any{"agentId": "x", "message": ""}, `{"error":"agentId and message are required"}`},
		{"/v1/agents/support/chat", map[string]any{}, `{"error":"message is required"}`},
	}
	for _, tc := range tests {
		r := chat(t, s, tc.path, key, tc.body)
		if r.HTTPStatus != 400 || r.Raw != tc.want {
			t.Errorf("%s %v: %d %s", tc.path, tc.body, r.HTTPStatus, r.Raw)
		}
	}
	// An unparseable body is a Convex-generated 500.
	r := chat(t, s, "/v1/chat", key, "{nope")
	if r.HTTPStatus != 500 || !regexp.MustCompile(`"code":"\[Request ID: [0-9a-f]{16}\] Server Error"`).MatchString(r.Raw) {
		t.Errorf("unparseable body: %d %s", r.HTTPStatus, r.Raw)
	}
}

func TestCase31_AgentOutsideTheKeysOrganization(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	id := chatSetup(t, s, map[struere.Environment]string{"production": "1.0.0"})
	other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
	foreign := must[string](t)(s.CreateAPIKeyIn(other.ID, "production", "k", time.Time{}))
	key := must[string](t)(s.CreateAPIKey("production", "k", time.Time{}))
	for _, tc := range []struct{ path, key string }{
		{"/v1/chat", foreign}, {"/v1/agents/support/chat", foreign}, {"/v1/agents/nobody/chat", key},
	} {
		r := chat(t, s, tc.path, tc.key, map[string]any{"agentId": id, "message": "hi"})
		if r.HTTPStatus != 500 || r.Raw != `{"error":"Agent not found"}` {
			t.Errorf("%s: %d %s", tc.path, r.HTTPStatus, r.Raw)
		}
	}
	r := chat(t, s, "/v1/chat", key, map[string]any{"agentId": "bogus", "message": "hi"})
	if r.HTTPStatus != 500 || !regexp.MustCompile(`ArgumentValidationError`).MatchString(r.Error) {
		t.Errorf("malformed agentId: %d %s", r.HTTPStatus, r.Raw)
	}
	r = chat(t, s, "/v1/chat", key, map[string]any{"agentId": id, "message": "hello there"})
	if r.HTTPStatus != 200 || r.ThreadID == "" || r.Usage.TotalTokens != r.Usage.InputTokens+r.Usage.OutputTokens || r.Usage.InputTokens == 0 {
		t.Errorf("success shape: %d %s", r.HTTPStatus, r.Raw)
	}
	again := chat(t, s, "/v1/chat", key, map[string]any{"agentId": id, "message": "hello there", "threadId": r.ThreadID})
	if again.ThreadID != r.ThreadID || again.Usage.InputTokens <= r.Usage.InputTokens {
		t.Errorf("continuing a thread: first %s, again %s", r.Raw, again.Raw)
	}
}

func TestCase32_SlugRoutingAndUnknownRoutes(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			chatSetup(t, s, map[struere.Environment]string{"production": "1.0.0"})
			key := must[string](t)(s.CreateAPIKey("production", "k", time.Time{}))
			for _, path := range []string{"/v1/agents/support/chat", "/v1/agents/support"} {
				r := chat(t, s, path, key, map[string]any{"message": "hi"})
				if g == struere.GenerationE1 {
					if r.HTTPStatus != 404 || r.Raw != "No matching routes found" {
						t.Errorf("E1 %s: %d %s", path, r.HTTPStatus, r.Raw)
					}
					continue
				}
				if r.HTTPStatus != 200 || r.Message != "[support@1.0.0 production] You said: hi" {
					t.Errorf("%s: %d %s", path, r.HTTPStatus, r.Raw)
				}
			}
			for _, tc := range []struct{ method, path string }{{"POST", "/v1/nothing"}, {"GET", "/v1/chat"}, {"POST", "/health"}} {
				req, _ := http.NewRequest(tc.method, s.SiteURL()+tc.path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 404 || string(b) != "No matching routes found" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
					t.Errorf("%s %s: %d %q %q", tc.method, tc.path, resp.StatusCode, b, resp.Header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestCase33_HealthNeedsNoAuth(t *testing.T) {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := newServer(t, struere.GenerationE2, strueretest.WithClock(start))
	resp, err := http.Get(s.SiteURL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	diff(t, "health", fmt.Sprintf(`{"status":"ok","timestamp":%d}`, start.UnixMilli()), string(b))
}

func TestCase34_GeneratedKeysHaveTheDocumentedShape(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			args := map[string]any{"name": "ci", "permissions": []any{"*"}, "environment": "development"}
			type created struct {
				ID, Key, Name, KeyPrefix string
				Permissions              []string
				CreatedAt                float64
			}
			c := value[created](t, mutation(t, s, "apiKeys:create", args))
			raw := must[string](t)(s.CreateAPIKey("production", "seeded", time.Time{}))
			shape := regexp.MustCompile(`^af_live_[0-9a-z]{8}_[0-9a-z]{32}$`)
			for _, k := range []string{c.Key, raw} {
				if !shape.MatchString(k) {
					t.Errorf("key %q does not match the documented shape", k)
				}
			}
			if c.KeyPrefix != c.Key[:16] {
				t.Errorf("keyPrefix %q, key %q", c.KeyPrefix, c.Key)
			}
			keys := s.APIKeys()
			if len(keys) != 2 {
				t.Fatalf("api keys: %+v", keys)
			}
			sum := sha256.Sum256([]byte(c.Key))
			if keys[0].KeyHash != hex.EncodeToString(sum[:]) || keys[0].Environment != "development" || keys[1].Environment != "production" {
				t.Errorf("stored key: %+v", keys[0])
			}
			type listed struct {
				Name, KeyPrefix, Environment string
			}
			diff(t, "list", []listed{{"ci", c.KeyPrefix, "development"}, {"seeded", raw[:16], "production"}}, value[[]listed](t, query(t, s, "apiKeys:list", map[string]any{})))
			if list := query(t, s, "apiKeys:list", map[string]any{}).Raw; strings.Contains(list, c.Key) || strings.Contains(list, raw) {
				t.Errorf("apiKeys:list leaks a raw key: %s", list)
			}
		})
	}
}
