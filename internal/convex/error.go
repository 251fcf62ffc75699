package convex

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// ErrorKind classifies an *Error by where the call failed.
type ErrorKind int

const (
	// KindFunction is a function outcome {"status":"error",...} at HTTP 200 or 560.
	KindFunction ErrorKind = iota + 1
	// KindPlatform is a non-2xx response (other than 560) with a JSON body {"code","message"}.
	KindPlatform
	// KindHTTP is a non-2xx response (other than 560) whose body is not a platform error,
	// such as an HTML 502 page or an empty body. A refused redirect is also KindHTTP.
	KindHTTP
	// KindTransport is a network failure: connection refused or reset, a body cut
	// short, TLS, or the context ending.
	KindTransport
	// KindDecode is a 2xx or 560 body that is empty, not JSON, or has an unknown status.
	KindDecode
	// KindTooLarge is a response body over Options.MaxResponseBytes.
	KindTooLarge
)

// String returns the kind's name, e.g. "platform", or "ErrorKind(n)" for an unknown value.
func (k ErrorKind) String() string {
	switch k {
	case KindFunction:
		return "function"
	case KindPlatform:
		return "platform"
	case KindHTTP:
		return "http"
	case KindTransport:
		return "transport"
	case KindDecode:
		return "decode"
	case KindTooLarge:
		return "too large"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failed function call. It never holds the token.
type Error struct {
	Kind       ErrorKind       // what failed: function, platform, HTTP, transport, decode, size
	Path       string          // function path, e.g. "sync:getSyncState"
	HTTPStatus int             // 0 when no response was received
	Code       string          // platform code, e.g. "Unauthenticated"; "" otherwise
	Message    string          // errorMessage, platform message, a short excerpt of a non-JSON body, or a description
	ErrorData  json.RawMessage // the ConvexError data; nil for any other error
	RequestID  string          // from "[Request ID: …]" in the message, else from a response header
	RetryAfter time.Duration   // parsed Retry-After header; 0 if absent
	Attempts   int             // attempts made, retries included
	Sent       bool            // false only when the request is known never to have reached the server
	Err        error           // underlying cause (network or JSON error); may be nil
}

// Error returns a one-line description such as
// "convex: sync:getSyncState: HTTP 401 Unauthenticated: <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("convex: ")
	b.WriteString(e.Path)
	b.WriteString(": ")
	switch e.Kind {
	case KindFunction:
		b.WriteString("function error")
	case KindTransport:
		b.WriteString("transport error")
	default:
		if e.HTTPStatus != 0 {
			b.WriteString("HTTP ")
			b.WriteString(strconv.Itoa(e.HTTPStatus))
		} else {
			b.WriteString(e.Kind.String())
		}
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return b.String()
}

// Unwrap returns the underlying cause, or nil.
func (e *Error) Unwrap() error { return e.Err }

const requestIDPrefix = "[Request ID: "

// RequestID returns the id inside the first "[Request ID: <id>]" of
// errorMessage, or "" if there is none or it is not in the backend's shape
// (see IsRequestID).
func RequestID(errorMessage string) string {
	i := strings.Index(errorMessage, requestIDPrefix)
	if i < 0 {
		return ""
	}
	rest := errorMessage[i+len(requestIDPrefix):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return ""
	}
	if !IsRequestID(rest[:j]) {
		return ""
	}
	return rest[:j]
}

// requestIDLen is the length of a Convex request id: 16 hex digits.
const requestIDLen = 16

// IsRequestID reports whether id has the shape of the request ids Convex
// produces: exactly 16 hexadecimal digits. Anything else (an API key, a
// JWT, free text echoed by a server) is not kept, so a secret cannot reach
// an error or a log record disguised as a request id.
func IsRequestID(id string) bool {
	if len(id) != requestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// keepID returns id if it may be shown: in the request-id shape, and not
// a piece of a secret the Client holds. Otherwise "".
func (c *Client) keepID(id string) string { return c.KeepRequestID(id) }

// KeepRequestID returns id if it may be shown in an error or a log
// record: in the shape of a Convex request id (IsRequestID) and not a
// piece of the Client's secrets or of extra. Otherwise it returns "".
func (c *Client) KeepRequestID(id string, extra ...string) string {
	if !IsRequestID(id) {
		return ""
	}
	if c.cred != nil {
		for _, sec := range c.cred.secrets() {
			if strings.Contains(sec, id) {
				return ""
			}
		}
	}
	for _, sec := range extra {
		if sec != "" && strings.Contains(sec, id) {
			return ""
		}
	}
	return id
}
