package strueretest

import (
	struere "github.com/struere/struere-go"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Site routes (protocol §8): GET /health, POST /v1/chat and the slug route.

func (s *Server) handleSite(r *http.Request, body []byte) response {
	p := r.URL.Path
	if s.isHead() {
		if resp, ok := s.handleSiteHead(r, body); ok {
			return resp
		}
	}
	switch {
	case p == "/health":
		if r.Method != http.MethodGet {
			return notFound()
		}
		return jsonResponse(http.StatusOK, map[string]any{"status": "ok", "timestamp": s.Now().UnixMilli()})
	case p == "/v1/chat":
		if r.Method != http.MethodPost {
			return notFound()
		}
		return s.chat(r, body, "", false)
	case strings.HasPrefix(p, "/v1/agents/"):
		// E1 registered the literal path "/v1/agents/:slug/chat" (§8.3).
		if r.Method != http.MethodPost || (s.isE1() && p != "/v1/agents/:slug/chat") {
			return notFound()
		}
		slug, _, _ := strings.Cut(strings.TrimPrefix(p, "/v1/agents/"), "/")
		return s.chat(r, body, slug, true)
	}
	return notFound()
}

func chatError(status int, msg string) response {
	return jsonResponse(status, map[string]string{"error": msg})
}

// truthy mirrors JavaScript's truthiness for a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	}
	return true
}

type chatError500 struct{ msg string }

func (e chatError500) Error() string { return e.msg }

func (s *Server) chat(r *http.Request, body []byte, slug string, bySlug bool) response {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return chatError(http.StatusUnauthorized, "Unauthorized")
	}
	key := strings.Replace(auth, "Bearer ", "", 1)
	if s.isHead() {
		// HEAD authenticates the key (401), records its use and applies
		// the chat rate limits before reading the body (§8.4).
		k, fail := s.siteKey(auth)
		if fail != nil {
			return *fail
		}
		if limited := s.chatLimit(k.hash, k.orgID); limited != nil {
			return *limited
		}
	}
	parsed, perr := parseJSON(body)
	if perr == nil {
		parsed, perr = decodeConvex(parsed)
	}
	req, isObj := parsed.(map[string]any)
	if perr != nil || !isObj {
		return s.convexServerError("Uncaught SyntaxError: Unexpected token in JSON at position 0")
	}
	if bySlug {
		if !truthy(req["message"]) {
			return chatError(http.StatusBadRequest, "message is required")
		}
	} else if !truthy(req["agentId"]) || !truthy(req["message"]) {
		return chatError(http.StatusBadRequest, "agentId and message are required")
	}
	var reply map[string]any
	err := s.mutate(func(st *state, now int64) error {
		out, err := s.runChat(st, now, key, req, slug, bySlug)
		reply = out
		return err
	})
	if err != nil {
		return chatError(http.StatusInternalServerError, err.Error())
	}
	return jsonResponse(http.StatusOK, reply)
}

func argError(field, table string, v any) error {
	return chatError500{fmt.Sprintf("ArgumentValidationError: Value does not match validator.\nPath: .%s\nValue: %s\nValidator: v.id(%q)", field, render(v), table)}
}

func (s *Server) runChat(st *state, now int64, key string, req map[string]any, slug string, bySlug bool) (map[string]any, error) {
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:])
	var k *apiKeyRow
	for i := range st.apiKeys {
		if st.apiKeys[i].hash == hash {
			k = &st.apiKeys[i]
		}
	}
	if k == nil || (k.expiresAt != 0 && k.expiresAt < now) {
		return nil, chatError500{"Invalid API key"}
	}
	if !s.isHead() { // HEAD recorded the use before the body was read
		k.lastUsedAt = now
	}
	message, ok := req["message"].(string)
	if !ok {
		return nil, chatError500{fmt.Sprintf("ArgumentValidationError: Value does not match validator.\nPath: .message\nValue: %s\nValidator: v.string()", render(req["message"]))}
	}
	var a *agentRow
	if bySlug {
		for i := range st.agents {
			x := &st.agents[i]
			if x.orgID == k.orgID && x.slug == slug && (a == nil || a.status == StatusDeleted) {
				a = x
			}
		}
	} else {
		if (vID{"agents"}).check(req["agentId"], "") != nil {
			return nil, argError("agentId", "agents", req["agentId"])
		}
		if x := st.agent(req["agentId"].(string)); x != nil && x.orgID == k.orgID {
			a = x
		}
	}
	if a == nil {
		return nil, chatError500{"Agent not found"}
	}
	var th *threadRow
	if tid, given := req["threadId"]; given && tid != nil {
		if (vID{"threads"}).check(tid, "") != nil {
			return nil, argError("threadId", "threads", tid)
		}
		for i := range st.threads {
			if st.threads[i].id == tid {
				th = &st.threads[i]
			}
		}
		if th == nil {
			return nil, chatError500{"Thread not found"}
		}
	}
	var cfg *configRow
	if s.isE1() {
		id := a.prodConfigID
		if k.env == envDev {
			id = a.devConfigID
		}
		if id == "" {
			return nil, chatError500{fmt.Sprintf("No %s configuration found", k.env)}
		}
		if cfg = st.config(id); cfg == nil {
			return nil, chatError500{"Configuration not found"}
		}
	} else if cfg = st.currentConfig(a.id, k.env); cfg == nil {
		return nil, chatError500{fmt.Sprintf("No %s configuration found", k.env)}
	}
	if err := s.checkThreadContext(req, cfg); err != nil {
		return nil, err
	}
	if ext, _ := req["externalThreadId"].(string); th == nil && ext != "" {
		for i := range st.threads {
			if st.threads[i].orgID == k.orgID && st.threads[i].externalID == ext {
				th = &st.threads[i]
				break
			}
		}
		if th == nil {
			st.threads = append(st.threads, threadRow{id: st.newID(tableThreads), orgID: k.orgID, env: k.env, agentID: a.id, externalID: ext})
			th = &st.threads[len(st.threads)-1]
		}
	}
	if th == nil {
		st.threads = append(st.threads, threadRow{id: st.newID(tableThreads), orgID: k.orgID, env: k.env, agentID: a.id})
		th = &st.threads[len(st.threads)-1]
	}
	answer := fmt.Sprintf("[%s@%s %s] You said: %s", a.slug, cfg.version, k.env, message)
	in := (len(cfg.systemPrompt) + th.chars + len(message) + 3) / 4
	out := (len(answer) + 3) / 4
	th.chars += len(message) + len(answer)
	th.messages += 2
	s.served.add(Served{Agent: a.slug, AgentID: a.id, Version: cfg.version, Environment: struere.Environment(k.env), KeyPrefix: k.prefix,
		ThreadID: th.id, Message: message, At: ms(now)})
	return map[string]any{"message": answer, "threadId": th.id,
		"usage": map[string]any{"inputTokens": float64(in), "outputTokens": float64(out), "totalTokens": float64(in + out)}}, nil
}

// checkThreadContext is HEAD's validateThreadContextParams: when the
// request carries threadContext.params and the configuration declares
// threadContextParams, required parameters must be present and every
// declared one must have its type.
func (s *Server) checkThreadContext(req map[string]any, cfg *configRow) error {
	tc, _ := req["threadContext"].(map[string]any)
	params, ok := tc["params"].(map[string]any)
	schema, _ := cfg.threadContextParams.([]any)
	if !s.isHead() || !ok || schema == nil {
		return nil
	}
	for _, pv := range schema {
		p, _ := pv.(map[string]any)
		name := str(p, "name")
		v, present := params[name]
		if !present || v == nil {
			if req, _ := p["required"].(bool); req {
				return chatError500{"Missing required thread context param: " + name}
			}
			continue
		}
		var okType bool
		switch str(p, "type") {
		case "string":
			_, okType = v.(string)
		case "number":
			_, okType = v.(float64)
		case "boolean":
			_, okType = v.(bool)
		}
		if !okType {
			return chatError500{"Thread context param \"" + name + "\" must be a " + str(p, "type")}
		}
	}
	return nil
}
