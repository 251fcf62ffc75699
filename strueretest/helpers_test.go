package strueretest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

var allGenerations = []struere.Generation{struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy}
var isolatedGenerations = []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy}

// result is a decoded reply of the Convex function API.
type result struct {
	HTTPStatus   int
	Status       string          `json:"status"`
	Value        json.RawMessage `json:"value"`
	ErrorMessage string          `json:"errorMessage"`
	ErrorData    json.RawMessage `json:"errorData"`
	LogLines     json.RawMessage `json:"logLines"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	Raw          string
	Header       http.Header
}

func post(t *testing.T, url, auth string, header http.Header, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

// rawCall posts body to endpoint (e.g. "/api/query") with a bearer token
// ("" for none).
func rawCall(t *testing.T, s *strueretest.Server, endpoint, token string, body any) result {
	t.Helper()
	var b []byte
	switch x := body.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	}
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	status, h, raw := post(t, s.URL()+endpoint, auth, nil, b)
	r := result{HTTPStatus: status, Raw: string(raw), Header: h}
	if err := json.Unmarshal(raw, &r); err != nil && strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("response is not JSON: %v: %s", err, raw)
	}
	r.HTTPStatus, r.Raw = status, string(raw)
	return r
}

func tok(s *strueretest.Server) string { return s.Token().Reveal() }

func callFn(t *testing.T, s *strueretest.Server, kind, token, path string, args any) result {
	t.Helper()
	return rawCall(t, s, "/api/"+kind, token, map[string]any{"path": path, "args": args})
}

func query(t *testing.T, s *strueretest.Server, path string, args any) result {
	t.Helper()
	return callFn(t, s, "query", tok(s), path, args)
}

func mutation(t *testing.T, s *strueretest.Server, path string, args any) result {
	t.Helper()
	return callFn(t, s, "mutation", tok(s), path, args)
}

// value requires a success result and decodes its value into a T.
func value[T any](t *testing.T, r result) T {
	t.Helper()
	if r.HTTPStatus != http.StatusOK || r.Status != "success" {
		t.Fatalf("want success, got HTTP %d: %s", r.HTTPStatus, r.Raw)
	}
	var v T
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("decode value: %v: %s", err, r.Value)
	}
	return v
}

// failure requires a function error and returns its errorMessage.
func failure(t *testing.T, r result) string {
	t.Helper()
	if r.HTTPStatus != http.StatusOK || r.Status != "error" {
		t.Fatalf("want status error at HTTP 200, got HTTP %d: %s", r.HTTPStatus, r.Raw)
	}
	if !strings.HasPrefix(r.ErrorMessage, "[Request ID: ") {
		t.Fatalf("errorMessage does not start with the request id: %q", r.ErrorMessage)
	}
	return r.ErrorMessage
}

func wantContains(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("got %q\nwant it to contain %q", got, want)
	}
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func newServer(t *testing.T, g struere.Generation, opts ...strueretest.Option) *strueretest.Server {
	t.Helper()
	return strueretest.NewServer(t, append([]strueretest.Option{strueretest.WithGeneration(g)}, opts...)...)
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		return v
	}
}

// envArgs returns args with environment added on isolated generations.
func envArgs(g struere.Generation, env string, args map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range args {
		out[k] = v
	}
	if g != struere.GenerationE1 {
		out["environment"] = env
	}
	return out
}

func model() map[string]any {
	return map[string]any{"provider": "anthropic", "name": "claude-haiku-4-5"}
}

func agentPayload(slug, version string) map[string]any {
	return map[string]any{"name": strings.ToUpper(slug[:1]) + slug[1:], "slug": slug, "version": version,
		"systemPrompt": "You are " + slug, "model": model(), "tools": []any{}}
}

func syncPayload(g struere.Generation, env string, agents ...map[string]any) map[string]any {
	list := []any{}
	for _, a := range agents {
		list = append(list, a)
	}
	return envArgs(g, env, map[string]any{"agents": list, "entityTypes": []any{}, "roles": []any{}})
}

type syncState struct {
	Agents []struct {
		Slug, Name, Version         string
		HasConfig                   *bool `json:"hasConfig"`
		HasDevConfig, HasProdConfig *bool
	} `json:"agents"`
	EntityTypes []map[string]any `json:"entityTypes"`
	Roles       []map[string]any `json:"roles"`
}

type deployResult struct {
	Success  bool     `json:"success"`
	Deployed []string `json:"deployed"`
	Skipped  []string `json:"skipped"`
}

func cfg(version string) strueretest.AgentConfig {
	return strueretest.AgentConfig{Version: version, Name: "Support", SystemPrompt: "Help " + version,
		Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}}
}
