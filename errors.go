package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// Sentinel errors. Every error the Client returns for a failed call is an
// *APIError (or wraps the context's error); match its class with errors.Is
// and read the details with errors.As.
var (
	// ErrNotAuthenticated: no token, an expired or invalid token, an API
	// key sent where a user token is needed, or a user the backend does
	// not know. Log in again (`struere login`) or fix Config.Token.
	ErrNotAuthenticated = errors.New("struere: not authenticated")
	// ErrAccessDenied: the token is valid but may not act on the
	// organization (not a member, or not an admin).
	ErrAccessDenied = errors.New("struere: access denied")
	// ErrNotFound: the organization, agent, API key or function does not
	// exist.
	ErrNotFound = errors.New("struere: not found")
	// ErrValidation: the backend rejected the arguments
	// (ArgumentValidationError) or the request itself (HTTP 400); or,
	// before anything was sent, the input is invalid: definitions (a
	// *ValidationError), a release, an option that does not apply.
	ErrValidation = errors.New("struere: validation failed")
	// ErrRateLimited: HTTP 429. APIError.RetryAfter says when to retry.
	ErrRateLimited = errors.New("struere: rate limited")
	// ErrUnavailable: the backend could not be reached or answered
	// 502/503/504 after every retry.
	ErrUnavailable = errors.New("struere: backend unavailable")
	// ErrUnsupported: the backend's generation does not have the function
	// or feature (for example sync:deployAllAgents on an environment-
	// isolated backend).
	ErrUnsupported = errors.New("struere: unsupported by this backend")
	// ErrMalformedResponse: the backend answered something that is not a
	// valid Convex response (an HTML page, truncated JSON, an unknown
	// status, a value of the wrong shape).
	ErrMalformedResponse = errors.New("struere: malformed response")
	// ErrResponseTooLarge: a response body exceeded
	// Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("struere: response too large")
	// ErrPlanLimit: the organization's plan does not allow the change (too
	// many agents, active eval suites or automations). Nothing was
	// written; APIError.Message carries the backend's explanation, e.g.
	// "Agent limit reached. Your plan allows up to 3 agents.".
	ErrPlanLimit = errors.New("struere: plan limit reached")
)

// APIError describes a failed call to the backend: what the SDK was doing,
// which function it called, and what the server said. It matches the
// sentinel errors above with errors.Is.
type APIError struct {
	// Op is the SDK operation, e.g. "deploy" or "status".
	Op string
	// Path is the Convex function path ("sync:getSyncState") or the HTTP
	// route ("/v1/agents/support/chat").
	Path string
	// HTTPStatus is the response status, 0 when no response arrived.
	HTTPStatus int
	// Code is the platform error code, e.g. "Unauthenticated".
	Code string
	// Message is the server's message: the thrown error's text, the
	// platform message, or the ConvexError data. Empty when the deployment
	// redacted it.
	Message string
	// ErrorData is the raw ConvexError data, when the function threw one.
	ErrorData json.RawMessage
	// RequestID is the Convex request id, for support.
	RequestID string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Redacted reports that the deployment hid the function's message
	// ("Server Error" only).
	Redacted bool
	// Attempts is how many HTTP attempts were made.
	Attempts int

	kinds []error
	err   error
}

// Error returns a one-line description starting with the operation.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("struere: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Redacted:
		b.WriteString("server error (message redacted by the deployment)")
	case e.err != nil:
		b.WriteString(e.err.Error())
	default:
		b.WriteString("request failed")
	}
	if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return oneLine(b.String())
}

// oneLine joins the lines of s with "; ": a server-supplied line break
// must not split an error (or forge a record in a line-based log).
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
	parts := f[:0]
	for _, p := range f {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

// Is reports whether target is one of the sentinel classes of e.
func (e *APIError) Is(target error) bool {
	for _, k := range e.kinds {
		if k == target {
			return true
		}
	}
	return false
}

// Unwrap returns the underlying cause (a network or decoding error), if any.
func (e *APIError) Unwrap() error { return e.err }

// wrapCallError turns a transport error into the error the caller sees.
// Context errors are returned wrapped but unchanged in class, so
// errors.Is(err, context.Canceled) holds.
func wrapCallError(op string, err error) error {
	if errors.Is(err, convex.ErrNilContext) {
		return nilContext(op)
	}
	var ce *convex.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("struere: %s: %w", op, err)
	}
	e := &APIError{
		Op:         op,
		Path:       ce.Path,
		HTTPStatus: ce.HTTPStatus,
		Code:       ce.Code,
		ErrorData:  ce.ErrorData,
		RequestID:  ce.RequestID,
		RetryAfter: ce.RetryAfter,
		Attempts:   ce.Attempts,
		err:        ce.Err,
	}
	defer func() { e.Message, e.Code = oneLine(e.Message), oneLine(e.Code) }()
	switch ce.Kind {
	case convex.KindFunction:
		e.Message, e.Redacted = functionMessage(ce.Message, ce.ErrorData)
		e.kinds = classifyFunctionMessage(e.Message)
	case convex.KindPlatform, convex.KindHTTP:
		e.Message = ce.Message
		e.kinds = classifyStatus(ce.HTTPStatus, ce.Code)
	case convex.KindTransport:
		e.Message = ce.Message
		// A call the caller cancelled is not the backend's fault.
		if !errors.Is(ce.Err, context.Canceled) && !errors.Is(ce.Err, context.DeadlineExceeded) {
			e.kinds = []error{ErrUnavailable}
		}
	case convex.KindTooLarge:
		e.Message = ce.Message
		e.kinds = []error{ErrResponseTooLarge}
	default:
		e.Message = ce.Message
		e.kinds = []error{ErrMalformedResponse}
	}
	return e
}

// functionMessage extracts the thrown error's text from a Convex
// errorMessage ("[Request ID: …] Server Error\nUncaught Error: X\n    at …"),
// preferring ConvexError data, which is never redacted.
func functionMessage(errorMessage string, data json.RawMessage) (msg string, redacted bool) {
	if len(data) > 0 {
		var s string
		if json.Unmarshal(data, &s) == nil && strings.TrimSpace(s) != "" {
			return oneLine(strings.TrimSpace(s)), false
		}
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &obj) == nil && strings.TrimSpace(obj.Message) != "" {
			return oneLine(strings.TrimSpace(obj.Message)), false
		}
	}
	_, rest, found := strings.Cut(errorMessage, "\n")
	if !found {
		rest = errorMessage
		if strings.HasPrefix(errorMessage, "[Request ID:") {
			// Other ConvexError data is shown as sent, on one line.
			if d := oneLine(strings.TrimSpace(string(data))); d != "" {
				return d, false
			}
			return "", true
		}
	}
	rest = strings.TrimSpace(rest)
	// Keep the first line of the thrown error, without "Uncaught Error: ".
	var lines []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "at ") {
			break
		}
		lines = append(lines, line)
	}
	// Validation errors continue with Path:/Object:/Validator: lines;
	// keep them, on one line.
	first := strings.Join(lines, "; ")
	if i := strings.Index(first, "Uncaught "); i == 0 {
		if _, tail, ok := strings.Cut(first, ": "); ok {
			first = tail
		}
	}
	return oneLine(strings.TrimSpace(first)), false
}

// functionTexts maps the error texts the Struere functions document
// to sentinel classes. Texts only matter on
// deployments that do not redact, or when carried in errorData.
var functionTexts = []struct {
	substr string
	kinds  []error
}{
	// Checked in order, on the message's first line only: a validation
	// error's later lines quote the caller's own payload, which may
	// contain any of the texts below.
	{"ArgumentValidationError", []error{ErrValidation}},
	{"Could not find public function", []error{ErrUnsupported, ErrNotFound}},
	{"Not authenticated", []error{ErrNotAuthenticated}},
	{"Authentication required", []error{ErrNotAuthenticated}},
	{"User not found", []error{ErrNotAuthenticated}},
	{"Access denied", []error{ErrAccessDenied}},
	{"not a member", []error{ErrAccessDenied}},
	{"Admin access required", []error{ErrAccessDenied}},
	{"Organization not found", []error{ErrNotFound}},
	{"No organization found", []error{ErrNotFound}},
	{"Unable to decode ID", []error{ErrValidation}},
	{"Multiple entity types bound to role", []error{ErrValidation}},
	// Plan limits of the newest backend, carried in errorData.
	{"Agent limit reached. Your plan allows", []error{ErrPlanLimit}},
	{"Eval suite limit reached. Your plan allows", []error{ErrPlanLimit}},
	{"Automation limit reached. Your plan allows", []error{ErrPlanLimit}},
}

func classifyFunctionMessage(msg string) []error {
	msg, _, _ = strings.Cut(msg, "; ")
	for _, t := range functionTexts {
		if strings.Contains(msg, t.substr) {
			return t.kinds
		}
	}
	return nil
}

func classifyStatus(status int, code string) []error {
	switch code {
	case "InvalidAuthHeader", "Unauthenticated", "NoAuthProvider":
		return []error{ErrNotAuthenticated}
	case "FunctionPathNotFound":
		return []error{ErrUnsupported, ErrNotFound}
	}
	switch {
	case status == http.StatusUnauthorized:
		return []error{ErrNotAuthenticated}
	case status == http.StatusForbidden:
		return []error{ErrAccessDenied}
	case status == http.StatusNotFound:
		return []error{ErrNotFound}
	case status == http.StatusTooManyRequests:
		return []error{ErrRateLimited}
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return []error{ErrUnavailable}
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge, status == http.StatusUnprocessableEntity:
		return []error{ErrValidation}
	}
	return nil
}

// nilContext is the error of an operation called with a nil context.
func nilContext(op string) error {
	return fmt.Errorf("struere: %s: nil context: pass context.Background() or a context with a deadline", op)
}
