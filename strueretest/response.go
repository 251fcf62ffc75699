package strueretest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// response is a fully computed HTTP reply; faults rewrite it before it is
// written.
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"code":"InternalServerError","message":%q}`, err.Error()))
		status = http.StatusInternalServerError
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return response{status: status, header: h, body: b}
}

// jsonContentType is shared by the responses' headers: it is never
// written to, and its capacity of 1 makes any append copy it.
var jsonContentType = []string{"application/json"}

// successResponse is {"status":"success","value":v} at HTTP 200, with v
// appending itself (the same bytes jsonResponse would write); size is the
// expected length of v.
func successResponse(v jsonAppender, size int) response {
	b := make([]byte, 0, size+32)
	b = append(b, `{"status":"success","value":`...)
	b = v.appendJSON(b)
	b = append(b, '}')
	return response{status: http.StatusOK, header: http.Header{"Content-Type": jsonContentType}, body: b}
}

func textResponse(status int, text string) response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return response{status: status, header: h, body: []byte(text)}
}

func notFound() response { return textResponse(http.StatusNotFound, "No matching routes found") }

// platformError is an error raised outside the function (auth header,
// format, path syntax): {"code","message"} with a real HTTP status.
type platformError struct {
	status        int
	code, message string
}

func (p *platformError) response() response {
	return jsonResponse(p.status, map[string]string{"code": p.code, "message": p.message})
}

// fnError is an error thrown by a function: it becomes
// {"status":"error","errorMessage":...} at HTTP 200.
type fnError struct {
	msg     string // thrown as Error(msg)
	raw     string // replaces "Uncaught Error: msg" entirely (validation, missing function)
	frame   string // stack frame for "    at ..." lines
	data    any    // ConvexError data
	hasData bool
}

func (e *fnError) Error() string {
	if e.raw != "" {
		return e.raw
	}
	return e.msg
}

// throw returns an Error(msg) thrown from frame.
func throw(frame, msg string) *fnError { return &fnError{msg: msg, frame: frame} }

const (
	frameAuth = "getAuthContextForOrg (../convex/lib/auth.ts:145:10)"
)

// tail is the unredacted text after the "Server Error" line.
func (e *fnError) tail() string {
	if e.raw != "" {
		return e.raw
	}
	name := "Error"
	if e.hasData {
		name = "ConvexError"
	}
	t := "Uncaught " + name + ": " + e.msg
	if e.frame != "" {
		t += "\n    at " + e.frame
	}
	return t
}

// errorEnvelope renders a function error for request reqID.
// logs are the log lines to send with it (none when empty).
func (s *Server) errorEnvelope(e *fnError, reqID string, encoded bool, logs []string) response {
	msg := "[Request ID: " + reqID + "] Server Error"
	if !s.opts.redacts() {
		msg += "\n" + e.tail()
	}
	out := map[string]any{"status": "error", "errorMessage": msg}
	if e.hasData {
		out["errorData"] = encodeValue(e.data, encoded)
	}
	if len(logs) > 0 {
		out["logLines"] = logs
	}
	return jsonResponse(http.StatusOK, out)
}
