package strueretest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestFaultStatusBodyAndRetryAfterForTheNextNCalls(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 2, Status: 429, Header: http.Header{"Retry-After": {"3"}}})
	args := map[string]any{"environment": "development"}
	for i := 0; i < 2; i++ {
		r := query(t, s, "sync:getSyncState", args)
		if r.HTTPStatus != 429 || r.Header.Get("Retry-After") != "3" || r.Code == "" {
			t.Fatalf("call %d: %d %v %s", i, r.HTTPStatus, r.Header, r.Raw)
		}
	}
	value[syncState](t, query(t, s, "sync:getSyncState", args))
	// Another path is never affected.
	s.Inject(strueretest.Fault{Path: "sync:getPullState", Status: 503, Body: `{"code":"Overloaded","message":"busy"}`})
	value[syncState](t, query(t, s, "sync:getSyncState", args))
	for i := 0; i < 3; i++ {
		if r := query(t, s, "sync:getPullState", args); r.HTTPStatus != 503 || r.Code != "Overloaded" {
			t.Fatalf("always fault, call %d: %d %s", i, r.HTTPStatus, r.Raw)
		}
	}
	s.ClearFaults()
	value[map[string]any](t, query(t, s, "sync:getPullState", args))
}

func TestFaultOnSiteRoutes(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.Inject(strueretest.Fault{Path: "/v1/chat", Times: 1, Status: 429, Header: http.Header{"Retry-After": {"1"}},
		Body: `{"error":"Rate limit exceeded","retryAt":1}`})
	r := chat(t, s, "/v1/chat", "whatever", map[string]any{"agentId": "x", "message": "hi"})
	if r.HTTPStatus != 429 || r.Error != "Rate limit exceeded" {
		t.Errorf("chat fault: %d %s", r.HTTPStatus, r.Raw)
	}
	s.Inject(strueretest.Fault{Path: "/v1/agents/*", Times: 1, Status: 502})
	r = chat(t, s, "/v1/agents/support/chat", "whatever", map[string]any{"message": "hi"})
	if r.HTTPStatus != 502 || r.Error != "Bad Gateway" {
		t.Errorf("prefix fault: %d %s", r.HTTPStatus, r.Raw)
	}
}

func TestFaultHangBlocksUntilTheClientGivesUp(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/query", strings.NewReader(`{"path":"sync:getSyncState","args":{"environment":"development"}}`))
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	value[syncState](t, query(t, s, "sync:getSyncState", map[string]any{"environment": "development"}))
}

func TestFaultHangIsReleasedByClose(t *testing.T) {
	s, err := strueretest.Start()
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{}, 1)
	s.Inject(strueretest.Fault{Hang: true, Applied: held})
	done := make(chan error, 1)
	go func() {
		_, err := http.Post(s.URL()+"/api/query", "application/json", strings.NewReader(`{"path":"users:getCurrent","args":{}}`))
		done <- err
	}()
	<-held
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hanging request not released by Close")
	}
}

func TestFaultDelayHoldsTheRequest(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.Inject(strueretest.Fault{Path: "users:getCurrent", Times: 1, Delay: 50 * time.Millisecond})
	start := time.Now()
	value[map[string]any](t, query(t, s, "users:getCurrent", map[string]any{}))
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("delay not applied: %v", time.Since(start))
	}
}

func readAll(t *testing.T, s *strueretest.Server, path string, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok(s))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultBrokenBodies(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	call := `{"path":"sync:getSyncState","args":{"environment":"development"}}`

	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, CloseMidBody: true})
	if _, _, err := readAll(t, s, "/api/query", call); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("close mid body: want unexpected EOF, got %v", err)
	}

	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, Truncate: true})
	resp, b, err := readAll(t, s, "/api/query", call)
	if err != nil || resp.StatusCode != 200 || json.Valid(b) || !strings.HasPrefix(`{"status":"success","value":null}`, string(b)) {
		t.Errorf("truncate: %v %s", err, b)
	}

	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, Malformed: true})
	_, b, err = readAll(t, s, "/api/query", call)
	if err != nil || json.Valid(b) {
		t.Errorf("malformed: %v %s", err, b)
	}

	const size = 3 << 20
	s.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, OversizeBytes: size})
	resp, b, err = readAll(t, s, "/api/query", call)
	if err != nil || resp.ContentLength != size || len(b) != size || !json.Valid(b) {
		t.Errorf("oversize: %v, content length %d, read %d, valid %v", err, resp.ContentLength, len(b), json.Valid(b))
	}
}

func TestFaultOversizeStopsWhenTheClientStopsReading(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.Inject(strueretest.Fault{Times: 1, OversizeBytes: 1 << 40})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/query", strings.NewReader(`{"path":"users:getCurrent","args":{}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if n != 1<<20 {
		t.Errorf("read %d bytes", n)
	}
	// The server is still healthy.
	value[map[string]any](t, query(t, s, "users:getCurrent", map[string]any{}))
}

func TestFaultAfterRunKeepsTheWrites(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.0.0")))
	s.Inject(strueretest.Fault{Path: "sync:deployAllAgents", Times: 1, AfterRun: true, Status: 502})
	r := mutation(t, s, "sync:deployAllAgents", map[string]any{})
	if r.HTTPStatus != 502 {
		t.Fatalf("want 502, got %d %s", r.HTTPStatus, r.Raw)
	}
	if pc := prodConfigs(s, "support"); len(pc) != 1 {
		t.Errorf("the mutation did not run: %+v", pc)
	}
	// Without AfterRun the function never runs.
	s.Inject(strueretest.Fault{Path: "sync:deployAllAgents", Times: 1, Status: 502})
	mutation(t, s, "sync:deployAllAgents", map[string]any{})
	if pc := prodConfigs(s, "support"); len(pc) != 1 {
		t.Errorf("a pre-run fault ran the mutation: %+v", pc)
	}
}

func TestRequestLogRecordsCallsWithoutSecrets(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	s.ResetRequests()
	value[syncState](t, rawCall(t, s, "/api/query", tok(s), map[string]any{"path": "sync:getSyncState", "args": []any{map[string]any{"environment": "production"}}, "format": "convex_encoded_json"}))
	callFn(t, s, "query", "", "users:getCurrent", map[string]any{})
	s.Inject(strueretest.Fault{Path: "/health", Times: 1, Status: 503})
	resp, err := http.Get(s.SiteURL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("want 3 requests, got %+v", reqs)
	}
	type entry struct {
		Method, URLPath, FunctionPath, Kind, Args string
		HadAuth                                   bool
		Status                                    int
		Fault                                     bool
	}
	var got []entry
	for _, r := range reqs {
		got = append(got, entry{r.Method, r.URLPath, r.FunctionPath, r.Kind, string(r.Args), r.HadAuth, r.Status, r.Fault})
		if r.At != s.Now() {
			t.Errorf("At = %v, want the server clock %v", r.At, s.Now())
		}
		if strings.Contains(string(r.Args), tok(s)) {
			t.Errorf("token in the log: %+v", r)
		}
	}
	diff(t, "log", []entry{
		{"POST", "/api/query", "sync:getSyncState", "query", `{"environment":"production"}`, true, 200, false},
		{"POST", "/api/query", "users:getCurrent", "query", `{}`, false, 200, false},
		{"GET", "/health", "", "site", "", false, 503, true},
	}, got)
	if reqs[0].RequestID == "" || len(reqs[0].RequestID) != 16 {
		t.Errorf("request id %q", reqs[0].RequestID)
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("ResetRequests left %d entries", n)
	}
}

func TestFailedMutationWritesNothing(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "keep"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("keep", "development", cfg("1.0.0")))
	must[strueretest.Trigger](t)(s.SeedTrigger("development", strueretest.Trigger{Name: "T", Slug: "t", EntityType: "x", Action: "created"}))
	agents, configs, triggers := s.Agents(), s.Configs("keep"), s.Triggers("development")
	// The payload would add a role and an agent and delete "keep"; the
	// boundToRole conflict must leave all of it unwritten.
	p := syncPayload(struere.GenerationE2, "development", agentPayload("new", "1.0.0"))
	p["roles"] = []any{map[string]any{"name": "r", "policies": []any{}}}
	p["entityTypes"] = []any{
		map[string]any{"name": "A", "slug": "a", "schema": map[string]any{}, "boundToRole": "r"},
		map[string]any{"name": "B", "slug": "b", "schema": map[string]any{}, "boundToRole": "r"},
	}
	failure(t, mutation(t, s, "sync:syncOrganization", p))
	diff(t, "agents", agents, s.Agents())
	diff(t, "configs", configs, s.Configs("keep"))
	diff(t, "triggers", triggers, s.Triggers("development"))
	if len(s.Roles("development")) != 0 {
		t.Errorf("roles written: %+v", s.Roles("development"))
	}
}

func TestFailedE1SyncRollsBackEarlierSteps(t *testing.T) {
	// A dangling development config pointer makes the agent step fail after
	// entity types and roles were already processed in the same mutation.
	s := newServer(t, struere.GenerationE1)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
	dev := must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.0.0")))
	if err := s.DeleteConfig(dev.ID); err != nil {
		t.Fatal(err)
	}
	must[strueretest.EntityType](t)(s.SeedEntityType("", strueretest.EntityType{Name: "Old", Slug: "old"}))
	before := s.EntityTypes("")
	p := syncPayload(struere.GenerationE1, "", agentPayload("support", "2.0.0"))
	p["entityTypes"] = []any{map[string]any{"name": "New", "slug": "new", "schema": map[string]any{}}}
	wantContains(t, failure(t, mutation(t, s, "sync:syncOrganization", p)), "Update on nonexistent document ID")
	diff(t, "entity types", before, s.EntityTypes(""))
}

func TestConcurrentCallsAreSafeAndSerializable(t *testing.T) {
	s := newServer(t, struere.GenerationE2Deploy)
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "support"}))
	must[strueretest.ConfigRecord](t)(s.SeedConfig("support", "development", cfg("1.0.0")))
	key := must[string](t)(s.CreateAPIKey("development", "k", time.Time{}))
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*3)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				r := mutation(t, s, "sync:deployAllAgents", map[string]any{})
				if r.Status != "success" {
					errs <- r.Raw
				}
				r = query(t, s, "sync:getSyncState", map[string]any{"environment": "production"})
				if r.Status != "success" {
					errs <- r.Raw
				}
				if c := chat(t, s, "/v1/agents/support/chat", key, map[string]any{"message": "hi"}); c.HTTPStatus != 200 {
					errs <- c.Raw
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(prodConfigs(s, "support")); n != workers*rounds {
		t.Errorf("want %d production rows, got %d", workers*rounds, n)
	}
	if n := len(s.Threads()); n != workers*rounds {
		t.Errorf("want %d threads, got %d", workers*rounds, n)
	}
}
