package convex

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const platform503 = `{"code":"Overloaded","message":"busy"}`

func TestRetryPolicy(t *testing.T) {
	fnErr := `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error"}`
	// With MaxRetries 2, a retried failure is attempted 3 times.
	tests := []struct {
		name     string
		kind     Kind
		handler  func(t *testing.T) http.HandlerFunc
		wantHits int32
	}{
		{"query retries 429", Query, fixed(429, platform503), 3},
		{"query retries 502", Query, fixed(502, "<html>bad gateway</html>"), 3},
		{"query retries 503", Query, fixed(503, platform503), 3},
		{"query retries 504", Query, fixed(504, ""), 3},
		{"query retries a connection reset before any response", Query, reset, 3},
		{"query does not retry 500", Query, fixed(500, `{"code":"InternalServerError","message":"x"}`), 1},
		{"query does not retry 400", Query, fixed(400, `{"code":"BadFormat","message":"x"}`), 1},
		{"query does not retry 401", Query, fixed(401, `{"code":"Unauthenticated","message":"x"}`), 1},
		{"query does not retry a function error at 200", Query, fixed(200, fnErr), 1},
		{"query does not retry a function error at 560", Query, fixed(560, fnErr), 1},
		// A proxy can answer 429/503 with Retry-After after the mutation
		// ran: writes are not retried on any response.
		{"mutation does not retry 429 with Retry-After", Mutation, fixed(429, platform503, "Retry-After", "0"), 1},
		{"mutation does not retry 503 with Retry-After", Mutation, fixed(503, platform503, "Retry-After", "0"), 1},
		{"mutation does not retry 429 without Retry-After", Mutation, fixed(429, platform503), 1},
		{"mutation does not retry 503 without Retry-After", Mutation, fixed(503, platform503), 1},
		{"mutation does not retry 502", Mutation, fixed(502, ""), 1},
		{"mutation does not retry 504", Mutation, fixed(504, ""), 1},
		{"mutation does not retry 500", Mutation, fixed(500, ""), 1},
		{"mutation does not retry 502 even with Retry-After", Mutation, fixed(502, "", "Retry-After", "0"), 1},
		{"mutation does not retry a function error at 560", Mutation, fixed(560, fnErr), 1},
		{"mutation does not retry a reset after the request was written", Mutation, reset, 1},
		{"action does not retry 503 with Retry-After", Action, fixed(503, platform503, "Retry-After", "0"), 1},
		{"action does not retry 503 without Retry-After", Action, fixed(503, platform503), 1},
		{"action does not retry 502", Action, fixed(502, ""), 1},
		{"action does not retry a function error at 200", Action, fixed(200, fnErr), 1},
		{"action does not retry a reset after the request was written", Action, reset, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, tt.handler(t))
			o := fs.options(t)
			o.MaxRetries = 2

			_, err := New(o).Call(context.Background(), tt.kind, "a:b", nil)

			e := asError(t, err)
			require.Equal(t, tt.wantHits, fs.hits.Load(), "server-side attempts")
			require.EqualValues(t, tt.wantHits, e.Attempts)
		})
	}
}

func fixed(status int, body string, headers ...string) func(*testing.T) http.HandlerFunc {
	return func(*testing.T) http.HandlerFunc { return respond(status, body, headers...) }
}

func reset(t *testing.T) http.HandlerFunc { return resetConnection(t, "") }

func TestRetriedQueryReturnsTheLastResponse(t *testing.T) {
	fs := newFakeServer(t, respond(503, platform503))
	o := fs.options(t)
	o.MaxRetries = 3

	_, err := New(o).Call(context.Background(), Query, "a:b", nil)

	e := asError(t, err)
	require.Equal(t, KindPlatform, e.Kind)
	require.Equal(t, 503, e.HTTPStatus)
	require.Equal(t, "Overloaded", e.Code)
	require.Equal(t, 4, e.Attempts)
	require.NotContains(t, e.Error(), "giving up")
}

func TestRetriedQueryCanSucceed(t *testing.T) {
	var fs *fakeServer
	fs = newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fs.hits.Load() < 3 {
			respond(502, "")(w, r)
			return
		}
		respond(200, `{"status":"success","value":42}`)(w, r)
	})
	o := fs.options(t)
	o.MaxRetries = 5

	res, err := New(o).Call(context.Background(), Query, "a:b", nil)

	require.NoError(t, err)
	require.Equal(t, `42`, string(res.Value))
	require.Equal(t, 3, res.Attempts)
	require.EqualValues(t, 3, fs.hits.Load())
}

// closedAddr returns a loopback address nobody listens on.
// It uses 127.0.0.2: every test server listens on 127.0.0.1, so none can
// take the freed port over while the caller expects a refusal.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestDialRefusedMutationIsRetriedAndReportedUnsent(t *testing.T) {
	fs := newFakeServer(t, respond(200, `{"status":"success","value":1}`))
	o := fs.options(t)
	o.MaxRetries = 2
	u := *o.BaseURL
	u.Host = closedAddr(t)
	o.BaseURL = &u
	o.HTTPClient = nil

	_, err := New(o).Call(context.Background(), Mutation, "a:b", nil)

	e := asError(t, err)
	require.Equal(t, KindTransport, e.Kind)
	require.Equal(t, 3, e.Attempts)
	require.False(t, e.Sent, "a refused connection never reached the server")
	var op *net.OpError
	require.ErrorAs(t, err, &op)
}

func TestDialRefusedMutationSucceedsOnRetry(t *testing.T) {
	fs := newFakeServer(t, respond(200, `{"status":"success","value":"ran once"}`))
	refused := closedAddr(t)
	dials := 0
	var d net.Dialer
	o := fs.options(t)
	o.MaxRetries = 2
	o.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			if dials == 1 {
				addr = refused // the first connection is refused
			}
			return d.DialContext(ctx, network, addr)
		},
	}}

	res, err := New(o).Call(context.Background(), Mutation, "a:b", nil)

	require.NoError(t, err)
	require.Equal(t, `"ran once"`, string(res.Value))
	require.Equal(t, 2, res.Attempts)
	require.EqualValues(t, 1, fs.hits.Load())
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var fs *fakeServer
	fs = newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fs.hits.Load() == 1 {
			respond(429, platform503, "Retry-After", "1")(w, r)
			return
		}
		respond(200, `{"status":"success","value":true}`)(w, r)
	})
	o := fs.options(t)
	o.MaxRetries = 1
	o.MaxWait = 3 * time.Second

	start := time.Now()
	res, err := New(o).Call(context.Background(), Query, "a:b", nil)

	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "retried before Retry-After elapsed")
}

func TestRetryAfterBeyondTheLimitsIsNotSlept(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		maxWait    time.Duration
		timeout    time.Duration
		wantWait   time.Duration
	}{
		{"longer than MaxWait", "30", 100 * time.Millisecond, 0, 30 * time.Second},
		{"longer than the context deadline", "5", time.Minute, 2 * time.Second, 5 * time.Second},
		{"an HTTP date past the deadline", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 2 * time.Hour, 2 * time.Second, time.Hour},
	}
	for _, tt := range tests {
		for _, kind := range []Kind{Query, Mutation} {
			t.Run(tt.name+" "+string(kind), func(t *testing.T) {
				fs := newFakeServer(t, respond(429, `{"code":"RateLimited","message":"slow down"}`, "Retry-After", tt.retryAfter))
				o := fs.options(t)
				o.MaxRetries = 3
				o.MaxWait = tt.maxWait
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}

				start := time.Now()
				_, err := New(o).Call(ctx, kind, "a:b", nil)

				require.Less(t, time.Since(start), time.Second, "slept on Retry-After")
				e := asError(t, err)
				require.Equal(t, KindPlatform, e.Kind)
				require.Equal(t, "RateLimited", e.Code)
				require.InDelta(t, tt.wantWait.Seconds(), e.RetryAfter.Seconds(), 2)
				require.EqualValues(t, 1, fs.hits.Load())
				require.False(t, errors.Is(err, context.DeadlineExceeded))
			})
		}
	}
}

func TestBackoffPastTheDeadlineReturnsTheResponse(t *testing.T) {
	fs := newFakeServer(t, respond(503, platform503))
	o := fs.options(t)
	o.MaxRetries = 3
	o.MinWait, o.MaxWait = time.Minute, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	start := time.Now()
	_, err := New(o).Call(ctx, Query, "a:b", nil)

	require.Less(t, time.Since(start), time.Second)
	e := asError(t, err)
	require.Equal(t, 503, e.HTTPStatus)
	require.EqualValues(t, 1, fs.hits.Load())
}

// retrySignal is a slog handler that reports each retry decision, i.e. the
// moment the client enters its backoff.
type retrySignal struct {
	slog.Handler
	retrying chan struct{}
}

func (h retrySignal) Enabled(context.Context, slog.Level) bool { return true }

func (h retrySignal) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "outcome" && a.Value.String() == "retry" {
			h.retrying <- struct{}{}
		}
		return true
	})
	return nil
}

func TestCancellationDuringBackoffReturnsPromptly(t *testing.T) {
	fs := newFakeServer(t, respond(503, platform503))
	sig := retrySignal{retrying: make(chan struct{}, 1)}
	o := fs.options(t)
	o.MaxRetries = 3
	o.MinWait, o.MaxWait = time.Minute, time.Minute
	o.Logger = slog.New(sig)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sig.retrying
		cancel()
	}()

	start := time.Now()
	_, err := New(o).Call(ctx, Query, "a:b", nil)

	require.Less(t, time.Since(start), 5*time.Second)
	require.ErrorIs(t, err, context.Canceled)
	e := asError(t, err)
	require.Equal(t, KindTransport, e.Kind)
	require.Equal(t, 1, e.Attempts)
	require.EqualValues(t, 1, fs.hits.Load())
}

func TestCancelledContextIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		respond(503, platform503)(w, r)
	})
	o := fs.options(t)
	o.MaxRetries = 3

	_, err := New(o).Call(ctx, Query, "a:b", nil)

	require.ErrorIs(t, err, context.Canceled)
	require.EqualValues(t, 1, fs.hits.Load())
}

func TestJitterStaysWithinBounds(t *testing.T) {
	for attempt := range 10 {
		for range 100 {
			w := jitter(10*time.Millisecond, 200*time.Millisecond, attempt)
			require.GreaterOrEqual(t, w, 10*time.Millisecond)
			require.LessOrEqual(t, w, 200*time.Millisecond)
		}
	}
	// The exponential base grows: the fifth retry waits at least half of 160ms.
	require.GreaterOrEqual(t, jitter(10*time.Millisecond, time.Second, 4), 80*time.Millisecond)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"99999999999999999", maxRetryAfter, true},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.in != "" {
			h.Set("Retry-After", tt.in)
		}
		got, ok := parseRetryAfter(h, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
