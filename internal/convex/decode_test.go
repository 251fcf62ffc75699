package convex

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

const (
	unredacted = "[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)"
	redacted   = "[Request ID: 91ab0c2d3e4f5a6b] Server Error"
)

func TestCallDecodesEveryResponseShape(t *testing.T) {
	fnErr := func(msg string) string {
		b, _ := json.Marshal(map[string]string{"status": "error", "errorMessage": msg})
		return string(b)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    *Result
		wantErr *Error
	}{
		{
			name:    "success with log lines returns the value and the lines",
			handler: respond(200, `{"status":"success","value":{"success":true,"deployed":["support"],"skipped":[]},"logLines":["[LOG] 'x'"]}`),
			want:    &Result{Value: json.RawMessage(`{"success":true,"deployed":["support"],"skipped":[]}`), LogLines: []string{"[LOG] 'x'"}, Attempts: 1},
		},
		{
			name:    "success without log lines returns the value",
			handler: respond(200, `{"status":"success","value":[1,"two",{"three":3}]}`),
			want:    &Result{Value: json.RawMessage(`[1,"two",{"three":3}]`), Attempts: 1},
		},
		{
			name:    "success with a null value returns null",
			handler: respond(200, `{"status":"success","value":null}`),
			want:    &Result{Value: json.RawMessage(`null`), Attempts: 1},
		},
		{
			name:    "success at 560 is still a success",
			handler: respond(560, `{"status":"success","value":"ok"}`),
			want:    &Result{Value: json.RawMessage(`"ok"`), Attempts: 1},
		},
		{
			name:    "unredacted function error at 200 keeps the message and request id",
			handler: respond(200, fnErr(unredacted)),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 200, Message: unredacted, RequestID: "3f2a9c1b7e6d5a40"},
		},
		{
			name:    "unredacted function error at 560 is the same error",
			handler: respond(560, fnErr(unredacted)),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 560, Message: unredacted, RequestID: "3f2a9c1b7e6d5a40"},
		},
		{
			name:    "redacted function error at 200 still yields the request id",
			handler: respond(200, fnErr(redacted)),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 200, Message: redacted, RequestID: "91ab0c2d3e4f5a6b"},
		},
		{
			name:    "redacted function error at 560 still yields the request id",
			handler: respond(560, fnErr(redacted)),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 560, Message: redacted, RequestID: "91ab0c2d3e4f5a6b"},
		},
		{
			name:    "ConvexError with string data keeps errorData",
			handler: respond(200, `{"status":"error","errorMessage":"[Request ID: 91ab0c2d3e4f5a6b] Server Error","errorData":"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""}`),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 200, Message: redacted, RequestID: "91ab0c2d3e4f5a6b",
				ErrorData: json.RawMessage(`"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""`)},
		},
		{
			name:    "ConvexError with object data at 560 keeps errorData",
			handler: respond(560, `{"status":"error","errorMessage":"[Request ID: 91ab0c2d3e4f5a6b] Server Error","errorData":{"code":"LIMIT","message":"too many agents","max":50}}`),
			wantErr: &Error{Kind: KindFunction, HTTPStatus: 560, Message: redacted, RequestID: "91ab0c2d3e4f5a6b",
				ErrorData: json.RawMessage(`{"code":"LIMIT","message":"too many agents","max":50}`)},
		},
		{
			name:    "401 InvalidAuthHeader is a platform error",
			handler: respond(401, `{"code":"InvalidAuthHeader","message":"Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."}`),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 401, Code: "InvalidAuthHeader",
				Message: "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."},
		},
		{
			name:    "401 Unauthenticated is a platform error",
			handler: respond(401, `{"code":"Unauthenticated","message":"Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."}`),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 401, Code: "Unauthenticated",
				Message: "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."},
		},
		{
			name:    "400 BadFormat is a platform error",
			handler: respond(400, "{\"code\":\"BadFormat\",\"message\":\"format param must be one of [`json`]. Got xml\"}"),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 400, Code: "BadFormat", Message: "format param must be one of [`json`]. Got xml"},
		},
		{
			name:    "platform error takes the request id from a response header",
			handler: respond(503, `{"code":"Overloaded","message":"try later"}`, "X-Request-Id", "00000000000abc12"),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 503, Code: "Overloaded", Message: "try later", RequestID: "00000000000abc12"},
		},
		{
			name:    "platform error whose code carries a request id yields it",
			handler: respond(500, `{"code":"[Request ID: 0011223344556677] Server Error"}`),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 500, Code: "[Request ID: 0011223344556677] Server Error", RequestID: "0011223344556677"},
		},
		{
			name:    "platform error carries a parsed Retry-After",
			handler: respond(429, `{"code":"RateLimited","message":"slow down"}`, "Retry-After", "7"),
			wantErr: &Error{Kind: KindPlatform, HTTPStatus: 429, Code: "RateLimited", Message: "slow down", RetryAfter: 7 * time.Second},
		},
		{
			name: "HTML 502 page is an HTTP error named by its title",
			handler: respond(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body>\r\n</html>\r\n",
				"Content-Type", "text/html"),
			wantErr: &Error{Kind: KindHTTP, HTTPStatus: 502, Message: "502 Bad Gateway"},
		},
		{
			name:    "non-JSON error body becomes a short first-line excerpt without control characters",
			handler: respond(500, "upstream\x1b[31m exploded "+strings.Repeat("x", 300)+"\nsecond line", "Content-Type", "text/plain"),
			wantErr: &Error{Kind: KindHTTP, HTTPStatus: 500, Message: ("upstream[31m exploded " + strings.Repeat("x", 300))[:200]},
		},
		{
			name:    "JSON error body without a code is an HTTP error",
			handler: respond(401, `{"error":"Unauthorized"}`),
			wantErr: &Error{Kind: KindHTTP, HTTPStatus: 401, Message: `{"error":"Unauthorized"}`},
		},
		{
			name:    "empty 502 body is an HTTP error",
			handler: respond(502, ""),
			wantErr: &Error{Kind: KindHTTP, HTTPStatus: 502, Message: "empty response body (Bad Gateway)"},
		},
		{
			name:    "empty 200 body is a decode error",
			handler: respond(200, ""),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: "invalid response: empty body"},
		},
		{
			name:    "malformed JSON at 200 is a decode error",
			handler: respond(200, `{"status":success}`),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: `invalid response: {"status":success}`},
		},
		{
			name:    "truncated JSON at 200 is a decode error",
			handler: respond(200, `{"status":"success","value":{"agents":[`),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: `invalid response: {"status":"success","value":{"agents":[`},
		},
		{
			name:    "HTML at 200 is a decode error",
			handler: respond(200, "<html><title>Login</title></html>", "Content-Type", "text/html"),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: "invalid response: Login"},
		},
		{
			name:    "unknown status is a decode error",
			handler: respond(200, `{"status":"pending","value":1}`),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: `invalid response: unknown status "pending"`},
		},
		{
			name:    "JSON that is not an object is a decode error",
			handler: respond(200, `["status","success"]`),
			wantErr: &Error{Kind: KindDecode, HTTPStatus: 200, Message: `invalid response: ["status","success"]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, tt.handler)
			c := New(fs.options(t))

			got, err := c.Call(context.Background(), Query, "sync:getSyncState", map[string]string{"environment": "development"})

			if tt.wantErr == nil {
				require.NoError(t, err)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
				return
			}
			require.Nil(t, got)
			e := asError(t, err)
			want := *tt.wantErr
			want.Path, want.Attempts, want.Sent = "sync:getSyncState", 1, true
			if diff := cmp.Diff(&want, e, cmpopts.IgnoreFields(Error{}, "Err")); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if e.Kind == KindDecode && strings.Contains(tt.name, "JSON") && e.Err == nil {
				t.Errorf("decode error of malformed JSON has no cause")
			}
		})
	}
}

func TestErrorStringNamesPathStatusCodeAndMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"platform", &Error{Kind: KindPlatform, Path: "sync:getSyncState", HTTPStatus: 401, Code: "Unauthenticated", Message: "Could not verify"},
			"convex: sync:getSyncState: HTTP 401 Unauthenticated: Could not verify"},
		{"function", &Error{Kind: KindFunction, Path: "sync:syncOrganization", HTTPStatus: 200, Message: redacted},
			"convex: sync:syncOrganization: function error: " + redacted},
		{"http", &Error{Kind: KindHTTP, Path: "a:b", HTTPStatus: 502, Message: "502 Bad Gateway"},
			"convex: a:b: HTTP 502: 502 Bad Gateway"},
		{"transport falls back to the cause", &Error{Kind: KindTransport, Path: "a:b", Err: io.ErrUnexpectedEOF},
			"convex: a:b: transport error: unexpected EOF"},
		{"too large", &Error{Kind: KindTooLarge, Path: "a:b", HTTPStatus: 200, Message: "response body exceeds 64 bytes"},
			"convex: a:b: HTTP 200: response body exceeds 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestIDParsesTheBracketedID(t *testing.T) {
	tests := map[string]string{
		"[Request ID: 3f2a9c1b7e6d5a40] Server Error":        "3f2a9c1b7e6d5a40",
		"prefix [Request ID: 91ab0c2d3e4f5a6b] Server Error": "91ab0c2d3e4f5a6b",
		"Server Error":                   "",
		"[Request ID: ] Server Error":    "",
		"[Request ID: 3f2a9c1b7e6d5a40":  "",
		"[Request ID: a b] Server Error": "",
	}
	for in, want := range tests {
		if got := RequestID(in); got != want {
			t.Errorf("RequestID(%q) = %q, want %q", in, got, want)
		}
	}
}
