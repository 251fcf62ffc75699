package strueretest

import (
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
)

// Clerk sessions and POST /v1/auth/refresh (protocol-head §H3.4), and the
// rate limits of the site routes.

type session struct {
	subject, orgClaim string
	rejection         string // non-empty: Clerk answers non-2xx with this body
}

// limiter holds the rate-limit state (convex-helpers' rateLimits table):
// token buckets for chat and fixed windows for refresh.
type limiter struct {
	mu       sync.Mutex
	sessions map[string]*session
	buckets  map[string]*bucket
	windows  map[string]*window
	noSecret bool // CLERK_SECRET_KEY unset
}

type bucket struct {
	value float64
	ts    int64
}

type window struct {
	start int64
	count int
}

const minute = 60_000

// take consumes one token of the bucket named key (token bucket: rate per
// minute, capacity burst, full at first use). It returns whether a token
// was available and, if not, when one will be.
func (l *limiter) take(key string, rate, burst float64, now int64) (ok bool, retryAt int64) {
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{value: burst, ts: now}
		l.buckets[key] = b
	}
	b.value = math.Min(burst, b.value+float64(now-b.ts)*rate/minute)
	b.ts = now
	if b.value < 1 {
		return false, now + int64(math.Ceil((1-b.value)*minute/rate))
	}
	b.value--
	return true, 0
}

// count counts one request in the fixed window named key (rate per
// minute); the window starts at its first request.
func (l *limiter) count(key string, rate int, now int64) (ok bool, retryAt int64) {
	if l.windows == nil {
		l.windows = map[string]*window{}
	}
	w := l.windows[key]
	if w == nil || now >= w.start+minute {
		w = &window{start: now}
		l.windows[key] = w
	}
	if w.count >= rate {
		return false, w.start + minute
	}
	w.count++
	return true, 0
}

// chatLimit is checkChatRateLimit: 30/min with a burst of 10 per key
// hash, then 100/min with a burst of 30 per organization.
func (s *Server) chatLimit(keyHash, orgID string) *response {
	now := s.Now().UnixMilli()
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	if ok, retryAt := s.lim.take("chatPerKey:"+keyHash, 30, 10, now); !ok {
		resp := rateLimited(retryAt, now)
		return &resp
	}
	if ok, retryAt := s.lim.take("chatPerOrg:"+orgID, 100, 30, now); !ok {
		resp := rateLimited(retryAt, now)
		return &resp
	}
	return nil
}

// AddSession creates a Clerk session for the user with that subject and
// returns its id ("sess_" and 27 alphanumerics). Tokens that
// /v1/auth/refresh mints for it carry orgClaim as org_id ("" for none).
func (s *Server) AddSession(subject, orgClaim string) string {
	buf := make([]byte, 27)
	_, _ = rand.Read(buf) // crypto/rand never fails on supported platforms
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := range buf {
		buf[i] = alnum[int(buf[i])%len(alnum)]
	}
	id := "sess_" + string(buf)
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	if s.lim.sessions == nil {
		s.lim.sessions = map[string]*session{}
	}
	s.lim.sessions[id] = &session{subject: subject, orgClaim: orgClaim}
	return id
}

// SetSessionOrganization changes the session's active organization: later
// refreshed tokens carry orgClaim as org_id. It fails for an unknown
// session.
func (s *Server) SetSessionOrganization(sessionID, orgClaim string) error {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	sess := s.lim.sessions[sessionID]
	if sess == nil {
		return fmt.Errorf("strueretest: set session organization: unknown session %q", sessionID)
	}
	sess.orgClaim = orgClaim
	return nil
}

// RejectSession makes Clerk refuse the session's token requests with body
// as its response text (e.g. an ended session); /v1/auth/refresh then
// answers 401 "Session expired or invalid: <body>". An empty body accepts
// the session again. It fails for an unknown session or an empty id.
func (s *Server) RejectSession(sessionID, body string) error {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	sess := s.lim.sessions[sessionID]
	if sess == nil {
		return fmt.Errorf("strueretest: reject session: unknown session %q", sessionID)
	}
	sess.rejection = body
	return nil
}

// SetClerkSecretConfigured sets whether the deployment has a
// CLERK_SECRET_KEY (it has one by default); without it /v1/auth/refresh
// answers 500 "CLERK_SECRET_KEY not configured".
func (s *Server) SetClerkSecretConfigured(on bool) {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	s.lim.noSecret = !on
}

// clerkNotFound is Clerk's answer for an unknown session id.
const clerkNotFound = `{"errors":[{"message":"Resource not found","long_message":"Resource not found","code":"resource_not_found"}]}`

// refresh is POST /v1/auth/refresh.
func (s *Server) refresh(body []byte) response {
	parsed, err := parseJSON(body)
	if err == nil {
		parsed, err = decodeConvex(parsed)
	}
	if err != nil {
		return s.convexServerError("Uncaught SyntaxError: " + jsParseError(body))
	}
	if parsed == nil {
		return s.convexServerError("Uncaught TypeError: Cannot destructure property 'sessionId' of 'body' as it is null.")
	}
	obj, _ := parsed.(map[string]any)
	raw := obj["sessionId"]
	if !truthy(raw) {
		return chatError(http.StatusBadRequest, "sessionId is required")
	}
	id, isStr := raw.(string)
	if !isStr {
		return s.convexServerError("Uncaught Error: ArgumentValidationError: Value does not match validator.\nPath: .key\nValue: " + render(raw) + "\nValidator: v.string()")
	}
	now := s.Now().UnixMilli()
	s.lim.mu.Lock()
	ok, retryAt := s.lim.count("authRefresh:"+id, 20, now)
	noSecret := s.lim.noSecret
	var sess session
	known := false
	if p := s.lim.sessions[id]; p != nil {
		sess, known = *p, true
	}
	s.lim.mu.Unlock()
	if !ok {
		return rateLimited(retryAt, now)
	}
	if noSecret {
		return chatError(http.StatusInternalServerError, "CLERK_SECRET_KEY not configured")
	}
	switch {
	case !known || strings.ContainsAny(id, "/?#"):
		return chatError(http.StatusUnauthorized, "Session expired or invalid: "+clerkNotFound)
	case sess.rejection != "":
		return chatError(http.StatusUnauthorized, "Session expired or invalid: "+sess.rejection)
	}
	return jsonResponse(http.StatusOK, map[string]string{"token": s.MintToken(sess.subject, sess.orgClaim).Reveal()})
}
