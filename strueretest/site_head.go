package strueretest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HEAD's site routes (protocol-head §H3): /v1/sync, /v1/sync/state,
// /v1/sync/pull, /v1/auth/refresh, and the API-key authentication and rate
// limits they and the chat routes share.

// siteKey is authenticateApiKey (§H3.1): the first "Bearer " is removed
// wherever it is; a missing or empty result is 401 Unauthorized; an unknown
// or expired key is 401 Invalid API key. It records lastUsedAt on the first
// key with the same prefix, a write of its own that later failures do not
// undo.
func (s *Server) siteKey(header string) (apiKeyRow, *response) {
	key := strings.Replace(header, "Bearer ", "", 1)
	// HTTP strips trailing spaces from header values, so "Bearer " arrives
	// as "Bearer"; it is the empty key of the spec's case 56.
	if key == "" || header == "Bearer" {
		resp := chatError(http.StatusUnauthorized, "Unauthorized")
		return apiKeyRow{}, &resp
	}
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:])
	var k apiKeyRow
	found := false
	s.read(func(st *state, now int64) {
		for _, row := range st.apiKeys {
			if row.hash == hash {
				k, found = row, row.expiresAt == 0 || row.expiresAt >= now
				break
			}
		}
	})
	if !found {
		resp := chatError(http.StatusUnauthorized, "Invalid API key")
		return apiKeyRow{}, &resp
	}
	_ = s.mutate(func(st *state, now int64) error {
		for i := range st.apiKeys {
			if st.apiKeys[i].prefix == k.prefix {
				st.apiKeys[i].lastUsedAt = now
				break
			}
		}
		return nil
	})
	return k, nil
}

func (s *Server) handleSiteHead(r *http.Request, body []byte) (response, bool) {
	switch r.URL.Path {
	case "/v1/sync", "/v1/sync/state", "/v1/sync/pull", "/v1/auth/refresh":
	default:
		return response{}, false
	}
	if r.Method != http.MethodPost {
		return notFound(), true
	}
	if r.URL.Path == "/v1/auth/refresh" {
		return s.refresh(body), true
	}
	k, fail := s.siteKey(r.Header.Get("Authorization"))
	if fail != nil {
		return *fail, true
	}
	switch r.URL.Path {
	case "/v1/sync/state":
		var v *syncStateE2
		s.read(func(st *state, _ int64) { v = s.syncState(st, k.orgID, k.env) })
		return jsonResponse(http.StatusOK, v), true
	case "/v1/sync/pull":
		var v map[string]any
		s.read(func(st *state, _ int64) { v = s.pullState(st, k.orgID, k.env) })
		return jsonResponse(http.StatusOK, v), true
	}
	return s.siteSync(k, body), true
}

// siteSync is POST /v1/sync (§H3.2): the organization and environment come
// from the key; only six body keys are read.
func (s *Server) siteSync(k apiKeyRow, body []byte) response {
	fail := func(msg string) response { return chatError(http.StatusInternalServerError, msg) }
	parsed, err := parseJSON(body)
	if err == nil {
		parsed, err = decodeConvex(parsed)
	}
	if err != nil {
		return fail(jsParseError(body))
	}
	if parsed == nil {
		return fail("Cannot read properties of null (reading 'agents')")
	}
	obj, _ := parsed.(map[string]any)
	args := map[string]any{"organizationId": k.orgID, "environment": k.env}
	for _, key := range []string{"agents", "entityTypes", "roles"} {
		if v := obj[key]; v != nil {
			args[key] = v
		} else {
			args[key] = []any{}
		}
	}
	for _, key := range []string{"evalSuites", "triggers", "fixtures"} {
		if v, ok := obj[key]; ok {
			args[key] = v
		}
	}
	if verr := syncArgsHead(true).check(args, ""); verr != nil {
		return fail(verr.Error())
	}
	var out map[string]any
	var ferr *fnError
	_ = s.mutate(func(st *state, now int64) error {
		r := &syncRun{s: s, st: st, now: now, orgID: k.orgID, env: k.env, args: args, head: true}
		out, ferr = r.run()
		if ferr != nil {
			return ferr
		}
		return nil
	})
	if ferr != nil {
		return fail(ferr.Error())
	}
	return jsonResponse(http.StatusOK, out)
}

// jsParseError approximates V8's JSON.parse error text for body.
func jsParseError(body []byte) string {
	var v any
	err := json.Unmarshal(body, &v)
	var syn *json.SyntaxError
	if err == nil || !errors.As(err, &syn) || syn.Offset >= int64(len(body)) || strings.TrimSpace(string(body[syn.Offset-1:])) == "" {
		return "Unexpected end of JSON input"
	}
	r, _ := utf8.DecodeRune(body[syn.Offset-1:])
	snippet := string(body)
	if len(snippet) > 10 {
		snippet = snippet[:10] + "..."
	}
	return fmt.Sprintf("Unexpected token '%c', %q is not valid JSON", r, snippet)
}

// convexServerError is the Convex-generated 500 of an httpAction that
// throws (protocol §8.4).
func (s *Server) convexServerError(trace string) response {
	out := map[string]any{"code": "[Request ID: " + requestID(s.reqCounter.Add(1)) + "] Server Error"}
	if !s.opts.redacts() {
		out["trace"] = trace
	}
	return jsonResponse(http.StatusInternalServerError, out)
}

// rateLimited is the 429 reply of a rate limit; retryAt is in ms.
func rateLimited(retryAt, now int64) response {
	resp := jsonResponse(http.StatusTooManyRequests, map[string]any{"error": "Rate limit exceeded", "retryAt": retryAt})
	secs := int64(math.Ceil(float64(retryAt-now) / 1000))
	resp.header.Set("Retry-After", strconv.FormatInt(max(1, secs), 10))
	return resp
}
