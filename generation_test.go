package struere_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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
		if req.Path == "sync:getSyncState" && req.Args["environment"] != nil {
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

	gen, err := c.Generation(ctx)
	require.NoError(t, err)
	require.Equal(t, struere.GenerationHead, gen)
	require.NotContains(t, calls.taken(), "sync:deployAllAgents", "HEAD needs no deployAllAgents probe")

	_, err = c.Status(ctx)
	require.NoError(t, err)

	_ = calls.taken()
	_, err = c.Sync(ctx, sampleDefs(t))
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.Empty(t, calls.taken(), "an unsupported sync sends nothing")
}
