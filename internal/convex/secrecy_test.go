package convex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestRedirectIsRefusedAndTheTokenStaysHome(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		if strings.Contains(r.Header.Get("Authorization"), testToken) {
			t.Errorf("token reached the redirect target")
		}
		respond(200, `{"status":"success","value":"stolen"}`)(w, r)
	}))
	defer other.Close()
	target := other.URL + "/collect?session=abc"

	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, custom := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d custom client %v", status, custom), func(t *testing.T) {
				fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target, status)
				})
				o := fs.options(t)
				o.MaxRetries = 2
				if !custom {
					o.HTTPClient = nil
				}

				_, err := New(o).Call(context.Background(), Query, "a:b", nil)

				e := asError(t, err)
				require.Zero(t, otherHits.Load())
				require.EqualValues(t, 1, fs.hits.Load(), "a refused redirect is not retried")
				require.Equal(t, KindHTTP, e.Kind)
				require.Equal(t, status, e.HTTPStatus)
				u, _ := url.Parse(other.URL)
				require.Contains(t, e.Message, u.Host)
				require.NotContains(t, err.Error(), "/collect")
				require.NotContains(t, err.Error(), "session=abc")
				require.NotContains(t, err.Error(), testToken)
			})
		}
	}
}

// echoToken puts the received Authorization header into every part of a response.
func echoToken(status int, format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		respond(status, strings.ReplaceAll(format, "TOKEN", auth), "X-Request-Id", auth)(w, r)
	}
}

func TestTokenNeverAppearsInErrorsOrLogs(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"platform message echoing the token", echoToken(401, `{"code":"InvalidAuthHeader TOKEN","message":"bad header TOKEN"}`)},
		{"function error echoing the token", echoToken(200, `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: TOKEN","errorData":{"got":"TOKEN"}}`)},
		{"HTML page echoing the token", echoToken(502, "<html><title>no TOKEN here</title></html>")},
		{"non-JSON success body echoing the token", echoToken(200, "TOKEN")},
		{"unknown status echoing the token", echoToken(200, `{"status":"TOKEN"}`)},
		{"retried rate limit", echoToken(429, `{"code":"RateLimited","message":"TOKEN"}`)},
		{"connection reset", resetConnection(t, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, tt.handler)
			var logs bytes.Buffer
			o := fs.options(t)
			o.MaxRetries = 1
			o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := New(o)

			_, err := c.Call(context.Background(), Query, "a:b", map[string]string{"note": "args"})

			e := asError(t, err)
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), string(e.ErrorData),
				logs.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c)} {
				require.NotContains(t, s, testToken)
				require.NotContains(t, s, testToken[:20], "a truncated token leaked")
			}
			require.NotEmpty(t, logs.String(), "no log records were written")
			require.NotContains(t, logs.String(), fs.URL, "logs carry the URL")
			require.NotContains(t, logs.String(), "args", "logs carry the body")
		})
	}
}

func TestLoggerWritesOneRecordPerAttempt(t *testing.T) {
	var fs *fakeServer
	fs = newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fs.hits.Load() < 3 {
			respond(502, "", "X-Request-Id", fmt.Sprintf("00000000000000a%d", fs.hits.Load()))(w, r)
			return
		}
		respond(200, `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error"}`)(w, r)
	})
	var logs bytes.Buffer
	o := fs.options(t)
	o.MaxRetries = 5
	o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	_, err := New(o).Call(context.Background(), Query, "sync:getSyncState", nil)
	require.Error(t, err)

	type record struct {
		Level, Msg, Method, Function, Kind, Outcome string
		Status, Attempt                             int
		RequestID                                   string `json:"request_id"`
		Duration                                    int64
	}
	var got []record
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var r record
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		require.Positive(t, r.Duration)
		r.Duration = 0
		got = append(got, r)
	}
	want := []record{
		{"DEBUG", "convex call", "POST", "sync:getSyncState", "query", "retry", 502, 1, "00000000000000a1", 0},
		{"DEBUG", "convex call", "POST", "sync:getSyncState", "query", "retry", 502, 2, "00000000000000a2", 0},
		{"DEBUG", "convex call", "POST", "sync:getSyncState", "query", "function", 200, 3, "3f2a9c1b7e6d5a40", 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records mismatch (-want +got):\n%s", diff)
	}
}

func TestNilLoggerIsSilentAndSafe(t *testing.T) {
	fs := newFakeServer(t, respond(200, `{"status":"success","value":1}`))
	o := fs.options(t)
	o.Logger = nil
	_, err := New(o).Call(context.Background(), Query, "a:b", nil)
	require.NoError(t, err)
}
