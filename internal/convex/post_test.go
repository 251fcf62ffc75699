package convex

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testBearer is the canary API key of the Post tests.
const testBearer = "af_live_c4n4ry00_s3cr3tk3yc4n4rys3cr3tk3yc4n4ry00"

// routeServer is a loopback site with one route; it counts requests.
type routeServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newRouteServer(t *testing.T, route string, h http.HandlerFunc) *routeServer {
	t.Helper()
	rs := &routeServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+route, func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		h(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to unexpected path %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	rs.Server = httptest.NewServer(mux)
	t.Cleanup(rs.Close)
	return rs
}

func (rs *routeServer) request(t *testing.T, route string) PostRequest {
	t.Helper()
	u, err := url.Parse(rs.URL + route)
	require.NoError(t, err)
	return PostRequest{URL: u, Route: route, Bearer: testBearer, Body: []byte(`{"message":"hi"}`)}
}

func (rs *routeServer) client(t *testing.T, retries int) *Client {
	t.Helper()
	return New(Options{Token: testToken, HTTPClient: rs.Client(), UserAgent: "struere-go/test",
		MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond, MaxRetries: retries})
}

const route = "/v1/agents/support/chat"

func TestPostSendsTheBodyWithItsOwnBearer(t *testing.T) {
	var gotAuth, gotType, gotUA, gotBody string
	rs := newRouteServer(t, route, func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType, gotUA = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("X-Request-Id", "0123456789abcdef")
		respond(200, `{"message":"ok"}`)(w, r)
	})

	res, err := rs.client(t, 2).Post(context.Background(), rs.request(t, route))

	require.NoError(t, err)
	require.Equal(t, "Bearer "+testBearer, gotAuth, "the per-call bearer replaces the client's token")
	require.Equal(t, "application/json", gotType)
	require.Equal(t, "struere-go/test", gotUA)
	require.JSONEq(t, `{"message":"hi"}`, gotBody)
	require.Equal(t, 200, res.Status)
	require.JSONEq(t, `{"message":"ok"}`, string(res.Body))
	require.Equal(t, "0123456789abcdef", res.RequestID)
	require.Equal(t, 1, res.Attempts)
}

func TestPostRetriesOnlyWhenTheServerCannotHaveRunIt(t *testing.T) {
	tests := []struct {
		name       string
		handler    func(*testing.T) http.HandlerFunc
		wantHits   int32
		wantStatus int
	}{
		// A response may come from a proxy after the route ran: none is
		// retried, Retry-After or not.
		{"429 with Retry-After is not retried", fixed(429, `{"error":"Rate limit exceeded"}`, "Retry-After", "0"), 1, 429},
		{"503 with Retry-After is not retried", fixed(503, `{"error":"busy"}`, "Retry-After", "0"), 1, 503},
		{"429 without Retry-After is not retried", fixed(429, `{"error":"Rate limit exceeded"}`), 1, 429},
		{"500 is not retried: the server ran it", fixed(500, `{"error":"Agent not found"}`), 1, 500},
		{"502 is not retried", fixed(502, ""), 1, 502},
		{"504 is not retried", fixed(504, ""), 1, 504},
		{"400 is not retried", fixed(400, `{"error":"message is required"}`), 1, 400},
		{"a reset after the request was written is not retried", reset, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRouteServer(t, route, tt.handler(t))

			res, err := rs.client(t, 2).Post(context.Background(), rs.request(t, route))

			require.Equal(t, tt.wantHits, rs.hits.Load())
			if tt.wantStatus == 0 {
				e := asError(t, err)
				require.Equal(t, KindTransport, e.Kind)
				require.True(t, e.Sent)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, res.Status, "the last response is returned")
			require.EqualValues(t, tt.wantHits, res.Attempts)
		})
	}
}

func TestPostRetriesARefusedConnection(t *testing.T) {
	rs := newRouteServer(t, route, respond(200, `{}`))
	req := rs.request(t, route)
	req.URL.Host = closedAddr(t)
	c := New(Options{MaxRetries: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond})

	_, err := c.Post(context.Background(), req)

	e := asError(t, err)
	require.Equal(t, KindTransport, e.Kind)
	require.Equal(t, 3, e.Attempts)
	require.False(t, e.Sent, "a refused connection never reached the server")
	require.NotContains(t, err.Error(), testBearer)
}

func TestPostRetryAfterBeyondTheLimitsIsNotSlept(t *testing.T) {
	tests := []struct {
		name     string
		maxWait  time.Duration
		deadline time.Duration
	}{
		{"longer than MaxWait", time.Second, time.Minute},
		{"longer than the context deadline", time.Hour, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRouteServer(t, route, respond(429, `{"error":"Rate limit exceeded","retryAt":1}`, "Retry-After", "30"))
			c := New(Options{HTTPClient: rs.Client(), MaxRetries: 3, MinWait: time.Millisecond, MaxWait: tt.maxWait})
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			start := time.Now()

			res, err := c.Post(ctx, rs.request(t, route))

			require.NoError(t, err)
			require.Less(t, time.Since(start), time.Second, "the Retry-After was not slept")
			require.EqualValues(t, 1, rs.hits.Load())
			require.Equal(t, 429, res.Status)
			require.Equal(t, 30*time.Second, res.RetryAfter)
		})
	}
}

func TestPostRefusesRedirects(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	rs := newRouteServer(t, route, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	})

	_, err := rs.client(t, 2).Post(context.Background(), rs.request(t, route))

	e := asError(t, err)
	require.Equal(t, KindHTTP, e.Kind)
	require.Equal(t, http.StatusTemporaryRedirect, e.HTTPStatus)
	require.Zero(t, otherHits.Load(), "the bearer never travels to another host")
	require.EqualValues(t, 1, rs.hits.Load())
}

func TestPostLimitsTheResponseBody(t *testing.T) {
	rs := newRouteServer(t, route, respond(200, `{"message":"`+strings.Repeat("x", 200)+`"}`))
	c := New(Options{HTTPClient: rs.Client(), MaxResponseBytes: 100})

	_, err := c.Post(context.Background(), rs.request(t, route))

	e := asError(t, err)
	require.Equal(t, KindTooLarge, e.Kind)
}

func TestPostKeepsTheBearerOutOfBodiesAndLogs(t *testing.T) {
	rs := newRouteServer(t, route, respond(500, `{"error":"Invalid API key `+testBearer+` (token `+testToken+`)"}`))
	var logs bytes.Buffer
	c := New(Options{Token: testToken, HTTPClient: rs.Client(),
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	res, err := c.Post(context.Background(), rs.request(t, route))

	require.NoError(t, err)
	require.NotContains(t, string(res.Body), testBearer)
	require.NotContains(t, string(res.Body), testToken)
	require.Contains(t, string(res.Body), "Invalid API key [REDACTED]")
	require.Contains(t, logs.String(), `"function":"`+route+`"`)
	require.Contains(t, logs.String(), `"status":500`)
	require.NotContains(t, logs.String(), testBearer)
	require.NotContains(t, logs.String(), "s3cr3t")
}

func TestPostWithoutURLFailsWithoutSending(t *testing.T) {
	_, err := New(Options{}).Post(context.Background(), PostRequest{Route: route})
	require.Error(t, err)
}
