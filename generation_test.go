package struere_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

// callLog records the function paths a test server receives. Handlers run
// on the server's goroutines, one per connection, so it locks.
type callLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *callLog) add(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paths = append(l.paths, path)
}

// taken returns the paths recorded so far and forgets them.
func (l *callLog) taken() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.paths)
	l.paths = nil
	return out
}

// headBackend answers getSyncState as the newest backend does: environment
// required, and "eval" accepted. Anything else is a missing function.
func headBackend(t *testing.T, calls *callLog) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Path string         `json:"path"`
			Args map[string]any `json:"args"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("request body is not JSON: %v", err) // not FailNow: this is the server's goroutine
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		calls.add(req.Path)
		w.Header().Set("Content-Type", "application/json")
		if (req.Path == "sync:getSyncState" || req.Path == "sync:getPullState") && req.Args["environment"] != nil {
			_, _ = io.WriteString(w, `{"status":"success","value":{"agents":[],"entityTypes":[],"roles":[],"evalSuites":[],"triggers":[]}}`)
			return
		}
		if req.Path == "sync:getSyncState" {
			_, _ = io.WriteString(w, "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 00000000000000aa] Server Error\\nUncaught Error: ArgumentValidationError: Object is missing the required field `environment`.\"}")
			return
		}
		_, _ = io.WriteString(w, "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 00000000000000ab] Server Error\\nUncaught Error: Could not find public function for '"+req.Path+"'.\"}")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTheNewestBackendIsDetectedByItsEvalEnvironment(t *testing.T) {
	var calls callLog
	srv := headBackend(t, &calls)
	c, err := struere.New(struere.Config{URL: srv.URL, Token: struere.NewToken("a.b.c")})
	require.NoError(t, err)
	ctx := ctxT(t)

	gen, err := c.DetectGeneration(ctx)
	require.NoError(t, err)
	require.Equal(t, struere.GenerationHead, gen)
	require.NotContains(t, calls.taken(), "sync:deployAllAgents", "HEAD needs no deployAllAgents probe")

	_, err = c.Status(ctx)
	require.NoError(t, err)
}

// acceptingBackend is environment-isolated, rejects the eval environment
// (so detection goes on to ask about deployAllAgents) and accepts every
// write, even sync:deployAllAgents with organizationId:null: a backend on
// which a probe that calls a mutation would deploy. It records
// "<endpoint> <path>" for every request.
func acceptingBackend(t *testing.T, calls *callLog) *httptest.Server {
	state := `{"agents":[{"slug":"support","name":"Support","version":"1.0.0","hasConfig":true}],"entityTypes":[],"roles":[],"evalSuites":[],"triggers":[]}`
	pull := `{"agents":[{"slug":"support","name":"Support","version":"1.0.0","systemPrompt":"p","model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]}],"entityTypes":[],"roles":[],"triggers":[]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Path string         `json:"path"`
			Args map[string]any `json:"args"`
		}
		_ = json.Unmarshal(body, &req)
		calls.add(r.URL.Path + " " + req.Path)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/api/query":
			_, _ = io.WriteString(w, `{"status":"success","value":{"success":true,"deployed":["support"],"skipped":[],"agents":{"created":[],"updated":["support"],"deleted":[]},"entityTypes":{"created":[],"updated":[],"deleted":[]},"roles":{"created":[],"updated":[],"deleted":[]}}}`)
		case req.Args["environment"] == "eval":
			_, _ = io.WriteString(w, `{"status":"error","errorMessage":"[Request ID: 0123456789abcdef] Server Error\nUncaught Error: ArgumentValidationError: Value does not match validator."}`)
		case req.Path == "sync:getSyncState":
			_, _ = io.WriteString(w, `{"status":"success","value":`+state+`}`)
		case req.Path == "sync:getPullState":
			_, _ = io.WriteString(w, `{"status":"success","value":`+pull+`}`)
		default:
			// Convex checks the kind before running anything.
			_, _ = io.WriteString(w, `{"status":"error","errorMessage":"[Request ID: 0123456789abcdef] Server Error\nUncaught Error: Trying to execute sync.js:deployAllAgents as Query, but it is defined as Mutation."}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writes returns the recorded calls that went to a write endpoint.
func writes(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "/api/query ") {
			out = append(out, c)
		}
	}
	return out
}

func TestDetectionStatusAndDryRunsSendQueriesOnly(t *testing.T) {
	var calls callLog
	srv := acceptingBackend(t, &calls)
	ctx := ctxT(t)
	for _, pinned := range []struere.Generation{struere.GenerationAuto, struere.GenerationE2, struere.GenerationE2Deploy} {
		c, err := struere.New(struere.Config{URL: srv.URL, Token: struere.NewToken("a.b.c"), Generation: pinned})
		require.NoError(t, err)
		gen, err := c.DetectGeneration(ctx)
		require.NoError(t, err)
		if pinned == struere.GenerationAuto {
			require.Equal(t, struere.GenerationE2Deploy, gen, "the kind check of the query endpoint shows the mutation exists")
			require.Contains(t, calls.taken(), "/api/query sync:deployAllAgents", "asked through the query endpoint")
		}
		_, err = c.Status(ctx)
		require.NoError(t, err)
		res, err := c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err, "pinned %s", pinned)
		require.True(t, res.DryRun)
		require.Empty(t, writes(calls.taken()), "pinned %s: no probe, Status or dry run calls a write function", pinned)
	}
}

func TestDetectionSendsQueriesOnlyOnEveryGeneration(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy} {
		t.Run(gen.String(), func(t *testing.T) {
			srv, _, ctx, _ := synced(t, gen)
			srv.ResetRequests()
			c := newClient(t, srv) // a fresh client probes again
			got, err := c.DetectGeneration(ctx)
			require.NoError(t, err)
			require.Equal(t, gen, got)
			_, err = c.Status(ctx)
			require.NoError(t, err)
			_, err = c.Deploy(ctx, struere.DryRun())
			require.NoError(t, err)
			for _, r := range srv.Requests() {
				require.Equal(t, "query", r.Kind, "%s %s: detection, Status and a dry run send queries only", r.URLPath, r.FunctionPath)
			}
		})
	}
}
