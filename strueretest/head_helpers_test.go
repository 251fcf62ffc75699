package strueretest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// headServer is a HEAD server that does not redact, so tests can read
// error texts; tests about redaction use newServer.
func headServer(t *testing.T, opts ...strueretest.Option) *strueretest.Server {
	t.Helper()
	return newServer(t, struere.GenerationHead, append([]strueretest.Option{strueretest.WithRedaction(false)}, opts...)...)
}

func headAgent(slug string) map[string]any {
	return map[string]any{"name": strings.ToUpper(slug[:1]) + slug[1:], "slug": slug, "version": "1.0.0",
		"systemPrompt": "You are " + slug, "model": map[string]any{"model": "openai/gpt-5-mini"}, "tools": []any{}}
}

func headSync(env struere.Environment, agents ...map[string]any) map[string]any {
	list := []any{}
	for _, a := range agents {
		list = append(list, a)
	}
	return map[string]any{"environment": env, "agents": list, "entityTypes": []any{}, "roles": []any{}}
}

// with returns a copy of m with the given key set.
func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// syncOK runs sync:syncOrganization and requires success.
func syncOK(t *testing.T, s *strueretest.Server, args map[string]any) map[string]json.RawMessage {
	t.Helper()
	return value[map[string]json.RawMessage](t, mutation(t, s, "sync:syncOrganization", args))
}

// syncFail runs sync:syncOrganization, requires a function error and
// returns its errorMessage and its errorData decoded as a string ("" when
// there is none).
func syncFail(t *testing.T, s *strueretest.Server, args map[string]any) (msg, data string) {
	t.Helper()
	r := mutation(t, s, "sync:syncOrganization", args)
	msg = failure(t, r)
	if len(r.ErrorData) > 0 {
		if err := json.Unmarshal(r.ErrorData, &data); err != nil {
			t.Fatalf("errorData is not a JSON string: %s", r.ErrorData)
		}
	}
	return msg, data
}

// site posts body to a site route with the Authorization header auth (""
// for none) and returns the status, headers and body.
func site(t *testing.T, s *strueretest.Server, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.SiteURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

// siteError decodes {"error": …}.
func siteError(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == nil {
		t.Fatalf("want {\"error\":…}, got %s", body)
	}
	return *v.Error
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// key creates an API key of the seeded organization in env.
func key(t *testing.T, s *strueretest.Server, env struere.Environment) string {
	t.Helper()
	raw, _, err := s.CreateKey(strueretest.APIKey{Environment: env, Name: "ci", Permissions: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
