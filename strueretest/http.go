package strueretest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxRequestBody is the platform's request size limit (8 MB).
const maxRequestBody = 8 << 20

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	rec := Request{Method: r.Method, URLPath: r.URL.Path, HadAuth: r.Header.Get("Authorization") != "", At: s.Now()}
	isAPI := strings.HasPrefix(r.URL.Path, "/api/")
	var call callBody
	if isAPI {
		call = parseCallBody(body)
		rec.Kind, rec.FunctionPath, rec.Args = peekCall(r.URL.Path, body, call)
	} else {
		rec.Kind = "site"
		if json.Valid(body) {
			rec.Args = json.RawMessage(body)
		}
	}
	f := s.takeFault(rec.FunctionPath, r.URL.Path)
	rec.Fault = f != nil

	var logOnce sync.Once
	log := func(status int) {
		logOnce.Do(func() {
			rec.Status = status
			s.logRequest(rec)
		})
	}
	defer log(0)

	compute := func() response {
		switch {
		case err != nil:
			return jsonResponse(http.StatusBadRequest, map[string]string{"code": "BadJsonBody", "message": "Failed to read request body"})
		case len(body) > maxRequestBody:
			return jsonResponse(http.StatusRequestEntityTooLarge, map[string]string{"code": "PayloadTooLarge", "message": "Request body exceeds the 8 MB limit"})
		case isAPI:
			return s.handleAPI(r, body, call, &rec)
		}
		return s.handleSite(r, body)
	}
	s.respond(&statusWriter{ResponseWriter: w}, r, f, isAPI, compute, log)
}

// peekCall extracts, leniently, what the request log and fault matching
// need from a function call.
func peekCall(urlPath string, body []byte, call callBody) (kind, path string, args json.RawMessage) {
	path, args, ok := peekFields(call)
	if !ok {
		path, args = peekLenient(body)
	}
	kind = strings.TrimPrefix(urlPath, "/api/")
	if rest, ok := strings.CutPrefix(urlPath, "/api/run/"); ok {
		kind = "run"
		path = runPath(rest)
	}
	var arr []json.RawMessage
	if len(args) > 0 && args[0] == '[' && json.Unmarshal(args, &arr) == nil && len(arr) == 1 {
		args = arr[0]
	}
	if path != "" {
		path = normalizePath(path)
	}
	return kind, path, args
}

// peekFields reads "path" and "args" from the already parsed body. It
// reports false when the result could differ from peekLenient's (a body
// that is not an object, keys that differ from "path" or "args" only in
// case, a "path" that is not a string), which then decides.
func peekFields(call callBody) (path string, args json.RawMessage, ok bool) {
	if call.err != nil {
		return "", nil, false
	}
	for k := range call.fields {
		if k != "path" && k != "args" && (strings.EqualFold(k, "path") || strings.EqualFold(k, "args")) {
			return "", nil, false
		}
	}
	if raw, has := call.fields["path"]; has {
		var plain bool
		if path, plain = plainString(raw); !plain && (len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &path) != nil) {
			return "", nil, false
		}
	}
	return path, call.fields["args"], true
}

// plainString decodes a JSON string literal made only of printable ASCII
// without escapes, the common case, without going through encoding/json.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// peekLenient is peekFields for bodies it does not handle: whatever a
// lenient decode finds.
func peekLenient(body []byte) (path string, args json.RawMessage) {
	var req struct {
		Path string          `json:"path"`
		Args json.RawMessage `json:"args"`
	}
	_ = json.Unmarshal(body, &req)
	return req.Path, req.Args
}

func runPath(rest string) string {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) < 2 || segs[len(segs)-1] == "" {
		return ""
	}
	return strings.Join(segs[:len(segs)-1], "/") + ":" + segs[len(segs)-1]
}

// normalizePath drops a ".js" module suffix and adds the default export,
// as Convex canonicalizes function paths.
func normalizePath(p string) string {
	module, fn, ok := strings.Cut(p, ":")
	if ok && !strings.HasSuffix(module, ".js") {
		return p // already canonical
	}
	if !ok {
		fn = "default"
	}
	return strings.TrimSuffix(module, ".js") + ":" + fn
}

var validFormats = map[string]bool{"json": true, "convex_encoded_json": true, "convex_json": true, "convex_clean_json": true}

func validClientVersion(v string) bool {
	i := strings.LastIndex(v, "-")
	for i > 0 {
		if semver(v[i+1:]) {
			return true
		}
		i = strings.LastIndex(v[:i], "-")
	}
	return false
}

func semver(v string) bool {
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil || p == "" {
			return false
		}
	}
	return true
}

func (s *Server) handleAPI(r *http.Request, body []byte, call callBody, rec *Request) response {
	if r.Method != http.MethodPost {
		return notFound()
	}
	endpoint := strings.TrimPrefix(r.URL.Path, "/api/")
	run := false
	switch endpoint {
	case "query", "mutation", "action", "function":
	case "query_at_ts":
		endpoint = "query"
	case "query_ts":
		return jsonResponse(http.StatusOK, map[string]string{"ts": encodeTS(s.Now().UnixNano())})
	default:
		if !strings.HasPrefix(endpoint, "run/") {
			return notFound()
		}
		run = true
	}
	if cc := r.Header.Get("Convex-Client"); cc != "" && !validClientVersion(cc) {
		return (&platformError{400, "InvalidVersion", "Failed to parse client version " + strconv.Quote(cc)}).response()
	}
	ident, perr := s.authenticate(r.Header.Get("Authorization"))
	if perr != nil {
		return perr.response()
	}
	var req map[string]json.RawMessage
	if len(body) == 0 && run {
		req = map[string]json.RawMessage{}
	} else if req = call.fields; call.err != nil {
		return (&platformError{400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: expected a JSON object"}).response()
	}
	encoded := false
	if raw, ok := req["format"]; ok {
		var f string
		if err := json.Unmarshal(raw, &f); err != nil || !validFormats[f] {
			return (&platformError{400, "BadFormat", "format param must be one of [`json`]. Got " + strings.Trim(string(raw), `"`)}).response()
		}
		encoded = f == "convex_encoded_json" || f == "convex_json"
	}
	var path string
	if run {
		if path = runPath(strings.TrimPrefix(endpoint, "run/")); path == "" {
			return (&platformError{400, "MissingIdentifier", "Missing function identifier: expected /api/run/<module>/<function>"}).response()
		}
		endpoint = "function"
	} else {
		raw, ok := req["path"]
		plain := false
		if ok {
			path, plain = plainString(raw)
		}
		if !ok || (!plain && json.Unmarshal(raw, &path) != nil) || path == "" {
			return (&platformError{400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: missing field `path`"}).response()
		}
		path = normalizePath(path)
	}
	args := map[string]any{}
	if raw, ok := req["args"]; ok {
		v, err := parseArgs(raw)
		if err == nil {
			v, err = decodeConvex(v)
		}
		if err != nil {
			return (&platformError{400, "BadConvexValue", "Invalid function arguments: " + err.Error()}).response()
		}
		if l, isList := v.([]any); isList && len(l) == 1 {
			v = l[0]
		}
		m, isObj := v.(map[string]any)
		if !isObj {
			return (&platformError{400, "BadRequest", "Function arguments must be an object or an array holding exactly one object"}).response()
		}
		args = m
	}
	reqID := requestID(s.reqCounter.Add(1))
	rec.RequestID = reqID
	val, logs, ferr := s.execute(endpoint, path, args, ident)
	if s.opts.redacts() {
		logs = nil // redacted deployments return no log lines
	}
	if ferr != nil {
		return s.errorEnvelope(ferr, reqID, encoded, logs)
	}
	if a, ok := val.(*syncStateE2); ok && len(logs) == 0 {
		return successResponse(a, a.sizeHint())
	}
	out := map[string]any{"status": "success", "value": encodeValue(val, encoded)}
	if len(logs) > 0 {
		out["logLines"] = logs
	}
	return jsonResponse(http.StatusOK, out)
}

func encodeTS(ns int64) string {
	var b [8]byte
	for i := range b {
		b[i] = byte(uint64(ns) >> (8 * i))
	}
	v, _ := encodeValue(b[:], false).(string)
	return v
}
