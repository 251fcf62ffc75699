package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/struere/struere-go/internal/convex"
)

// sentinels names every sentinel error, for asserting the exact set an
// error matches.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotAuthenticated", ErrNotAuthenticated},
	{"ErrAccessDenied", ErrAccessDenied},
	{"ErrNotFound", ErrNotFound},
	{"ErrValidation", ErrValidation},
	{"ErrRateLimited", ErrRateLimited},
	{"ErrUnavailable", ErrUnavailable},
	{"ErrUnsupported", ErrUnsupported},
	{"ErrMalformedResponse", ErrMalformedResponse},
	{"ErrResponseTooLarge", ErrResponseTooLarge},
	{"ErrPlanLimit", ErrPlanLimit},
}

// matchedSentinels returns the names of the sentinels err matches.
func matchedSentinels(err error) []string {
	var got []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			got = append(got, s.name)
		}
	}
	return got
}

// fnErr builds a function error with the request id parsed as the transport does.
func fnErr(errorMessage string) *convex.Error {
	return &convex.Error{Kind: convex.KindFunction, Path: fnGetSyncState, HTTPStatus: 200,
		Message: errorMessage, RequestID: convex.RequestID(errorMessage), Attempts: 1}
}

func platformErr(status int, code, message string) *convex.Error {
	return &convex.Error{Kind: convex.KindPlatform, Path: fnGetSyncState, HTTPStatus: status, Code: code, Message: message, Attempts: 1}
}

const unredacted = "[Request ID: 3f2a9c1b7e6d5a40] Server Error\n"

func TestWrapCallErrorMapsEveryResponseClassToItsSentinel(t *testing.T) {
	tests := []struct {
		name string
		in   *convex.Error
		want []string
	}{
		// Platform errors, matched on code (protocol §1.5, §3.2).
		{"401 InvalidAuthHeader is not authenticated", platformErr(401, "InvalidAuthHeader", "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."), []string{"ErrNotAuthenticated"}},
		{"401 Unauthenticated is not authenticated", platformErr(401, "Unauthenticated", "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."), []string{"ErrNotAuthenticated"}},
		{"401 NoAuthProvider is not authenticated", platformErr(401, "NoAuthProvider", "No auth provider found matching the given token"), []string{"ErrNotAuthenticated"}},
		{"401 with older wording is not authenticated", platformErr(401, "Unauthenticated", "Could not verify token claim"), []string{"ErrNotAuthenticated"}},
		{"401 with an unknown code is not authenticated", platformErr(401, "SomethingNew", "nope"), []string{"ErrNotAuthenticated"}},
		{"auth code at another status is still not authenticated", platformErr(400, "InvalidAuthHeader", "Header must begin with `bearer `"), []string{"ErrNotAuthenticated"}},
		{"400 BadFormat is a validation error", platformErr(400, "BadFormat", "format param must be one of [`json`]. Got xml"), []string{"ErrValidation"}},
		{"403 is access denied", platformErr(403, "Forbidden", "no"), []string{"ErrAccessDenied"}},
		{"404 FunctionPathNotFound is unsupported and not found", platformErr(404, "FunctionPathNotFound", "Could not find public function for 'sync:deployAllAgents'"), []string{"ErrNotFound", "ErrUnsupported"}},
		{"404 with another code is not found", platformErr(404, "NotFound", "no"), []string{"ErrNotFound"}},
		{"409 is a conflict, not a validation error", platformErr(409, "Conflict", "no"), nil},
		{"429 is rate limited", platformErr(429, "TooManyRequests", "slow down"), []string{"ErrRateLimited"}},
		{"503 overload is unavailable", platformErr(503, "Overloaded", "try later"), []string{"ErrUnavailable"}},
		{"500 has no class", platformErr(500, "InternalServerError", "boom"), nil},
		// Non-JSON HTTP errors.
		{"502 HTML page is unavailable", &convex.Error{Kind: convex.KindHTTP, Path: fnGetSyncState, HTTPStatus: 502, Message: "502 Bad Gateway"}, []string{"ErrUnavailable"}},
		{"503 empty body is unavailable", &convex.Error{Kind: convex.KindHTTP, Path: fnGetSyncState, HTTPStatus: 503, Message: "empty response body (Service Unavailable)"}, []string{"ErrUnavailable"}},
		{"504 is unavailable", &convex.Error{Kind: convex.KindHTTP, Path: fnGetSyncState, HTTPStatus: 504, Message: "Gateway Timeout"}, []string{"ErrUnavailable"}},
		{"401 without a JSON body is not authenticated", &convex.Error{Kind: convex.KindHTTP, Path: fnGetSyncState, HTTPStatus: 401, Message: "Unauthorized"}, []string{"ErrNotAuthenticated"}},
		// Transport and body problems.
		{"connection refused is unavailable", &convex.Error{Kind: convex.KindTransport, Path: fnGetSyncState, Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, []string{"ErrUnavailable"}},
		{"undecodable body is malformed", &convex.Error{Kind: convex.KindDecode, Path: fnGetSyncState, HTTPStatus: 200, Message: "invalid response: <html>"}, []string{"ErrMalformedResponse"}},
		{"unknown status is malformed", &convex.Error{Kind: convex.KindDecode, Path: fnGetSyncState, HTTPStatus: 200, Message: `invalid response: unknown status "weird"`}, []string{"ErrMalformedResponse"}},
		{"body over the limit is too large", &convex.Error{Kind: convex.KindTooLarge, Path: fnGetSyncState, HTTPStatus: 200, Message: "response body exceeds 10 bytes"}, []string{"ErrResponseTooLarge"}},
		// Function errors, matched on the texts protocol §1.6 and §3.1 document.
		{"Not authenticated", fnErr(unredacted + "Uncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)"), []string{"ErrNotAuthenticated"}},
		{"User not found", fnErr(unredacted + "Uncaught Error: User not found. Please ensure your account is provisioned.\n    at getAuthContextForOrg (../convex/lib/auth.ts:150:10)"), []string{"ErrNotAuthenticated"}},
		{"User not found for subject", fnErr(unredacted + "Uncaught Error: User not found for subject: user_2abc"), []string{"ErrNotAuthenticated"}},
		{"Authentication required", fnErr(unredacted + "Uncaught Error: Authentication required"), []string{"ErrNotAuthenticated"}},
		{"Access denied: not a member", fnErr(unredacted + "Uncaught Error: Access denied: you are not a member of this organization\n    at getAuthContextForOrg (../convex/lib/auth.ts:160:10)"), []string{"ErrAccessDenied"}},
		{"Admin access required", fnErr(unredacted + "Uncaught Error: Admin access required"), []string{"ErrAccessDenied"}},
		{"Organization not found without period", fnErr(unredacted + "Uncaught Error: Organization not found"), []string{"ErrNotFound"}},
		{"Organization not found. with period", fnErr(unredacted + "Uncaught Error: Organization not found."), []string{"ErrNotFound"}},
		{"No organization found", fnErr(unredacted + "Uncaught Error: No organization found. Please create or join an organization."), []string{"ErrNotFound"}},
		{"Could not find public function", fnErr(unredacted + "Could not find public function for 'sync:deployAllAgents'. Did you forget to run `npx convex dev`?"), []string{"ErrNotFound", "ErrUnsupported"}},
		{"Could not find public function, newer wording", fnErr(unredacted + "Could not find public function for 'sync:deployAllAgents'."), []string{"ErrNotFound", "ErrUnsupported"}},
		{"ArgumentValidationError extra field", fnErr(unredacted + "ArgumentValidationError: Object contains extra field `priority` that is not in the validator.\n\nPath: .policies[0]\nObject: {priority: 1}\nValidator: v.object({effect: v.string()})"), []string{"ErrValidation"}},
		{"ArgumentValidationError missing field", fnErr(unredacted + "ArgumentValidationError: Object is missing the required field `environment`. Consider wrapping the field validator in `v.optional(...)` if this is expected."), []string{"ErrValidation"}},
		{"ArgumentValidationError null for optional", fnErr(unredacted + "ArgumentValidationError: Value does not match validator.\nPath: .organizationId\nValue: null\nValidator: v.string()"), []string{"ErrValidation"}},
		{"Unable to decode ID", fnErr(unredacted + "Uncaught Error: Unable to decode ID: invalid"), []string{"ErrValidation"}},
		{"ConvexError string data is classified", &convex.Error{Kind: convex.KindFunction, Path: fnSyncOrganization, HTTPStatus: 200,
			Message: "[Request ID: 91ab34cd56ef7890] Server Error", RequestID: "91ab34cd56ef7890",
			ErrorData: json.RawMessage(`"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""`)}, []string{"ErrValidation"}},
		{"ConvexError object data with a message is classified", &convex.Error{Kind: convex.KindFunction, Path: fnGetSyncState, HTTPStatus: 200,
			Message: "[Request ID: 91ab34cd56ef7890] Server Error", ErrorData: json.RawMessage(`{"message":"Not authenticated"}`)}, []string{"ErrNotAuthenticated"}},
		{"function error at HTTP 560 is classified like 200", &convex.Error{Kind: convex.KindFunction, Path: fnGetSyncState, HTTPStatus: 560,
			Message: unredacted + "Uncaught Error: Not authenticated"}, []string{"ErrNotAuthenticated"}},
		{"agent plan limit in errorData", planErr("Agent limit reached. Your plan allows up to 3 agents."), []string{"ErrPlanLimit"}},
		{"eval suite plan limit in errorData", planErr("Eval suite limit reached. Your plan allows up to 1 eval suites."), []string{"ErrPlanLimit"}},
		{"automation plan limit in errorData", planErr("Automation limit reached. Your plan allows up to 5 automations."), []string{"ErrPlanLimit"}},
		{"an unknown thrown error has no class", fnErr(unredacted + "Uncaught Error: something else broke"), nil},
		{"a redacted function error has no class", fnErr("[Request ID: 3f2a9c1b7e6d5a40] Server Error"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrapCallError("status", tt.in)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			if diff := cmp.Diff(tt.want, matchedSentinels(err)); diff != "" {
				t.Errorf("sentinels of %q mismatch (-want +got):\n%s", err, diff)
			}
			require.Equal(t, tt.in.Path, ae.Path)
			require.Equal(t, tt.in.HTTPStatus, ae.HTTPStatus)
			require.Equal(t, tt.in.Code, ae.Code)
			require.True(t, strings.HasPrefix(err.Error(), "struere: status: "+tt.in.Path+": "), "Error() = %q", err)
		})
	}
}

func TestWrapCallErrorExtractsTheThrownMessageAndRequestID(t *testing.T) {
	tests := []struct {
		name          string
		in            *convex.Error
		wantMessage   string
		wantRequestID string
		wantRedacted  bool
	}{
		{"uncaught error with a stack", fnErr(unredacted + "Uncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)"), "Not authenticated", "3f2a9c1b7e6d5a40", false},
		{"a colon inside the message is kept", fnErr(unredacted + "Uncaught Error: Access denied: you are not a member of this organization\n    at x (y.ts:1:1)"), "Access denied: you are not a member of this organization", "3f2a9c1b7e6d5a40", false},
		{"a message without Uncaught is kept whole", fnErr(unredacted + "Could not find public function for 'sync:deployAllAgents'."), "Could not find public function for 'sync:deployAllAgents'.", "3f2a9c1b7e6d5a40", false},
		{"a redacted message", fnErr("[Request ID: 3f2a9c1b7e6d5a40] Server Error"), "", "3f2a9c1b7e6d5a40", true},
		{"ConvexError string data replaces the redacted message", &convex.Error{Kind: convex.KindFunction, Path: fnSyncOrganization, HTTPStatus: 200,
			Message: "[Request ID: 91ab34cd56ef7890] Server Error", RequestID: "91ab34cd56ef7890", ErrorData: json.RawMessage(`"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""`)},
			`Multiple entity types bound to role "teacher": "teacher" and "tutor"`, "91ab34cd56ef7890", false},
		{"ConvexError data wins over an unredacted message", &convex.Error{Kind: convex.KindFunction, Path: fnSyncOrganization, HTTPStatus: 200,
			Message: unredacted + "Uncaught ConvexError: boom", ErrorData: json.RawMessage(`"Agent \"support\" has no model"`)},
			`Agent "support" has no model`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrapCallError("status", tt.in)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			got := struct {
				Message, RequestID string
				Redacted           bool
			}{ae.Message, ae.RequestID, ae.Redacted}
			want := struct {
				Message, RequestID string
				Redacted           bool
			}{tt.wantMessage, tt.wantRequestID, tt.wantRedacted}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
			if tt.wantMessage != "" {
				require.Contains(t, err.Error(), tt.wantMessage)
			}
			require.Equal(t, []byte(tt.in.ErrorData), []byte(ae.ErrorData), "errorData is kept raw")
		})
	}
}

func TestRedactedFunctionErrorStillNamesOperationAndRequest(t *testing.T) {
	err := wrapCallError("deploy", &convex.Error{Kind: convex.KindFunction, Path: fnSyncOrganization, HTTPStatus: 200,
		Message: "[Request ID: 3f2a9c1b7e6d5a40] Server Error", RequestID: "3f2a9c1b7e6d5a40"})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.Redacted)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "struere: deploy: sync:syncOrganization: "), msg)
	require.Contains(t, msg, "3f2a9c1b7e6d5a40")
	require.Contains(t, msg, "redacted")
}

func TestAPIErrorStringIsOneLine(t *testing.T) {
	tests := []struct {
		name string
		in   *convex.Error
	}{
		{"argument validation with Path and Validator lines", fnErr(unredacted + "ArgumentValidationError: Object contains extra field `priority` that is not in the validator.\n\nPath: .policies[0]\nObject: {priority: 1}\nValidator: v.object({effect: v.string()})")},
		{"thrown error with a stack", fnErr(unredacted + "Uncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := wrapCallError("deploy", tt.in).Error()
			require.NotContains(t, msg, "\n", "Error() is documented as one line")
		})
	}
}

func TestAPIErrorStringCarriesStatusCodeRetryAfterAndRequest(t *testing.T) {
	tests := []struct {
		name string
		in   *convex.Error
		want string
	}{
		{"platform error", &convex.Error{Kind: convex.KindPlatform, Path: fnGetSyncState, HTTPStatus: 401, Code: "Unauthenticated", Message: "Could not verify OIDC token claim."},
			"struere: status: sync:getSyncState: Could not verify OIDC token claim. (HTTP 401 Unauthenticated)"},
		{"rate limit with Retry-After", &convex.Error{Kind: convex.KindPlatform, Path: fnGetSyncState, HTTPStatus: 429, Code: "TooManyRequests", Message: "slow down", RetryAfter: 30 * time.Second, RequestID: "abc123"},
			"struere: status: sync:getSyncState: slow down (HTTP 429 TooManyRequests) (retry after 30s) [request abc123]"},
		{"function error at 200 shows no status", fnErr(unredacted + "Uncaught Error: Not authenticated"),
			"struere: status: sync:getSyncState: Not authenticated [request 3f2a9c1b7e6d5a40]"},
		{"transport error shows its cause", &convex.Error{Kind: convex.KindTransport, Path: fnGetSyncState, Err: errors.New("connection refused")},
			"struere: status: sync:getSyncState: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, wrapCallError("status", tt.in).Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrapCallErrorKeepsRetryAfterAttemptsAndCause(t *testing.T) {
	cause := errors.New("connection reset by peer")
	err := wrapCallError("status", &convex.Error{Kind: convex.KindPlatform, Path: fnGetSyncState, HTTPStatus: 429,
		Code: "TooManyRequests", RetryAfter: 42 * time.Second, Attempts: 3})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, errors.Is(err, ErrRateLimited))
	require.Equal(t, 42*time.Second, ae.RetryAfter)
	require.Equal(t, 3, ae.Attempts)

	err = wrapCallError("status", &convex.Error{Kind: convex.KindTransport, Path: fnGetSyncState, Err: cause})
	require.ErrorIs(t, err, cause, "the network error stays reachable")
}

func TestWrapCallErrorKeepsContextErrorsInTheirClass(t *testing.T) {
	t.Run("a bare context error is wrapped with the operation", func(t *testing.T) {
		err := wrapCallError("status", context.DeadlineExceeded)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, strings.HasPrefix(err.Error(), "struere: status: "), err.Error())
		require.Empty(t, matchedSentinels(err))
	})
	t.Run("a transport error caused by cancellation is context.Canceled, not unavailable", func(t *testing.T) {
		err := wrapCallError("status", &convex.Error{Kind: convex.KindTransport, Path: fnGetSyncState,
			Err: fmt.Errorf("%w: %w", context.Canceled, errors.New("net/http: request canceled"))})
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrUnavailable, "the caller cancelled; the backend was not unavailable")
	})
}

// TestCallMapsResponsesOfTheWireToSentinels drives the documented response
// bodies (protocol §1.5, §3.2) through the real transport.
func TestCallMapsResponsesOfTheWireToSentinels(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		header        map[string]string
		body          string
		want          []string
		wantMessage   string
		wantRequestID string
		wantRetry     time.Duration
	}{
		{"no Authorization: Not authenticated at 200", 200, nil,
			`{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)"}`,
			[]string{"ErrNotAuthenticated"}, "Not authenticated", "3f2a9c1b7e6d5a40", 0},
		{"API key as Bearer: 401 InvalidAuthHeader", 401, nil,
			`{"code":"InvalidAuthHeader","message":"Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."}`,
			[]string{"ErrNotAuthenticated"}, "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.", "", 0},
		{"expired JWT: 401 Unauthenticated", 401, nil,
			`{"code":"Unauthenticated","message":"Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."}`,
			[]string{"ErrNotAuthenticated"}, "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.", "", 0},
		{"org not accessible at 200", 200, nil,
			`{"status":"error","errorMessage":"[Request ID: 0a1b2c3d4e5f6789] Server Error\nUncaught Error: Access denied: you are not a member of this organization\n    at getAuthContextForOrg (../convex/lib/auth.ts:160:10)"}`,
			[]string{"ErrAccessDenied"}, "Access denied: you are not a member of this organization", "0a1b2c3d4e5f6789", 0},
		{"function error at 560", 560, nil,
			`{"status":"error","errorMessage":"[Request ID: 0a1b2c3d4e5f6789] Server Error\nUncaught Error: No organization found. Please create or join an organization."}`,
			[]string{"ErrNotFound"}, "No organization found. Please create or join an organization.", "0a1b2c3d4e5f6789", 0},
		{"redacted function error", 200, nil,
			`{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error"}`,
			nil, "", "3f2a9c1b7e6d5a40", 0},
		{"ConvexError string data", 200, nil,
			`{"status":"error","errorMessage":"[Request ID: 91ab34cd56ef7890] Server Error","errorData":"Multiple entity types bound to role \"teacher\": \"teacher\" and \"tutor\""}`,
			[]string{"ErrValidation"}, `Multiple entity types bound to role "teacher": "teacher" and "tutor"`, "91ab34cd56ef7890", 0},
		{"404 FunctionPathNotFound", 404, nil,
			`{"code":"FunctionPathNotFound","message":"Could not find public function for 'sync:getSyncState'"}`,
			[]string{"ErrNotFound", "ErrUnsupported"}, "Could not find public function for 'sync:getSyncState'", "", 0},
		{"400 BadFormat", 400, nil, "{\"code\":\"BadFormat\",\"message\":\"format param must be one of [`json`]. Got xml\"}",
			[]string{"ErrValidation"}, "format param must be one of [`json`]. Got xml", "", 0},
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "120"}, `{"code":"TooManyRequests","message":"slow down"}`,
			[]string{"ErrRateLimited"}, "slow down", "", 120 * time.Second},
		{"HTML 502 page", 502, map[string]string{"Content-Type": "text/html"}, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
			[]string{"ErrUnavailable"}, "", "", 0},
		{"empty 503", 503, nil, "", []string{"ErrUnavailable"}, "", "", 0},
		{"empty 200", 200, nil, "", []string{"ErrMalformedResponse"}, "", "", 0},
		{"HTML at 200", 200, nil, "<html>hello</html>", []string{"ErrMalformedResponse"}, "", "", 0},
		{"unknown status", 200, nil, `{"status":"pending"}`, []string{"ErrMalformedResponse"}, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			cfg := validConfig()
			cfg.URL, cfg.Retry = srv.URL, RetryPolicy{MaxRetries: -1}
			c, err := New(cfg)
			require.NoError(t, err)

			err = c.call(context.Background(), "status", convex.Query, fnGetSyncState, nil, nil)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			if diff := cmp.Diff(tt.want, matchedSentinels(err)); diff != "" {
				t.Errorf("sentinels of %q mismatch (-want +got):\n%s", err, diff)
			}
			require.Equal(t, tt.status, ae.HTTPStatus)
			if tt.wantMessage != "" {
				require.Equal(t, tt.wantMessage, ae.Message)
			}
			require.Equal(t, tt.wantRequestID, ae.RequestID)
			require.Equal(t, tt.wantRetry, ae.RetryAfter)
			require.True(t, strings.HasPrefix(err.Error(), "struere: status: sync:getSyncState: "), err.Error())
		})
	}
}

func TestCallMapsAnOversizedResponseAndATransportFailure(t *testing.T) {
	t.Run("response over MaxResponseBytes is too large", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"status":"success","value":"`+strings.Repeat("x", 200)+`"}`)
		}))
		defer srv.Close()
		cfg := validConfig()
		cfg.URL, cfg.MaxResponseBytes, cfg.Retry = srv.URL, 64, RetryPolicy{MaxRetries: -1}
		c, err := New(cfg)
		require.NoError(t, err)
		err = c.call(context.Background(), "status", convex.Query, fnGetSyncState, nil, nil)
		require.ErrorIs(t, err, ErrResponseTooLarge)
	})
	t.Run("closed server is unavailable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		cfg := validConfig()
		cfg.URL, cfg.Retry = url, RetryPolicy{MaxRetries: -1}
		c, err := New(cfg)
		require.NoError(t, err)
		err = c.call(context.Background(), "status", convex.Query, fnGetSyncState, nil, nil)
		require.ErrorIs(t, err, ErrUnavailable)
		require.True(t, strings.HasPrefix(err.Error(), "struere: status: "), err.Error())
	})
	t.Run("a success value of the wrong shape is malformed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"status":"success","value":"not an object"}`)
		}))
		defer srv.Close()
		cfg := validConfig()
		cfg.URL = srv.URL
		c, err := New(cfg)
		require.NoError(t, err)
		var out struct{ Agents []string }
		err = c.call(context.Background(), "status", convex.Query, fnGetSyncState, nil, &out)
		require.ErrorIs(t, err, ErrMalformedResponse)
	})
}

func TestOpErrorPrefixesTheOperationOnce(t *testing.T) {
	tests := []struct {
		name string
		in   error
		want string
	}{
		{"inner struere error", errors.New("struere: config: Token is empty"), "struere: deploy: config: Token is empty"},
		{"plain inner error", errors.New("disk full"), "struere: deploy: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrapOp("deploy", tt.in)
			require.Equal(t, tt.want, err.Error())
			require.ErrorIs(t, err, tt.in)
		})
	}
	require.NoError(t, wrapOp("deploy", nil))
}

func TestValidationErrorQuotingAnAuthTextIsStillAValidationError(t *testing.T) {
	msg := "[Request ID: 0123456789abcdef] Server Error\nUncaught Error: ArgumentValidationError: Object contains extra field `priority` that is not in the validator.\nPath: .roles[0].policies[0]\nObject: {systemPrompt: \"Say Access denied when unsure\"}\n    at validate (x.ts:1:1)"
	err := wrapCallError("sync", &convex.Error{Kind: convex.KindFunction, Path: "sync:syncOrganization", HTTPStatus: 200, Message: msg})
	require.ErrorIs(t, err, ErrValidation)
	require.NotErrorIs(t, err, ErrAccessDenied)
	require.NotContains(t, err.Error(), "\n")
}

// planErr is a redacted sync failure whose ConvexError data carries msg,
// as the newest backend reports plan limits.
func planErr(msg string) *convex.Error {
	data, _ := json.Marshal(msg)
	return &convex.Error{Kind: convex.KindFunction, Path: fnSyncOrganization, HTTPStatus: 200,
		Message: "[Request ID: 3f2a9c1b7e6d5a40] Server Error", RequestID: "3f2a9c1b7e6d5a40", ErrorData: data}
}

func TestPlanLimitMessageIsSurfaced(t *testing.T) {
	err := wrapCallError("sync", planErr("Agent limit reached. Your plan allows up to 3 agents."))
	require.ErrorIs(t, err, ErrPlanLimit)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "Agent limit reached. Your plan allows up to 3 agents.", ae.Message)
	require.False(t, ae.Redacted)
	require.Contains(t, err.Error(), "Agent limit reached. Your plan allows up to 3 agents.")
}
