package convex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// statusUDFFailed is the HTTP status Convex may use for a function error; its
// body is a function outcome exactly like HTTP 200's.
const statusUDFFailed = 560

// excerptLimit bounds the text kept from a body that is not the expected JSON.
const excerptLimit = 200

var errTooLarge = errors.New("response body too large")

// finish turns the last attempt into a Result or an *Error. It always closes the body.
func (c *Client) finish(ctx context.Context, st *callState, resp *http.Response, doErr error, out any) (*Result, error) {
	attempts := max(st.attempts, 1)
	if doErr != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		e := &Error{Kind: KindTransport, Path: st.path, Attempts: attempts, Sent: st.maySent, Err: withCtxErr(ctx, doErr)}
		var re *redirectError
		if errors.As(doErr, &re) {
			// The target comes from the server: scrub it, and drop the
			// *url.Error, which quotes it too.
			e.Kind, e.HTTPStatus, e.Message, e.Err = KindHTTP, re.status, c.Clean(re.Error()), nil
		}
		return nil, e
	}

	if re := unfollowed(resp); re != nil {
		_ = resp.Body.Close()
		return nil, &Error{Kind: KindHTTP, Path: st.path, Attempts: attempts, Sent: true, HTTPStatus: re.status, Message: c.Clean(re.Error())}
	}
	retryAfter, _ := parseRetryAfter(resp.Header, time.Now())
	if ce := encoded(resp.Header); ce != "" {
		_ = resp.Body.Close()
		return nil, &Error{Kind: KindDecode, Path: st.path, HTTPStatus: resp.StatusCode, RetryAfter: retryAfter, Attempts: attempts, Sent: true,
			RequestID: c.keepID(headerRequestID(resp.Header)),
			Message:   fmt.Sprintf("response body is %s-encoded although an uncompressed one was asked for; it was not read", sanitizeLine(c.clean(ce), 40))}
	}
	body, err := readBody(resp.Body, resp.ContentLength, c.maxBody)
	_ = resp.Body.Close()
	if err != nil {
		e := &Error{Path: st.path, HTTPStatus: resp.StatusCode, RetryAfter: retryAfter, Attempts: attempts,
			Sent: true, RequestID: c.keepID(headerRequestID(resp.Header))}
		if errors.Is(err, errTooLarge) {
			e.Kind, e.Message = KindTooLarge, fmt.Sprintf("response body exceeds %d bytes", c.maxBody)
		} else {
			e.Kind, e.Message, e.Err = KindTransport, "reading response body", withCtxErr(ctx, err)
		}
		return nil, e
	}

	res, e, shapeErr := c.decodeInto(st.path, resp.StatusCode, resp.Header, body, out)
	if e != nil {
		e.RetryAfter, e.Attempts, e.Sent = retryAfter, attempts, true
		return nil, e
	}
	if shapeErr != nil {
		return nil, &ShapeError{Path: st.path, Attempts: attempts, Err: shapeErr}
	}
	res.Attempts = attempts
	return res, nil
}

// withCtxErr makes sure errors.Is(err, ctx.Err()) holds once ctx is done.
func withCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// rawRef keeps a JSON value as a sub-slice of the body instead of copying it
// as json.RawMessage does. That is safe only because the body buffer is never
// reused, and it halves the memory of decoding a large value.
type rawRef []byte

func (r *rawRef) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// envelope is a function outcome (UDF result).
type envelope struct {
	Status       string   `json:"status"`
	Value        rawRef   `json:"value"`
	LogLines     []string `json:"logLines"`
	ErrorMessage string   `json:"errorMessage"`
	ErrorData    rawRef   `json:"errorData"`
}

// platformError is the body of an error raised outside the function.
type platformError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// envelopeInto is an envelope whose value is decoded into the pointer held
// in Value (encoding/json decodes into the pointer an interface holds).
type envelopeInto struct {
	Status       string   `json:"status"`
	Value        any      `json:"value"`
	LogLines     []string `json:"logLines"`
	ErrorMessage string   `json:"errorMessage"`
	ErrorData    rawRef   `json:"errorData"`
}

// decode interprets a complete body. The Attempts, Sent and RetryAfter of a
// returned *Error are left to the caller.
func (c *Client) decode(path string, status int, h http.Header, body []byte) (*Result, *Error) {
	res, e, _ := c.decodeInto(path, status, h, body, nil)
	return res, e
}

// decodeInto is decode; with a non-nil out the value is decoded into it in
// the same pass, and a success whose value does not fit is reported as
// shapeErr with a nil *Error.
func (c *Client) decodeInto(path string, status int, h http.Header, body []byte, out any) (res *Result, _ *Error, shapeErr error) {
	fail := func(kind ErrorKind, msg string, err error) *Error {
		return &Error{Kind: kind, Path: path, HTTPStatus: status, Message: msg, Err: err,
			RequestID: c.keepID(headerRequestID(h))}
	}
	if status != statusUDFFailed && (status < 200 || status > 299) {
		var pe platformError
		if json.Unmarshal(body, &pe) == nil && pe.Code != "" {
			e := fail(KindPlatform, c.clean(pe.Message), nil)
			e.Code = sanitizeLine(c.clean(pe.Code), excerptLimit)
			if id := c.keepID(firstNonEmpty(RequestID(pe.Message), RequestID(pe.Code))); id != "" {
				e.RequestID = id
			}
			return nil, e, nil
		}
		return nil, fail(KindHTTP, c.bodyExcerpt(body, status), nil), nil
	}

	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fail(KindDecode, "invalid response: empty body", nil), nil
	}
	var env envelope
	if out != nil {
		if r, ok := out.(Reserver); ok {
			r.Reserve(body)
		}
		into := envelopeInto{Value: out}
		err := json.Unmarshal(body, &into)
		env = envelope{Status: into.Status, LogLines: into.LogLines, ErrorMessage: into.ErrorMessage, ErrorData: into.ErrorData}
		if err != nil {
			if !isValueError(err) || into.Status != "success" {
				return nil, fail(KindDecode, "invalid response: "+c.bodyExcerpt(body, status), err), nil
			}
			shapeErr = err
		}
	} else if err := json.Unmarshal(body, &env); err != nil {
		return nil, fail(KindDecode, "invalid response: "+c.bodyExcerpt(body, status), err), nil
	}
	switch env.Status {
	case "success":
		if out != nil {
			return &Result{LogLines: env.LogLines}, nil, shapeErr
		}
		v := json.RawMessage(env.Value)
		if v == nil {
			v = json.RawMessage("null")
		}
		return &Result{Value: v, LogLines: env.LogLines}, nil, nil
	case "error":
		e := fail(KindFunction, c.clean(env.ErrorMessage), nil)
		if id := c.keepID(RequestID(env.ErrorMessage)); id != "" {
			e.RequestID = id
		}
		if env.ErrorData != nil {
			e.ErrorData = c.scrubJSON(json.RawMessage(env.ErrorData))
		}
		return nil, e, nil
	default:
		return nil, fail(KindDecode, fmt.Sprintf("invalid response: unknown status %q", sanitizeLine(c.clean(env.Status), 40)), nil), nil
	}
}

// isValueError reports whether a decoding error concerns the "value" field
// only: the body is valid JSON and the envelope itself decoded.
func isValueError(err error) bool {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field == "value" || strings.HasPrefix(te.Field, "value.")
	}
	var se *json.SyntaxError
	return !errors.As(err, &se) // an error from a json.Unmarshaler inside the value
}

// scrub removes the token from server-provided text, in case a server echoes it.
// It must run before any truncation, which could leave a partial token behind.
func (c *Client) scrub(s string) string {
	if c.cred == nil {
		return s
	}
	for _, sec := range c.cred.secrets() {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

// clean drops invalid UTF-8 and control characters other than '\n' from
// server text, then scrubs it. Dropping first matters: a byte removed after
// scrubbing could join the two halves of a secret scrub did not recognise.
func (c *Client) clean(s string) string {
	return c.scrub(normalize(s))
}

// normalize drops what the SDK never shows of server text: invalid UTF-8,
// U+FFFD (what a decoder makes of it) and control characters other than
// '\n'.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && (r == utf8.RuneError || unicode.IsControl(r)) {
			return -1
		}
		return r
	}, s)
}

// Clean returns server text as the SDK may show it: normalized (invalid
// UTF-8, U+FFFD and control characters other than '\n' dropped), then with
// the Client's token, its other secrets and extra replaced by [REDACTED].
// The order matters: scrubbing first would miss a secret split by a
// character that normalizing then removes.
func (c *Client) Clean(s string, extra ...string) string {
	s = c.clean(s)
	for _, sec := range extra {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

func (c *Client) scrubJSON(b json.RawMessage) json.RawMessage {
	if c.cred == nil {
		return b
	}
	// A secret may hide behind JSON escapes ("\u0063anary") or be split by
	// characters the SDK drops when it shows the text ("ab\u0001cd"): look
	// at the decoded value, every string normalized and scrubbed, and keep
	// that form whenever it differs from the original.
	var v any
	if json.Unmarshal(b, &v) == nil {
		cleaned, changed := c.cleanValue(v)
		if changed {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if enc.Encode(cleaned) == nil {
				b = bytes.TrimSpace(buf.Bytes())
			}
		}
	}
	for _, sec := range c.cred.secrets() {
		if bytes.Contains(b, []byte(sec)) {
			b = bytes.ReplaceAll(b, []byte(sec), []byte("[REDACTED]"))
		}
	}
	return b
}

// cleanValue applies clean to every string and object key of a decoded
// JSON value, reporting whether anything changed.
func (c *Client) cleanValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s := c.clean(x)
		return s, s != x
	case []any:
		changed := false
		for i, e := range x {
			var ch bool
			x[i], ch = c.cleanValue(e)
			changed = changed || ch
		}
		return x, changed
	case map[string]any:
		changed := false
		out := make(map[string]any, len(x))
		for k, e := range x {
			ck := c.clean(k)
			ce, ch := c.cleanValue(e)
			changed = changed || ch || ck != k
			out[ck] = ce
		}
		return out, changed
	}
	return v, false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// readBody reads at most limit bytes into one buffer sized from contentLength
// when known. It returns errTooLarge as soon as the body proves longer, having
// buffered at most limit+1 bytes.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, errTooLarge
	}
	bound := limit
	if bound < math.MaxInt64 {
		bound++ // one byte past the limit tells "exactly limit" from "more"
	}
	size := int64(512)
	if contentLength >= 0 {
		size = contentLength + 1 // +1 so EOF arrives without growing the buffer
	}
	buf := make([]byte, 0, min(size, bound))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= bound {
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(int64(cap(buf))*2, bound))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// bodyExcerpt describes a body that is not the expected JSON: the title of an
// HTML page, else its first non-blank line, shortened and stripped of control
// characters.
func (c *Client) bodyExcerpt(body []byte, status int) string {
	// Cut with room for the longest secret, clean, then cut again: a cut
	// first could leave the first half of a secret that scrub cannot see.
	room := 4096
	if c.cred != nil && len(c.cred.secrets()) > 0 {
		room += len(c.cred.secrets()[0])
	}
	s := c.clean(string(body[:min(len(body), room)]))
	s = strings.TrimSpace(s[:min(len(s), 4096)])
	if s == "" {
		if t := http.StatusText(status); t != "" {
			return "empty response body (" + t + ")"
		}
		return "empty response body"
	}
	if t := htmlTitle(s); t != "" {
		s = t
	}
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			return sanitizeLine(line, excerptLimit)
		}
	}
	return ""
}

func htmlTitle(s string) string {
	lower := strings.ToLower(s)
	i := strings.Index(lower, "<title>")
	if i < 0 {
		return ""
	}
	j := strings.Index(lower[i:], "</title>")
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(s[i+len("<title>") : i+j])
}

// sanitizeLine drops control characters and invalid UTF-8 and cuts s to at
// most n bytes on a rune boundary.
func sanitizeLine(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
