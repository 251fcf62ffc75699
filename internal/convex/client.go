package convex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Kind is the kind of Convex function, which selects the endpoint and the retry policy.
type Kind string

// The three function kinds, named as in the endpoint path /api/<kind>.
const (
	Query    Kind = "query"
	Mutation Kind = "mutation"
	Action   Kind = "action"
)

// DefaultMaxResponseBytes is the response size limit used when Options.MaxResponseBytes is 0.
const DefaultMaxResponseBytes int64 = 64 << 20

// Options configures a Client. It is plain data; New copies what it needs.
type Options struct {
	BaseURL          *url.URL      // deployment URL, already validated; requests go to BaseURL + "/api/<kind>"
	Token            string        // sent as "Authorization: Bearer <token>"; empty omits the header
	HTTPClient       *http.Client  // nil uses a pooled client; it is copied and made to refuse redirects
	UserAgent        string        // User-Agent header value
	ClientHeader     string        // "Convex-Client" header value, e.g. "struere-go-0.1.0"; empty omits it
	MaxResponseBytes int64         // response body limit; 0 means DefaultMaxResponseBytes
	MaxRetries       int           // retries after the first attempt; 0 means none
	MinWait, MaxWait time.Duration // jittered exponential backoff bounds; MaxWait also caps Retry-After
	Logger           *slog.Logger  // one Debug record per attempt; nil is silent
	// Secrets are other credentials the caller holds (an API key): like
	// the token, they are replaced by [REDACTED] in any server text an
	// error carries, should the server echo them.
	Secrets []string
}

// Client calls Convex functions. It is immutable and safe for concurrent use.
type Client struct {
	endpoint   string      // BaseURL without a trailing slash, query or fragment
	cred       *credential // nil without a token; a pointer, so %v of a Client prints an address
	others     *credential // Options.Secrets, kept for WithToken (sealed like cred)
	userAgent  string
	client     string
	maxBody    int64
	maxRetries int
	minWait    time.Duration
	maxWait    time.Duration
	logger     *slog.Logger
	retry      *retryablehttp.Client
}

// credential holds the token and the other secrets. fmt cannot call
// methods on unexported fields, so the Client keeps it behind a pointer
// (printed as an address) and the type itself redacts under every verb and
// in slog; printers that follow pointers by reflection (go-spew in
// testify's diffs, go-cmp) meet a closure, whose captured values they
// cannot reach.
type credential struct {
	open func() (header string, secrets []string)
}

// header is "Bearer <token>", "" without a token (or a nil credential).
func (c *credential) header() string {
	if c == nil {
		return ""
	}
	h, _ := c.open()
	return h
}

// secrets are the token and Options.Secrets, longest first.
func (c *credential) secrets() []string {
	if c == nil {
		return nil
	}
	_, s := c.open()
	return s
}

func (*credential) String() string             { return "[REDACTED]" }
func (*credential) GoString() string           { return "[REDACTED]" }
func (*credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }
func (*credential) LogValue() slog.Value       { return slog.StringValue("[REDACTED]") }

// New returns a Client for o. It does no network I/O and never fails: the
// caller has validated BaseURL. A nil BaseURL makes every Call fail.
func New(o Options) *Client {
	c := &Client{
		userAgent:  o.UserAgent,
		client:     o.ClientHeader,
		maxBody:    o.MaxResponseBytes,
		maxRetries: max(o.MaxRetries, 0),
		minWait:    max(o.MinWait, 0),
		maxWait:    max(o.MaxWait, 0),
		logger:     o.Logger,
	}
	if o.BaseURL != nil {
		u := *o.BaseURL
		u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
		c.endpoint = strings.TrimRight(u.String(), "/")
	}
	c.others = newCredential("", o.Secrets)
	c.cred = newCredential(o.Token, o.Secrets)
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.maxWait < c.minWait {
		c.maxWait = c.minWait
	}
	c.retry = &retryablehttp.Client{
		HTTPClient:     httpClient(o.HTTPClient),
		Logger:         nil,
		RetryWaitMin:   c.minWait,
		RetryWaitMax:   c.maxWait,
		RetryMax:       c.maxRetries,
		RequestLogHook: onAttemptStart,
		CheckRetry:     checkRetry,
		Backoff:        backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
	}
	return c
}

// newCredential holds token (may be empty) and the other secrets; nil
// when there are none.
func newCredential(token string, others []string) *credential {
	var secrets []string
	for _, sec := range append([]string{token}, others...) {
		if sec != "" {
			secrets = append(secrets, sec)
		}
	}
	if len(secrets) == 0 {
		return nil
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	header := ""
	if token != "" {
		header = "Bearer " + token
	}
	return &credential{open: func() (string, []string) { return header, secrets }}
}

// WithToken returns a Client like c (same transport, limits, retry policy,
// logger and other secrets) that sends token instead of c's, and scrubs it
// from server text. It does no I/O; c is unchanged. A refreshed token gets
// its own Client this way while every copy shares one connection pool.
func (c *Client) WithToken(token string) *Client {
	d := *c
	d.cred = newCredential(token, c.others.secrets())
	return &d
}

// Result is the outcome of a successful call.
type Result struct {
	Value    json.RawMessage // the function's return value as JSON ("null" for none); nil after CallInto
	LogLines []string        // the function's console output; empty when the deployment redacts it
	Attempts int             // attempts made, retries included
}

// ShapeError is returned by CallInto when the response is a well-formed
// success whose value does not fit the destination.
type ShapeError struct {
	Path     string // function path
	Attempts int    // attempts made
	Err      error  // from encoding/json
}

func (e *ShapeError) Error() string { return "convex: " + e.Path + ": value shape: " + e.Err.Error() }
func (e *ShapeError) Unwrap() error { return e.Err }

// Call runs the function at path (e.g. "sync:getSyncState") with args and
// returns its value. args is encoded with encoding/json and must encode to a
// JSON object; nil sends {}. On failure Call returns an *Error (see ErrorKind);
// when ctx ends the error satisfies errors.Is(err, ctx.Err()). An unknown kind or
// unencodable args return a plain error without any network I/O.
func (c *Client) Call(ctx context.Context, kind Kind, path string, args any) (*Result, error) {
	return c.call(ctx, kind, path, args, nil)
}

// CallInto is Call, but it decodes the function's value straight into out
// (a non-nil pointer, as for json.Unmarshal) while decoding the response:
// one pass over the body instead of one for the response and one for the
// value. The Result's Value is nil. When the response is a success whose
// value does not fit out, CallInto returns a *ShapeError; other failures
// are as for Call.
func (c *Client) CallInto(ctx context.Context, kind Kind, path string, args, out any) (*Result, error) {
	if out == nil {
		return nil, fmt.Errorf("convex: %s: CallInto with a nil destination", path)
	}
	return c.call(ctx, kind, path, args, out)
}

// Reserver may be implemented by a CallInto destination: Reserve sees the
// complete response body just before it is decoded, and may size the
// destination's slices from it (with a cheap count) so that decoding does
// not grow them step by step. An estimate that is off costs only memory.
type Reserver interface {
	Reserve(body []byte)
}

// ErrNilContext is returned, without any network I/O, by a call given a
// nil context.
var ErrNilContext = errors.New("nil context")

func (c *Client) call(ctx context.Context, kind Kind, path string, args, out any) (*Result, error) {
	if ctx == nil {
		return nil, fmt.Errorf("convex: %s: %w", path, ErrNilContext)
	}
	switch kind {
	case Query, Mutation, Action:
	default:
		return nil, fmt.Errorf("convex: %s: unknown function kind %q", path, string(kind))
	}
	if c.endpoint == "" {
		return nil, fmt.Errorf("convex: %s: no deployment URL", path)
	}
	body, err := requestBody(path, args)
	if err != nil {
		return nil, fmt.Errorf("convex: %s: encode args: %w", path, err)
	}

	st := &callState{c: c, kind: kind, path: path}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, callKey{}, st),
		http.MethodPost, c.endpoint+"/api/"+string(kind), body)
	if err != nil {
		return nil, fmt.Errorf("convex: %s: build request: %w", path, err)
	}
	if kind != Query {
		oneShot(req)
	}
	uncompressed(req)
	req.Header.Set("Content-Type", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.client != "" {
		req.Header.Set("Convex-Client", c.client)
	}
	if h := c.cred.header(); h != "" {
		req.Header.Set("Authorization", h)
	}

	resp, doErr := c.retry.Do(req)
	res, cerr := c.finish(ctx, st, resp, doErr, out)
	st.logFinal(ctx, cerr)
	if cerr != nil {
		return nil, cerr
	}
	return res, nil
}

// oneShot makes a write request impossible for net/http to replay on its
// own. Go's HTTP/2 transport re-sends a request whose body it can rebuild
// (Request.GetBody) after a stream reset with PROTOCOL_ERROR or a GOAWAY
// that excludes the stream, trusting the server that it did not process
// it; a mutation or chat that already ran would run again, unseen by the
// retry policy. Without GetBody the transport returns the error instead,
// and the retry policy (which repeats writes only when no connection was
// made) decides. go-retryablehttp still sets a fresh body per attempt.
func oneShot(req *retryablehttp.Request) {
	req.GetBody = nil
}

// uncompressed asks for the response as is. Left alone, net/http asks for
// gzip and inflates the body before the size limit sees it, so a small
// compressed answer could cost the limit's full size in memory (and a
// caller's own Transport may do the same). With an explicit
// Accept-Encoding the transport neither asks for gzip nor inflates: the
// limit then bounds the bytes read from the wire, which are the bytes
// decoded. Responses are JSON that compresses well, but are read once
// per operation; bounding memory is worth more.
func uncompressed(req *retryablehttp.Request) {
	req.Header.Set("Accept-Encoding", "identity")
}

// encoded reports a response body sent compressed although identity was
// asked for: it is not decoded (and not inflated).
func encoded(h http.Header) string {
	if ce := strings.TrimSpace(h.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return ce
	}
	return ""
}

// requestBody encodes {"path":path,"args":args,"format":"json"} without HTML escaping.
func requestBody(path string, args any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"path":`)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(path); err != nil {
		return nil, err
	}
	trimNewline(&buf)
	buf.WriteString(`,"args":`)
	if args == nil {
		buf.WriteString("{}")
	} else {
		start := buf.Len()
		if err := enc.Encode(args); err != nil {
			return nil, err
		}
		trimNewline(&buf)
		encoded := buf.Bytes()[start:]
		switch {
		case string(encoded) == "null":
			buf.Truncate(start)
			buf.WriteString("{}")
		case encoded[0] != '{':
			return nil, errors.New("args must encode to a JSON object")
		}
	}
	buf.WriteString(`,"format":"json"}`)
	return buf.Bytes(), nil
}

func trimNewline(b *bytes.Buffer) {
	if n := b.Len(); n > 0 && b.Bytes()[n-1] == '\n' {
		b.Truncate(n - 1)
	}
}
