package convex

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Post is the Kind recorded (in log records and retry decisions) for a
// request made with Client.Post. It has the retry semantics of a Mutation:
// the request is repeated only when the server cannot have run it.
const Post Kind = "post"

// PostRequest is one JSON POST to an HTTP route of the deployment (the
// public chat API), authenticated with its own bearer instead of the
// Client's token.
type PostRequest struct {
	// URL is the absolute URL to post to. The caller has checked that it
	// is on a host it trusts: the bearer goes there.
	URL *url.URL
	// Route names the request in log records and errors, e.g.
	// "/v1/agents/support/chat". It must not hold a secret.
	Route string
	// Bearer is sent as "Authorization: Bearer <Bearer>"; empty omits the
	// header. It is scrubbed from the returned body.
	Bearer string
	// Body is the JSON request body.
	Body []byte
	// Idempotent marks a request that only reads, so it is retried as a
	// query is (transport errors, 502/503/504, 429). Otherwise it is
	// repeated only when the server cannot have run it.
	Idempotent bool
}

// Response is the last HTTP response to a Post, whatever its status.
type Response struct {
	Status     int           // HTTP status
	Header     http.Header   // response headers
	Body       []byte        // at most the Client's body limit; secrets scrubbed
	RetryAfter time.Duration // parsed Retry-After; 0 if absent
	RequestID  string        // from a response header, if any
	Attempts   int           // attempts made, retries included
}

// Post sends r and returns the last response, whatever its HTTP status: the
// caller interprets the route's own error bodies. It retries only when the
// server cannot have run the request (the connection was never made), with
// the Client's retry limits, body limit and redirect refusal; never after
// any response, and net/http cannot replay it either. A network failure, a refused redirect or an oversized body
// returns an *Error (KindTransport, KindHTTP, KindTooLarge) whose Path is
// r.Route; when ctx ends the error satisfies errors.Is(err, ctx.Err()).
func (c *Client) Post(ctx context.Context, r PostRequest) (*Response, error) {
	if ctx == nil {
		return nil, fmt.Errorf("convex: %s: %w", r.Route, ErrNilContext)
	}
	if r.URL == nil || r.URL.Host == "" {
		return nil, fmt.Errorf("convex: %s: no URL", r.Route)
	}
	kind := Post
	if r.Idempotent {
		kind = Query
	}
	st := &callState{c: c, kind: kind, path: r.Route}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, callKey{}, st),
		http.MethodPost, r.URL.String(), r.Body)
	if err != nil {
		return nil, fmt.Errorf("convex: %s: build request", r.Route)
	}
	oneShot(req)
	uncompressed(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if r.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.Bearer)
	}

	resp, doErr := c.retry.Do(req)
	out, cerr := c.finishPost(ctx, st, r.Bearer, resp, doErr)
	if cerr != nil {
		st.logFinal(ctx, cerr)
		return nil, cerr
	}
	var logErr error
	if out.Status < 200 || out.Status > 299 {
		logErr = &Error{Kind: KindHTTP}
	}
	st.logFinal(ctx, logErr)
	return out, nil
}

// finishPost reads the last attempt's response. It always closes the body.
func (c *Client) finishPost(ctx context.Context, st *callState, bearer string, resp *http.Response, doErr error) (*Response, *Error) {
	attempts := max(st.attempts, 1)
	if doErr != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		e := &Error{Kind: KindTransport, Path: st.path, Attempts: attempts, Sent: st.maySent, Err: withCtxErr(ctx, scrubErr(doErr, bearer))}
		var re *redirectError
		if errors.As(doErr, &re) {
			e.Kind, e.HTTPStatus, e.Message, e.Err = KindHTTP, re.status, c.Clean(re.Error(), bearer), nil
		}
		return nil, e
	}
	if re := unfollowed(resp); re != nil {
		_ = resp.Body.Close()
		return nil, &Error{Kind: KindHTTP, Path: st.path, Attempts: attempts, Sent: true, HTTPStatus: re.status, Message: c.Clean(re.Error(), bearer)}
	}
	retryAfter, _ := parseRetryAfter(resp.Header, time.Now())
	reqID := c.keepID(headerRequestID(resp.Header))
	if ce := encoded(resp.Header); ce != "" {
		_ = resp.Body.Close()
		return nil, &Error{Kind: KindDecode, Path: st.path, HTTPStatus: resp.StatusCode, Attempts: attempts, Sent: true, RequestID: reqID,
			Message: fmt.Sprintf("response body is %s-encoded although an uncompressed one was asked for; it was not read", sanitizeLine(c.clean(ce), 40))}
	}
	body, err := readBody(resp.Body, resp.ContentLength, c.maxBody)
	_ = resp.Body.Close()
	if err != nil {
		e := &Error{Path: st.path, HTTPStatus: resp.StatusCode, RetryAfter: retryAfter, Attempts: attempts, Sent: true, RequestID: reqID}
		if errors.Is(err, errTooLarge) {
			e.Kind, e.Message = KindTooLarge, fmt.Sprintf("response body exceeds %d bytes", c.maxBody)
		} else {
			e.Kind, e.Message, e.Err = KindTransport, "reading response body", withCtxErr(ctx, err)
		}
		return nil, e
	}
	body = []byte(c.scrub(string(body)))
	if bearer != "" {
		body = []byte(strings.ReplaceAll(string(body), bearer, "[REDACTED]"))
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, RetryAfter: retryAfter,
		RequestID: reqID, Attempts: attempts}, nil
}

// scrubbedError keeps an error's text free of a secret while preserving
// its chain for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubErr hides secret in err's text. Go's URL errors quote the URL, never
// headers, so this is a second line of defence.
func scrubErr(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}
