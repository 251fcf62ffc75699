package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// Errors of the public chat API, matched with errors.Is on the *APIError
// that Chat returns.
var (
	// ErrNoConfiguration: the agent exists but has no configuration in
	// the API key's environment ("No production configuration found").
	// Sync it (development; SyncTo(Eval) for the eval environment) or
	// Deploy it (production). The error wraps the *APIError and names the
	// agent (by id when it was addressed by id alone) and the environment.
	ErrNoConfiguration = errors.New("struere: agent has no configuration in this environment")
	// ErrInsufficientCredits: the organization's platform credits are
	// exhausted; add credits in the dashboard.
	ErrInsufficientCredits = errors.New("struere: insufficient credits")
)

// ChatReply is an agent's answer through the public chat API.
type ChatReply struct {
	// Message is the agent's answer.
	Message string `json:"message"`
	// ThreadID identifies the conversation; pass it back with
	// WithThreadID to continue it.
	ThreadID string `json:"threadId"`
	// Usage is the token usage of this exchange.
	Usage Usage `json:"usage"`
}

// Usage counts the tokens one chat exchange used.
type Usage struct {
	InputTokens  int64 `json:"inputTokens"`  // prompt tokens
	OutputTokens int64 `json:"outputTokens"` // reply tokens
	TotalTokens  int64 `json:"totalTokens"`  // their sum
}

// ChatOption configures Client.Chat. These build one:
//
//   - WithThreadID(id): continue a thread the backend returned;
//   - WithExternalThreadID(id): continue or start the thread with your
//     own identifier;
//   - WithAgentID(id): address the agent by id instead of slug;
//   - RequireEnvironment(env): refuse, sending nothing, unless the key was
//     declared for env (a local check; Client.VerifyKey asks the backend).
type ChatOption interface{ applyChat(*chatOptions) }

type chatOptions struct {
	threadID, externalThreadID, agentID string
	require                             Environment
}

type chatOptionFunc func(*chatOptions)

func (f chatOptionFunc) applyChat(o *chatOptions) { f(o) }

// WithThreadID continues the conversation with that thread id (from a
// previous ChatReply). The backend does not check the thread's
// environment: a thread id is not a security boundary.
func WithThreadID(id string) ChatOption {
	return chatOptionFunc(func(o *chatOptions) { o.threadID = id })
}

// WithExternalThreadID attaches the conversation to your own identifier
// (for example "app:user-123"): the backend reuses the thread created with
// it, or creates one.
func WithExternalThreadID(id string) ChatOption {
	return chatOptionFunc(func(o *chatOptions) { o.externalThreadID = id })
}

// WithAgentID addresses the agent by its Convex id through POST /v1/chat
// instead of by slug. Backends from before 2026-02-09 (GenerationE1)
// cannot route slugs, so this is the only way to chat with them. The
// agentSlug argument of Chat is then used only in errors.
func WithAgentID(id string) ChatOption {
	return chatOptionFunc(func(o *chatOptions) { o.agentID = id })
}

// RequireEnvironment binds the call to env: Chat compares env with the
// environment the API key was declared for (the one given to ParseAPIKey,
// or STRUERE_API_KEY_ENV) and fails with an *EnvironmentMismatchError
// (ErrEnvironmentMismatch) when they differ, having sent nothing. That is
// all it checks, locally and without asking the backend: a development key
// declared as a production key passes. To confirm a key's real environment
// ask the backend with Client.VerifyKey once, or use Client.SmokeTest or
// WithSmokeTest, which do so before their first message.
func RequireEnvironment(env Environment) ChatOption {
	return chatOptionFunc(func(o *chatOptions) { o.require = env })
}

// chatRequest is the body of both chat routes.
type chatRequest struct {
	AgentID          string `json:"agentId,omitempty"`
	Message          string `json:"message"`
	ThreadID         string `json:"threadId,omitempty"`
	ExternalThreadID string `json:"externalThreadId,omitempty"`
}

// Chat sends message to the agent with slug agentSlug through the public
// chat API, POST <site URL>/v1/agents/<slug>/chat, authenticated with key
// (Config.APIKey when key is the zero APIKey). The backend takes the
// environment from the key alone: a development key only ever reaches
// development configurations, threads and data.
//
// Chat is never retried once the server may have run it, because every run
// costs credits: it is repeated only when no connection could be made. Any
// response ends it, a 429 or 503 with Retry-After included (a proxy can send
// one after the agent answered): the error then carries RetryAfter, and
// whether to send the message again is the caller's decision.
//
// Errors are *APIError values matching ErrNotAuthenticated (missing,
// unknown or expired key), ErrValidation (400, malformed ids),
// ErrNotFound (unknown agent or thread, unknown route), ErrNoConfiguration
// (no configuration in the key's environment; the error names the agent
// and the environment), ErrInsufficientCredits, ErrRateLimited (with
// RetryAfter) or ErrUnavailable. An invalid slug or RequireEnvironment
// mismatch fails before any network call. The key never appears in an
// error or a log record.
func (c *Client) Chat(ctx context.Context, key APIKey, agentSlug, message string, opts ...ChatOption) (*ChatReply, error) {
	return c.chat(ctx, "chat", key, agentSlug, message, opts...)
}

func (c *Client) chat(ctx context.Context, op string, key APIKey, agentSlug, message string, opts ...ChatOption) (*ChatReply, error) {
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o chatOptions
	for _, opt := range opts {
		opt.applyChat(&o)
	}
	if key.IsZero() {
		key = c.s.apiKey
	}
	if key.IsZero() {
		return nil, fmt.Errorf("struere: %s: no API key: pass one to Chat or set Config.APIKey (STRUERE_API_KEY): %w", op, ErrNotAuthenticated)
	}
	if o.require != "" && key.Environment() != o.require {
		return nil, &EnvironmentMismatchError{Op: op, KeyPrefix: key.Prefix(), Declared: key.Environment(), Required: o.require}
	}
	route, body := "/v1/chat", chatRequest{AgentID: o.agentID, Message: message, ThreadID: o.threadID, ExternalThreadID: o.externalThreadID}
	if o.agentID == "" {
		if err := checkSlug(agentSlug); err != nil {
			return nil, fmt.Errorf("struere: %s: %w", op, err)
		}
		route = "/v1/agents/" + url.PathEscape(agentSlug) + "/chat"
	}
	u, err := c.siteRoute(route)
	if err != nil {
		return nil, fmt.Errorf("struere: %s: %w", op, err)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("struere: %s: encode request: %w", op, err)
	}
	rpc := c.siteRPC()
	res, err := rpc.Post(ctx, convex.PostRequest{URL: u, Route: route, Bearer: key.Reveal(), Body: payload})
	if err != nil {
		return nil, wrapCallError(op, err)
	}
	if res.Status != http.StatusOK {
		agent := fmt.Sprintf("agent %q", agentSlug)
		if agentSlug == "" && o.agentID != "" {
			agent = fmt.Sprintf("agent with id %q", o.agentID)
		}
		return nil, chatFailure(op, route, agent, o.agentID == "", res,
			func(s string) string { return rpc.Clean(s, key.Reveal()) },
			func(id string) string { return rpc.KeepRequestID(id, key.Reveal()) })
	}
	var wire struct {
		Message  *string `json:"message"`
		ThreadID string  `json:"threadId"`
		Usage    struct {
			InputTokens  float64 `json:"inputTokens"`
			OutputTokens float64 `json:"outputTokens"`
			TotalTokens  float64 `json:"totalTokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(res.Body, &wire); err != nil || wire.Message == nil {
		msg := "reply has no message"
		if err != nil {
			msg = "reply is not JSON"
		}
		return nil, &APIError{Op: op, Path: route, HTTPStatus: res.Status, RequestID: res.RequestID, Attempts: res.Attempts,
			Message: msg, kinds: []error{ErrMalformedResponse}, err: err}
	}
	return &ChatReply{Message: *wire.Message, ThreadID: wire.ThreadID, Usage: Usage{
		InputTokens: tokens(wire.Usage.InputTokens), OutputTokens: tokens(wire.Usage.OutputTokens), TotalTokens: tokens(wire.Usage.TotalTokens)}}, nil
}

func tokens(f float64) int64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return int64(min(f, math.MaxInt64/2))
}

// checkSlug rejects slugs that cannot name an agent: empty, dot segments,
// or with control characters. Anything else is path-escaped.
func checkSlug(slug string) error {
	switch {
	case strings.TrimSpace(slug) == "":
		return fmt.Errorf("agent slug is empty: %w", ErrValidation)
	case slug == "." || slug == "..":
		return fmt.Errorf("agent slug %q is not a slug: %w", slug, ErrValidation)
	case strings.ContainsFunc(slug, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("agent slug %q contains control characters: %w", slug, ErrValidation)
	}
	return nil
}

// siteRoute returns the site URL (fixed at New) with route appended, and
// makes sure the result stays on the site's host.
func (c *Client) siteRoute(route string) (*url.URL, error) {
	base := c.s.siteURL
	u, err := url.Parse(strings.TrimRight(base.String(), "/") + route)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
		return nil, fmt.Errorf("route %q does not stay on the site URL: %w", route, ErrValidation)
	}
	return u, nil
}

// chatErrorBody is every JSON error body of the site routes: {"error"} from
// Struere code, {"code","trace"} from Convex for an unparseable request.
type chatErrorBody struct {
	Error   *string  `json:"error"`
	RetryAt *float64 `json:"retryAt"`
	Code    string   `json:"code"`
}

// chatTexts maps the server's error texts to classes.
// They are matched as substrings because nested actions may prefix them
// with "Uncaught Error: " and append stack lines.
var chatTexts = []struct {
	substr string
	kinds  []error
}{
	{"Invalid API key", []error{ErrNotAuthenticated}},
	{"Unauthorized", []error{ErrNotAuthenticated}},
	{"Agent not found", []error{ErrNotFound}},
	{"Thread not found", []error{ErrNotFound}},
	{"Insufficient credits", []error{ErrInsufficientCredits}},
	{"Rate limit exceeded", []error{ErrRateLimited}},
	{"ArgumentValidationError", []error{ErrValidation}},
	{"hread context param", []error{ErrValidation}},
	{"does not have data permission", []error{ErrAccessDenied}},
}

// noConfigText matches "No <env> configuration found".
var noConfigText = regexp.MustCompile(`No ([a-z]+) configuration found`)

// chatFailure turns a non-200 chat response into an *APIError. The body
// was scrubbed of the secrets as bytes; every text taken from it is
// cleaned again once decoded (clean normalizes, then scrubs), since JSON
// escapes ("\u0061f_live_…") or dropped characters ("af_li\u0001ve_…")
// can hide a secret from the first pass.
//
// agent names the agent addressed ("agent \"support\"", "agent with id
// \"…\""), for the no-configuration error; "" when none was.
func chatFailure(op, route, agent string, bySlug bool, res *convex.Response, clean, keepID func(string) string) error {
	e := &APIError{Op: op, Path: route, HTTPStatus: res.Status, RequestID: res.RequestID, Attempts: res.Attempts, RetryAfter: res.RetryAfter}
	var body chatErrorBody
	switch {
	case json.Unmarshal(res.Body, &body) == nil && body.Error != nil:
		e.Message = firstErrorLine(clean(*body.Error))
	case body.Code != "":
		if id := convex.RequestID(body.Code); id != "" && keepID(id) != "" {
			e.RequestID = id
		}
		e.Message = "server error (the request body was not accepted)"
	default:
		e.Message = excerpt(clean(string(res.Body)), res.Status)
	}
	if res.Status == http.StatusTooManyRequests && e.RetryAfter == 0 && body.RetryAt != nil {
		// Retry-After = max(1, ceil((retryAt-now)/1000)) seconds.
		wait := time.Until(time.UnixMilli(int64(*body.RetryAt)))
		e.RetryAfter = max(time.Second, wait.Round(time.Second))
	}
	if m := noConfigText.FindStringSubmatch(e.Message); m != nil {
		e.kinds = []error{ErrNoConfiguration}
		fix := "sync it"
		switch m[1] {
		case string(Production):
			fix = "deploy it"
		case string(Eval):
			fix = "sync it with SyncTo(Eval)"
		}
		if agent == "" {
			agent = "the agent"
		}
		return fmt.Errorf("%w: %s has no %s configuration: %s", e, agent, m[1], fix)
	}
	for _, t := range chatTexts {
		if strings.Contains(e.Message, t.substr) {
			e.kinds = t.kinds
			break
		}
	}
	if e.kinds == nil {
		switch res.Status {
		case http.StatusPaymentRequired:
			e.kinds = []error{ErrInsufficientCredits}
		case http.StatusNotFound:
			e.kinds = []error{ErrNotFound}
			if bySlug {
				// Before 2026-02-09 the slug route was registered literally
				// as /v1/agents/:slug/chat, so real slugs miss it.
				e.kinds = append(e.kinds, ErrUnsupported)
				e.Message += " (this backend may predate the slug chat route: chat with WithAgentID)"
			}
		default:
			e.kinds = classifyStatus(res.Status, "")
		}
	}
	return e
}

// firstErrorLine strips the "Uncaught Error: " prefix and stack lines a
// nested action adds to a thrown error's text.
func firstErrorLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line = strings.TrimSpace(line)
	for {
		rest, ok := strings.CutPrefix(line, "Uncaught ")
		if !ok {
			break
		}
		if _, tail, found := strings.Cut(rest, ": "); found {
			line = strings.TrimSpace(tail)
		} else {
			line = rest
		}
	}
	return sanitize(line, 500)
}

// excerpt is the first line of a non-JSON body (already cleaned), shortened.
func excerpt(body string, status int) string {
	s := strings.TrimSpace(body[:min(len(body), 4096)])
	if s == "" {
		return "empty response body (" + http.StatusText(status) + ")"
	}
	line, _, _ := strings.Cut(s, "\n")
	return sanitize(line, 200)
}

// sanitize drops control characters and cuts s to at most n bytes.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			continue
		}
		if b.Len()+len(string(r)) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
