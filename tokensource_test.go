package struere_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

const testSession = "sess_2abcDEF123"

// refreshRoute serves POST /v1/auth/refresh as the backend does (HEAD
// §H3.4), minting tokens with srv so that they work on its function API.
// fail, when set, answers instead of minting.
type refreshRoute struct {
	srv *strueretest.Server

	mu       sync.Mutex
	calls    int
	sessions []string
	issued   []string
	fail     func(w http.ResponseWriter)
	advance  time.Duration // the server clock moves this much per token; 0 means a second
	arrived  chan struct{} // receives once per request, when not nil
	release  chan struct{} // a request waits for it, when not nil
}

func startRefreshRoute(t *testing.T, srv *strueretest.Server) (*refreshRoute, string) {
	t.Helper()
	rr := &refreshRoute{srv: srv}
	hs := httptest.NewServer(rr)
	t.Cleanup(hs.Close)
	return rr, hs.URL
}

func (rr *refreshRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/auth/refresh" {
		http.Error(w, "No matching routes found", http.StatusNotFound)
		return
	}
	var body struct {
		SessionID string `json:"sessionId"`
	}
	data, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(data, &body)
	rr.mu.Lock()
	rr.calls++
	rr.sessions = append(rr.sessions, body.SessionID)
	arrived, release, fail, advance := rr.arrived, rr.release, rr.fail, max(rr.advance, time.Second)
	rr.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
	}
	if release != nil {
		<-release
	}
	w.Header().Set("Content-Type", "application/json")
	if body.SessionID == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"sessionId is required"}`)
		return
	}
	if fail != nil {
		fail(w)
		return
	}
	sub, org := claimsOf(rr.srv.Token().Reveal())
	rr.srv.Advance(advance) // a new iat, so a new token
	tok := rr.srv.MintToken(sub, org).Reveal()
	rr.mu.Lock()
	rr.issued = append(rr.issued, tok)
	rr.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

func (rr *refreshRoute) count() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.calls
}

// claimsOf reads sub and org_id from a JWT.
func claimsOf(tok string) (sub, org string) {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Sub   string `json:"sub"`
		OrgID string `json:"org_id"`
	}
	_ = json.Unmarshal(payload, &c)
	return c.Sub, c.OrgID
}

// expOf reads a JWT's exp claim.
func expOf(t *testing.T, tok string) time.Time {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	require.NoError(t, err)
	var c struct {
		Exp int64 `json:"exp"`
	}
	require.NoError(t, json.Unmarshal(payload, &c))
	return time.Unix(c.Exp, 0)
}

// loginFile writes a credentials file as `struere login` does, with an
// extra field the SDK does not know, and returns its path. The login lasts
// longer than strueretest's tokens, so that tests can move the SDK's
// clock to a token's exp.
func loginFile(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials.json")
	body := `{
  "token": "` + token + `",
  "sessionId": "` + testSession + `",
  "user": {
    "id": "k17user",
    "email": "ada@example.com",
    "name": "Ada"
  },
  "expiresAt": "` + time.Now().Add(800*24*time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") + `",
  "organization": {
    "id": "jd7org",
    "name": "Acme",
    "slug": "acme"
  }
}`
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

// refreshingClient returns a client whose token comes from a credentials
// file holding srv's seeded token, refreshed through rr.
func refreshingClient(t *testing.T, srv *strueretest.Server, refreshURL string) (*struere.Client, struere.TokenRefresher, string) {
	t.Helper()
	path := loginFile(t, srv.Token().Reveal())
	src, err := struere.OpenCredentialsFile(path, refreshURL)
	require.NoError(t, err)
	cfg := srv.Config()
	cfg.Token = struere.Token{}
	cfg.TokenSource = src
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return c, src, path
}

// apiCalls counts function-API requests and how many were answered 401.
func apiCalls(srv *strueretest.Server) (total, unauthorized int) {
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.URLPath, "/api/") {
			total++
			if r.Status == http.StatusUnauthorized {
				unauthorized++
			}
		}
	}
	return total, unauthorized
}

func TestATokenRejectedMidWorkflowIsRefreshedOnceAndWrittenBack(t *testing.T) {
	srv, err := strueretest.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	rr, refreshURL := startRefreshRoute(t, srv)
	c, _, path := refreshingClient(t, srv, refreshURL)
	ctx := ctxT(t)
	before, err := os.Stat(path)
	require.NoError(t, err)

	_, err = c.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, rr.count(), "a valid token is not refreshed before a call")

	// The token expires between two steps of the workflow.
	srv.ExpireToken(srv.Token())
	srv.ResetRequests()
	_, err = c.Status(ctx)
	require.NoError(t, err, "the rejected token is refreshed and the call repeated")
	require.Equal(t, 1, rr.count(), "one refresh")
	require.Equal(t, []string{testSession}, rr.sessions, "with the file's sessionId")
	total, unauthorized := apiCalls(srv)
	// Status reads development and production, their states and their
	// contents, concurrently: each of the four reads' first attempt may
	// have been rejected, and each was repeated.
	require.GreaterOrEqual(t, unauthorized, 1)
	require.LessOrEqual(t, unauthorized, 4, "no read was rejected twice")
	require.Equal(t, total-unauthorized, 4, "all four reads succeeded")

	_, err = c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	require.Equal(t, 1, rr.count(), "the new token serves later calls without another refresh")

	// The file now holds the new token, with everything else kept in
	// place, replaced rather than rewritten in place, mode 0600.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, json.Unmarshal(data, &file))
	require.Equal(t, rr.issued[0], file["token"])
	require.Equal(t, testSession, file["sessionId"])
	require.Equal(t, map[string]any{"id": "k17user", "email": "ada@example.com", "name": "Ada"}, file["user"])
	require.Equal(t, map[string]any{"id": "jd7org", "name": "Acme", "slug": "acme"}, file["organization"], "fields the SDK does not know are kept")
	keys := []string{`"token"`, `"sessionId"`, `"user"`, `"expiresAt"`, `"organization"`}
	last := -1
	for _, k := range keys {
		i := strings.Index(string(data), k)
		require.Greater(t, i, last, "field order is kept: %s", data)
		last = i
	}
	require.True(t, strings.HasPrefix(string(data), "{\n  \"token\": "), "two-space indentation, as the CLI writes: %s", data)
	after, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), after.Mode().Perm())
	require.False(t, os.SameFile(before, after), "the file was replaced by a rename, not rewritten in place")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
}

func TestConcurrentCallsShareOneRefresh(t *testing.T) {
	srv, err := strueretest.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	rr, refreshURL := startRefreshRoute(t, srv)
	rr.arrived, rr.release = make(chan struct{}, 16), make(chan struct{})
	c, _, _ := refreshingClient(t, srv, refreshURL)
	ctx := ctxT(t)
	srv.ExpireToken(srv.Token())

	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Status(ctx)
			errs <- err
		}()
	}
	select { // one refresh is in flight; the others wait for it or follow it
	case <-rr.arrived:
	case <-ctx.Done():
		t.Fatal("no refresh was requested")
	}
	close(rr.release)
	for range n {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 1, rr.count(), "%d concurrent calls rejected with the same token share one refresh", n)
}

func TestATokenNearItsExpiryIsRefreshedBeforeUseAndOnlyThen(t *testing.T) {
	srv, err := strueretest.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	rr, refreshURL := startRefreshRoute(t, srv)
	rr.advance = time.Hour // new tokens expire an hour after the old one
	c, src, _ := refreshingClient(t, srv, refreshURL)
	ctx := ctxT(t)
	exp := expOf(t, srv.Token().Reveal())

	var mu sync.Mutex
	now := exp.Add(-time.Hour)
	struere.SetCredentialsClock(src, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	for range 3 {
		_, err := c.Status(ctx)
		require.NoError(t, err)
	}
	require.Zero(t, rr.count(), "an hour before exp nothing is refreshed")

	mu.Lock()
	now = exp.Add(-10 * time.Second)
	mu.Unlock()
	srv.ResetRequests()
	_, err = c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rr.count(), "ten seconds before exp the token is refreshed first")
	_, unauthorized := apiCalls(srv)
	require.Zero(t, unauthorized, "no call went out to be rejected")
	for range 3 {
		_, err := c.Status(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, 1, rr.count(), "the new token is not refreshed again")
}

func TestAFailedRefreshIsAnErrorNeverTheExpiredToken(t *testing.T) {
	srv, err := strueretest.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	rr, refreshURL := startRefreshRoute(t, srv)
	rr.fail = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"Session expired or invalid: {\"errors\":[{\"message\":\"session `+testSession+` is revoked\"}]}"}`)
	}

	t.Run("rejected by the backend", func(t *testing.T) {
		c, _, path := refreshingClient(t, srv, refreshURL)
		before, err := os.ReadFile(path)
		require.NoError(t, err)
		srv.ExpireToken(srv.Token())
		srv.ResetRequests()
		_, err = c.Status(ctxT(t))
		require.Error(t, err)
		require.ErrorIs(t, err, struere.ErrNotAuthenticated)
		require.Contains(t, err.Error(), "Session expired or invalid")
		require.Contains(t, err.Error(), "struere login")
		require.NotContains(t, err.Error(), testSession, "the session id is a secret")
		require.NotContains(t, err.Error(), srv.Token().Reveal())
		total, unauthorized := apiCalls(srv)
		require.Equal(t, 1, total, "the call is not repeated with the rejected token")
		require.Equal(t, 1, unauthorized)
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(before), string(after), "the file is unchanged")
	})

	t.Run("expired by its exp claim", func(t *testing.T) {
		c, src, _ := refreshingClient(t, srv, refreshURL)
		exp := expOf(t, srv.Token().Reveal())
		struere.SetCredentialsClock(src, func() time.Time { return exp.Add(time.Minute) })
		srv.ResetRequests()
		_, err := c.Status(ctxT(t))
		require.ErrorIs(t, err, struere.ErrNotAuthenticated)
		require.Contains(t, err.Error(), "Session expired or invalid")
		total, _ := apiCalls(srv)
		require.Zero(t, total, "no call goes out with a token past its exp")
	})

	t.Run("rate limited", func(t *testing.T) {
		rr.mu.Lock()
		rr.fail = func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "42")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"Rate limit exceeded","retryAt":1}`)
		}
		rr.mu.Unlock()
		c, _, _ := refreshingClient(t, srv, refreshURL)
		srv.ExpireToken(srv.Token())
		_, err := c.Status(ctxT(t))
		require.ErrorIs(t, err, struere.ErrNotAuthenticated)
		require.ErrorIs(t, err, struere.ErrRateLimited)
		var ae *struere.APIError
		require.True(t, errors.As(err, &ae))
		require.Equal(t, 42*time.Second, ae.RetryAfter)
	})
}

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }
