package strueretest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The eval executor (§H9.6, §H9.7): one job runs one turn of one case, with
// the model called outside the server's lock, then records the turn (and,
// after the last one, the result and the run's counters).

const (
	caseStagger    = 500 // ms between the starts of a run's cases
	retryDelay     = 30_000
	maxTurnRetries = 5
	cronEvery      = 5 * 60_000
	stuckAfter     = 30 * 60_000
	maxReplyChars  = 50_000
	maxResultChars = 10_000
	defaultModel   = "openai/gpt-5-mini"
	billingReply   = "I'm temporarily unavailable due to a billing issue. Please contact support."
	evalFrame      = "executeCase (../convex/evalRunner.ts:131:13)"
)

// evalServer is the Server's eval executor state.
type evalServer struct {
	emu       sync.Mutex // guards the fields below
	evalModel EvalModel
	started   []string      // ids of the runs started, in order
	notify    chan struct{} // closed when a run starts
}

func (s *Server) evalModelNow() EvalModel {
	s.evals.emu.Lock()
	defer s.evals.emu.Unlock()
	return s.model()
}

// scheduleJob queues a turn; st is the mutation's state.
func (st *state) scheduleJob(j evalJob) {
	st.ev.jobSeq++
	j.seq = st.ev.jobSeq
	st.ev.jobs = append(st.ev.jobs, j)
}

// takeJob removes and returns the next due job (due ≤ until, earliest
// first, then in scheduling order) satisfying keep, moving the clock to its
// time; ok is false when there is none.
func (s *Server) takeJob(until int64, keep func(evalJob) bool) (evalJob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := -1
	for i, j := range s.st.ev.jobs {
		if j.due > until || !keep(j) {
			continue
		}
		if best < 0 || j.due < s.st.ev.jobs[best].due || (j.due == s.st.ev.jobs[best].due && j.seq < s.st.ev.jobs[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return evalJob{}, false
	}
	c := s.st.clone()
	j := c.ev.jobs[best]
	c.ev.jobs = slices.Delete(c.ev.jobs, best, best+1)
	s.st = c
	if j.due > s.nowMS() {
		s.clock = time.UnixMilli(j.due).UTC()
	}
	return j, true
}

// runImmediate runs every job of run (and the jobs those schedule) now.
func (s *Server) runImmediate(runID string) {
	for {
		j, ok := s.takeJob(math.MaxInt64, func(j evalJob) bool { return j.runID == runID })
		if !ok {
			return
		}
		s.execTurn(j)
	}
}

// Advance moves the server's clock forward by d. Scheduled eval turns and
// the five-minute cleanup cron whose time falls within the step run at
// their time, in order (with EvalsOnAdvance; with EvalsImmediate only the
// cron has anything to do). Tokens and API keys expire against the clock.
func (s *Server) advance(d time.Duration) {
	s.mu.Lock()
	start := s.nowMS()
	target := s.clock.Add(d)
	s.mu.Unlock()
	until := target.UnixMilli()
	nextCron := (start/cronEvery + 1) * cronEvery
	for {
		s.mu.RLock()
		due := int64(math.MaxInt64)
		for _, j := range s.st.ev.jobs {
			due = min(due, j.due)
		}
		s.mu.RUnlock()
		if nextCron <= until && nextCron <= due {
			s.mu.Lock()
			if nextCron > s.nowMS() {
				s.clock = time.UnixMilli(nextCron).UTC()
			}
			s.mu.Unlock()
			_ = s.mutate(func(st *state, now int64) error { st.cleanupStuckRuns(now); return nil })
			nextCron += cronEvery
			continue
		}
		j, ok := s.takeJob(until, func(evalJob) bool { return true })
		if !ok {
			break
		}
		s.execTurn(j)
	}
	s.mu.Lock()
	if target.After(s.clock) {
		s.clock = target
	}
	s.mu.Unlock()
}

// turnInput is what the read step of a turn found.
type turnInput struct {
	orgID, env, suiteSlug, caseName, agentSlug string
	judgeModel, judgePrompt                    string
	turns                                      []any
	finalAssertions                            []any
	cfg                                        *configRow
	platformKey                                bool
	balance                                    float64
	pricing                                    map[string]price
}

// execTurn is evalRunner:executeCase for one turn.
func (s *Server) execTurn(j evalJob) {
	cs := j.cs
	if cs == nil {
		cs = &caseState{}
	}
	var in turnInput
	var fail string
	stop := false
	_ = s.mutate(func(st *state, now int64) error {
		if cs.started == 0 {
			cs.started = now
		}
		run := st.ev.run(j.runID)
		if run == nil {
			stop = true // the error path finds nothing to update
			return nil
		}
		if run.status == "cancelled" {
			stop = true
			return nil
		}
		suite := st.suiteByID(run.suiteID)
		if suite == nil {
			fail = "Suite not found"
			return nil
		}
		ec := st.caseByID(j.caseID)
		if ec == nil {
			fail = "Case not found"
			return nil
		}
		in = turnInput{orgID: run.orgID, env: run.env, suiteSlug: suite.slug, caseName: str(ec.def, "name"),
			judgePrompt: str(suite.def, "judgePrompt"), turns: list(ec.def, "turns"), finalAssertions: list(ec.def, "finalAssertions"),
			platformKey: st.ev.platformKey[run.orgID], balance: st.ev.credits[run.orgID], pricing: st.ev.pricing}
		if jm, ok := suite.def["judgeModel"].(map[string]any); ok {
			in.judgeModel = str(jm, "model")
		}
		if in.judgeModel == "" {
			in.judgeModel = defaultModel
		}
		if cs.threadID == "" {
			ext := "eval:" + j.runID + ":" + j.caseID
			for _, t := range st.threads {
				if t.orgID == run.orgID && t.externalID == ext {
					cs.threadID = t.id
				}
			}
			if cs.threadID == "" {
				cs.threadID = st.newID(tableThreads)
				st.threads = append(st.threads, threadRow{id: cs.threadID, orgID: run.orgID, env: run.env, agentID: run.agentID, externalID: ext})
			}
		}
		if j.turn >= len(in.turns) {
			fail = "Cannot read properties of undefined (reading 'userMessage')"
			return nil
		}
		a := st.agent(run.agentID)
		if a == nil {
			fail = "Agent not found"
			return nil
		}
		in.agentSlug = a.slug
		if c := st.currentConfig(a.id, run.env); c != nil {
			cfg := *c
			in.cfg = &cfg
		}
		return nil
	})
	if stop {
		return
	}
	if fail != "" {
		s.turnFailed(j, cs, fail)
		return
	}
	turn, _ := in.turns[j.turn].(map[string]any)
	msg := str(turn, "userMessage")
	var reply EvalReply
	if cs.pending != nil {
		reply = *cs.pending
	} else {
		if in.cfg == nil {
			s.turnFailed(j, cs, fmt.Sprintf("No %s configuration found", in.env))
			return
		}
		modelID := str(mapOf(in.cfg.model), "model")
		switch _, known := lookupPrice(in.pricing, modelID); {
		case in.platformKey && in.balance <= 0:
			reply = EvalReply{Text: billingReply}
		case in.platformKey && !known:
			reply = EvalReply{Text: "The model " + modelID + " is not recognized. Please choose a supported model."}
		default:
			reply = s.evalModelNow().Reply(EvalTurn{RunID: j.runID, SuiteSlug: in.suiteSlug, CaseName: in.caseName, Turn: j.turn,
				UserMessage: msg, Environment: in.env, AgentSlug: in.agentSlug, Version: in.cfg.version,
				SystemPrompt: in.cfg.systemPrompt, Model: modelID, Tools: toolNames(in.cfg.tools)})
			if reply.Error != "" {
				s.turnFailed(j, cs, reply.Error)
				return
			}
			if reply.InputTokens == 0 && reply.OutputTokens == 0 {
				reply.InputTokens, reply.OutputTokens = (len(msg)+3)/4, (len(reply.Text)+3)/4
			}
		}
		p, _ := lookupPrice(in.pricing, modelOr(modelID))
		cs.agentTokens += float64(reply.InputTokens + reply.OutputTokens)
		cs.agentCost += math.Round(1.1 * (float64(reply.InputTokens)*p.in + float64(reply.OutputTokens)*p.out))
		r := reply
		r.Duration, r.Stall = r.Duration+r.Stall, 0
		cs.pending = &r
		if reply.Stall > 0 {
			next := *cs
			_ = s.mutate(func(st *state, now int64) error {
				st.scheduleJob(evalJob{due: now + reply.Stall.Milliseconds(), runID: j.runID, caseID: j.caseID, turn: j.turn, retries: j.retries, cs: &next})
				return nil
			})
			return
		}
	}
	var calls []toolCall
	for _, tc := range reply.ToolCalls {
		calls = append(calls, toolCall{name: storedToolName(tc.Name), args: tc.Arguments, result: tc.Result})
	}
	results, err := s.assertAll(j, in, cs, list(turn, "assertions"), reply.Text, calls, j.turn)
	if err != "" {
		s.turnFailed(j, cs, err)
		return
	}
	tr := map[string]any{"turnIndex": float64(j.turn), "userMessage": msg, "assistantResponse": cut(reply.Text, maxReplyChars),
		"durationMs":  float64(reply.Duration.Milliseconds()),
		"agentTokens": map[string]any{"input": float64(reply.InputTokens), "output": float64(reply.OutputTokens)}}
	if len(calls) > 0 {
		out := make([]any, len(calls))
		for i, c := range calls {
			m := map[string]any{"name": c.name, "arguments": c.args}
			if c.args == nil {
				m["arguments"] = map[string]any{}
			}
			if c.result != nil {
				m["result"] = cut(resultText(c.result), maxResultChars)
			}
			out[i] = m
		}
		tr["toolCalls"] = out
	}
	if len(results) > 0 {
		tr["assertionResults"] = results
	}
	cs.turnResults = append(cs.turnResults, tr)
	cs.allCalls = append(cs.allCalls, calls...)
	cs.lastReply = reply.Text
	cs.pending = nil
	if j.turn < len(in.turns)-1 {
		next := *cs
		_ = s.mutate(func(st *state, now int64) error {
			st.scheduleJob(evalJob{due: now, runID: j.runID, caseID: j.caseID, turn: j.turn + 1, cs: &next})
			return nil
		})
		return
	}
	var final []any
	if len(in.finalAssertions) > 0 {
		final, err = s.assertAll(j, in, cs, in.finalAssertions, cs.lastReply, cs.allCalls, -1)
		if err != "" {
			s.turnFailed(j, cs, err)
			return
		}
	}
	s.recordCase(j, in, cs, final)
}

// assertAll evaluates assertions in order; a judge failure is returned as
// the error text of the turn.
func (s *Server) assertAll(j evalJob, in turnInput, cs *caseState, defs []any, reply string, calls []toolCall, turn int) ([]any, string) {
	var out []any
	for _, d := range defs {
		a, _ := d.(map[string]any)
		typ := str(a, "type")
		value, hasValue := a["value"].(string)
		weight := 1.0
		if w, ok := a["weight"].(float64); ok {
			weight = w
		}
		res := map[string]any{"type": typ}
		pass := func(ok bool, yes, no string) {
			res["passed"] = ok
			if ok {
				res["reason"] = yes
			} else {
				res["reason"] = no
			}
		}
		if typ != "llm_judge" && !hasValue {
			res["passed"], res["reason"] = false, "Assertion missing required 'value' field"
			out = append(out, res)
			cs.failed = true
			continue
		}
		switch typ {
		case "contains":
			pass(strings.Contains(strings.ToLower(reply), strings.ToLower(value)),
				fmt.Sprintf("Response contains %q", value), fmt.Sprintf("Response does not contain %q", value))
		case "matches":
			re, err := regexp.Compile("(?i)" + value)
			if err != nil {
				res["passed"], res["reason"] = false, "Invalid regex pattern: "+value
			} else {
				pass(re.MatchString(reply), "Response matches /"+value+"/", "Response does not match /"+value+"/")
			}
		case "tool_called":
			names := make([]string, len(calls))
			for i, c := range calls {
				names[i] = c.name
			}
			pass(slices.Contains(names, value), fmt.Sprintf("Tool %q was called", value),
				fmt.Sprintf("Tool %q was not called. Called: [%s]", value, strings.Join(names, ", ")))
		case "tool_not_called":
			called := slices.ContainsFunc(calls, func(c toolCall) bool { return c.name == value })
			pass(!called, fmt.Sprintf("Tool %q was not called (as expected)", value), fmt.Sprintf("Tool %q was unexpectedly called", value))
		case "llm_judge":
			criteria, hasCriteria := a["criteria"].(string)
			if !hasCriteria {
				criteria = "Evaluate the quality of the response"
			}
			v := s.evalModelNow().Judge(EvalJudging{RunID: j.runID, SuiteSlug: in.suiteSlug, CaseName: in.caseName, Turn: turn,
				Criteria: criteria, Reply: reply, JudgeModel: in.judgeModel})
			if v.Error != "" {
				return nil, v.Error
			}
			if v.Text == "" {
				v.Text = `{"passed":true,"score":4,"reason":"scripted"}`
			}
			if v.InputTokens == 0 && v.OutputTokens == 0 {
				v.InputTokens, v.OutputTokens = 100, 20
			}
			ok, score, reason := parseVerdict(v.Text)
			res["passed"], res["score"], res["reason"] = ok, score, reason
			if hasCriteria {
				res["criteria"] = criteria
			}
			p, _ := lookupPrice(in.pricing, in.judgeModel)
			cs.judgeIn += float64(v.InputTokens)
			cs.judgeOut += float64(v.OutputTokens)
			cs.judgeCost += math.Round(1.1 * (float64(v.InputTokens)*p.in + float64(v.OutputTokens)*p.out))
			cs.scores = append(cs.scores, weighted{score: score, weight: weight})
		}
		if res["passed"] == false {
			cs.failed = true
		}
		out = append(out, res)
	}
	return out, ""
}

var (
	passedFragment = regexp.MustCompile(`"passed"\s*:\s*(true|false)`)
	scoreFragment  = regexp.MustCompile(`"score"\s*:\s*(\d)`)
	jsonSpan       = regexp.MustCompile(`(?s)\{.*\}`)
)

// parseVerdict reads a judge reply as the backend does (§H9.7).
func parseVerdict(text string) (bool, float64, string) {
	if span := jsonSpan.FindString(text); span != "" {
		var v map[string]any
		if json.Unmarshal([]byte(span), &v) == nil {
			score, hasScore := v["score"].(float64)
			if !hasScore {
				score = 3
			}
			passed, ok := v["passed"].(bool)
			if !ok {
				passed = hasScore && score >= 3
			}
			reason, _ := v["reason"].(string)
			if reason == "" {
				reason = "No reason provided"
			}
			return passed, math.Min(5, math.Max(1, score)), reason
		}
	}
	if m := passedFragment.FindStringSubmatch(text); m != nil {
		passed := m[1] == "true"
		score := 2.0
		if passed {
			score = 4
		}
		if sm := scoreFragment.FindStringSubmatch(text); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			score = float64(n)
		}
		return passed, math.Min(5, math.Max(1, score)), "Judge response was truncated"
	}
	return false, 1, "Failed to parse judge response: " + prefixChars(text, 200)
}

// recordCase is evals:recordResult followed by evals:caseCompleted.
func (s *Server) recordCase(j evalJob, in turnInput, cs *caseState, final []any) {
	_ = s.mutate(func(st *state, now int64) error {
		res := st.ev.resultOf(j.runID, j.caseID)
		if res == nil {
			return nil
		}
		status := "passed"
		if cs.failed {
			status = "failed"
		}
		doc := map[string]any{"threadId": cs.threadID, "turnResults": slices.Clone(cs.turnResults),
			"totalDurationMs": float64(now - cs.started), "completedAt": float64(now)}
		if final != nil {
			doc["finalAssertionResults"] = final
		}
		score := caseScore(cs.scores)
		if score != nil {
			doc["overallScore"] = *score
		}
		if cs.judgeIn+cs.judgeOut > 0 {
			doc["judgeTokens"] = map[string]any{"input": cs.judgeIn, "output": cs.judgeOut}
		}
		if cs.judgeCost > 0 {
			doc["judgeCost"] = cs.judgeCost
		}
		if cs.agentCost > 0 {
			doc["agentCost"] = cs.agentCost
		}
		res.status, res.overallPassed, res.doc = status, !cs.failed, doc
		st.caseCompleted(j.runID, !cs.failed, cs, now)
		return nil
	})
}

// turnFailed is the executor's error path.
func (s *Server) turnFailed(j evalJob, cs *caseState, msg string) {
	_ = s.mutate(func(st *state, now int64) error {
		run := st.ev.run(j.runID)
		if run != nil && run.status == "cancelled" {
			return nil
		}
		if (strings.Contains(msg, "429") || strings.Contains(msg, "rate") || strings.Contains(msg, "Too Many")) && j.retries < maxTurnRetries {
			next := *cs
			st.scheduleJob(evalJob{due: now + retryDelay, runID: j.runID, caseID: j.caseID, turn: j.turn, retries: j.retries + 1, cs: &next})
			return nil
		}
		res := st.ev.resultOf(j.runID, j.caseID)
		if res == nil {
			return nil
		}
		start := cs.started
		if start == 0 {
			start = now
		}
		res.status, res.overallPassed = "error", false
		res.doc = map[string]any{"errorMessage": msg, "totalDurationMs": float64(now - start)}
		st.caseCompleted(j.runID, false, cs, now)
		return nil
	})
}

// caseCompleted is evals:caseCompleted.
func (st *state) caseCompleted(runID string, passed bool, cs *caseState, now int64) {
	run := st.ev.run(runID)
	if run == nil || run.status == "cancelled" || run.status == "completed" {
		return
	}
	run.completedCases++
	if passed {
		run.passedCases++
	} else {
		run.failedCases++
	}
	run.hasTotals = true
	run.tokAgent += cs.agentTokens
	run.tokJudge += cs.judgeIn + cs.judgeOut
	run.costAgent += cs.agentCost
	run.costJudge += cs.judgeCost
	if run.completedCases == run.totalCases {
		run.status, run.completedAt = "completed", now
		d := now - run.startedAt
		run.totalDurationMs = &d
		run.overallScore = st.ev.runScore(runID, run.passedCases, run.completedCases)
	}
}

// cleanupStuckRuns is the cron of §H9.6.
func (st *state) cleanupStuckRuns(now int64) {
	for i := range st.ev.runs {
		run := &st.ev.runs[i]
		if run.status != "running" || run.startedAt == 0 || run.startedAt >= now-stuckAfter {
			continue
		}
		done, passed := 0, 0
		for _, r := range st.ev.results {
			if r.runID != run.id || r.status == "pending" {
				continue
			}
			done++
			if r.status == "passed" {
				passed++
			}
		}
		run.completedCases, run.passedCases, run.failedCases = done, passed, done-passed
		run.overallScore = st.ev.runScore(run.id, passed, done)
		d := now - run.startedAt
		run.totalDurationMs, run.completedAt = &d, now
		run.status = "completed"
		if done == 0 {
			run.status = "failed"
		}
	}
}

// runScore is the run's overallScore: the mean of the results' scores, else
// 5 × pass rate, else unset.
func (t *evalTables) runScore(runID string, passed, completed int) *float64 {
	var sum float64
	n := 0
	for _, r := range t.results {
		if r.runID != runID {
			continue
		}
		if v, ok := r.doc["overallScore"].(float64); ok {
			sum += v
			n++
		}
	}
	switch {
	case n > 0:
		v := sum / float64(n)
		return &v
	case completed > 0:
		v := float64(passed) / float64(completed) * 5
		return &v
	}
	return nil
}

func caseScore(scores []weighted) *float64 {
	if len(scores) == 0 {
		return nil
	}
	var sum, w float64
	for _, s := range scores {
		sum += s.score * s.weight
		w += s.weight
	}
	if w <= 0 {
		return nil
	}
	v := sum / w
	return &v
}

// lookupPrice finds a modelPricing row by the full id, else by the part
// after the first "/".
func lookupPrice(p map[string]price, model string) (price, bool) {
	if r, ok := p[model]; ok {
		return r, true
	}
	if _, rest, ok := strings.Cut(model, "/"); ok {
		r, ok := p[rest]
		return r, ok
	}
	return price{}, false
}

func modelOr(m string) string {
	if m == "" {
		return defaultModel
	}
	return m
}

// builtinPrefixes are the tool namespaces whose first "_" the backend turns
// back into "." (§H9.7 step 6).
var builtinPrefixes = []string{"entity", "event", "agent", "calendar", "whatsapp", "airtable", "email", "web", "payment"}

var unsafeToolChars = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// storedToolName is the name the backend stores for a tool the agent
// called: sanitised for the model, then desanitised.
func storedToolName(name string) string {
	s := unsafeToolChars.ReplaceAllString(name, "_")
	if prefix, rest, ok := strings.Cut(s, "_"); ok && slices.Contains(builtinPrefixes, prefix) {
		return prefix + "." + rest
	}
	return s
}

func toolNames(tools any) []string {
	l, _ := tools.([]any)
	out := []string{}
	for _, t := range l {
		if m, ok := t.(map[string]any); ok {
			out = append(out, str(m, "name"))
		}
	}
	return out
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func resultText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// cut shortens s to n characters (UTF-16 units in the backend; runes here)
// with the backend's marker.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + fmt.Sprintf("... [truncated %d chars]", len(r)-n)
}

func prefixChars(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
