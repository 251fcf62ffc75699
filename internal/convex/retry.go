package convex

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// callKey carries a call's *callState in the request context, because
// go-retryablehttp's CheckRetry and Backoff never see the request itself.
type callKey struct{}

// callState is one Call's bookkeeping. go-retryablehttp calls the hooks
// sequentially on the caller's goroutine, so it needs no lock.
type callState struct {
	c    *Client
	kind Kind
	path string

	attempts int           // attempts started
	logged   int           // attempts already logged
	start    time.Time     // start of the current attempt
	lastDur  time.Duration // duration of the last finished attempt
	status   int           // HTTP status of the last attempt, 0 if none
	headerID string        // request id from the last response's headers
	maySent  bool          // some attempt may have reached the server
	nextWait time.Duration // wait chosen by checkRetry for the next backoff
}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(callKey{}).(*callState)
	return st
}

// onAttemptStart is the RequestLogHook: it runs before every attempt.
func onAttemptStart(_ retryablehttp.Logger, req *http.Request, i int) {
	if st := stateFrom(req.Context()); st != nil {
		st.attempts = i + 1
		st.start = time.Now()
	}
}

// checkRetry is the CheckRetry policy. It records the attempt, logs it when
// a retry will follow (the final attempt is logged by Call once decoded), and
// stops with ctx.Err() as soon as the context is done.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateFrom(ctx)
	if st == nil {
		return false, nil
	}
	st.lastDur = time.Since(st.start)
	st.status, st.headerID = 0, ""
	if resp != nil {
		st.status = resp.StatusCode
		st.headerID = st.c.keepID(headerRequestID(resp.Header))
	}
	if err == nil || !isDialError(err) {
		st.maySent = true
	}
	if cerr := ctx.Err(); cerr != nil {
		return false, cerr
	}
	retry, wait := st.decide(ctx, resp, err)
	if retry && st.attempts <= st.c.maxRetries {
		st.nextWait = wait
		st.logAttempt(ctx, "retry", st.headerID)
		st.logged = st.attempts
	}
	return retry, nil
}

// decide applies the retry policy to one attempt and picks the wait before
// the next one. It refuses a retry whose wait would outlast MaxWait (for
// Retry-After) or the context deadline, so the caller gets the response.
//
// A query is repeated after a network failure or a 429/502/503/504: reads
// are safe to repeat. A write (mutation, action, Post) is repeated only
// when it cannot have reached the server: the connection was never made
// (refused, unreachable, DNS or connect timeout). Any HTTP response, even
// a 429 or 503 with Retry-After, may come from a proxy after the function
// ran, and a reset or GOAWAY after the body was written proves nothing
// either, so neither is retried; the error carries the Retry-After for the
// caller to decide.
func (st *callState) decide(ctx context.Context, resp *http.Response, err error) (bool, time.Duration) {
	c := st.c
	if err != nil {
		if errors.Is(err, errRedirect) || isCertError(err) {
			return false, 0
		}
		// A write is repeated only when the connection was never made.
		if st.kind != Query && !isDialError(err) {
			return false, 0
		}
		wait := c.jitter(st.attempts - 1)
		return fitsDeadline(ctx, wait), wait
	}
	if st.kind != Query {
		return false, 0
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
	default:
		return false, 0
	}
	if ra, hasRA := parseRetryAfter(resp.Header, time.Now()); hasRA {
		if ra > c.maxWait {
			return false, 0
		}
		return fitsDeadline(ctx, ra), ra
	}
	wait := c.jitter(st.attempts - 1)
	return fitsDeadline(ctx, wait), wait
}

// fitsDeadline reports whether waiting wait still leaves time before ctx's deadline.
func fitsDeadline(ctx context.Context, wait time.Duration) bool {
	d, ok := ctx.Deadline()
	return !ok || wait < time.Until(d)
}

// backoff is the Backoff policy: the wait checkRetry chose, or for a network
// error (where no response carries the context) a fresh jittered wait.
func backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	if resp != nil && resp.Request != nil {
		if st := stateFrom(resp.Request.Context()); st != nil {
			return st.nextWait
		}
	}
	return jitter(minWait, maxWait, attemptNum)
}

func (c *Client) jitter(attemptNum int) time.Duration {
	return jitter(c.minWait, c.maxWait, attemptNum)
}

// jitter returns a wait in [base/2, base] clamped to [minWait, maxWait], where
// base = minWait·2^attemptNum capped at maxWait ("equal jitter").
func jitter(minWait, maxWait time.Duration, attemptNum int) time.Duration {
	if maxWait <= 0 {
		return 0
	}
	base := minWait
	for i := 0; i < attemptNum && base < maxWait; i++ {
		base *= 2
	}
	base = min(base, maxWait)
	half := base / 2
	wait := half + rand.N(base-half+1)
	return min(max(wait, minWait), maxWait)
}

// maxRetryAfter bounds a parsed Retry-After; anything this long is never waited anyway.
const maxRetryAfter = 365 * 24 * time.Hour

// parseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date. A date in the past counts as present with zero wait.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Clamp before multiplying so an absurd value cannot overflow.
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

// isDialError reports whether err happened while connecting, so the request
// was never written.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isCertError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) ||
		errors.As(err, &hostname) || errors.As(err, &verify)
}

// requestIDHeaders are the response headers that may carry a request id.
var requestIDHeaders = []string{"Convex-Request-Id", "X-Request-Id"}

func headerRequestID(h http.Header) string {
	for _, k := range requestIDHeaders {
		if v := strings.TrimSpace(h.Get(k)); IsRequestID(v) {
			return v
		}
	}
	return ""
}
