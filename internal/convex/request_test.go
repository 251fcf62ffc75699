package convex

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// seenRequest is what the fake deployment received.
type seenRequest struct {
	Method, Path                                        string
	ContentType, Authorization, UserAgent, ConvexClient string
	Body                                                string
}

func recordRequests(t *testing.T) (*fakeServer, <-chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 1)
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		seen <- seenRequest{
			Method: r.Method, Path: r.URL.Path,
			ContentType: r.Header.Get("Content-Type"), Authorization: r.Header.Get("Authorization"),
			UserAgent: r.Header.Get("User-Agent"), ConvexClient: r.Header.Get("Convex-Client"),
			Body: string(body),
		}
		respond(200, `{"status":"success","value":null}`)(w, r)
	})
	return fs, seen
}

type syncStateArgs struct {
	OrganizationID string `json:"organizationId,omitempty"`
	Environment    string `json:"environment"`
}

func TestCallSendsTheDocumentedRequest(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		args any
		opts func(*Options)
		want seenRequest
	}{
		{
			name: "query with all headers",
			kind: Query,
			args: syncStateArgs{OrganizationID: "jd7a8k2m", Environment: "production"},
			opts: func(o *Options) { o.ClientHeader = "struere-go-0.1.0" },
			want: seenRequest{Path: basePath + "/api/query", ConvexClient: "struere-go-0.1.0",
				Body: `{"path":"sync:getSyncState","args":{"organizationId":"jd7a8k2m","environment":"production"},"format":"json"}`},
		},
		{
			name: "absent optional argument is omitted, never null",
			kind: Query,
			args: syncStateArgs{Environment: "development"},
			want: seenRequest{Path: basePath + "/api/query",
				Body: `{"path":"sync:getSyncState","args":{"environment":"development"},"format":"json"}`},
		},
		{
			name: "nil args send an empty object",
			kind: Mutation,
			want: seenRequest{Path: basePath + "/api/mutation", Body: `{"path":"sync:getSyncState","args":{},"format":"json"}`},
		},
		{
			name: "a nil map sends an empty object",
			kind: Action,
			args: map[string]any(nil),
			want: seenRequest{Path: basePath + "/api/action", Body: `{"path":"sync:getSyncState","args":{},"format":"json"}`},
		},
		{
			name: "text is not HTML-escaped",
			kind: Mutation,
			args: map[string]string{"instructions": "<b>&</b>"},
			want: seenRequest{Path: basePath + "/api/mutation",
				Body: `{"path":"sync:getSyncState","args":{"instructions":"<b>&</b>"},"format":"json"}`},
		},
		{
			name: "empty token omits Authorization",
			kind: Query,
			args: map[string]string{},
			opts: func(o *Options) { o.Token = "" },
			want: seenRequest{Path: basePath + "/api/query", Body: `{"path":"sync:getSyncState","args":{},"format":"json"}`},
		},
		{
			name: "trailing slash and query in the base URL are dropped",
			kind: Query,
			args: map[string]string{},
			opts: func(o *Options) {
				u := *o.BaseURL
				u.Path += "/"
				u.RawQuery = "secret=1"
				o.BaseURL = &u
			},
			want: seenRequest{Path: basePath + "/api/query", Body: `{"path":"sync:getSyncState","args":{},"format":"json"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, seen := recordRequests(t)
			o := fs.options(t)
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err := New(o).Call(context.Background(), tt.kind, "sync:getSyncState", tt.args)
			require.NoError(t, err)

			want := tt.want
			want.Method, want.ContentType, want.UserAgent = http.MethodPost, "application/json", "struere-go/test"
			if o.Token != "" {
				want.Authorization = "Bearer " + testToken
			}
			if diff := cmp.Diff(want, <-seen); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallRejectsBadInputWithoutSending(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		args any
	}{
		{"unknown kind", Kind("function"), nil},
		{"args that are not an object", Query, []string{"a"}},
		{"args that cannot be encoded", Query, map[string]any{"f": func() {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, respond(200, `{"status":"success","value":1}`))
			_, err := New(fs.options(t)).Call(context.Background(), tt.kind, "a:b", tt.args)
			require.Error(t, err)
			require.Contains(t, err.Error(), "convex: a:b: ")
			require.Zero(t, fs.hits.Load(), "server was called")
		})
	}
}

func TestCallWithoutBaseURLFails(t *testing.T) {
	_, err := New(Options{}).Call(context.Background(), Query, "a:b", nil)
	require.ErrorContains(t, err, "no deployment URL")
}

func TestNewDoesNotModifyTheCallersHTTPClient(t *testing.T) {
	hc := &http.Client{}
	u, err := url.Parse("https://example.invalid")
	require.NoError(t, err)
	New(Options{BaseURL: u, HTTPClient: hc})
	require.Nil(t, hc.CheckRedirect)
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	var fs *fakeServer
	fs = newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fs.hits.Load()%2 == 0 {
			respond(502, "")(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		respond(200, `{"status":"success","value":`+string(body)+`}`)(w, r)
	})
	o := fs.options(t)
	o.MaxRetries = 10
	c := New(o)
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			res, err := c.Call(context.Background(), Query, "a:b", map[string]int{"i": i})
			if err == nil && !strings.Contains(string(res.Value), `{"i":`+strconv.Itoa(i)+`}`) {
				err = fmt.Errorf("call %d got %s", i, res.Value)
			}
			errs <- err
		}()
	}
	for range 20 {
		require.NoError(t, <-errs)
	}
}
