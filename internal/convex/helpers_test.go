package convex

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// basePath mounts the fake deployment under a prefix, so a request built from
// an absolute path instead of BaseURL misses the handler and fails loudly.
const basePath = "/deployment"

// testToken is the canary token: tests assert it never leaks.
const testToken = "canary-eyJhbGciOi.SECRET.tokenvalue-42"

// fakeServer is a loopback Convex deployment that counts the calls it receives.
type fakeServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newFakeServer(t *testing.T, h http.HandlerFunc) *fakeServer {
	t.Helper()
	fs := &fakeServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+basePath+"/api/{kind}", func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		h(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to unexpected path %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	fs.Server = httptest.NewServer(mux)
	t.Cleanup(fs.Close)
	return fs
}

// options returns Options for this server with fast, retry-free defaults.
func (fs *fakeServer) options(t *testing.T) Options {
	t.Helper()
	u, err := url.Parse(fs.URL + basePath)
	require.NoError(t, err)
	return Options{
		BaseURL:    u,
		Token:      testToken,
		HTTPClient: fs.Client(),
		UserAgent:  "struere-go/test",
		MinWait:    time.Millisecond,
		MaxWait:    5 * time.Millisecond,
	}
}

// respond writes status, optional headers and body.
func respond(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// resetConnection hijacks the connection and closes it: before any response
// when partial is "", else after writing partial raw bytes.
func resetConnection(t *testing.T, partial string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if partial != "" {
			_, _ = buf.WriteString(partial)
			_ = buf.Flush()
		}
		_ = conn.Close()
	}
}

// asError returns err as an *Error, failing the test otherwise.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	e, ok := err.(*Error)
	require.Truef(t, ok, "error %T %v is not *Error", err, err)
	return e
}
